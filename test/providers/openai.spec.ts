import { take } from 'rxjs';
import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  ConfigurationError,
  ConnectionError,
  RateLimitError,
  RequestAbortedError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  complete,
  createClient,
  openAICompatible,
  registerProvider,
  stream,
  type ChatCompletion,
  type ChatRequest,
} from '../../src';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';
import { chunkJson, sse, USAGE_EVENT } from '../helpers/sse';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const opts = () => ({ baseURL: server.url, apiKey: 'sk-test-secret-key-123456' });

describe('openai-compatible stream()', () => {
  it('streams text, finish reason and usage from the server', async () => {
    server.enqueue({ text: 'Hello there, world', chunkSize: 3 });
    const { values, completed } = await collect(stream(REQUEST, opts()));
    expect(completed).toBe(true);
    const s = summarize(values);
    expect(s.text).toBe('Hello there, world');
    expect(s.finish).toBe('stop');
    expect(s.usage).toMatchObject({ total_tokens: expect.any(Number) });
    expect(values.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('sends the model without its provider prefix, stream:true and include_usage by default', async () => {
    server.enqueue({ text: 'x' });
    await collect(stream({ ...REQUEST, temperature: 0.2 }, opts()));
    const body = server.requests[0].body as MockChatBody;
    expect(body.model).toBe('test-model');
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.temperature).toBe(0.2);
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test-secret-key-123456');
  });

  it('omits stream_options when includeUsage is false', async () => {
    server.enqueue({ text: 'x' });
    const { values } = await collect(stream(REQUEST, { ...opts(), includeUsage: false }));
    expect((server.requests[0].body as MockChatBody).stream_options).toBeUndefined();
    expect(summarize(values).usage).toBeNull();
  });

  it('has a provider-level flag for servers that reject stream_options', async () => {
    registerProvider(openAICompatible({ name: 'strict-server', keyRequired: false, includeUsage: false }));
    server.enqueue({ text: 'x' });
    const { completed } = await collect(
      stream({ ...REQUEST, model: 'strict-server/m' }, { baseURL: server.url }),
    );
    expect(completed).toBe(true);
    expect((server.requests[0].body as MockChatBody).stream).toBe(true);
    expect((server.requests[0].body as MockChatBody).stream_options).toBeUndefined();
  });

  it('is cold: nothing is sent before subscribe, and two subscribers send two requests', async () => {
    server.setDefault({ text: 'abc' });
    const source = stream(REQUEST, opts());
    await new Promise((r) => setTimeout(r, 20));
    expect(server.stats.requests).toBe(0);
    const [a, b] = await Promise.all([collect(source), collect(source)]);
    expect(server.stats.requests).toBe(2);
    expect(summarize(a.values).text).toBe('abc');
    expect(summarize(b.values).text).toBe('abc');
  });

  it('keeps multi-byte characters and CRLF pairs split across network reads', async () => {
    const text = '写一首四句五言诗 🌸👩‍👩‍👧 café';
    const events = [...text].map((ch) => chunkJson({ content: ch }));
    events.push(chunkJson({}, 'stop'), USAGE_EVENT, '[DONE]');
    const raw = Buffer.from(sse(events, '\r\n'));
    // one byte per write: every multi-byte character and every CRLF pair is split
    server.enqueue({ rawSse: raw, splitAt: Array.from({ length: raw.length - 1 }, (_, i) => i + 1) });
    const { values, completed } = await collect(stream(REQUEST, opts()));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe(text);
    expect(summarize(values).usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  }, 60_000); // one write per byte: seconds on a loaded machine (a hang guard, not a speed limit)

  it('normalizes reasoning_content to delta.reasoning', async () => {
    const raw = sse([
      chunkJson({ role: 'assistant', content: null, reasoning_content: 'think ' }),
      chunkJson({ content: null, reasoning_content: 'more' }),
      chunkJson({ content: 'answer' }),
      chunkJson({}, 'stop'),
      '[DONE]',
    ]);
    server.enqueue({ rawSse: raw });
    const { values } = await collect(stream(REQUEST, opts()));
    const s = summarize(values);
    expect(s.reasoning).toBe('think more');
    expect(s.text).toBe('answer');
    expect(values.some((c) => 'reasoning_content' in (c.choices[0]?.delta ?? {}))).toBe(false);
  });

  it('keeps a non-OpenAI finish reason beside the mapped one', async () => {
    server.enqueue({ rawSse: sse([chunkJson({ content: 'a' }), chunkJson({}, 'eos'), '[DONE]']) });
    const { values } = await collect(stream(REQUEST, opts()));
    const last = values[values.length - 1].choices[0];
    expect(last.finish_reason).toBe('stop');
    expect(last.raw_finish_reason).toBe('eos');
  });

  it('completes without [DONE] when every choice finished (no final blank line)', async () => {
    const raw = sse([chunkJson({ content: 'done' }), chunkJson({}, 'stop')]) + 'data: [DONE]';
    server.enqueue({ rawSse: raw });
    const { values, completed } = await collect(stream(REQUEST, opts()));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('done');
  });

  it('errors with a retryable StreamCutError when the stream ends before its end marker, keeping what arrived', async () => {
    const raw =
      sse([chunkJson({ content: 'half ' }), chunkJson({ content: 'way' })]) +
      'data: {"id":"chatcmpl-own","obj';
    server.enqueue({ rawSse: raw });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(StreamCutError);
    expect((error as StreamCutError).retryable).toBe(true);
    expect(summarize(values).text).toBe('half way');
  });

  it('errors with a ConnectionError when the server cuts the connection mid-stream', async () => {
    server.enqueue({ text: 'abcdefghijkl', chunkSize: 1, cutAfterChunks: 4 });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(error instanceof ConnectionError || error instanceof StreamCutError).toBe(true);
    expect((error as ConnectionError).retryable).toBe(true);
    expect(values.length).toBeGreaterThan(0);
  });

  it('turns a malformed event into a StreamParseError without echoing the payload', async () => {
    server.enqueue({ text: 'abcdef', chunkSize: 1, malformedAfterChunks: 3 });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).type).toBe('invalid-json');
    expect(values.length).toBe(3);
  });

  it.each([
    ['tool_calls: [null]', [null]],
    ['a non-object function', [{ index: 0, id: 'c', function: 'f' }]],
    ['non-string arguments', [{ index: 0, id: 'c', function: { name: 'f', arguments: { a: 1 } } }]],
    ['a non-string name', [{ index: 0, id: 'c', function: { name: 7 } }]],
  ])('ends %s with a StreamParseError, keeping what arrived (never a TypeError)', async (_, toolCalls) => {
    server.enqueue({
      rawSse: sse([chunkJson({ content: 'a' }), chunkJson({ tool_calls: toolCalls }), chunkJson({}, 'stop')]),
    });
    const { values, error } = await collect(stream(REQUEST, opts()).pipe(accumulateChunks()));
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).type).toBe('invalid-event');
    expect((error as { partial?: ChatCompletion }).partial?.choices[0].message.content).toBe('a');
  });

  it('maps an in-band overloaded error to a retryable ServerError', async () => {
    server.enqueue({
      text: 'abcdef',
      chunkSize: 1,
      inBandError: { afterChunks: 2, error: { message: 'Overloaded', type: 'overloaded_error' } },
    });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).retryable).toBe(true);
    expect((error as ServerError).message).toContain('Overloaded');
    expect(values.length).toBe(2);
  });

  it('maps an in-band rate limit error to RateLimitError', async () => {
    server.enqueue({
      text: 'abc',
      inBandError: { afterChunks: 0, error: { message: 'slow down', code: 'rate_limit_exceeded' } },
    });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
  });

  it('reads finish_reason "" (sglang, old Ollama /v1) as not finished: a stream cut after it is a StreamCutError', async () => {
    server.enqueue({
      rawSse: sse([chunkJson({ content: 'Hel' }, ''), chunkJson({ content: 'lo' }, '')]),
    });
    const cut = await collect(stream(REQUEST, opts()));
    expect(cut.values.map((c) => c.choices[0].finish_reason)).toEqual([null, null]);
    expect(cut.values.every((c) => c.choices[0].raw_finish_reason === undefined)).toBe(true);
    expect(cut.error).toBeInstanceOf(StreamCutError);
    server.enqueue({
      rawSse: sse([chunkJson({ content: 'Hel' }, ''), chunkJson({}, 'stop'), '[DONE]']),
    });
    const whole = await collect(stream(REQUEST, opts()));
    expect(whole.completed).toBe(true);
    expect(whole.values.map((c) => c.choices[0].finish_reason)).toEqual([null, 'stop']);
  });

  it("maps OpenAI's 429 body relayed in-band (type 'requests', code 'rate_limit_exceeded') to RateLimitError", async () => {
    server.enqueue({
      text: 'abc',
      inBandError: {
        afterChunks: 1,
        error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
      },
    });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).status).toBe(429);
  });

  it("maps Google's in-band shape (numeric code, status name) by its code: 429 is a RateLimitError", async () => {
    // Gemini's OpenAI-compatible endpoint and Vertex proxies send google.rpc errors:
    // {"error":{"code":429,"message":...,"status":"RESOURCE_EXHAUSTED"}}.
    server.enqueue({
      text: 'abc',
      chunkSize: 1,
      inBandError: {
        afterChunks: 1,
        error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' },
      },
    });
    const { values, error } = await collect(stream(REQUEST, opts()));
    expect(values.length).toBe(1);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).status).toBe(429);
    expect((error as RateLimitError).message).toContain('Resource has been exhausted');
  });

  it.each([
    [429, RateLimitError, true],
    [401, AuthenticationError, false],
    [403, AuthenticationError, false],
    [400, BadRequestError, false],
    [404, BadRequestError, false],
    [422, BadRequestError, false],
    [409, BadRequestError, true],
    [500, ServerError, true],
    [503, ServerError, true],
  ])('maps HTTP %i to %p (retryable %p)', async (status, type, retryable) => {
    server.enqueue({ status, errorBody: { error: { message: `failure ${status}`, type: 'x' } } });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(status);
    expect((error as ApiError).retryable).toBe(retryable);
    expect((error as ApiError).message).toContain(`failure ${status}`);
  });

  it('reads Retry-After and the request id of an error response', async () => {
    server.enqueue({ status: 429, headers: { 'retry-after': '2', 'x-request-id': 'req_abc' } });
    const { error } = await collect(stream(REQUEST, opts()));
    expect((error as RateLimitError).retryAfterMs).toBe(2000);
    expect((error as RateLimitError).requestId).toBe('req_abc');
  });

  it('lets x-should-retry override the status rule', async () => {
    server.enqueue({ status: 400, headers: { 'x-should-retry': 'true' } });
    const { error } = await collect(stream(REQUEST, opts()));
    expect((error as ApiError).retryable).toBe(true);
  });

  it('never puts the API key in an error, even when the server echoes it', async () => {
    const key = 'sk-live-verysecret-0123456789';
    server.enqueue({ status: 401, errorBody: { error: { message: `Incorrect API key provided: ${key}` } } });
    const { error } = await collect(stream(REQUEST, { baseURL: server.url, apiKey: key }));
    const e = error as AuthenticationError;
    expect(e).toBeInstanceOf(AuthenticationError);
    const everything = [e.message, String(e), JSON.stringify(e.body), JSON.stringify(e.headers)].join(' ');
    expect(everything).not.toContain(key);
    expect(e.message).toContain('[REDACTED]');
  });

  it('reports status, request id and rate-limit headers through onResponse before any chunk', async () => {
    server.enqueue({
      text: 'x',
      headers: {
        'x-request-id': 'req_42',
        'x-ratelimit-remaining-requests': '99',
        'x-ratelimit-reset-tokens': '6m0s',
      },
    });
    const order: string[] = [];
    let meta: any;
    await collect(
      stream(REQUEST, {
        ...opts(),
        onResponse: (m) => {
          order.push('meta');
          meta = m;
        },
      }).pipe(take(1)),
    ).then((r) => r.values.forEach(() => order.push('chunk')));
    expect(order).toEqual(['meta', 'chunk']);
    expect(meta.requestId).toBe('req_42');
    expect(meta.rateLimit).toEqual({ remainingRequests: 99, resetTokensMs: 360_000 });
    expect(meta.headers.authorization).toBeUndefined();
  });
});

