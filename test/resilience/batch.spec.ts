/**
 * `batch` over real HTTP against the mock server: concurrency cap, settle / fail fast, order,
 * progress, retries of injected faults, the shared limiter, and the connection count.
 */
import { EMPTY, lastValueFrom, NEVER, of, take, throwError, timer, map, toArray } from 'rxjs';
import {
  batch,
  BadRequestError,
  createAgent,
  createRateLimiter,
  RateLimitError,
  RequestAbortedError,
  StreamCutError,
  BATCH_DEFAULTS,
  type BatchProgress,
  type BatchResult,
  type ChatRequest,
} from 'rxllm';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';

let server: MockServer;
const agent = createAgent();

beforeAll(async () => {
  server = await createMockServer();
});
afterEach(() => server.reset());
afterAll(async () => {
  await agent.close();
  await server.close();
});

const requests = (n: number): ChatRequest[] =>
  Array.from({ length: n }, (_, i) => ({
    model: 'compat/x',
    messages: [{ role: 'user' as const, content: `ticket ${i}` }],
  }));
const options = () => ({ baseURL: server.url, apiKey: 'test-key', dispatcher: agent });
const run = <R>(o: import('rxjs').Observable<BatchResult<R>>) => lastValueFrom(o.pipe(toArray()));
const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
};

