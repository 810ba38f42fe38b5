/**
 * Attempts a router left billed that it could not tell its caller in-band. A router tells them on
 * the next attempt's first value (`route.billed`) or on the call's final error (`error.billed`); a
 * caller that unsubscribes before either (a client that left while the fallback was starting, or
 * while only the opening role chunk had come) gets neither. Unsubscribing runs synchronously from
 * the caller down to the router, so a counting operator (`trackUsage`, and `budget` through it)
 * listens while it unsubscribes its source, and the router's teardown tells every operator
 * listening at that moment: the ones below which the router sits. `retryBackoff` hands on the same
 * way the billed failures it retried and had not passed on yet (`retriedBilled.ts`).
 *
 * The scope is dynamic, not the chain: an operator counting another call is told too if its own
 * unsubscribe runs this router's teardown inside it (one chain's teardown unsubscribing another's
 * source), and a teardown deferred past the unsubscribe (a scheduler's) tells no one.
 */
import type { BilledAttempt } from '../router/route';
import type { RetriedFailure } from './retriedBilled';

type Listener = (billed: readonly BilledAttempt[], retried?: readonly RetriedFailure[]) => void;

/**
 * The counting operators unsubscribing their sources now, outermost first. Kept on `globalThis`, so
 * the CommonJS and ESM builds loaded side by side (a router from one, `trackUsage` from the other)
 * share it, as `LlmError`'s brand is shared.
 */
const KEY = /* @__PURE__ */ Symbol.for('rxllm.unsubscribedBilled');
/** Made on first use, not at load: a browser bundle that never counts keeps none of this. */
const listeningNow = (): Listener[] => ((globalThis as Record<symbol, Listener[] | undefined>)[KEY] ??= []);

/** Runs `unsubscribe` with `listener` told of the billed attempts a router drops during it. */
export function unsubscribeListening(listener: Listener, unsubscribe: () => void): void {
  const listening = listeningNow();
  listening.push(listener);
  try {
    unsubscribe();
  } finally {
    // Nested calls end in reverse order: the last one pushed is this one.
    listening.pop();
  }
}

/**
 * Called by a router's teardown with the billed attempts it did not tell in-band, and by
 * `retryBackoff`'s with the billed failures it retried and had not passed on.
 */
export function tellUnsubscribedBilled(
  billed: readonly BilledAttempt[],
  retried?: readonly RetriedFailure[],
): void {
  const listening = (globalThis as Record<symbol, Listener[] | undefined>)[KEY];
  if (listening) for (const listener of listening) listener(billed, retried);
}