describe('cancellation', () => {
  it('aborts the HTTP request on unsubscribe, silently', async () => {
    server.enqueue({ text: 'a'.repeat(2000), chunkSize: 1, chunkDelayMs: 20 }); // 40 s: outlasts the abort
    const seen: string[] = [];
    let errored = false;
    const sub = stream(REQUEST, opts()).subscribe({
      next: (c) => seen.push(c.choices[0]?.delta.content ?? ''),
      error: () => (errored = true),
    });
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    sub.unsubscribe();
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
    expect(errored).toBe(false);
  });

  it('ends the stream with RequestAbortedError when the caller aborts its signal', async () => {
    server.enqueue({ stall: 'before-headers' });
    const ac = new AbortController();
    const result = collect(stream(REQUEST, { ...opts(), signal: ac.signal }));
    // Abort once the server holds the request: it then sees the abort (and the stalling script is used).
    while (server.stats.requests < 1) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const { error } = await result;
    expect(error).toBeInstanceOf(RequestAbortedError);
    await server.waitForRequestClose(1);
  });

  it('does not send anything when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const { error } = await collect(stream(REQUEST, { ...opts(), signal: ac.signal }));
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect(server.stats.requests).toBe(0);
  });

  it('stops at take(n) and frees the connection', async () => {
    server.enqueue({ text: 'abcdefghijklmnop', chunkSize: 1, chunkDelayMs: 10 });
    const { values, completed } = await collect(stream(REQUEST, opts()).pipe(take(3)));
    expect(completed).toBe(true);
    expect(values).toHaveLength(3);
    await server.waitForRequestClose(1);
  });
});

