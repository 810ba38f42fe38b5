/**
 * fetchSse's reconnection rules with a scripted `fetch`: it resumes only a stream the server
 * advertised, only after a connection failure (never after the server's own error event), sends the
 * last event id, and gives up after `maxAttempts` reconnections in a row.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { ConnectionError, RateLimitError, type Chunk } from '../../src';
import { fetchSse } from '../../src/browser';
import { errorFrame } from '../../src/serve/errorFrame';
import { text } from '../quirks/toolCallQuirks';

const enc = new TextEncoder();
const event = (id: string, data: unknown) => `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

/** A response whose body sends `parts` and then fails like a dropped connection (or ends). */
function response(parts: string[], end: 'cut' | 'close', headers: Record<string, string> = {}): Response {
  let i = 0;
  // One part per read, then the end: an error in the same turn would drop what is still queued.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(enc.encode(parts[i++]));
      else if (end === 'cut') controller.error(new TypeError('terminated'));
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } });
}

interface Call {
  url: string;
  method: string;
  lastEventId?: string;
}

function scripted(answers: (() => Response | Promise<Response>)[]) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    calls.push({ url, method: init.method ?? 'GET', lastEventId: headers['last-event-id'] });
    const next = answers.shift();
    if (!next) throw new TypeError('fetch failed');
    return next();
  }) as unknown as typeof globalThis.fetch;
  return { calls, fetch };
}

const contentOf = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const quick = { initialDelayMs: 1, maxDelayMs: 2 };

describe('fetchSse reconnection', () => {
  it('resumes an advertised stream after a cut, with the last event id, as one stream', async () => {
    const { calls, fetch } = scripted([
      () =>
        response([event('s:1', text('a')), event('s:2', text('b')), 'id: s:3\nda'], 'cut', {
          'x-rxllm-stream-id': 's',
        }),
      () => response([event('s:3', text('c')), 'data: [DONE]\n\n'], 'close'),
    ]);
    const chunks = await lastValueFrom(
      fetchSse('http://gw/v1/chat/completions?x=1', { body: { q: 1 }, fetch, reconnect: quick }).pipe(
        toArray(),
      ),
    );
    expect(contentOf(chunks)).toBe('abc');
    expect(calls).toEqual([
      { url: 'http://gw/v1/chat/completions?x=1', method: 'POST', lastEventId: undefined },
      { url: 'http://gw/v1/chat/completions/s/stream', method: 'GET', lastEventId: 's:2' },
    ]);
  });

  it('gives up after maxAttempts reconnections in a row with the ConnectionError', async () => {
    const { calls, fetch } = scripted([
      () => response([event('s:1', text('a'))], 'cut', { 'x-rxllm-stream-id': 's' }),
    ]);
    const seen: Chunk[] = [];
    const error = await new Promise((resolve) =>
      fetchSse('http://gw/v1/chat/completions', {
        body: {},
        fetch,
        reconnect: { ...quick, maxAttempts: 2 },
      }).subscribe({
        next: (c) => seen.push(c),
        error: resolve,
      }),
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(calls).toHaveLength(3);
    expect(contentOf(seen)).toBe('a');
  });

  it("does not reconnect after the server's own error event, nor without a stream id, nor when off", async () => {
    const frame = errorFrame(new RateLimitError({ status: 429, message: 'slow down' }));
    const served = scripted([
      () =>
        response([event('s:1', text('a')), `id: s:2\ndata: ${JSON.stringify(frame)}\n\n`], 'close', {
          'x-rxllm-stream-id': 's',
        }),
    ]);
    await expect(
      lastValueFrom(fetchSse('http://gw/x', { body: {}, fetch: served.fetch, reconnect: quick })),
    ).rejects.toBeInstanceOf(RateLimitError);
    expect(served.calls).toHaveLength(1);

    const plain = scripted([() => response([`data: ${JSON.stringify(text('a'))}\n\n`], 'cut')]);
    await expect(
      lastValueFrom(fetchSse('http://gw/x', { body: {}, fetch: plain.fetch })),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(plain.calls).toHaveLength(1);

    const off = scripted([() => response([event('s:1', text('a'))], 'cut', { 'x-rxllm-stream-id': 's' })]);
    await expect(
      lastValueFrom(fetchSse('http://gw/x', { body: {}, fetch: off.fetch, reconnect: false })),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(off.calls).toHaveLength(1);
  });

  it('stops reconnecting when unsubscribed while it waits', async () => {
    const { calls, fetch } = scripted([
      () => response([event('s:1', text('a'))], 'cut', { 'x-rxllm-stream-id': 's' }),
    ]);
    const sub = fetchSse('http://gw/x', { body: {}, fetch, reconnect: { initialDelayMs: 200 } }).subscribe({
      error: () => undefined,
    });
    await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(1);
  });
});
