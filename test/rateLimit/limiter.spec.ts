import { lastValueFrom, of, toArray, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  complete,
  createMemoryRateLimitStore,
  createRateLimiter,
  RateLimitError,
  stream,
  type RateLimitState,
  type RateLimitStore,
  type ResponseMeta,
} from 'rxllm';
import { rateLimit } from 'rxllm/operators';
import { createMockServer, type MockServer } from 'rxllm/testing';
import { collect, REQUEST } from '../helpers/collect';

const stateOf = (limiter: ReturnType<typeof createRateLimiter>): RateLimitState => {
  let s: RateLimitState | undefined;
  limiter.state().subscribe((v) => (s = v));
  return s!;
};

describe('createRateLimiter (issue 10)', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('never refunds more than it charged (estimate above the whole budget)', () => {
    ts.run(() => {
      const limiter = createRateLimiter({ tokensPerMinute: 6000, scheduler: ts });
      // Estimated 10 000 (charged 6 000, the cap), used 100: the refund is 5 900, not 9 900.
      of({ usage: { total_tokens: 100 } })
        .pipe(rateLimit(limiter, 10_000))
        .subscribe();
      expect(stateOf(limiter).tokens).toBe(5900);
    });
  });

  it('emits the tokens it charged from acquire()', () => {
    const limiter = createRateLimiter({ tokensPerMinute: 500 });
    const seen: number[] = [];
    limiter.acquire(800).subscribe((n) => seen.push(n));
    limiter.acquire(0).subscribe((n) => seen.push(n));
    expect(seen).toEqual([500, 0]);
  });

  it('grants fractional rates: requestsPerMinute 0.5 = one request, then one every 2 minutes', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 0.5, scheduler: ts });
      expectObservable(cold('a|').pipe(rateLimit(limiter))).toBe('a|');
      expectObservable(cold('b|').pipe(rateLimit(limiter))).toBe('120000ms b|');
      expectObservable(cold('c|').pipe(rateLimit(limiter))).toBe('240000ms c|');
    });
  });

  it('charges the last usage a stream reports (cumulative usage on every chunk)', () => {
    ts.run(() => {
      const limiter = createRateLimiter({ tokensPerMinute: 600, scheduler: ts });
      of({ usage: { total_tokens: 10 } }, { usage: { total_tokens: 50 } }, { usage: { total_tokens: 400 } })
        .pipe(rateLimit(limiter, 100))
        .subscribe();
      expect(stateOf(limiter).tokens).toBe(200);
    });
  });

  it('charges the last usage seen when the consumer stops early', () => {
    ts.run(() => {
      const limiter = createRateLimiter({ tokensPerMinute: 600, scheduler: ts });
      const sub = of({ usage: { total_tokens: 300 } })
        .pipe(rateLimit(limiter, 100))
        .subscribe();
      sub.unsubscribe();
      expect(stateOf(limiter).tokens).toBe(300);
    });
  });

  it('serves waiters first come, first served: a small late request does not overtake', () => {
    ts.run(({ cold, expectObservable }) => {
      // 60 tokens per minute = 1 per second; the first request empties the bucket.
      const limiter = createRateLimiter({ tokensPerMinute: 60, scheduler: ts });
      expectObservable(cold('a|').pipe(rateLimit(limiter, 60))).toBe('a|');
      expectObservable(cold('b|').pipe(rateLimit(limiter, 60)), '-^').toBe('60000ms b|');
      // Alone it would go at 1 000 ms; behind b it waits for b, then for its own token.
      expectObservable(cold('c|').pipe(rateLimit(limiter, 1)), '--^').toBe('61000ms c|');
    });
  });

  it('keeps one timer for all waiters and grants them in arrival order', () => {
    const vts = new VirtualTimeScheduler();
    const limiter = createRateLimiter({ requestsPerMinute: 60, scheduler: vts });
    const granted: [number, number][] = [];
    for (let i = 0; i < 100; i++) limiter.acquire().subscribe(() => granted.push([i, vts.now()]));
    // 60 granted from the full bucket at once; 40 wait behind one timer.
    expect(granted.length).toBe(60);
    expect(vts.actions.length).toBe(1);
    vts.flush();
    expect(granted.map(([i]) => i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(granted[60][1]).toBe(1000);
    expect(granted[99][1]).toBe(40_000);
  });

  it('passes the turn on when the head of the queue leaves', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ tokensPerMinute: 60, scheduler: ts });
      expectObservable(cold('a|').pipe(rateLimit(limiter, 60))).toBe('a|');
      // b (60 tokens) leaves at frame 5; c (1 token) no longer waits for b's minute.
      expectObservable(cold('b|').pipe(rateLimit(limiter, 60)), '-^---!').toBe('');
      expectObservable(cold('c|').pipe(rateLimit(limiter, 1)), '--^').toBe('1000ms c|');
    });
  });

  it('pauses on a 429 seen by onResponse (x-ratelimit-reset-* at 0 remaining, else retry-after)', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ scheduler: ts });
      const meta: ResponseMeta = {
        status: 429,
        headers: { 'retry-after': '3' },
        requestId: undefined,
        rateLimit: {},
        headersMs: 1,
      };
      limiter.onResponse(meta);
      expectObservable(cold('x|').pipe(rateLimit(limiter))).toBe('3000ms x|');
    });
  });

  it('gives back what an async store granted to a waiter that left meanwhile, and serves the next in order', async () => {
    const inner = createMemoryRateLimitStore();
    const store: RateLimitStore = {
      get: async (k) => inner.get(k) as RateLimitState | undefined,
      compareAndSet: async (k, expected, next) => inner.compareAndSet(k, expected, next) as boolean,
    };
    // Frozen virtual time: no refill between the calls, however slow the machine.
    const limiter = createRateLimiter({
      requestsPerMinute: 10,
      store,
      scheduler: new VirtualTimeScheduler(),
    });
    const order: string[] = [];
    const left = limiter.acquire().subscribe(() => order.push('left'));
    const second = new Promise<void>((resolve) =>
      limiter.acquire().subscribe(() => {
        order.push('second');
        resolve();
      }),
    );
    left.unsubscribe(); // while the store is still answering for it
    await second;
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['second']);
    const state = await lastValueFrom(limiter.state());
    // One permit taken (second's); the one granted to the waiter that left came back.
    expect(state.requests).toBe(9);
  });

  it('a process whose clock is behind the shared state refills nothing and does not move the state back (no double refill)', () => {
    // Two processes on one store, each with its own clock: B reads its time before A's write lands.
    const store = createMemoryRateLimitStore();
    const clockA = new VirtualTimeScheduler();
    const clockB = new VirtualTimeScheduler();
    const a = createRateLimiter({ tokensPerMinute: 60_000, store, scheduler: clockA }); // 1 token/ms
    const b = createRateLimiter({ tokensPerMinute: 60_000, store, scheduler: clockB });
    const granted: string[] = [];
    const take = (
      limiter: typeof a,
      clock: VirtualTimeScheduler,
      at: number,
      tokens: number,
      name: string,
    ) => {
      clock.frame = at;
      limiter.acquire(tokens).subscribe(() => granted.push(name));
    };
    take(a, clockA, 0, 60_000, 'drain'); // the bucket is empty at t = 0
    take(a, clockA, 50, 40, 'a@50'); // 50 refilled, 10 left
    take(b, clockB, 30, 10, 'b@30'); // B's clock says 30: nothing refills, the 10 left are taken
    expect(stateOf(a)).toEqual(expect.objectContaining({ tokens: 0, updatedAt: 50 }));
    // At 60 only 10 more tokens exist: 20 must wait. Had B moved the state back to 30, the 20 ms from
    // 30 to 50 would be refilled twice and this would be granted at once (70 tokens by t = 60).
    take(a, clockA, 60, 20, 'a@60');
    expect(granted).toEqual(['drain', 'a@50', 'b@30']);
  });

  it('rejects the same configurations as before (rates must be > 0)', () => {
    expect(() => createRateLimiter({ requestsPerMinute: 0 })).toThrow(TypeError);
    expect(() => createRateLimiter({ requestsPerMinute: -0.5 })).toThrow(TypeError);
    expect(() => createRateLimiter({ requestsPerMinute: 0.25 })).not.toThrow();
  });
});