describe('connection reuse', () => {
  it('100 sequential calls to one origin use one keep-alive connection', async () => {
    server.setDefault({ text: 'reuse' });
    const before = server.stats.connections;
    for (let i = 0; i < 100; i++) {
      const { completed } = await collect(stream(REQUEST, opts()));
      expect(completed).toBe(true);
    }
    expect(server.stats.requests).toBe(100);
    expect(server.stats.connections - before).toBeLessThanOrEqual(1);
  });
});

describe('request validation and configuration', () => {
  it('rejects a bad request before any network call, listing the problems', async () => {
    const bad = { model: 'gpt-4o', messages: [], temperature: 7 } as unknown as ChatRequest;
    const { error } = await collect(stream(bad, opts()));
    expect(error).toBeInstanceOf(RequestValidationError);
    const e = error as RequestValidationError;
    expect(e.message).toMatch(/model/);
    expect(e.issues.map((i) => i.path[0])).toEqual(
      expect.arrayContaining(['model', 'messages', 'temperature']),
    );
    expect(server.stats.requests).toBe(0);
  });

  it('fails with ConfigurationError naming the env variable when no key is set', async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      const { error } = await collect(
        stream({ ...REQUEST, model: 'openai/gpt-4o-mini' }, { baseURL: server.url }),
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('OPENAI_API_KEY');
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });

  it('fails with ConfigurationError for an unknown provider', async () => {
    const { error } = await collect(stream({ ...REQUEST, model: 'nope/x' }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('openai');
  });

  it('createClient binds defaults; call options win', async () => {
    server.setDefault({ text: 'bound' });
    const client = createClient({
      baseURL: 'http://127.0.0.1:9/v1',
      headers: { 'x-trace': 'client', 'x-team': 'search' },
      providers: { compat: { baseURL: server.url } },
    });
    const { values } = await collect(client.stream(REQUEST, { headers: { 'x-trace': 't1' } }));
    expect(summarize(values).text).toBe('bound');
    // per-provider options beat client defaults; call options beat both; headers merge key by key
    expect(server.requests[0].headers['x-trace']).toBe('t1');
    expect(server.requests[0].headers['x-team']).toBe('search');
  });
});

describe('complete()', () => {
  it('returns one ChatCompletion with usage', async () => {
    server.enqueue({ text: 'whole answer' });
    const { values, completed } = await collect(complete(REQUEST, opts()));
    expect(completed).toBe(true);
    expect(values).toHaveLength(1);
    expect(values[0].object).toBe('chat.completion');
    expect(values[0].choices[0].message.content).toBe('whole answer');
    expect(values[0].usage?.total_tokens).toBeGreaterThan(0);
    expect((server.requests[0].body as MockChatBody).stream).toBeUndefined();
  });

  it('maps error statuses like stream()', async () => {
    server.enqueue({ status: 503 });
    const { error } = await collect(complete(REQUEST, opts()));
    expect(error).toBeInstanceOf(ServerError);
  });
});
