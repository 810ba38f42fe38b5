import { EventEmitter, getEventListeners } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { TestScheduler } from 'rxjs/testing';
import type { AddressInfo } from 'node:net';
import { concat, lastValueFrom, Observable, of, take, throwError, toArray } from 'rxjs';
import {
  ApiError,
  chatCompletionsHandler,
  createClient,
  fetchSse,
  RateLimitError,
  sendSse,
  stream,
  StreamCutError,
  toSseEvents,
  type Chunk,
  type SendSseResult,
} from '../../src';
import { accumulateChunks } from '../../operators';
import { createMockServer, scriptToChunks, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';

let upstream: MockServer;
let app: http.Server;
let appUrl: string;
/** What the app streams for the next request. */
let source: () => Observable<Chunk>;

beforeAll(async () => {
  upstream = await createMockServer();
  app = http.createServer((req, res) => {
    req.resume();
    void sendSse(res, source(), { heartbeatMs: 0 });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/chat`;
});
afterAll(async () => {
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
  await upstream.close();
});
beforeEach(() => upstream.reset());

describe('sendSse + fetchSse', () => {
  it('relays a provider stream end to end, byte-for-byte in meaning', async () => {
    upstream.enqueue({ text: '床前明月光，疑是地上霜。', chunkSize: 2 });
    source = () => stream(REQUEST, { baseURL: upstream.url });
    const { values, completed } = await collect(fetchSse(appUrl, { body: { q: 'poem' } }));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('床前明月光，疑是地上霜。');
    expect(summarize(values).finish).toBe('stop');
  });

  it('is readable by rxllm itself as an OpenAI-compatible server', async () => {
    source = () => of(...scriptToChunks({ text: 'relayed', chunkSize: 3 }));
    const merged = await lastValueFrom(
      stream(REQUEST, { baseURL: appUrl.replace(/\/chat$/, '/v1') }).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.content).toBe('relayed');
  });

  it('sends a failure as a typed in-band error without secrets', async () => {
    const key = 'sk-relay-secret-0123456789';
    source = () =>
      new Observable<Chunk>((s) => {
        s.next(scriptToChunks({ text: 'partial' })[1]);
        s.error(new RateLimitError({ status: 429, message: `limited for ${key}` }));
      });
    const { values, error } = await collect(fetchSse(appUrl, { body: {} }));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as ApiError).message).not.toContain(key);
  });

  it('cancels the upstream provider request when the browser goes away', async () => {
    // Long enough (40 s) that the abort, however slow the machine, comes before the answer ends.
    upstream.enqueue({ text: 'x'.repeat(4000), chunkSize: 1, chunkDelayMs: 10 });
    source = () => stream(REQUEST, { baseURL: upstream.url });
    const { values } = await collect(fetchSse(appUrl, { body: {} }).pipe(take(5)));
    expect(values).toHaveLength(5);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
  });

  it('errors with StreamCutError when the server stream ends without [DONE]', async () => {
    const raw = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify(scriptToChunks('cut')[1])}\n\n`);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const { values, error } = await collect(fetchSse(url));
    raw.closeAllConnections();
    await new Promise((r) => raw.close(r));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(StreamCutError);
  });

  it('maps an HTTP error status of the backend to the typed error', async () => {
    const { error } = await collect(fetchSse(`${upstream.url}/nope`));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });
});

