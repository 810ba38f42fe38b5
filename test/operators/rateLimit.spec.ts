import { of, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { rateLimit, RATE_LIMIT_DEFAULTS } from 'rxllm/operators';
import {
  createMemoryRateLimitStore,
  createRateLimiter,
  RATE_LIMITER_DEFAULTS,
  RateLimitError,
  ServerError,
  type RateLimitState,
  type RateLimitStore,
  type ResponseMeta,
} from 'rxllm';

const meta = (rateLimit: ResponseMeta['rateLimit']): ResponseMeta => ({
  status: 200,
  headers: {},
  requestId: undefined,
  rateLimit,
  headersMs: 1,
});

describe('rateLimit and createRateLimiter', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('documents its defaults', () => {
    expect(RATE_LIMITER_DEFAULTS).toMatchObject({
      requestsPerMinute: Infinity,
      tokensPerMinute: Infinity,
      maxPauseMs: 60_000,
    });
    expect(RATE_LIMIT_DEFAULTS).toEqual({ estimateTokens: 0 });
  });

  it('delays subscription until a request permit refills (token bucket)', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      // 2 requests per minute: a full bucket of 2, then one more every 30 000 ms.
      const limiter = createRateLimiter({ requestsPerMinute: 2, scheduler: ts });
      const a = cold('a|');
      const b = cold('b|');
      const c = cold('c|');
      expectObservable(a.pipe(rateLimit(limiter))).toBe('a|');
      expectObservable(b.pipe(rateLimit(limiter))).toBe('b|');
      expectObservable(c.pipe(rateLimit(limiter))).toBe('30000ms c|');
      expectSubscriptions(c.subscriptions).toBe('30000ms ^!');
    });
  });

  it('limits tokens per minute with the estimate, and charges the difference from reported usage', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ tokensPerMinute: 600, scheduler: ts });
      // Estimated 100, used 400: 200 left, so a 300-token request waits for 100 tokens = 10 000 ms.
      const seen: unknown[] = [];
      of({ usage: { total_tokens: 400 } })
        .pipe(rateLimit(limiter, 100))
        .subscribe((v) => seen.push(v));
      expect(seen).toEqual([{ usage: { total_tokens: 400 } }]);
      expectObservable(cold('x|').pipe(rateLimit(limiter, { estimateTokens: () => 300 }))).toBe('10000ms x|');
    });
  });

  it('pauses the whole limiter for the server wait when one request gets a 429', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 1000, scheduler: ts });
      const e = new RateLimitError({ status: 429, headers: { 'retry-after-ms': '5000' } });
      expectObservable(cold('-#', undefined, e).pipe(rateLimit(limiter))).toBe('-#', undefined, e);
      // Another caller arriving at frame 2 waits until 1 + 5000.
      expectObservable(cold('x|').pipe(rateLimit(limiter)), '--^').toBe('5001ms x|');
    });
  });

  it('does not pause on errors other than 429', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ scheduler: ts });
      expectObservable(cold('-#', undefined, new ServerError({ status: 500 })).pipe(rateLimit(limiter))).toBe(
        '-#',
        undefined,
        new ServerError({ status: 500 }),
      );
      expectObservable(cold('x|').pipe(rateLimit(limiter)), '--^').toBe('--x|');
    });
  });

  it('learns from x-ratelimit headers: never more than remaining, paused until reset at zero', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 60, scheduler: ts });
      limiter.onResponse(meta({ remainingRequests: 0, resetRequestsMs: 2000 }));
      expectObservable(cold('x|').pipe(rateLimit(limiter))).toBe('2000ms x|');
    });
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 60, scheduler: ts });
      limiter.onResponse(meta({ remainingRequests: 1 }));
      expectObservable(cold('x|').pipe(rateLimit(limiter))).toBe('x|');
      // Bucket emptied by the header: the next permit refills at 1 per 1000 ms.
      expectObservable(cold('y|').pipe(rateLimit(limiter))).toBe('1000ms y|');
    });
  });

  it('caps a server pause at maxPauseMs', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ maxPauseMs: 3000, scheduler: ts });
      limiter.pause(600_000);
      expectObservable(cold('x|').pipe(rateLimit(limiter))).toBe('3000ms x|');
    });
  });

  it('takes nothing when unsubscribed while waiting, and passes empty/never through', () => {
    let waitingSubs: unknown[] = [];
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 1, scheduler: ts });
      expectObservable(cold('|').pipe(rateLimit(limiter))).toBe('|');
      const waiting = cold('w|');
      expectObservable(waiting.pipe(rateLimit(limiter)), '^--!').toBe('---');
      waitingSubs = waiting.subscriptions;
      // The waiter that left took no permit: the one refilled at 60 000 goes to the next caller.
      expectObservable(cold('y|').pipe(rateLimit(limiter)), '-^').toBe('60000ms y|');
    });
    expect(waitingSubs).toEqual([]);
  });

  it('acquires per subscription: the same piped observable takes one permit each time', () => {
    ts.run(({ cold, expectObservable }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 1, scheduler: ts });
      const piped = cold('x|').pipe(rateLimit(limiter));
      expectObservable(piped).toBe('x|');
      expectObservable(piped).toBe('60000ms x|');
    });
  });

  it('shares one budget across limiters on the same store and key (a fleet of workers)', () => {
    ts.run(({ cold, expectObservable }) => {
      const store = createMemoryRateLimitStore();
      const w1 = createRateLimiter({ requestsPerMinute: 1, store, scheduler: ts });
      const w2 = createRateLimiter({ requestsPerMinute: 1, store, scheduler: ts });
      expectObservable(cold('x|').pipe(rateLimit(w1))).toBe('x|');
      expectObservable(cold('y|').pipe(rateLimit(w2))).toBe('60000ms y|');
    });
  });

  it('works over an async store (compare-and-set with retries on conflict)', async () => {
    const inner = createMemoryRateLimitStore();
    let conflicts = 1;
    const store: RateLimitStore = {
      get: async (k) => inner.get(k) as RateLimitState | undefined,
      compareAndSet: async (k, exp, next) => (conflicts-- > 0 ? false : inner.compareAndSet(k, exp, next)),
    };
    // Frozen virtual time: no refill between the take and the read, however slow the machine.
    const limiter = createRateLimiter({
      requestsPerMinute: 10,
      store,
      scheduler: new VirtualTimeScheduler(),
    });
    await new Promise<void>((resolve, reject) =>
      limiter.acquire(1).subscribe({ complete: resolve, error: reject }),
    );
    const state = await new Promise<RateLimitState>((resolve) => limiter.state().subscribe(resolve));
    expect(state.requests).toBe(9);
    expect(conflicts).toBe(-1); // the conflicting write was retried once
  });

  it.each([
    [{ requestsPerMinute: 0 }],
    [{ tokensPerMinute: -5 }],
    [{ maxPauseMs: Number.NaN }],
    [{ store: {} as never }],
  ])('throws a TypeError at creation for %p', (config) => {
    expect(() => createRateLimiter(config)).toThrow(TypeError);
  });

  it('throws a TypeError for a bad limiter or estimate', () => {
    expect(() => rateLimit({} as never)).toThrow(TypeError);
    expect(() => rateLimit(createRateLimiter(), -1)).toThrow(TypeError);
  });
});
