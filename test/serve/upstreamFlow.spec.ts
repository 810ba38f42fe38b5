import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { pausableUpstream } from 'rxllm';

/** A server that sends `parts` body writes, one per 5 ms, and counts what it was asked. */
function slowServer(parts: number) {
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`part${sent} `);
      if (++sent === parts) {
        clearInterval(timer);
        res.end();
      }
    }, 5);
    res.on('close', () => clearInterval(timer));
  });
  return {
    server,
    requests: () => requests,
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
  const upstream = slowServer(4);
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
    return { seen, ended };
  }

  it('pausing stops reading the body and resuming goes on; an attempt started while paused waits', async () => {
    const { dispatcher, flow } = pausableUpstream(agent);
    // Paused as soon as the head is in, as sendSse pauses on a full socket.
    const first = attempt(dispatcher, () => flow.pause());
    await new Promise((r) => setTimeout(r, 100));
    expect(first.seen.started).toBe(true);
    expect(first.seen.ended).toBe(false);
    flow.resume();
    await first.ended;
    expect(first.seen.text).toBe('part0 part1 part2 part3 ');

    // A retried call dispatches again while paused: that attempt starts paused (no body read).
    flow.pause();
    const second = attempt(dispatcher);
    await new Promise((r) => setTimeout(r, 100));
    expect(second.seen.ended).toBe(false);
    expect(second.seen.text).toBe('');
    flow.resume();
    await second.ended;
    expect(second.seen.text).toBe('part0 part1 part2 part3 ');
  });

  it('closing or destroying one call’s dispatcher leaves the shared one it wraps open', async () => {
    const first = pausableUpstream(agent).dispatcher;
    await (await request(url, { dispatcher: first })).body.text();
    await first.close();
    await first.destroy();
    await new Promise<void>((resolve) => first.close(resolve));
    const before = upstream.requests();
    const again = await request(url, { dispatcher: pausableUpstream(agent).dispatcher });
    expect(await again.body.text()).toBe('part0 part1 part2 part3 ');
    expect(upstream.requests()).toBe(before + 1);
    expect(agent.closed).toBe(false);
  });
});