describe('toSseEvents', () => {
  it('wraps each chunk as a NestJS MessageEvent and ends with [DONE]', async () => {
    const chunks = scriptToChunks('ab');
    const events = await lastValueFrom(of(...chunks).pipe(toSseEvents(), toArray()));
    expect(events.map((e) => e.data)).toEqual([...chunks, '[DONE]']);
  });

  it('turns an error into one error-frame event after every chunk before it, then completes', async () => {
    const chunk = scriptToChunks('ab')[1];
    const failed = await collect(
      concat(
        of(chunk),
        throwError(() => new RateLimitError({ status: 429, message: 'slow' })),
      ).pipe(toSseEvents()),
    );
    expect(failed.completed).toBe(true);
    expect(failed.values.map((e) => e.data)).toEqual([
      chunk,
      {
        error: expect.objectContaining({
          type: 'RateLimitError',
          status: 429,
          retryable: true,
          message: 'slow',
        }),
      },
    ]);
  });

  it('emits ping events while open when heartbeatMs is set, and stops them at the end', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const c = scriptToChunks('a')[1];
      const source = cold('----a----|', { a: c });
      const ping = { type: 'ping', data: '' };
      expectObservable(source.pipe(toSseEvents({ heartbeatMs: 3 }))).toBe('---pa-p--(d|)', {
        p: ping,
        a: { data: c },
        d: { data: '[DONE]' },
      });
    });
    expect(() => toSseEvents({ heartbeatMs: -1 })).toThrow(TypeError);
  });
});