describe('the limiter learns from every response over HTTP (issue 10)', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await createMockServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it("reads a 429's x-ratelimit-* headers: the next request waits for the reset", async () => {
    const limiter = createRateLimiter({ requestsPerMinute: 600 });
    server.enqueue({
      status: 429,
      headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '20s' },
    });
    const before = Date.now();
    const result = await collect(
      stream(REQUEST, { baseURL: server.url, onResponse: limiter.onResponse }).pipe(rateLimit(limiter)),
    );
    expect(result.error).toBeInstanceOf(RateLimitError);
    const state = await lastValueFrom(limiter.state());
    expect(state.pausedUntil).toBeGreaterThanOrEqual(before + 20_000);
    expect(state.requests).toBeLessThan(1);
  });

  it('calls onResponse for error statuses too, with the parsed headers', async () => {
    const seen: ResponseMeta[] = [];
    server.enqueue({
      status: 503,
      headers: { 'x-ratelimit-remaining-tokens': '42', 'x-request-id': 'req_1' },
    });
    const result = await collect(complete(REQUEST, { baseURL: server.url, onResponse: (m) => seen.push(m) }));
    expect(result.error).toBeDefined();
    expect(seen.map((m) => [m.status, m.requestId, m.rateLimit.remainingTokens])).toEqual([
      [503, 'req_1', 42],
    ]);
  });

  it('an onResponse that throws on an error status errors the stream with what it threw', async () => {
    server.enqueue({ status: 500 });
    const boom = new Error('hook failed');
    const result = await collect(
      stream(REQUEST, {
        baseURL: server.url,
        onResponse: () => {
          throw boom;
        },
      }).pipe(toArray()),
    );
    expect(result.error).toBe(boom);
  });
});
