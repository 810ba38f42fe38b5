/**
 * The gateway's answers to failures, read by the official `openai` package: an upstream failure
 * before the first byte keeps its HTTP status (and Retry-After), after it arrives as an error event;
 * shutdown ends open streams with a retryable 503 frame (WebSocket: then close 1001).
 */
import OpenAI from 'openai';
import WebSocket from 'ws';
import { createClient, ServerError, startGateway, type Gateway } from '../../src';
import { fetchSse, fromWebSocket, type WebSocketLike } from '../../src/browser';
import { createMockServer, type MockServer } from '../../src/testing';
import { collect } from '../helpers/collect';

const MODEL = 'compat/status-model';
const TOKEN = 'sk-test-status-token-0123456789';
const messages = [{ role: 'user' as const, content: 'Hi' }];

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
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
    retry: { initialDelayMs: 1, random: () => 0 },
    log: (line) => logs.push(line),
  });
  sdk = new OpenAI({ apiKey: TOKEN, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway.close(0);
  await upstream.close();
});
beforeEach(() => upstream.reset());

/** What the SDK throws for one call (or `undefined`), reading a stream to its end. */
async function sdkError(stream: boolean): Promise<InstanceType<typeof OpenAI.APIError> | undefined> {
  try {
    if (stream) {
      const s = await sdk.chat.completions.create({ model: MODEL, messages, stream: true });
      for await (const _chunk of s) {
        // read on
      }
    } else {
      await sdk.chat.completions.create({ model: MODEL, messages });
    }
    return undefined;
  } catch (error) {
    return error as InstanceType<typeof OpenAI.APIError>;
  }
}

describe('upstream failures before the first chunk keep their status (official openai client)', () => {
  const cases = [
    [429, OpenAI.RateLimitError, { 'retry-after': '7' }],
    [401, OpenAI.AuthenticationError, {}],
    [500, OpenAI.InternalServerError, {}],
  ] as const;
  for (const stream of [true, false]) {
    for (const [status, Class, headers] of cases) {
      it(`${status} → ${Class.name} with status ${status} (${stream ? 'streamed' : 'JSON'})`, async () => {
        upstream.enqueue({ status, headers });
        const error = await sdkError(stream);
        expect(error).toBeInstanceOf(Class);
        expect(error?.status).toBe(status);
        if (status === 429) {
          expect(error?.headers?.get('retry-after')).toBe('7');
          expect(error?.headers?.get('retry-after-ms')).toBe('7000');
        }
        // The SDK retries by itself: the gateway made exactly one upstream call.
        expect(upstream.stats.requests).toBe(1);
      });
    }
  }
});

describe('upstream failures after the first chunk arrive as an error event (official openai client)', () => {
  it('an in-band error: the SDK’s APIError carrying the frame’s class and status', async () => {
    upstream.enqueue({
      text: 'partial answer',
      inBandError: { afterChunks: 2, error: { type: 'rate_limit_error', message: 'Slow down' } },
    });
    const error = await sdkError(true);
    // After a 200 the SDK can only raise its base class; the frame says what happened.
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error?.status).toBeUndefined();
    expect(error?.error).toMatchObject({
      type: 'RateLimitError',
      status: 429,
      message: expect.stringContaining('Slow down'),
    });
  });

  it('a stream cut mid-way: an APIError naming StreamCutError', async () => {
    upstream.enqueue({ text: 'partial answer', chunkSize: 2, cutAfterChunks: 3 });
    const error = await sdkError(true);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error?.error).toMatchObject({ type: expect.stringMatching(/StreamCutError|ConnectionError/) });
  });
});

/** A gateway of its own (no token) on the shared mock upstream. */
function openGateway(heartbeatMs?: number): Promise<Gateway> {
  return startGateway({
    port: 0,
    model: MODEL,
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
    heartbeatMs,
    log: () => {},
  });
}

describe('after the first byte (a heartbeat counts), a failure can only be an error frame', () => {
  it('an upstream 429 that comes after the first `: ping` arrives as an error event', async () => {
    const pinging = await openGateway(50);
    try {
      upstream.enqueue({ status: 429, latencyMs: 500 });
      const res = await fetch(`${pinging.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-stainless-retry-count': '0' },
        body: JSON.stringify({ model: MODEL, messages, stream: true }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^: ping\n\n/);
      expect(text).toMatch(/data: \{"error":\{[^\n]*"type":"RateLimitError"/);
    } finally {
      await pinging.close(0);
    }
  });
});

describe('shutdown', () => {
  it('ends an open SSE stream with a retryable 503 frame and a WebSocket request with one, then closes 1001', async () => {
    const local = await openGateway();
    upstream.enqueue({ text: 'y'.repeat(2000), chunkSize: 1, chunkDelayMs: 20 });
    upstream.enqueue({ text: 'y'.repeat(2000), chunkSize: 1, chunkDelayMs: 20 });
    const sse = collect(
      fetchSse(`${local.url}/v1/chat/completions`, { body: { model: MODEL, messages, stream: true } }),
    );
    const ws = new WebSocket(`${local.url.replace('http', 'ws')}/v1/chat/ws`, ['rxllm.v1']);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    const overWs = collect(fromWebSocket(ws as unknown as WebSocketLike, { model: MODEL, messages }));
    while (upstream.stats.requests < 2) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    await local.close(0);
    const [a, b] = await Promise.all([sse, overWs]);
    for (const result of [a, b]) {
      expect(result.error).toBeInstanceOf(ServerError);
      expect((result.error as ServerError).status).toBe(503);
      expect((result.error as ServerError).retryable).toBe(true);
      expect(result.values.length).toBeGreaterThan(0);
    }
    expect(await closed).toBe(1001);
  });
});
