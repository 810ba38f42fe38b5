/**
 * The time limit of rxllm/redis store calls, with clients that never answer, fail or answer at once
 * (no server needed): each call ends within `timeoutMs`, leaves no timer behind, and the cooldown
 * store's `cacheMs: 0` asks on every read.
 */
import { createRouter, StoreError, type RoutedCompletion } from 'rxllm';
import {
  createRedisBudgetStore,
  createRedisCooldownStore,
  createRedisRateLimitStore,
  REDIS_COOLDOWN_STORE_DEFAULTS,
  REDIS_STORE_DEFAULTS,
} from 'rxllm/redis';
import { BOUND_MS, capture, counting, LIMIT_MS, timed } from '../helpers/storeTiming';

describe('rxllm/redis time limits (no server needed)', () => {
  /**
   * The timers set while `fn` runs that are still pending after it: neither fired nor cleared. Only
   * the timers of the code under test are counted (a count of the process's active timers also saw
   * those of jest and of other tests, and failed on a busy machine).
   */
  async function pendingTimersAfter(fn: () => Promise<void>): Promise<number> {
    const pending = new Set<unknown>();
    let set = 0;
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    globalThis.setTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const timer: unknown = realSet(
        (...a: unknown[]) => {
          pending.delete(timer);
          cb(...a);
        },
        ms,
        ...args,
      );
      pending.add(timer);
      set++;
      return timer;
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((timer: Parameters<typeof clearTimeout>[0]) => {
      pending.delete(timer);
      realClear(timer);
    }) as typeof clearTimeout;
    try {
      await fn();
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
    // A call that set no timer at all would pass without proving anything: each call here sets its limit.
    expect(set).toBeGreaterThan(0);
    return pending.size;
  }

  it('documents its defaults and rejects bad limits at creation', () => {
    expect(REDIS_STORE_DEFAULTS).toEqual({ prefix: 'rxllm:', timeoutMs: 2000 });
    expect(REDIS_COOLDOWN_STORE_DEFAULTS).toEqual({ prefix: 'rxllm:', timeoutMs: 2000, cacheMs: 5000 });
    const client = { evalsha: async () => null, eval: async () => null };
    for (const timeoutMs of [0, -1, NaN, Infinity, '5' as never]) {
      expect(() => createRedisRateLimitStore(client, { timeoutMs })).toThrow(TypeError);
      expect(() => createRedisBudgetStore(client, { timeoutMs })).toThrow(TypeError);
    }
    expect(() => createRedisCooldownStore(client, { cacheMs: -1 })).toThrow(TypeError);
  });

  it('ends a call Redis never answers within timeoutMs, whatever the client does', async () => {
    const silent = { evalsha: () => new Promise(() => undefined), eval: () => new Promise(() => undefined) };
    const calls = [
      ['rate-limit', createRedisRateLimitStore(silent, { timeoutMs: LIMIT_MS }).get('k')],
      ['budget', createRedisBudgetStore(silent, { timeoutMs: LIMIT_MS }).spent('k', 0)],
      ['cooldown', createRedisCooldownStore(silent, { timeoutMs: LIMIT_MS }).coolUntil('d', 1)],
    ] as const;
    for (const [store, call] of calls) {
      const out = await timed(call);
      expect(out.pending).toBe(false);
      expect(out.ms).toBeLessThan(BOUND_MS);
      expect(out.error).toBeInstanceOf(StoreError);
      expect((out.error as StoreError).store).toBe(store);
      expect((out.error as StoreError).retryable).toBe(true);
      expect((out.error as Error).message).toMatch(
        new RegExp(`^Redis ${store} store: .* no answer within 300 ms`),
      );
    }
  });

  it('cooldown reads with cacheMs 0 ask Redis every time, concurrent ones too', async () => {
    const { counter, client } = counting({
      evalsha: () => new Promise(() => undefined),
      eval: () => new Promise(() => undefined),
    });
    const { lines, logger } = capture();
    const store = createRedisCooldownStore(client, { timeoutMs: LIMIT_MS, cacheMs: 0, logger });
    await Promise.resolve(store.coolUntil('a', 9_000)).catch(() => undefined); // times out, kept in memory
    counter.sent = 0;
    // Redis is found unavailable, then two reads at once: each asks Redis again.
    expect(await store.coolingUntil(['a', 'b'], 1000)).toEqual({ a: 9_000 });
    const reads = await Promise.all([
      store.coolingUntil(['a', 'b'], 1000),
      store.coolingUntil(['a', 'b'], 1000),
    ]);
    expect(reads).toEqual([{ a: 9_000 }, { a: 9_000 }]);
    expect(counter.sent).toBe(3 * 2);
    expect(lines[0]).toMatch(
      /^Redis cooldown store: reading cooldowns failed: no answer within 300 ms \(no reply\)\./,
    );
  });

  it('with the rate-limit store unavailable, routed calls do not wait for it to order deployments', async () => {
    const { counter, client } = counting({
      evalsha: () => new Promise(() => undefined),
      eval: () => new Promise(() => undefined),
    });
    const { lines, logger } = capture();
    const router = createRouter({
      groups: {
        main: {
          strategy: 'least-busy',
          deployments: [
            { model: 'mock/open', id: 'open' },
            { model: 'mock/limited', id: 'limited', rpm: 100 },
          ],
        },
      },
      rateLimitStore: createRedisRateLimitStore(client, { timeoutMs: LIMIT_MS }),
      logger,
    });
    const ask = { model: 'main', messages: [{ role: 'user' as const, content: 'hi' }], mock_response: 'ok' };
    // The first call finds the store unavailable: its ordering read ends at the limit.
    const first = await timed(new Promise((resolve) => router.complete(ask).subscribe(resolve)));
    expect(first).toMatchObject({ pending: false, value: { route: { deployment: 'open' } } });
    expect(counter.sent).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(/^router: reading rate-limit state failed.*no answer within 300 ms/),
    ]);
    // The mock provider answers synchronously: a call that waited on a read would give nothing here.
    const served: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      let result: RoutedCompletion | undefined;
      router
        .complete(ask)
        .subscribe((r) => (result = r))
        .unsubscribe();
      served.push(result?.route.deployment);
    }
    expect(served).toEqual(Array.from({ length: 10 }, () => 'open'));
    // One read in the background checks whether the store is back, not one per call.
    expect(counter.sent).toBe(2);
    expect(lines).toHaveLength(1);
  });

  it('leaves no timer behind: after an answer, a time-out and retries', async () => {
    const fast = { evalsha: async () => '1,2,3,4|w', eval: async () => null };
    const store = createRedisRateLimitStore(fast, { timeoutMs: 60_000 });
    // The 60 s limit is cleared with the answer.
    expect(
      await pendingTimersAfter(async () => {
        expect(await store.get('k')).toEqual({ requests: 1, tokens: 2, updatedAt: 3, pausedUntil: 4 });
      }),
    ).toBe(0);

    let failures = 2;
    const flaky = {
      evalsha: async () => {
        if (failures-- > 0) throw new Error('Connection is closed.');
        return '0.5';
      },
      eval: async () => null,
    };
    // Neither the limit nor a retry's pause is left.
    expect(
      await pendingTimersAfter(async () => {
        expect(await createRedisBudgetStore(flaky, { timeoutMs: 60_000 }).spent('k', 0)).toBe(0.5);
      }),
    ).toBe(0);
    expect(failures).toBe(-1); // two retries, then the answer

    const down = {
      evalsha: () => Promise.reject(new Error('Connection is closed.')),
      eval: async () => null,
    };
    let error: unknown;
    expect(
      await pendingTimersAfter(async () => {
        error = await Promise.resolve(
          createRedisBudgetStore(down, { timeoutMs: LIMIT_MS }).spent('k', 0),
        ).catch((e: unknown) => e);
      }),
    ).toBe(0);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/Connection is closed/); // the last cause is kept
  });
});
