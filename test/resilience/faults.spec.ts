/**
 * Resilience operators against the mock server over real HTTP, one scripted fault per test: what
 * happened (retried / failed with which typed error / partial kept), no duplicated text, no
 * leaked sockets (jest runs with open-handle detection; the agent and server are closed after).
 */
import type { Observable } from 'rxjs';
import {
  ConnectionError,
  createAgent,
  LlmError,
  RateLimitError,
  ServerError,
  stream,
  StreamParseError,
  TimeoutError,
  isResetChunk,
  type Chunk,
} from 'rxllm';
import { accumulateChunks, retryBackoff, timeouts, type RetryInfo } from 'rxllm/operators';
import { createMockServer, type MockServer } from 'rxllm/testing';

const TEXT = 'The quick brown fox jumps over the lazy dog.';
const retryFast = { initialDelayMs: 10, jitter: 0, maxRetries: 2 };

let server: MockServer;
const agent = createAgent();

beforeAll(async () => {
  server = await createMockServer({ defaultScript: { text: TEXT } });
});
afterEach(() => server.reset());
afterAll(async () => {
  await agent.close();
  await server.close();
});

interface Outcome {
  chunks: Chunk[];
  text: string;
  error?: unknown;
  retries: RetryInfo[];
}

function call(): Observable<Chunk> {
  return stream(
    { model: 'compat/x', messages: [{ role: 'user', content: 'hi' }] },
    { baseURL: server.url, apiKey: 'test-key', dispatcher: agent },
  );
}

/** Runs a call with the operators and reports everything it saw (reset chunks drop the text so far). */
function run(pipe: (retries: RetryInfo[]) => (o: Observable<Chunk>) => Observable<Chunk>): Promise<Outcome> {
  const retries: RetryInfo[] = [];
  const out: Outcome = { chunks: [], text: '', retries };
  return new Promise((resolve) => {
    call()
      .pipe(pipe(retries))
      .subscribe({
        next: (c) => {
          out.chunks.push(c);
          if (isResetChunk(c)) out.text = '';
          else out.text += c.choices[0]?.delta.content ?? '';
        },
        error: (e) => resolve({ ...out, error: e }),
        complete: () => resolve(out),
      });
  });
}

// Limits a healthy answer never reaches, even on a busy machine (a spurious timeout would add a
// retry); the tests of the timeouts set short ones against stalls that never end.
const SAFETY = { firstChunk: 5000, idle: 5000 };
// A stalled attempt times out after this; the retry that follows must beat it, so not too short.
const SHORT = 1000;

const standard =
  (t = {}) =>
  (retries: RetryInfo[]) =>
  (o: Observable<Chunk>) =>
    o.pipe(timeouts({ ...SAFETY, ...t }), retryBackoff({ ...retryFast, onRetry: (i) => retries.push(i) }));
const restart = (retries: RetryInfo[]) => (o: Observable<Chunk>) =>
  o.pipe(
    timeouts(SAFETY),
    retryBackoff({ ...retryFast, resume: 'restart', onRetry: (i) => retries.push(i) }),
  );

async function settled(): Promise<void> {
  for (let n = 1; n <= server.stats.requests; n++) await server.waitForRequestClose(n);
}

