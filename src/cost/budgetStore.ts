/**
 * Where `budget()` keeps the spend of each window. The in-memory store serves one process; the
 * Redis store (`rxllm/redis`) lets a fleet share one budget.
 */
import type { MaybePromise } from '../rateLimit/store';

/** What {@link BudgetStore.reserve} answers. */
export interface BudgetReservation {
  /** `true` when the amount was added: the call may start. */
  granted: boolean;
  /** USD spent and reserved in the window: after the add when granted, else as found. */
  spent: number;
}

/**
 * Spend per key and window. Windows are fixed: `windowStart` = floor(now / window) * window.
 * `budget()` waits for `spent` (or `reserve`) before a call starts, so a store across the network must
 * answer or reject within a time limit of its own (`createRedisBudgetStore`: a `StoreError` after
 * `timeoutMs`). Reads fail closed: a rejected `spent` or `reserve` refuses the call, since it cannot be
 * checked; a rejected `add` is logged (the call already happened).
 */
export interface BudgetStore {
  /** USD spent (and reserved) under `key` in the window starting at `windowStart` (0 when none). */
  spent(key: string, windowStart: number): MaybePromise<number>;
  /**
   * Adds `amount` USD (negative to give back an unused reservation) atomically and returns the new
   * total. `ttlMs` is how long the window's record must be kept (stores may drop it after).
   */
  add(key: string, windowStart: number, amount: number, ttlMs: number): MaybePromise<number>;
  /**
   * In one atomic step: when the window's spend is below `maxCost`, adds `amount` (a call's
   * estimated cost) and grants; else changes nothing. This is what keeps parallel calls from all
   * passing the check before any of them is charged. Optional for custom stores: `budget` falls
   * back to `spent` then `add`, which two calls can interleave.
   */
  reserve?(
    key: string,
    windowStart: number,
    amount: number,
    maxCost: number,
    ttlMs: number,
  ): MaybePromise<BudgetReservation>;
}

/**
 * The default budget store: a `Map` in this process, synchronous.
 *
 * @example
 * import { createMemoryBudgetStore } from 'rxllm';
 * const store = createMemoryBudgetStore();
 * store.add('team-a', 0, 0.25, 60_000);
 * console.log(store.spent('team-a', 0)); // 0.25
 * console.log(store.reserve('team-a', 0, 0.5, 1, 60_000)); // { granted: true, spent: 0.75 }
 */
export function createMemoryBudgetStore(): BudgetStore & {
  spent(key: string, windowStart: number): number;
  add(key: string, windowStart: number, amount: number, ttlMs: number): number;
  reserve(
    key: string,
    windowStart: number,
    amount: number,
    maxCost: number,
    ttlMs: number,
  ): BudgetReservation;
} {
  // key -> window start -> spend. Several windows per key: a call that started in the last window
  // settles there after the next one began, and must not reset the new window's spend.
  const keys = new Map<string, Map<number, number>>();
  const spent = (key: string, windowStart: number) => keys.get(key)?.get(windowStart) ?? 0;
  const add = (key: string, windowStart: number, amount: number, ttlMs: number): number => {
    let windows = keys.get(key);
    if (!windows) keys.set(key, (windows = new Map()));
    const total = (windows.get(windowStart) ?? 0) + amount;
    windows.set(windowStart, total);
    // Windows whose record outlived its ttl are dropped (a window's ttl is its length).
    for (const start of windows.keys()) if (start + 2 * ttlMs <= windowStart) windows.delete(start);
    return total;
  };
  return {
    spent,
    add,
    reserve: (key, windowStart, amount, maxCost, ttlMs) => {
      const now = spent(key, windowStart);
      if (now >= maxCost) return { granted: false, spent: now };
      return { granted: true, spent: add(key, windowStart, amount, ttlMs) };
    },
  };
}
