/**
 * Where a rate limiter keeps its state. The in-memory store serves one process; a shared store
 * (Redis, a database row) lets a fleet of workers share one budget. The limiter's algorithm stays in
 * `createRateLimiter`; a store only has to read and compare-and-set one small record per key.
 */

/** A token bucket pair (requests and tokens) plus a pause. Plain data, so any store can serialize it. */
export interface RateLimitState {
  /** Request permits available now (may be fractional; refilled continuously). */
  requests: number;
  /** Token budget available now. May go below 0 when a response used more than estimated. */
  tokens: number;
  /** Scheduler time (ms) the two budgets were computed at. */
  updatedAt: number;
  /** Nothing is granted before this time (a 429 or an exhausted budget from the headers). */
  pausedUntil: number;
}

/** A value, or a promise of it for stores that live across the network. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Storage of limiter states. Implement it over a shared store to share limits across processes:
 * `compareAndSet` must be atomic (Redis: `WATCH`/`MULTI` or a Lua script comparing the stored JSON).
 * A store across the network must end every call within a time limit of its own (the limiter waits
 * for it) and reject when it cannot answer: the limiter then fails closed, its `acquire` errors and
 * grants nothing, as `createRedisRateLimitStore` does with a `StoreError` after `timeoutMs`.
 */
export interface RateLimitStore {
  /** The state under `key`, `undefined` if none was written yet. */
  get(key: string): MaybePromise<RateLimitState | undefined>;
  /**
   * Writes `next` only if the stored state still equals `expected` (field by field; `undefined` =
   * nothing stored). Returns whether it wrote; the limiter re-reads and retries when it did not.
   */
  compareAndSet(
    key: string,
    expected: RateLimitState | undefined,
    next: RateLimitState,
  ): MaybePromise<boolean>;
  /**
   * Optional, for stores across the network: refills the state under `key` to `now` and takes one
   * request and `costs[i]` tokens for each waiter in order, atomically, stopping at the first that
   * does not fit (so a later, smaller request never overtakes an earlier one). Returns how many it
   * granted and, when it stopped early, the ms the next one has to wait. One call serves a whole
   * queue of waiters, so a store that has it gives a process many permits per round trip instead of
   * one; the limiter falls back to `get` + `compareAndSet` without it.
   */
  takeInOrder?(
    key: string,
    costs: readonly number[],
    limits: RateLimitLimits,
    now: number,
  ): MaybePromise<RateLimitTake>;
}

/** The limiter's rates, as {@link RateLimitStore.takeInOrder} needs them to refill the buckets. */
export interface RateLimitLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Most request permits the bucket holds (`max(1, requestsPerMinute)`). */
  requestCapacity: number;
}

/** What {@link RateLimitStore.takeInOrder} did. */
export interface RateLimitTake {
  /** How many of the waiters, from the first, got their permit. */
  granted: number;
  /** Ms until the next waiter (`costs[granted]`) could fit; 0 when all were granted. */
  wait: number;
}

function same(a: RateLimitState | undefined, b: RateLimitState | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.requests === b.requests &&
    a.tokens === b.tokens &&
    a.updatedAt === b.updatedAt &&
    a.pausedUntil === b.pausedUntil
  );
}

/**
 * The default store: a `Map` in this process, synchronous (so marble tests can drive a limiter).
 *
 * @example
 * import { createMemoryRateLimitStore, createRateLimiter } from 'rxllm';
 * const store = createMemoryRateLimitStore();
 * const limiter = createRateLimiter({ requestsPerMinute: 500, store });
 */
export function createMemoryRateLimitStore(): RateLimitStore {
  const states = new Map<string, RateLimitState>();
  return {
    get: (key) => states.get(key),
    compareAndSet: (key, expected, next) => {
      if (!same(states.get(key), expected)) return false;
      states.set(key, { ...next });
      return true;
    },
  };
}