describe('resilience against scripted faults', () => {
  it('retries a 429 after the server-given Retry-After and then streams the text once', async () => {
    server.enqueue({ status: 429, headers: { 'retry-after-ms': '40' } });
    const r = await run(standard());
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(TEXT);
    expect(r.retries).toHaveLength(1);
    expect(r.retries[0].error).toBeInstanceOf(RateLimitError);
    expect(r.retries[0].delayMs).toBe(40);
    expect(server.stats.requests).toBe(2);
  });

  it.each([500, 502, 503])('retries a %d and then succeeds', async (status) => {
    server.enqueue({ status }, { status });
    const r = await run(standard());
    expect(r.text).toBe(TEXT);
    expect(r.retries.map((i) => [i.attempt, i.delayMs])).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(r.retries[0].error).toBeInstanceOf(ServerError);
  });

  it('fails with the last ServerError once the retries are used up', async () => {
    server.enqueue({ status: 503 }, { status: 503 }, { status: 503 });
    const r = await run(standard());
    expect(r.error).toBeInstanceOf(ServerError);
    expect(r.chunks).toHaveLength(0);
    expect(server.stats.requests).toBe(3);
  });

  it('never retries a 400 or a 401', async () => {
    server.enqueue({ status: 400 }, { status: 401 });
    const a = await run(standard());
    const b = await run(standard());
    expect((a.error as { status: number }).status).toBe(400);
    expect((b.error as { status: number }).status).toBe(401);
    expect(server.stats.requests).toBe(2);
  });

  it('retries a connection reset before the headers', async () => {
    server.enqueue({ resetBeforeHeaders: true });
    const r = await run(standard());
    expect(r.text).toBe(TEXT);
    expect(r.retries[0].error).toBeInstanceOf(ConnectionError);
  });

  it('does not retry a reset mid-stream by default: typed error with the partial text', async () => {
    server.enqueue({ text: TEXT, cutAfterChunks: 3 });
    const r = await run(standard());
    expect(r.error).toBeInstanceOf(LlmError);
    expect((r.error as LlmError).retryable).toBe(true);
    expect(r.retries).toHaveLength(0);
    expect((r.error as LlmError).partial?.choices[0].message.content).toBe(r.text);
    expect(r.text.length).toBeGreaterThan(0);
    expect(TEXT.startsWith(r.text)).toBe(true);
  });

  it('restarts a stream reset mid-stream with resume: restart, and the consumer ends with the text once', async () => {
    server.enqueue({ text: TEXT, cutAfterChunks: 3 });
    const r = await run(restart);
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(TEXT);
    expect(r.chunks.filter(isResetChunk)).toHaveLength(1);
    const merged = await new Promise<string | null>((resolve, reject) => {
      server.enqueue({ text: TEXT, cutAfterChunks: 2 });
      call()
        .pipe(restart([]), accumulateChunks())
        .subscribe({ next: (c) => resolve(c.choices[0].message.content), error: reject });
    });
    expect(merged).toBe(TEXT);
  });

  it('times out a stall before the first byte (firstChunk), aborts the request and retries', async () => {
    server.enqueue({ stall: 'before-headers' });
    const r = await run(standard({ firstChunk: SHORT }));
    expect(r.text).toBe(TEXT);
    expect(r.retries[0].error).toBeInstanceOf(TimeoutError);
    expect((r.retries[0].error as TimeoutError).timeout).toBe('firstChunk');
    await settled();
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('fails a stall mid-stream with an idle TimeoutError carrying the partial text, and aborts it', async () => {
    server.enqueue({ text: TEXT, stall: { afterChunks: 2 } });
    const r = await run(standard({ idle: SHORT }));
    expect(r.error).toBeInstanceOf(TimeoutError);
    expect((r.error as TimeoutError).timeout).toBe('idle');
    expect((r.error as LlmError).partial?.choices[0].message.content).toBe(r.text);
    await settled();
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('fails a malformed event with a StreamParseError (not retried), keeping the partial text', async () => {
    server.enqueue({ text: TEXT, malformedAfterChunks: 2 });
    const r = await run(standard());
    expect(r.error).toBeInstanceOf(StreamParseError);
    expect(r.retries).toHaveLength(0);
    expect(server.stats.requests).toBe(1);
    expect((r.error as LlmError).partial?.choices[0].message.content).toBe(r.text);
  });

  it('retries an in-band overloaded error that arrives before any content', async () => {
    server.enqueue({
      text: TEXT,
      inBandError: { afterChunks: 0, error: { error: { type: 'overloaded_error', message: 'Overloaded' } } },
    });
    const r = await run(standard());
    expect(r.text).toBe(TEXT);
    expect(r.retries).toHaveLength(1);
    expect((r.retries[0].error as LlmError).retryable).toBe(true);
  });

  it('fails an in-band error after content with the partial text, never duplicating it', async () => {
    server.enqueue({
      text: TEXT,
      inBandError: { afterChunks: 3, error: { error: { type: 'server_error', message: 'boom' } } },
    });
    const r = await run(standard());
    expect(r.error).toBeInstanceOf(LlmError);
    expect(r.retries).toHaveLength(0);
    expect((r.error as LlmError).partial?.choices[0].message.content).toBe(r.text);
    expect(TEXT.startsWith(r.text)).toBe(true);
  });

  it('leaves no request open after all faults: the pool keeps only idle keep-alive sockets', async () => {
    server.enqueue({ status: 500 }, { stall: 'before-headers' }, { text: TEXT, cutAfterChunks: 2 });
    await run(standard({ firstChunk: SHORT }));
    await run(standard({ firstChunk: SHORT }));
    await settled();
    expect(server.stats.openConnections).toBeLessThanOrEqual(1);
  });
});
