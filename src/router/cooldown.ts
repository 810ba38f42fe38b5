/**
 * Cooldowns: a deployment that failed `allowedFails` times within `windowMs` is skipped for
 * `cooldownMs`; a 429's `Retry-After` cools it for that long at once. The state sits behind a
 * {@link CooldownStore} so a fleet can share it (`createRedisCooldownStore` in `rxllm/redis`).
 */
import type { MaybePromise } from '../rateLimit/store';

/** When a deployment cools down. See `COOLDOWN_DEFAULTS`. */
export interface CooldownPolicy {
  /** Failures within `windowMs` that start a cooldown. @defaultValue 3 */
  allowedFails: number;
  /** The window failures are counted in, in ms. @defaultValue 60_000 */
  windowMs: number;
  /** How long a deployment is skipped, in ms. @defaultValue 5_000 */
  cooldownMs: number;
}

/**
 * Storage of failure counts and cooldown ends, per deployment id. Times are the router scheduler's
 * clock (ms; `Date.now()` by default), so processes sharing a store must share a clock.
 * The router waits for `coolingUntil` before it routes, so a store across the network must answer or
 * reject within a short time limit. The router fails open: a rejected read routes as if nothing were
 * cooling, a rejected write is logged (`createRedisCooldownStore` answers from its last known
 * cooldowns instead, asking Redis at most once per `cacheMs` while it is unavailable).
 */
export interface CooldownStore {
  /**
   * Records one failure at `now` and, when `allowedFails` were reached within `windowMs`, cools the
   * deployment until `now + cooldownMs` (atomically). Resolves to the cooldown's end, or 0.
   */
  recordFailure(id: string, now: number, policy: CooldownPolicy): MaybePromise<number>;
  /** Cools `id` until `until` (a later existing end is kept). */
  coolUntil(id: string, until: number): MaybePromise<void>;
  /** The cooldown end of each id that is cooling at `now` (ids not cooling are absent). */
  coolingUntil(ids: readonly string[], now: number): MaybePromise<Record<string, number>>;
}

/**
 * The default cooldown store: in this process, synchronous.
 *
 * @example
 * import { createMemoryCooldownStore } from 'rxllm';
 * const store = createMemoryCooldownStore();
 * store.coolUntil('gpt-a', 10_000);
 * console.log(store.coolingUntil(['gpt-a', 'gpt-b'], 5_000)); // { 'gpt-a': 10000 }
 */
export function createMemoryCooldownStore(): CooldownStore & {
  coolingUntil(ids: readonly string[], now: number): Record<string, number>;
} {
  const fails = new Map<string, number[]>();
  const until = new Map<string, number>();
  const cool = (id: string, end: number) => until.set(id, Math.max(until.get(id) ?? 0, end));
  return {
    recordFailure(id, now, { allowedFails, windowMs, cooldownMs }) {
      const recent = (fails.get(id) ?? []).filter((t) => t > now - windowMs);
      recent.push(now);
      if (recent.length >= allowedFails) {
        fails.delete(id);
        cool(id, now + cooldownMs);
        return now + cooldownMs;
      }
      fails.set(id, recent);
      return 0;
    },
    coolUntil(id, end) {
      cool(id, end);
    },
    coolingUntil(ids, now) {
      const out: Record<string, number> = {};
      for (const id of ids) {
        const end = until.get(id);
        if (end !== undefined && end > now) out[id] = end;
      }
      return out;
    },
  };
}
