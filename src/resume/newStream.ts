/**
 * Asking the store again for a stream it does not have yet. A resumable answer's id reaches its
 * client with the first chunk, and the client may use it at once (a Stop button, a reconnect to
 * another instance) before the store write that makes the stream known has landed (a shared Redis
 * under load). So a lookup that finds nothing is repeated at growing intervals (10, 20, 40 ms...: a
 * handful of store calls, not one per tick) for up to `waitMs`, before the id counts as unknown.
 */

/** `probe()` until it finds something (truthy), for up to `waitMs`; `gone()` ends the wait early. */
export async function whenStored<T>(
  probe: () => Promise<T>,
  waitMs: number,
  gone: () => boolean = () => false,
): Promise<T> {
  let found = await probe();
  for (let waited = 0, step = 10; !found && waited < waitMs && !gone(); step *= 2) {
    const ms = Math.min(step, waitMs - waited);
    await new Promise((resolve) => setTimeout(resolve, ms));
    waited += ms;
    found = await probe();
  }
  return found;
}
