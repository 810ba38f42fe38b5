/**
 * `rxllm serve`'s gateway, read by clients nobody here wrote: the official `openai` package, and
 * rxllm's own `fetchSse` / `fromWebSocket`. The upstream is a mock server on 127.0.0.1, so aborts
 * and retries are seen where they happen.
 */
import net from 'node:net';
import http from 'node:http';
import OpenAI from 'openai';
import { lastValueFrom, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import {
  AuthenticationError,
  chatCompletionsHandler,
  ConnectionError,
  clearPrices,
  setPrice,
  createClient,
  RateLimitError,
  startGateway,
  StreamParseError,
  type Gateway,
} from '../../src';
import { estimatePromptTokens } from '../../src/cost/estimate';
import { batchedLines } from '../../src/serve/logLines';
import { bearerProtocol, fetchSse, fromWebSocket, type WebSocketLike } from '../../src/browser';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';
import { collect, summarize } from '../helpers/collect';

const MODEL = 'compat/test-model';
const TOKEN = 'sk-test-gateway-token-0123456789';
const UPSTREAM_KEY = 'sk-test-upstream-key-abcdefghijklmnop';
const ANSWER = '床前明月光，疑是地上霜。Moonlight before my bed.';

let upstream: MockServer;
let gateway: Gateway;
let logs: string[];
let sdk: OpenAI;

beforeAll(async () => {
  upstream = await createMockServer();
  logs = [];
  gateway = await startGateway({
    port: 0,
    model: MODEL,
    token: TOKEN,
    client: createClient({ baseURL: upstream.url, apiKey: UPSTREAM_KEY }),
    retry: { initialDelayMs: 1, random: () => 0 },
    maxBodyBytes: 64 * 1024,
    log: (line) => logs.push(line),
    // Off (--no-resume): these tests see a client that leaves abort the upstream at once. Resumable
    // answers (the default: the generation goes on) are tested in resume.spec.ts.
    resume: false,
  });
  sdk = new OpenAI({ apiKey: TOKEN, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway.close(0);
  await upstream.close();
});
beforeEach(() => {
  upstream.reset();
  logs.length = 0;
});

const messages = [{ role: 'user' as const, content: 'Recite.' }];

/** The first access-log line matching `pattern`, once the gateway wrote it (it logs when the response ended). */
async function logLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    const line = logs.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no access-log line matching ${pattern} in ${JSON.stringify(logs)}`);
}

describe('the official openai package against the gateway', () => {
  it('lists the served model', async () => {
    const page = await sdk.models.list();
    expect(page.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('streams, without a usage chunk unless asked (as OpenAI does)', async () => {
    upstream.enqueue({ text: ANSWER, chunkSize: 3 });
    const stream = await sdk.chat.completions.create({ model: MODEL, messages, stream: true });
    let text = '';
    let usageSeen = false;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usageSeen = true;
    }
    expect(text).toBe(ANSWER);
    expect(finish).toBe('stop');
    expect(usageSeen).toBe(false);
    // The gateway still asked the upstream for usage, for its access log.
    expect((upstream.requests[0].body as MockChatBody).stream_options).toEqual({ include_usage: true });
    expect(upstream.requests[0].headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(logs.at(-1)).toMatch(
      /^POST \/v1\/chat\/completions 200 model=compat\/test-model ttfc=\d+\.\dms total=\d+\.\dms tokens=\d+\+\d+ cost=- complete$/,
    );
  });

  it('logs the cost of each call, priced by trackUsage from the usage the upstream reported', async () => {
    // $1 per million input tokens, $2 per million output tokens.
    setPrice(MODEL, { input: 1, output: 2 });
    try {
      upstream.enqueue({
        text: ANSWER,
        usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
      });
      const stream = await sdk.chat.completions.create({ model: MODEL, messages, stream: true });
      for await (const chunk of stream) void chunk;
      expect(logs.at(-1)).toMatch(/ tokens=1000\+500 cost=\$0\.00200 complete$/);
    } finally {
      clearPrices();
    }
  });

  it('honours stream_options.include_usage', async () => {
    upstream.enqueue({ text: ANSWER });
    const stream = await sdk.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('answers a non-streaming call with one JSON completion', async () => {
    upstream.enqueue({ text: ANSWER });
    const completion = await sdk.chat.completions.create({ model: MODEL, messages });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0].message.content).toBe(ANSWER);
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('refuses a missing or wrong token with 401 on the API, but serves the page', async () => {
    const anonymous = new OpenAI({ apiKey: 'sk-test-wrong', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      anonymous.chat.completions.create({ model: MODEL, messages, stream: true }),
    ).rejects.toMatchObject({ status: 401 });
    const noHeader = await fetch(`${gateway.url}/v1/models`);
    expect(noHeader.status).toBe(401);
    // The auth scheme is case-insensitive.
    const lower = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(lower.status).toBe(200);
    const wrongLower = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'bearer nope' } });
    expect(wrongLower.status).toBe(401);
    const page = await fetch(`${gateway.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="./chat.js"></script>');
    expect(upstream.stats.requests).toBe(0);
    expect(logs.join('\n')).not.toContain(TOKEN.slice(0, 12));
  });

  it('answers a bad body with a 400 JSON error in OpenAI shape before any stream starts', async () => {
    const error = await sdk.chat.completions.create({ model: MODEL, messages: [], stream: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('messages');
    const raw = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('content-type')).toContain('application/json');
    expect(((await raw.json()) as { error: unknown }).error).toMatchObject({
      type: 'invalid_request_error',
      message: 'The request body is not valid JSON.',
    });
    expect(upstream.stats.requests).toBe(0);
  });

  it('answers an unknown model with 404 and an oversized body with 413', async () => {
    await expect(sdk.chat.completions.create({ model: 'gpt-4o', messages })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    const big = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }),
    });
    expect(big.status).toBe(413);
    expect(upstream.stats.requests).toBe(0);
  });

  it('retries an upstream failure before the first chunk for a client that does not retry itself', async () => {
    upstream.enqueue({ status: 503 }, { text: 'after a retry' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages }),
    });
    expect(((await res.json()) as any).choices[0].message.content).toBe('after a retry');
    expect(upstream.stats.requests).toBe(2);
  });

  it('leaves retries to the official SDK, which retries itself: one upstream call per SDK attempt', async () => {
    upstream.enqueue({ status: 503 }, { status: 503 }, { text: 'after the SDK retried' });
    const retrying = new OpenAI({ apiKey: TOKEN, baseURL: `${gateway.url}/v1`, maxRetries: 1 });
    await expect(retrying.chat.completions.create({ model: MODEL, messages })).rejects.toMatchObject({
      status: 503,
    });
    // maxRetries: 1 is two attempts; the gateway's own retries would have made it 2 × 3.
    expect(upstream.stats.requests).toBe(2);
  });

  it('leaves retries to the Vercel AI SDK, which retries itself: one upstream call per SDK attempt, streamed or not', async () => {
    const { createOpenAI } = await import('@ai-sdk/openai');
    const { generateText, streamText } = await import('ai');
    const provider = createOpenAI({ apiKey: TOKEN, baseURL: `${gateway.url}/v1` });
    // A short Retry-After, passed through: the SDK waits that, not its own 2 s backoff.
    const busy = { status: 503, headers: { 'retry-after-ms': '5' } };
    upstream.enqueue(busy, busy, { text: 'after the gateway retried' });
    const failed = await generateText({
      model: provider.chat(MODEL),
      prompt: 'Hi',
      maxRetries: 1,
    }).catch((e: unknown) => e);
    // maxRetries: 1 is two attempts, each one upstream call, and the 503 reaches the SDK with its status.
    expect(upstream.stats.requests).toBe(2);
    expect((failed as { lastError?: { statusCode?: number } }).lastError?.statusCode).toBe(503);

    upstream.reset();
    upstream.enqueue(busy, { text: 'streamed after the SDK retried' });
    const result = streamText({ model: provider.chat(MODEL), prompt: 'Hi', maxRetries: 1 });
    expect(await result.text).toBe('streamed after the SDK retried');
    expect(upstream.stats.requests).toBe(2);
  });

  it('x-rxllm-retries: gateway retries for an SDK made with maxRetries: 0 (it still sends x-stainless-retry-count)', async () => {
    upstream.enqueue({ status: 503 }, { text: 'after the gateway retried' });
    const once = new OpenAI({
      apiKey: TOKEN,
      baseURL: `${gateway.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-rxllm-retries': 'gateway' },
    });
    const answer = await once.chat.completions.create({ model: MODEL, messages });
    expect(answer.choices[0].message.content).toBe('after the gateway retried');
    expect(upstream.stats.requests).toBe(2);
    // Without the header, nobody retries that SDK's call.
    upstream.reset();
    upstream.enqueue({ status: 503 }, { text: 'never asked' });
    await expect(sdk.chat.completions.create({ model: MODEL, messages })).rejects.toMatchObject({
      status: 503,
    });
    expect(upstream.stats.requests).toBe(1);
  });

  it('x-rxllm-retries: client leaves retries to a client the gateway cannot recognise (a browser fetch)', async () => {
    upstream.enqueue({ status: 503, headers: { 'retry-after': '7' } }, { text: 'never asked' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'x-rxllm-retries': 'client',
      },
      body: JSON.stringify({ model: MODEL, messages, stream: true }),
    });
    // The upstream's own status and Retry-After, for the client to wait and retry.
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    await res.text();
    expect(upstream.stats.requests).toBe(1);
  });

  it('x-rxllm-retries with another value is a 400 naming the header, before the body is read', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'x-rxllm-retries': 'yes',
      },
      body: JSON.stringify({ model: MODEL, messages }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_retries_header', type: 'invalid_request_error' });
    expect(body.error.message).toMatch(/x-rxllm-retries.*"client".*"gateway".*got "yes"/);
    expect(upstream.stats.requests).toBe(0);
    expect(await logLine(/ 400 .*refused:invalid_retries_header/)).toBeTruthy();
  });

  it('applies the tool-call guard: a broken tool call arrives as invalid_tool_calls, a whole one parsed', async () => {
    upstream.enqueue({
      toolCalls: [
        { name: 'get_weather', arguments: '{"city": "Par', argumentChunkSize: 3 },
        { name: 'get_time', arguments: { tz: 'UTC' }, argumentChunkSize: 3 },
      ],
    });
    const stream = await sdk.chat.completions.create({ model: MODEL, messages, stream: true });
    const released: any[] = [];
    const invalid: any[] = [];
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as any;
      released.push(...(delta?.tool_calls ?? []));
      invalid.push(...(delta?.invalid_tool_calls ?? []));
    }
    // Held until whole, then released once: one fragment per call, not one per 3 characters.
    expect(released.map((c) => [c.function.name, c.function.arguments, c.input])).toEqual([
      ['get_time', '{"tz":"UTC"}', { tz: 'UTC' }],
    ]);
    expect(invalid.map((c) => [c.name, c.reason])).toEqual([['get_weather', 'invalid-json']]);
  });

  it('never shows the upstream key to the client or the log', async () => {
    upstream.enqueue({
      status: 401,
      errorBody: { error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}` } },
    });
    const error = await sdk.chat.completions.create({ model: MODEL, messages }).then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    // The upstream's status is kept (the SDK's AuthenticationError), its words without the key.
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error?.status).toBe(401);
    expect(JSON.stringify(error?.error)).not.toContain(UPSTREAM_KEY.slice(0, 16));
    expect(String(error?.message)).not.toContain(UPSTREAM_KEY.slice(0, 16));
    expect(logs.join('\n')).not.toContain(UPSTREAM_KEY.slice(0, 16));
  });

  /** The official SDK reads 5 chunks of a 30 s answer, then aborts; resolves once the upstream saw it close. */
  async function leaveAfterFiveChunks(): Promise<void> {
    upstream.enqueue({ text: 'y'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
    const controller = new AbortController();
    const stream = await sdk.chat.completions.create(
      { model: MODEL, messages, stream: true },
      { signal: controller.signal },
    );
    let n = 0;
    try {
      for await (const _chunk of stream) if (++n === 5) controller.abort();
    } catch {
      // the SDK's abort error
    }
    await upstream.waitForRequestClose(1);
  }

  it('aborts the upstream call when the client leaves mid-stream', async () => {
    // 30 s of answer: the abort reaches the upstream long before it ends, however slow the machine.
    await leaveAfterFiveChunks();
    expect(upstream.stats.abortedRequests).toBe(1);
  });

  it('logs an estimated cost for a call the client left before the upstream reported its usage', async () => {
    // $1 per million input tokens, $2 per million output tokens.
    setPrice(MODEL, { input: 1, output: 2 });
    try {
      // 30 s of answer: the client leaves long before the upstream's usage chunk, however slow the machine.
      await leaveAfterFiveChunks();
      const line = await logLine(/ closed$/);
      // No usage came: the prompt is estimated from the request the gateway validated, the output
      // from what arrived (at least the 4 characters read after the role chunk: 1 token; at most
      // the 3000 of the whole answer: 750 tokens). `~` marks the estimate.
      const usd = Number(/ cost=~\$(\S+) closed$/.exec(line)?.[1]);
      const prompt = estimatePromptTokens({ model: MODEL, messages });
      expect(usd).toBeGreaterThanOrEqual((prompt * 1 + 1 * 2) / 1e6 - 1e-9);
      expect(usd).toBeLessThanOrEqual((prompt * 1 + 750 * 2) / 1e6 + 1e-9);
    } finally {
      clearPrices();
    }
  });

  it('passes an upstream error mid-stream on as an error event after the chunks before it', async () => {
    upstream.enqueue({
      text: 'partial answer',
      chunkSize: 4,
      inBandError: { afterChunks: 3, error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    const stream = await sdk.chat.completions.create({ model: MODEL, messages, stream: true });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(text).toBe('partial '); // role chunk, 'part', 'ial ': every chunk before the error
    expect(error?.message).toContain('Overloaded');
  });
});

describe('rxllm clients against the gateway', () => {
  const headers = { authorization: `Bearer ${TOKEN}` };

  it('fetchSse reads the stream and gets typed errors', async () => {
    upstream.enqueue({ text: ANSWER, chunkSize: 2 });
    const ok = await collect(
      fetchSse(`${gateway.url}/v1/chat/completions`, {
        body: { model: MODEL, messages, stream: true },
        headers,
      }),
    );
    expect(ok.completed).toBe(true);
    expect(summarize(ok.values).text).toBe(ANSWER);
    upstream.enqueue({ text: 'ab', malformedAfterChunks: 1 });
    const bad = await collect(
      fetchSse(`${gateway.url}/v1/chat/completions`, {
        body: { model: MODEL, messages, stream: true },
        headers,
      }),
    );
    expect(bad.error).toBeInstanceOf(StreamParseError);
    expect((bad.error as StreamParseError).retryable).toBe(false);
    const denied = await collect(
      fetchSse(`${gateway.url}/v1/chat/completions`, { body: { model: MODEL, messages, stream: true } }),
    );
    expect(denied.error).toBeInstanceOf(AuthenticationError);
  });

  it('logs the cost of a WebSocket request too, as of an HTTP one', async () => {
    setPrice(MODEL, { input: 1, output: 2 });
    try {
      upstream.enqueue({
        text: ANSWER,
        usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
      });
      const url = `${gateway.url.replace('http', 'ws')}/v1/chat/ws`;
      const chunks = await lastValueFrom(
        fromWebSocket(
          url,
          { model: MODEL, messages },
          {
            protocols: bearerProtocol(TOKEN),
            WebSocket: WebSocket as never,
          },
        ).pipe(toArray()),
      );
      expect(summarize(chunks).text).toBe(ANSWER);
      const line = logs.find((l) => l.startsWith('WS '));
      expect(line).toMatch(
        /^WS \/v1\/chat\/ws 200 model=compat\/test-model .* tokens=1000\+500 cost=\$0\.00200 complete$/,
      );
    } finally {
      clearPrices();
    }
  });

  it('serves several requests at once on one WebSocket, keyed by id', async () => {
    upstream.setDefault((req) => ({
      text: `answer to ${(req.body as MockChatBody).messages[0].content}`,
      chunkSize: 2,
      chunkDelayMs: 2,
    }));
    const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, bearerProtocol(TOKEN));
    const shared = socket as unknown as WebSocketLike;
    const ask = (q: string) =>
      lastValueFrom(
        fromWebSocket(shared, { model: MODEL, messages: [{ role: 'user', content: q }] }).pipe(toArray()),
      );
    const [a, b, c] = await Promise.all([ask('one'), ask('two 二'), ask('three')]);
    expect(summarize(a).text).toBe('answer to one');
    expect(summarize(b).text).toBe('answer to two 二');
    expect(summarize(c).text).toBe('answer to three');
    expect(summarize(a).usage).toBeNull(); // not asked for
    socket.close();
  });

  it('WebSocket: logs an estimated cost for a call stopped before the upstream reported its usage', async () => {
    setPrice(MODEL, { input: 1, output: 2 });
    try {
      upstream.enqueue({ text: 'z'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
      const url = `${gateway.url.replace('http', 'ws')}/v1/chat/ws`;
      const body = { model: MODEL, messages };
      await lastValueFrom(
        fromWebSocket(url, body, { protocols: bearerProtocol(TOKEN), WebSocket: WebSocket as never }).pipe(
          take(3),
          toArray(),
        ),
      );
      await upstream.waitForRequestClose(1);
      const line = await logLine(/^WS /);
      const usd = Number(/ cost=~\$(\S+) /.exec(line)?.[1]);
      const prompt = estimatePromptTokens({ model: MODEL, messages });
      expect(usd).toBeGreaterThanOrEqual(prompt / 1e6 - 1e-9);
      expect(usd).toBeLessThanOrEqual((prompt + 750 * 2) / 1e6 + 1e-9);
    } finally {
      clearPrices();
    }
  });

  it('WebSocket: a stop message and a closed socket each abort the upstream call; errors keep their class', async () => {
    // 30 s of answer: each abort reaches the upstream long before it ends, however slow the machine.
    upstream.setDefault({ text: 'z'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
    const url = `${gateway.url.replace('http', 'ws')}/v1/chat/ws`;
    const socket = new WebSocket(url, bearerProtocol(TOKEN));
    const body = { model: MODEL, messages };
    const got = await lastValueFrom(
      fromWebSocket(socket as unknown as WebSocketLike, body).pipe(take(3), toArray()),
    );
    expect(got).toHaveLength(3);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    socket.close();
    // A socket of its own (a URL), closed on unsubscribe.
    await lastValueFrom(
      fromWebSocket(url, body, { protocols: bearerProtocol(TOKEN), WebSocket: WebSocket as never }).pipe(
        take(3),
        toArray(),
      ),
    );
    await upstream.waitForRequestClose(2);
    expect(upstream.stats.abortedRequests).toBe(2);
    upstream.setDefault({ status: 429, headers: { 'retry-after': '600' } });
    const failed = await collect(
      fromWebSocket(url, body, { protocols: bearerProtocol(TOKEN), WebSocket: WebSocket as never }),
    );
    expect(failed.error).toBeInstanceOf(RateLimitError);
    const invalid = await collect(
      fromWebSocket(
        url,
        { model: MODEL, messages: [] },
        { protocols: bearerProtocol(TOKEN), WebSocket: WebSocket as never },
      ),
    );
    expect((invalid.error as Error).name).toBe('RequestValidationError');
  });

  it('a WebSocket message over the size limit closes that socket (1009) and the gateway keeps serving', async () => {
    const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, bearerProtocol(TOKEN));
    await new Promise((r) => socket.once('open', r));
    const closed = new Promise<number>((r) => socket.once('close', r));
    socket.send('x'.repeat(100 * 1024)); // maxBodyBytes is 64 KiB here
    expect(await closed).toBe(1009);
    const models = await sdk.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('survives upgrade requests whose clients reset the connection at once', async () => {
    const resets = Array.from(
      { length: 50 },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect(gateway.port, '127.0.0.1', () => {
            s.write(
              'GET /v1/chat/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
            );
            s.resetAndDestroy();
            resolve();
          });
          s.on('error', () => undefined);
        }),
    );
    await Promise.all(resets);
    await new Promise((r) => setTimeout(r, 200));
    const models = await sdk.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('WebSocket refuses a connection without the token', async () => {
    const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, ['rxllm.v1']);
    const status = await new Promise<number>((resolve) =>
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });
});

describe('shutdown', () => {
  it('lets an in-flight stream finish within the grace period, then refuses new connections', async () => {
    const up = await createMockServer({
      defaultScript: { text: 'finishing', chunkSize: 1, chunkDelayMs: 20 },
    });
    const gw = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: up.url }),
      log: () => {},
    });
    const pending = collect(
      fetchSse(`${gw.url}/v1/chat/completions`, { body: { model: MODEL, messages, stream: true } }),
    );
    while (up.stats.requests === 0) await new Promise((r) => setTimeout(r, 5));
    await gw.close(5000);
    const result = await pending;
    expect(result.completed).toBe(true);
    expect(summarize(result.values).text).toBe('finishing');
    await expect(fetch(`${gw.url}/v1/models`)).rejects.toThrow();
    await up.close();
  });
});

describe('batchedLines (the default access log)', () => {
  it('joins the lines of one event-loop turn into one write', async () => {
    const writes: string[] = [];
    const log = batchedLines({ write: (text: string) => writes.push(text) });
    log('a');
    log('b');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    log('c');
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['a\nb\n', 'c\n']);
  });
});

describe('a gateway without a token and pages of other sites (review)', () => {
  it('refuses cross-origin API calls and WebSockets (403), serves its own page and non-browser clients', async () => {
    const up = await createMockServer();
    const lines: string[] = [];
    const open = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: up.url, apiKey: UPSTREAM_KEY }),
      token: '',
      log: (line) => lines.push(line),
    });
    try {
      const body = JSON.stringify({ model: MODEL, messages, stream: true });
      // What a page on another site can send through the user's browser: a simple text/plain POST.
      const evil = await fetch(`${open.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
        body,
      });
      expect(evil.status).toBe(403);
      const nullOrigin = await fetch(`${open.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { origin: 'null' },
        body,
      });
      expect(nullOrigin.status).toBe(403);
      const ws = new WebSocket(`${open.url.replace('http', 'ws')}/v1/chat/ws`, ['rxllm.v1'], {
        origin: 'https://evil.example',
      });
      const wsStatus = await new Promise<number>((resolve) =>
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
      );
      expect(wsStatus).toBe(403);
      // DNS rebinding: a site whose own name resolves to 127.0.0.1, so its Origin equals the Host.
      const port = new URL(open.url).port;
      const rebound = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          `${open.url}/v1/chat/completions`,
          {
            method: 'POST',
            headers: { host: `rebind.example:${port}`, origin: `http://rebind.example:${port}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(rebound).toBe(403);
      expect(up.stats.requests).toBe(0);
      // The gateway's own page (same origin) and clients that send no Origin still work.
      const own = await collect(
        fetchSse(`${open.url}/v1/chat/completions`, {
          body: { model: MODEL, messages, stream: true },
          headers: { origin: open.url },
        }),
      );
      expect(own.completed).toBe(true);
      const sdkClient = new OpenAI({ apiKey: 'sk-test-none', baseURL: `${open.url}/v1`, maxRetries: 0 });
      expect((await sdkClient.models.list()).data.map((m) => m.id)).toEqual([MODEL]);
      expect(up.stats.requests).toBe(1);
    } finally {
      await open.close(0);
      await up.close();
    }
  });
});

describe('the model id clients used comes back', () => {
  it('mock/echo is answered as mock/echo (not the mock provider’s "echo") over SSE, JSON and WebSocket', async () => {
    const lines: string[] = [];
    const plain = await startGateway({ port: 0, log: (line) => lines.push(line) });
    try {
      const client = new OpenAI({ apiKey: 'sk-test-none', baseURL: `${plain.url}/v1`, maxRetries: 0 });
      const listed = (await client.models.list()).data.map((m) => m.id);
      expect(listed).toEqual(['mock/echo']);
      const models = new Set<string>();
      const stream = await client.chat.completions.create({
        model: 'mock/echo',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) models.add(chunk.model);
      expect([...models]).toEqual(['mock/echo']);
      const completion = await client.chat.completions.create({ model: 'mock/echo', messages });
      expect(completion.model).toBe('mock/echo');
      const overWs = await lastValueFrom(
        fromWebSocket(
          `${plain.url.replace('http', 'ws')}/v1/chat/ws`,
          { model: 'mock/echo', messages },
          { WebSocket: WebSocket as never },
        ).pipe(toArray()),
      );
      expect(new Set(overWs.map((c) => c.model))).toEqual(new Set(['mock/echo']));
      // The log still names the rxllm model that served it.
      expect(lines.filter((l) => l.startsWith('POST '))[0]).toContain('model=mock/echo');
    } finally {
      await plain.close(0);
    }
  });

  it('a name the server maps to another model is echoed as the client wrote it', async () => {
    upstream.enqueue({ text: ANSWER, model: 'upstream-name-2024-01-01' }); // its own name for it
    const handler = chatCompletionsHandler({
      client: createClient({ baseURL: upstream.url, apiKey: UPSTREAM_KEY }),
      resolveModel: (m) => (m === 'fast' ? MODEL : undefined),
    });
    const server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new OpenAI({
        apiKey: 'sk-test-none',
        baseURL: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`,
        maxRetries: 0,
      });
      const completion = await client.chat.completions.create({ model: 'fast', messages });
      expect(completion.choices[0].message.content).toBe(ANSWER);
      expect(completion.model).toBe('fast');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('an upstream’s address never reaches the client (it stays in the server log)', () => {
  it('ollama/... on a port where nothing listens: SSE, JSON and WebSocket errors hide 127.0.0.1:<port>', async () => {
    // A port that was free a moment ago: nothing listens on it.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const address = `127.0.0.1:${port}`;
    const lines: string[] = [];
    const routed = await startGateway({
      port: 0,
      model: 'ollama/llama3.2',
      baseURL: `http://${address}`,
      retry: { maxRetries: 0 },
      log: (line) => lines.push(line),
    });
    try {
      const body = { model: 'ollama/llama3.2', messages, stream: true };
      const sse = await collect(fetchSse(`${routed.url}/v1/chat/completions`, { body }));
      expect(sse.error).toBeInstanceOf(ConnectionError);
      expect((sse.error as ConnectionError).message).toContain('ECONNREFUSED');
      expect((sse.error as ConnectionError).message).toContain('[address hidden]');

      const json = await fetch(`${routed.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: false }),
      });
      expect(json.status).toBe(502);
      const answer = (await json.json()) as { error: { type: string; message: string } };
      expect(answer.error.type).toBe('ConnectionError');

      const ws = await collect(
        fromWebSocket(`${routed.url.replace('http', 'ws')}/v1/chat/ws`, body, {
          WebSocket: WebSocket as never,
        }),
      );
      expect(ws.error).toBeInstanceOf(ConnectionError);

      for (const seen of [
        (sse.error as Error).message,
        JSON.stringify(answer),
        (ws.error as Error).message,
      ]) {
        expect(seen).not.toContain('127.0.0.1');
        expect(seen).not.toContain(String(port));
      }
      // The server's own log keeps the whole story, address included.
      const failures = lines.filter((l) => l.includes('error:ConnectionError'));
      expect(failures).toHaveLength(3);
      for (const line of failures) expect(line).toContain(address);
    } finally {
      await routed.close(0);
    }
  });
});

describe('startGateway options', () => {
  it('refuses a bad retry or timeouts option when it starts, not on every request', async () => {
    const log = () => undefined;
    await expect(startGateway({ port: 0, log, retry: { maxRetries: -1 } })).rejects.toThrow(
      /retryBackoff: maxRetries/,
    );
    await expect(startGateway({ port: 0, log, timeouts: { idle: -5 } })).rejects.toThrow(/timeouts/);
  });
});
