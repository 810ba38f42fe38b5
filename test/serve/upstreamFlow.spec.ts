import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { pausableUpstream } from 'rxllm';

const WHOLE = 'part0 part1 part2 part3 ';

/**
 * A server that sends `part0 ` at once and the rest of the body when the test lets it (`hold()`
 * returns the function that does), so what is read while paused does not depend on timing.
 */
function heldServer() {
  let requests = 0;
  let gate: Promise<void> = Promise.resolve();
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('part0 ');
    void gate.then(() => res.end('part1 part2 part3 '));
  });
  return {
    server,
    requests: () => requests,
    /** Holds the rest of every body from now on; the returned function sends it. */
    hold(): () => void {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return release;
    },
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        ),
      ),
  };
}

describe('pausableUpstream', () => {
  const agent = new Agent();
  const upstream = heldServer();
  let url: string;
  beforeAll(async () => (url = await upstream.listen()));
  afterAll(async () => {
    await agent.destroy();
    await new Promise((r) => upstream.server.close(r));
  });

  /** One attempt through `dispatcher` with undici's handler API (what rxllm's transport uses). */
  function attempt(dispatcher: Dispatcher, onStart?: () => void) {
    const seen = { started: false, text: '', ended: false };
    const ended = new Promise<void>((resolve, reject) => {
      const { origin, pathname } = new URL(url);
      dispatcher.dispatch(
        { origin, path: pathname, method: 'GET' },
        {
          onRequestStart: () => undefined,
          onResponseStart: () => {
            seen.started = true;
            onStart?.();
          },
          onResponseData: (_ctrl, chunk) => void (seen.text += chunk.toString()),
          onResponseEnd: () => {
            seen.ended = true;
            resolve();
          },
          onResponseError: (_ctrl, error) => reject(error),
        },
      );
    });
    // A test that failed before awaiting it must not leave a rejection for afterAll's destroy().
    ended.catch(() => undefined);
    return { seen, ended };
  }

  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((r) => setTimeout(r, 5));
  };
  /** Long enough for bytes sent on 127.0.0.1 to be read, were the attempt not paused. */
  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('pausing stops reading the body and resuming goes on; an attempt started while paused waits', async () => {
    const { dispatcher, flow } = pausableUpstream(agent);
    // Paused as soon as the head is in, as sendSse pauses on a full socket; the rest is sent after.
    let release = upstream.hold();
    const first = attempt(dispatcher, () => flow.pause());
    await until(() => first.seen.started);
    release();
    await settle();
    expect(first.seen.ended).toBe(false);
    expect(first.seen.text).not.toContain('part3');
    flow.resume();
    await first.ended;
    expect(first.seen.text).toBe(WHOLE);

    // A retried call dispatches again while paused: that attempt starts paused (no body read).
    flow.pause();
    release = upstream.hold();
    const before = upstream.requests();
    const second = attempt(dispatcher);
    await until(() => upstream.requests() > before);
    release();
    await settle();
    expect(second.seen.ended).toBe(false);
    expect(second.seen.text).not.toContain('part3');
    flow.resume();
    await second.ended;
    expect(second.seen.text).toBe(WHOLE);
  });

  it('closing or destroying one call’s dispatcher leaves the shared one it wraps open', async () => {
    const first = pausableUpstream(agent).dispatcher;
    await (await request(url, { dispatcher: first })).body.text();
    await first.close();
    await first.destroy();
    await new Promise<void>((resolve) => first.close(resolve));
    const before = upstream.requests();
    const again = await request(url, { dispatcher: pausableUpstream(agent).dispatcher });
    expect(await again.body.text()).toBe(WHOLE);
    expect(upstream.requests()).toBe(before + 1);
    expect(agent.closed).toBe(false);
  });
});
