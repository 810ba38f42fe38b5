/**
 * Responses a stream or complete() call does not expect, on a real server on 127.0.0.1: decided at
 * response start from content-type and content-encoding, never retried as a cut stream.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { lastValueFrom, toArray } from 'rxjs';
import {
  ConfigurationError,
  RateLimitError,
  ResponseTooLargeError,
  ServerError,
  StreamCutError,
  StreamParseError,
  TimeoutError,
  UnexpectedResponseError,
  batch,
  complete,
  createAgent,
  stream,
} from '../../src';
import { accumulateChunks, retryBackoff } from '../../operators';
import { createMockServer, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';
import { chunkJson, sse } from '../helpers/sse';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const opts = () => ({ baseURL: server.url, apiKey: 'sk-test-responses-0001' });
const SSE_BODY = sse([chunkJson({ content: 'Grüße, ' }), chunkJson({ content: '世界' }, 'stop'), '[DONE]']);

describe('a 2xx that is not the expected content type', () => {
  it('an HTML page: UnexpectedResponseError naming the type, with an excerpt, not retried', async () => {
    server.enqueue({
      rawSse: '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>',
      headers: { 'content-type': 'text/html; charset=utf-8' },
    });
    const { error } = await collect(stream(REQUEST, opts()).pipe(retryBackoff({ initialDelayMs: 1 })));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    const e = error as UnexpectedResponseError;
    expect(e.retryable).toBe(false);
    expect(e.status).toBe(200);
    expect(e.contentType).toBe('text/html; charset=utf-8');
    expect(e.message).toMatch(/HTML page.*content-type text\/html.*text\/event-stream was expected/);
    expect(e.excerpt).toBe('<html><body><h1>502 Bad Gateway</h1>nginx</body></html>');
    expect(server.stats.requests).toBe(1);
  });

  it('keeps the excerpt short and reads no more than a few KB of a large page', async () => {
    server.enqueue({ rawSse: '<p>' + 'x'.repeat(5_000_000), headers: { 'content-type': 'text/html' } });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).excerpt.length).toBeLessThanOrEqual(123);
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('a JSON error body: the typed error of the in-band table, with its message', async () => {
    server.enqueue({
      rawSse: JSON.stringify({ error: { type: 'rate_limit_exceeded', message: 'Slow down please' } }),
      headers: { 'content-type': 'application/json' },
    });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).message).toMatch(/Slow down please/);

    server.enqueue({
      rawSse: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
      headers: { 'content-type': 'application/json' },
    });
    const overloaded = await collect(stream(REQUEST, opts()));
    expect(overloaded.error).toBeInstanceOf(ServerError);
    expect((overloaded.error as ServerError).retryable).toBe(true);
  });

  it('a whole JSON completion (stream: true ignored): UnexpectedResponseError that says so', async () => {
    server.enqueue({
      rawSse: JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      }),
      headers: { 'content-type': 'application/json' },
    });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as Error).message).toMatch(/ignored `stream: true`.*complete\(\)/);
    expect((error as UnexpectedResponseError).retryable).toBe(false);
  });

  it('complete() answered with JSON of the wrong shape (choices: [null]): StreamParseError, not a TypeError', async () => {
    server.enqueue({
      rawSse: JSON.stringify({ id: 'c', object: 'chat.completion', choices: [null] }),
      headers: { 'content-type': 'application/json' },
    });
    const { values, error } = await collect(complete(REQUEST, opts()));
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).type).toBe('invalid-body');
    expect((error as StreamParseError).excerpt).toContain('"choices":[null]');
  });

  it('complete() answered with an event stream: UnexpectedResponseError', async () => {
    server.enqueue({ rawSse: SSE_BODY });
    const { error } = await collect(complete(REQUEST, opts()));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).contentType).toMatch(/^text\/event-stream/);
  });

  it('a response without content-type is read as what was asked for', async () => {
    const raw = createServer((_req, res) => {
      res.removeHeader('content-type');
      res.end(SSE_BODY);
    });
    const url = await listen(raw);
    const { values, completed } = await collect(stream(REQUEST, { baseURL: url }));
    raw.close();
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('Grüße, 世界');
  });
});

describe('content-encoding', () => {
  const encodings: [string, (b: Buffer) => Buffer][] = [
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync], // raw deflate sent as "deflate" by some servers
  ];

  it.each(encodings)('decodes a %s stream split at every byte boundary', async (encoding, compress) => {
    const body = compress(Buffer.from(SSE_BODY));
    server.enqueue({
      rawSse: body,
      splitAt: Array.from({ length: body.length - 1 }, (_, i) => i + 1),
      headers: { 'content-encoding': encoding },
    });
    const { values, completed } = await collect(stream(REQUEST, opts()));
    expect(completed).toBe(true);
    expect(summarize(values)).toMatchObject({ text: 'Grüße, 世界', finish: 'stop' });
  });

  it('sends accept-encoding: gzip, deflate, br unless the caller set one', async () => {
    server.enqueue({ rawSse: SSE_BODY }, { rawSse: SSE_BODY });
    await collect(stream(REQUEST, opts()));
    await collect(stream(REQUEST, { ...opts(), headers: { 'Accept-Encoding': 'identity' } }));
    expect(server.requests[0].headers['accept-encoding']).toBe('gzip, deflate, br');
    expect(server.requests[1].headers['accept-encoding']).toBe('identity');
  });

  it('decodes a gzip complete() body and a gzip error body', async () => {
    const completion = {
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'zipped' }, finish_reason: 'stop' }],
    };
    server.enqueue(
      {
        rawSse: gzipSync(JSON.stringify(completion)),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      },
      {
        status: 429,
        errorBody: gzipSync(JSON.stringify({ error: { message: 'compressed quota message' } })).toString(
          'latin1',
        ),
        headers: { 'content-encoding': 'gzip' },
      },
    );
    const ok = await collect(complete(REQUEST, opts()));
    expect(ok.values[0].choices[0].message.content).toBe('zipped');
    const raw = createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'content-encoding': 'br' });
      res.end(brotliCompressSync(JSON.stringify({ error: { message: 'compressed quota message' } })));
    });
    const url = await listen(raw);
    const failed = await collect(stream(REQUEST, { baseURL: url }));
    raw.close();
    expect(failed.error).toBeInstanceOf(RateLimitError);
    expect((failed.error as RateLimitError).message).toMatch(/compressed quota message/);
  });

  it('an error status with an unknown coding keeps its typed error (the body is left out)', async () => {
    server.enqueue({ status: 429, headers: { 'content-encoding': 'zstd', 'retry-after': '2' } });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(2000);
  });

  it('a compressed stream cut in the middle is a StreamCutError; an unknown coding is refused', async () => {
    const body = gzipSync(Buffer.from(SSE_BODY));
    server.enqueue({ rawSse: body.subarray(0, body.length - 12), headers: { 'content-encoding': 'gzip' } });
    const cut = await collect(stream(REQUEST, opts()));
    expect(cut.error).toBeInstanceOf(StreamCutError);

    server.enqueue({ rawSse: SSE_BODY, headers: { 'content-encoding': 'zstd' } });
    const unknown = await collect(stream(REQUEST, opts()));
    expect(unknown.error).toBeInstanceOf(UnexpectedResponseError);
    expect((unknown.error as Error).message).toMatch(/content-encoding "zstd"/);
  });
});

describe('complete() body cap', () => {
  it('ends with ResponseTooLargeError and stops reading once the cap is passed', async () => {
    let written = 0;
    let closedAt = -1;
    const raw = createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.on('close', () => (closedAt = written));
      const block = Buffer.alloc(1 << 20, 0x20);
      for (let i = 0; i < 100 && !res.destroyed; i++) {
        written += block.length;
        if (!res.write(block)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      res.end();
    });
    const url = await listen(raw);
    const { error } = await collect(complete(REQUEST, { baseURL: url, maxResponseBytes: 2 << 20 }));
    while (closedAt < 0) await new Promise((r) => setTimeout(r, 5)); // the server saw the socket close
    raw.close();
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).limit).toBe(2 << 20);
    expect((error as ResponseTooLargeError).retryable).toBe(false);
    // 100 MB were on offer; the socket closed after the cap plus what the kernel buffers held.
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt).toBeLessThan(30 << 20);
  });

  it('refuses a declared content-length over the cap before reading the body', async () => {
    const text = JSON.stringify({ choices: [], pad: 'y'.repeat(5000) });
    server.enqueue({
      rawSse: text,
      headers: { 'content-type': 'application/json', 'content-length': String(text.length) },
    });
    const { error } = await collect(complete(REQUEST, { ...opts(), maxResponseBytes: 1000 }));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
  });
});

describe('configuration is checked before anything is sent', () => {
  function spy() {
    let dispatched = 0;
    const dispatcher = {
      dispatch() {
        dispatched++;
        return true;
      },
    } as unknown as Dispatcher;
    return { dispatcher, count: () => dispatched };
  }

  it.each(['not a url', 'ftp://127.0.0.1/v1', '127.0.0.1:8000/v1', 'http://exa mple.com/v1'])(
    'an invalid baseURL (%s) is a ConfigurationError, not a retryable ConnectionError',
    async (baseURL) => {
      const s = spy();
      const { error } = await collect(stream(REQUEST, { baseURL, dispatcher: s.dispatcher }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).retryable).toBe(false);
      expect((error as Error).message).toMatch(/baseURL/);
      expect(s.count()).toBe(0);
    },
  );

  it.each([
    ['headers', -1],
    ['body', NaN],
    ['idle', 0],
    ['connect', '5000'],
    ['headers', -Infinity],
  ])('timeouts.%s = %p is a ConfigurationError before any request', async (name, value) => {
    const s = spy();
    const timeouts = { [name]: value } as never;
    const { error } = await collect(
      stream(REQUEST, { baseURL: server.url, dispatcher: s.dispatcher, timeouts }),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(`timeouts.${name}`);
    expect(s.count()).toBe(0);
  });

  it('an invalid baseURL with credentials in it does not echo them', async () => {
    const { error } = await collect(
      stream(REQUEST, { baseURL: 'http://admin:hunter2secret@exa mple.com/v1' }),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).toContain('//[REDACTED]@');
  });

  it('createAgent checks its limits when it is created', async () => {
    for (const bad of [
      { connectTimeout: -1 },
      { connectTimeout: NaN },
      { keepAliveTimeout: 0 },
      { connections: 0 },
    ])
      expect(() => createAgent(bad)).toThrow(ConfigurationError);
    const agent = createAgent({ connectTimeout: Infinity, connections: Infinity });
    server.enqueue({ text: 'agent ok' });
    const { values } = await collect(stream(REQUEST, { ...opts(), dispatcher: agent }));
    await agent.close();
    expect(summarize(values).text).toBe('agent ok');
  });

  it('maxResponseBytes must be positive', async () => {
    const s = spy();
    const { error } = await collect(
      complete(REQUEST, { baseURL: server.url, dispatcher: s.dispatcher, maxResponseBytes: -5 }),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(s.count()).toBe(0);
  });

  it('Infinity turns a limit off (undici gets 0) and the call works', async () => {
    let seen: { headersTimeout?: number; bodyTimeout?: number } | undefined;
    const s = spy();
    const dispatcher = {
      dispatch(o: { headersTimeout?: number; bodyTimeout?: number }, h: unknown) {
        seen = o;
        return s.dispatcher.dispatch(o as never, h as never);
      },
    } as unknown as Dispatcher;
    stream(REQUEST, { baseURL: server.url, dispatcher, timeouts: { headers: Infinity, body: Infinity } })
      .subscribe()
      .unsubscribe();
    expect(seen).toMatchObject({ headersTimeout: 0, bodyTimeout: 0 });

    server.enqueue({ text: 'no limits' });
    const live = await collect(
      stream(REQUEST, {
        ...opts(),
        timeouts: { connect: Infinity, headers: Infinity, body: Infinity, idle: Infinity },
      }),
    );
    expect(summarize(live.values).text).toBe('no limits');
  });
});

describe('a body cut after a 2xx', () => {
  it('is one class, StreamCutError, with what arrived as partial', async () => {
    server.enqueue({ text: 'abcdefghijkl', chunkSize: 1, cutAfterChunks: 4 });
    const { error } = await collect(stream(REQUEST, opts()).pipe(accumulateChunks()));
    expect(error).toBeInstanceOf(StreamCutError);
    expect((error as StreamCutError).retryable).toBe(true);
    expect((error as StreamCutError).partial?.choices[0].message.content).toBe('abc');
  });

  it('a complete() body cut half way is a StreamCutError too, final: retrying would pay for the answer again', async () => {
    server.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const { error } = await collect(complete(REQUEST, opts()).pipe(retryBackoff({ initialDelayMs: 1 })));
    expect(error).toBeInstanceOf(StreamCutError);
    expect((error as StreamCutError).retryable).toBe(false);
    expect((error as StreamCutError).message).toMatch(/Not retried: the provider generated \(and billed\)/);
    expect(server.stats.requests).toBe(1);
  });

  it('batch() sends a complete() answer cut after its 200 once, and reports it failed', async () => {
    server.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const results = await lastValueFrom(
      batch([REQUEST], { options: opts(), retry: { initialDelayMs: 1 } }).pipe(toArray()),
    );
    expect(results).toHaveLength(1);
    expect(results[0].ok).toBe(false);
    expect(!results[0].ok && results[0].error).toBeInstanceOf(StreamCutError);
    expect(server.stats.requests).toBe(1);
  });

  it('batch() with a streaming call does not send a request again once its stream delivered chunks', async () => {
    server.enqueue({ text: 'abcdefghijkl', chunkSize: 1, cutAfterChunks: 4 });
    const results = await lastValueFrom(
      batch([REQUEST], {
        options: opts(),
        retry: { initialDelayMs: 1 },
        call: (request, _i, options) => stream(request, options).pipe(accumulateChunks()),
      }).pipe(toArray()),
    );
    expect(results[0].ok).toBe(false);
    expect(!results[0].ok && results[0].error).toBeInstanceOf(StreamCutError);
    expect(server.stats.requests).toBe(1);
  });

  it('the body timeout of a complete() answer that started is final too', async () => {
    server.enqueue({ text: 'a whole answer', stall: { afterChunks: 0 } });
    const { error } = await collect(
      complete(REQUEST, { ...opts(), timeouts: { body: 200 } }).pipe(retryBackoff({ initialDelayMs: 1 })),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe('body');
    expect((error as TimeoutError).retryable).toBe(false);
    expect(server.stats.requests).toBe(1);
  });
});

function listen(s: Server): Promise<string> {
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`)),
  );
}
