/**
 * The time limit of rxllm/redis store calls, with clients that never answer, fail or answer at once
 * (no server needed): each call ends within `timeoutMs`, leaves no timer behind, and the cooldown
 * store's `cacheMs: 0` asks on every read.
 */
import { StoreError } from 'rxllm';
import {
  createRedisBudgetStore,
  createRedisCooldownStore,
  createRedisRateLimitStore,
  REDIS_COOLDOWN_STORE_DEFAULTS,
  REDIS_STORE_DEFAULTS,
} from 'rxllm/redis';
import { BOUND_MS, capture, counting, LIMIT_MS, timed } from '../helpers/storeTiming';

describe('rxllm/redis time limits (no server needed)', () => {
  const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

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

  it('leaves no timer behind: after an answer, a time-out and retries', async () => {
    const before = activeTimers();
    const fast = { evalsha: async () => '1,2,3,4|w', eval: async () => null };
    const store = createRedisRateLimitStore(fast, { timeoutMs: 60_000 });
    expect(await store.get('k')).toEqual({ requests: 1, tokens: 2, updatedAt: 3, pausedUntil: 4 });
    expect(activeTimers()).toBe(before); // the 60 s limit was cleared with the answer

    let failures = 2;
    const flaky = {
      evalsha: async () => {
        if (failures-- > 0) throw new Error('Connection is closed.');
        return '0.5';
      },
      eval: async () => null,
    };
    expect(await createRedisBudgetStore(flaky, { timeoutMs: 60_000 }).spent('k', 0)).toBe(0.5);
    expect(failures).toBe(-1); // two retries, then the answer
    expect(activeTimers()).toBe(before); // neither the limit nor a retry's pause is left

    const down = {
      evalsha: () => Promise.reject(new Error('Connection is closed.')),
      eval: async () => null,
    };
    const error = await Promise.resolve(
      createRedisBudgetStore(down, { timeoutMs: LIMIT_MS }).spent('k', 0),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/Connection is closed/); // the last cause is kept
    expect(activeTimers()).toBe(before);
  });
});
