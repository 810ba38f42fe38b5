/**
 * Where `budget()` keeps the spend of each window. The in-memory store serves one process; the
 * Redis store (`rxllm/redis`) lets a fleet share one budget.
 */
import type { MaybePromise } from '../rateLimit/store';

/**
 * Spend per key and window. Windows are fixed: `windowStart` = floor(now / window) * window.
 * `budget()` waits for `spent` before a call starts, so a store across the network must answer or
 * reject within a time limit of its own (`createRedisBudgetStore`: a `StoreError` after `timeoutMs`).
 * Reads fail closed: a rejected `spent` refuses the call, since it cannot be checked; a rejected
 * `add` is logged (the call already happened).
 */
export interface BudgetStore {
  /** USD spent under `key` in the window starting at `windowStart` (0 when none). */
  spent(key: string, windowStart: number): MaybePromise<number>;
  /**
   * Adds `amount` USD atomically and returns the new total. `ttlMs` is how long the window's record
   * must be kept (stores may drop it after).
   */
  add(key: string, windowStart: number, amount: number, ttlMs: number): MaybePromise<number>;
}

/**
 * The default budget store: a `Map` in this process, synchronous.
 *
 * @example
 * import { createMemoryBudgetStore } from 'rxllm';
 * const store = createMemoryBudgetStore();
 * store.add('team-a', 0, 0.25, 60_000);
 * console.log(store.spent('team-a', 0)); // 0.25
 */
export function createMemoryBudgetStore(): BudgetStore & {
  spent(key: string, windowStart: number): number;
  add(key: string, windowStart: number, amount: number, ttlMs: number): number;
} {
  const windows = new Map<string, { start: number; spent: number }>();
  return {
    spent: (key, windowStart) => {
      const w = windows.get(key);
      return w && w.start === windowStart ? w.spent : 0;
    },
    add: (key, windowStart, amount) => {
      const w = windows.get(key);
      const spent = (w && w.start === windowStart ? w.spent : 0) + amount;
      windows.set(key, { start: windowStart, spent });
      return spent;
    },
  };
}