describe('sendSse backpressure (issue 9)', () => {
  it('drops a client that stopped reading past maxBufferedBytes and aborts the upstream', async () => {
    // An upstream that pushes ~64 KiB frames as fast as it can, forever, until unsubscribed.
    let unsubscribed = false;
    let produced = 0;
    const big = scriptToChunks({ text: 'x'.repeat(64 * 1024), chunkSize: 64 * 1024 })[1];
    const firehose = new Observable<Chunk>((s) => {
      const t = setInterval(() => {
        for (let i = 0; i < 4; i++) {
          produced++;
          s.next(big);
        }
      }, 1);
      return () => {
        unsubscribed = true;
        clearInterval(t);
      };
    });
    let result: Promise<SendSseResult> | undefined;
    const server = http.createServer((req, res) => {
      req.resume();
      result = sendSse(res, firehose, { heartbeatMs: 0, maxBufferedBytes: 1024 * 1024 });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A raw client that sends the request and then never reads.
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!result) await new Promise((r) => setTimeout(r, 5));
    const outcome = await result;
    socket.destroy();
    await new Promise((r) => server.close(r));
    expect(outcome.end).toBe('overflow');
    expect(unsubscribed).toBe(true);
    // Bounded: what the kernel buffers plus the 1 MiB limit, not an ever-growing queue.
    expect(produced * 64 * 1024).toBeLessThan(64 * 1024 * 1024);
  });

  it('a response that ends while its socket is full leaves no drain listener behind', async () => {
    const res = Object.assign(new EventEmitter(), {
      writeHead: () => undefined,
      // The socket is full from the first frame on, and never drains.
      write: () => false,
      end: () => undefined,
      writableEnded: false,
    });
    let paused = 0;
    const flow = { pause: () => void paused++, resume: () => undefined };
    const outcome = await sendSse(res, of(...scriptToChunks('two words')), { heartbeatMs: 0, flow });
    expect(outcome.end).toBe('complete');
    expect(paused).toBe(1);
    expect(res.listenerCount('drain')).toBe(0);
    expect(res.listenerCount('close')).toBe(0);
  });

  it('sends a `: ping` comment every heartbeatMs while the upstream is silent, which fetchSse ignores', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      // The upstream stays silent until two pings went out (counted at the response), not for a
      // fixed time: a stalled machine runs an overdue heartbeat and an overdue timer in one turn.
      let pings = 0;
      let answer: () => void = () => undefined;
      const write = res.write.bind(res) as (chunk: unknown) => boolean;
      res.write = ((chunk: unknown) => {
        const ok = write(chunk);
        if (String(chunk).startsWith(': ping') && ++pings === 2) answer();
        return ok;
      }) as typeof res.write;
      void sendSse(
        res,
        new Observable<Chunk>((s) => {
          answer = () => {
            for (const c of scriptToChunks('late')) s.next(c);
            s.complete();
          };
        }),
        { heartbeatMs: 25 },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const raw = await (await fetch(url)).text();
    const { values, completed } = await collect(fetchSse(url));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(raw.split(': ping\n\n').length - 1).toBeGreaterThanOrEqual(2);
    expect(raw.indexOf(': ping')).toBeLessThan(raw.indexOf('data:'));
    expect(completed).toBe(true);
    expect(values).toEqual(scriptToChunks('late'));
  });

  it('resolves with how the response ended', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      void sendSse(res, of(...scriptToChunks('ok')), { heartbeatMs: 0 }).then((r) => res.emit('result', r));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const ended = new Promise<SendSseResult>((resolve) =>
      server.once('request', (_req, res) => res.once('result', resolve)),
    );
    const { completed } = await collect(
      fetchSse(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
    );
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(completed).toBe(true);
    expect(await ended).toEqual({ end: 'complete', chunks: scriptToChunks('ok').length });
    expect(() => sendSse({} as never, of(), { maxBufferedBytes: 0 })).toThrow(TypeError);
  });
});

describe('chatCompletionsHandler pauses the upstream for a client that reads slowly (issue 9)', () => {
  it('a client that stops reading for a while still gets the whole answer, and the buffer never passes the limit', async () => {
    const up = await createMockServer();
    // ~15 MB of answer, written by the upstream as fast as it can: more than the kernel's socket
    // buffers on loopback can hold, so the gateway itself would have to queue it.
    const text = '流'.repeat(5_000_000);
    up.enqueue({ text, chunkSize: 8000 });
    let result: SendSseResult['end'] | undefined;
    const handle = chatCompletionsHandler({
      client: createClient({ baseURL: up.url }),
      sse: { heartbeatMs: 0, maxBufferedBytes: 512 * 1024 },
      onLog: (entry) => (result = entry.outcome as SendSseResult['end']),
    });
    const server = http.createServer((req, res) => void handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const body = JSON.stringify({
      model: 'compat/x',
      messages: [{ role: 'user', content: 'go' }],
      stream: true,
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    // Not reading for a while: without pausing, the answer would pass the 512 KiB limit here.
    await new Promise((r) => setTimeout(r, 1000));
    const parts: Buffer[] = [];
    socket.on('data', (b: Buffer) => parts.push(b));
    socket.resume();
    await new Promise((r) => socket.on('end', r));
    server.close();
    await up.close();
    const raw = Buffer.concat(parts).toString('utf8');
    expect(result).toBe('complete');
    expect(raw).toContain('data: [DONE]');
    // Rebuild the text from the (chunked) HTTP body's events.
    const received = [...raw.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)]
      .map((m) => JSON.parse(`"${m[1]}"`))
      .join('');
    expect(received).toBe(text);
  }, 120_000); // ~13 s on a loaded 2-core machine: a hang guard, not a speed limit
});

describe('a client that left before the answer starts (review)', () => {
  it('sendSse on a response whose connection is gone resolves `closed` and never subscribes upstream', async () => {
    let subscribed = 0;
    const upstreamCall = new Observable<Chunk>(() => {
      subscribed++;
    });
    const gone = {
      destroyed: true,
      writeHead: () => undefined,
      write: () => false,
      end: () => undefined,
      on: () => undefined,
      off: () => undefined,
    };
    const result = await sendSse(gone, upstreamCall, { heartbeatMs: 0 });
    expect(result).toEqual({ end: 'closed', chunks: 0 });
    expect(subscribed).toBe(0);
  });

  it.each([true, false])(
    'chatCompletionsHandler (stream: %s) called after the client left (an async guard ran first) calls no upstream',
    async (streamed) => {
      const up = await createMockServer();
      const entries: string[] = [];
      const handle = chatCompletionsHandler({
        client: createClient({ baseURL: up.url }),
        sse: { heartbeatMs: 0 },
        onLog: (entry) => entries.push(entry.outcome),
      });
      let handled: Promise<unknown> | undefined;
      let bodyRead: () => void = () => undefined;
      const read = new Promise<void>((resolve) => (bodyRead = resolve));
      const server = http.createServer((req, res) => {
        // Like Express/Nest: the body is parsed first, then an async middleware/guard runs.
        const parts: Buffer[] = [];
        req.on('data', (b: Buffer) => parts.push(b));
        req.on('end', () => {
          (req as typeof req & { body?: unknown }).body = JSON.parse(Buffer.concat(parts).toString());
          res.once('close', () => (handled = handle(req, res)));
          bodyRead();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const body = JSON.stringify({
        model: 'compat/x',
        messages: [{ role: 'user', content: 'go' }],
        stream: streamed,
      });
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // The client leaves once the server has the whole body (a fixed delay could end the socket
      // before the request was even sent, and nothing would be handled).
      await read;
      socket.destroy();
      while (!handled) await new Promise((r) => setTimeout(r, 5));
      await handled;
      await new Promise((r) => setTimeout(r, 100));
      server.close();
      const calls = up.stats.requests;
      await up.close();
      expect(entries).toEqual(['closed']);
      expect(calls).toBe(0);
    },
  );
});

describe('fetchSse stops reading (review)', () => {
  it('cancels the response body when another server sends an in-band error and keeps the stream open', async () => {
    let closed = false;
    const raw = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(scriptToChunks('a')[1])}\n\n`);
      res.write(`data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
      res.on('close', () => (closed = true));
      // ...and never ends.
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const { values, error } = await collect(
      fetchSse(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`),
    );
    while (!closed) await new Promise((r) => setTimeout(r, 10));
    raw.closeAllConnections();
    await new Promise((r) => raw.close(r));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(ApiError);
    expect(closed).toBe(true);
  });

  it('twelve calls on one signal add one abort listener to it, and aborting it stops them all', async () => {
    const open = new Set<http.ServerResponse>();
    const raw = http.createServer((_req, res) => {
      open.add(res);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    // Listeners are counted, not warnings: jest's sandboxed `process` never sees Node's 'warning'
    // events (test/transport/abortListeners.spec.ts checks the warning in a real process).
    try {
      const controller = new AbortController();
      const pending = Array.from({ length: 12 }, () => collect(fetchSse(url, { signal: controller.signal })));
      while (open.size < 12) await new Promise((r) => setTimeout(r, 10));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      controller.abort(new Error('user left'));
      const results = await Promise.all(pending);
      expect(results.map((r) => String((r.error as Error)?.message))).toEqual(
        Array(12).fill(expect.stringContaining('user left')),
      );
      // Calls that ended on their own leave nothing on a signal that lives on.
      const kept = new AbortController();
      const ended = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: [DONE]\n\n');
      });
      await new Promise<void>((r) => ended.listen(0, '127.0.0.1', r));
      const endedUrl = `http://127.0.0.1:${(ended.address() as AddressInfo).port}/`;
      const done = await Promise.all(
        Array.from({ length: 12 }, () => collect(fetchSse(endedUrl, { signal: kept.signal }))),
      );
      ended.closeAllConnections();
      await new Promise((r) => ended.close(r));
      expect(done.map((r) => r.completed)).toEqual(Array(12).fill(true));
      expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0);
    } finally {
      raw.closeAllConnections();
      await new Promise((r) => raw.close(r));
    }
  });

  it('an already aborted signal errors at once and sends no request', async () => {
    let requests = 0;
    const raw = http.createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: [DONE]\n\n');
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const reason = new Error('user left');
    const { completed, error } = await collect(
      fetchSse(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, {
        signal: AbortSignal.abort(reason),
      }),
    );
    raw.closeAllConnections();
    await new Promise((r) => raw.close(r));
    expect(completed).toBe(false);
    // As when it is aborted mid-way: the fetch fails with the signal's reason.
    expect((error as Error).message).toContain('user left');
    expect(requests).toBe(0);
  });
});