describe('batch', () => {
  it('documents its defaults', () => {
    expect(BATCH_DEFAULTS).toEqual({ concurrency: 20, ordered: false, failFast: false });
  });

  it('keeps at most N requests in flight, uses about N connections, and answers every request', async () => {
    server.setDefault((req) => ({
      text: `re: ${String((req.body as MockChatBody).messages[0].content)}`,
      latencyMs: 30,
    }));
    let peak = 0;
    const results = await run(
      batch(requests(40), {
        concurrency: 8,
        options: options(),
        onProgress: (p) => (peak = Math.max(peak, p.inFlight)),
      }),
    );
    expect(results).toHaveLength(40);
    expect(results.every((r) => r.ok)).toBe(true);
    for (const r of results)
      if (r.ok) expect(r.value.choices[0].message.content).toBe(`re: ticket ${r.index}`);
    expect(peak).toBe(8);
    // Not 2N: a finished request's socket is back in the pool before the next request is sent.
    expect(server.stats.connections).toBeLessThanOrEqual(9);
  });

  it('retries injected 429s and 500s and reports the attempts of each item', async () => {
    // Deterministic per item (not per arrival order, which depends on timing): item i fails its
    // first (i % 3) attempts, alternating 429 + Retry-After and 500, then succeeds.
    const seen = new Map<string, number>();
    server.setDefault((req) => {
      const content = String((req.body as MockChatBody).messages[0].content);
      const attempt = (seen.get(content) ?? 0) + 1;
      seen.set(content, attempt);
      const failures = Number(content.split(' ')[1]) % 3;
      if (attempt <= failures) {
        return attempt % 2 ? { status: 429, headers: { 'retry-after-ms': '5' } } : { status: 500 };
      }
      return { text: 'ok', latencyMs: 5 };
    });
    let last: BatchProgress | undefined;
    const results = await run(
      batch(requests(12), {
        concurrency: 3,
        retry: { maxRetries: 3, initialDelayMs: 5, jitter: 0 },
        options: options(),
        onProgress: (p) => (last = p),
      }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(12);
    const attempts = results.reduce((sum, r) => sum + r.attempts, 0);
    expect(attempts).toBe(server.stats.requests);
    for (const r of results) expect(r.attempts).toBe((r.index % 3) + 1);
    expect(last).toMatchObject({ total: 12, done: 12, failed: 0, inFlight: 0, retries: attempts - 12 });
  });

  it('settles failing items into typed errors and goes on (no leaked permits with a cap of 2)', async () => {
    server.setDefault((req) =>
      Number(String((req.body as MockChatBody).messages[0].content).split(' ')[1]) % 2
        ? { status: 400 }
        : 'fine',
    );
    const results = await run(batch(requests(20), { concurrency: 2, ordered: true, options: options() }));
    expect(results.map((r) => r.index)).toEqual([...Array(20).keys()]);
    expect(results.filter((r) => !r.ok)).toHaveLength(10);
    for (const r of results) if (!r.ok) expect(r.error).toBeInstanceOf(BadRequestError);
    expect(results.find((r) => !r.ok)?.attempts).toBe(1);
  });

  it('fails fast on the first failure and aborts the requests in flight', async () => {
    // The last of the three to arrive fails, so all three are at the server when the failure
    // comes (a fixed item could fail before the others were even sent); the others never end.
    let arrived = 0;
    server.setDefault(() => (++arrived === 3 ? { status: 401 } : { stall: 'before-headers' }));
    await expect(
      run(batch(requests(5), { concurrency: 3, failFast: true, options: options() })),
    ).rejects.toMatchObject({ status: 401 });
    for (let i = 1; i <= server.stats.requests; i++) await server.waitForRequestClose(i);
    expect(server.stats.requests).toBe(3);
    expect(server.stats.abortedRequests).toBe(2);
  });

  it('applies the per-attempt timeout and settles a request that keeps stalling', async () => {
    server.setDefault({ stall: 'before-headers' });
    const results = await run(
      batch(requests(2), { timeout: 50, retry: { maxRetries: 1, initialDelayMs: 5 }, options: options() }),
    );
    expect(results.map((r) => (r.ok ? 'ok' : (r.error as { timeout?: string }).timeout))).toEqual([
      'total',
      'total',
    ]);
    expect(results.map((r) => r.attempts)).toEqual([2, 2]);
  });

  it('pauses the shared limiter on a 429 so the other items wait instead of hitting 429 too', async () => {
    let n = 0;
    server.setDefault(() => (++n === 1 ? { status: 429, headers: { 'retry-after-ms': '150' } } : 'ok'));
    const limiter = createRateLimiter({ requestsPerMinute: 6000 });
    const results = await run(
      batch(requests(6), {
        concurrency: 1,
        limiter,
        retry: { maxRetries: 2, initialDelayMs: 1 },
        options: options(),
      }),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    // Only the first request saw a 429: the retry and the others waited for the pause.
    expect(server.requests).toHaveLength(7);
  });

  it('runs any call with `call`, and its values per subscription', async () => {
    const piped = batch([{ model: 'x/y', messages: [] } as unknown as ChatRequest], {
      call: (_r, i) => (i === 0 ? timer(1).pipe(map(() => 'v')) : of('never')),
    });
    expect((await run(piped)).map((r) => r.ok && r.value)).toEqual(['v']);
    expect((await run(piped)).map((r) => r.ok && r.value)).toEqual(['v']);
    const failing = batch(requests(1), {
      call: () => throwError(() => new RateLimitError({ status: 429, headers: { 'retry-after': '900' } })),
    });
    const [r] = await run(failing);
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(1);
  });

  it('gives one result per request when a custom call completes without a value (4 of 4)', async () => {
    const results = await run(
      batch(requests(4), {
        retry: false,
        call: (_r, i) => (i === 2 ? EMPTY : of(`v${i}`)),
      }),
    );
    expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3]);
    const empty = results.find((r) => r.index === 2)!;
    expect(empty.ok).toBe(false);
    expect(!empty.ok && empty.error).toBeInstanceOf(StreamCutError);
    // A cut response is retryable: it is retried like one, and a later attempt's value is the result.
    let calls = 0;
    const [retried] = await run(
      batch(requests(1), {
        retry: { maxRetries: 2, initialDelayMs: 1 },
        call: () => (++calls < 3 ? EMPTY : of('third time')),
      }),
    );
    expect(retried).toMatchObject({ ok: true, value: 'third time', attempts: 3 });
    // A call that throws fails its own request only.
    const thrown = new Error('bad request object');
    const mixed = await run(
      batch(requests(2), {
        retry: false,
        call: (_r, i) => {
          if (i === 0) throw thrown;
          return of('fine');
        },
      }),
    );
    expect(mixed.map((r) => (r.ok ? r.value : r.error)).sort()).toEqual([thrown, 'fine'].sort());
    // A call with several values: the last one is the request's result.
    const [many] = await run(batch(requests(1), { call: () => of('a', 'b', 'c') }));
    expect(many.ok && many.value).toBe('c');
  });

  it('adds one abort listener per batch for a shared options.signal and settles the unfinished requests', async () => {
    const controller = new AbortController();
    // Listeners are counted, not warnings: jest's sandboxed `process` never sees Node's 'warning'
    // events (test/transport/abortListeners.spec.ts checks the warning in a real process).
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    server.setDefault({ text: 'slow', latencyMs: 60_000 }); // still in flight at the abort, however slow the machine
    const done = run(batch(requests(30), { options: { ...options(), signal: controller.signal } }));
    await until(() => server.stats.requests >= 20);
    controller.abort();
    const results = await done;
    expect(results).toHaveLength(30);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toBeInstanceOf(RequestAbortedError);
    }
    expect(listeners).toBe(1);
  });

  it('ends the whole batch at once with RequestAbortedError when its signal fires during a wait', async () => {
    const controller = new AbortController();
    server.setDefault({ status: 429, headers: { 'retry-after': '30' } });
    const done = run(batch(requests(3), { options: options(), signal: controller.signal }));
    await until(() => server.stats.requests >= 3);
    controller.abort();
    await expect(done).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(
      run(batch(requests(1), { signal: AbortSignal.abort(), call: () => NEVER })),
    ).rejects.toBeInstanceOf(RequestAbortedError);
  });

  it('stops starting calls as soon as downstream has what it needs (synchronous calls, take(1))', async () => {
    let calls = 0;
    const first = await lastValueFrom(
      batch(requests(1000), { call: (_r, i) => (calls++, of(i)) }).pipe(take(1), toArray()),
    );
    expect(first).toMatchObject([{ ok: true, index: 0, value: 0 }]);
    expect(calls).toBe(1);
  });

  it('fails the batch with what onProgress or estimateTokens throws', async () => {
    const boom = new Error('progress hook failed');
    await expect(
      run(
        batch(requests(2), {
          call: () => of('v'),
          onProgress: () => {
            throw boom;
          },
        }),
      ),
    ).rejects.toBe(boom);
    const estimate = new Error('estimator failed');
    await expect(
      run(
        batch(requests(2), {
          call: () => of('v'),
          limiter: createRateLimiter({ requestsPerMinute: 6000 }),
          estimateTokens: () => {
            throw estimate;
          },
        }),
      ),
    ).rejects.toBe(estimate);
  });

  it('throws a TypeError at creation for bad input or config', () => {
    expect(() => batch(42 as never)).toThrow(TypeError);
    expect(() => batch([], { concurrency: 0 }).subscribe()).toThrow(TypeError);
    expect(() => batch([], { retry: -1 })).toThrow(TypeError);
    expect(() => batch([], { timeout: -5 })).toThrow(TypeError);
    expect(() => batch([], { signal: 'stop' as never })).toThrow(TypeError);
  });
});
