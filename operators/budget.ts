import { asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { ChatCompletion, Chunk } from '../src/chunk';
import { createMemoryBudgetStore, type BudgetStore } from '../src/cost/budgetStore';
import { BudgetExceededError } from '../src/errors';
import { consoleLogger, type Logger } from '../src/logger';
import { linkedSubscriber, operate } from './internal/operate';
import { trackUsage } from './trackUsage';

export interface BudgetConfig {
  /** Most USD the calls sharing `store` + `key` may spend per window. */
  maxCost: number;
  /** Length of a budget window in ms; windows are fixed (aligned to the clock's 0). @defaultValue 86_400_000 (a day) */
  window?: number;
  /** Where the spend lives (`createRedisBudgetStore` shares it across processes). @defaultValue a new in-memory store */
  store?: BudgetStore;
  /** Which budget in the store. @defaultValue 'default' */
  key?: string;
  /** `provider/model` to price calls whose values carry no route. @defaultValue the route's model, else the chunks' `model` */
  model?: string;
  /** Where a failed write to the store is reported (the call itself already ended). @defaultValue consoleLogger */
  logger?: Logger;
  /** Clock. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Defaults of {@link budget}. */
export const BUDGET_DEFAULTS = { window: 86_400_000, key: 'default' } as const;

/**
 * Refuses a call with a `BudgetExceededError` (before anything is sent) once the spend of the
 * current window has reached `maxCost`; otherwise passes the call through and, when it ends, adds
 * its cost (from the usage it reported and the price table) to the store. A call whose cost is
 * unknown (no usage, no price) adds nothing. Calls already running when the limit is passed
 * finish: a budget stops new calls, it does not cut answers.
 *
 * ```
 * maxCost 0.01, spent 0.004 (call 1 costs 0.007)
 * call 1:  --a--u--|        spent becomes 0.011 at |
 * call 2:  #                BudgetExceededError (0.011 >= 0.01)
 * ```
 *
 * @example
 * import { stream, createMemoryBudgetStore } from 'rxllm';
 * import { budget } from 'rxllm/operators';
 * const store = createMemoryBudgetStore();
 * stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(budget({ maxCost: 5, window: 86_400_000, store, model: 'openai/gpt-4o-mini' }))
 *   .subscribe({ error: (e) => console.error(e.message) });
 */
export function budget<T extends Chunk | ChatCompletion>(config: BudgetConfig): MonoTypeOperatorFunction<T> {
  if (config === null || typeof config !== 'object') throw new TypeError('budget: config must be an object.');
  const {
    maxCost,
    window = BUDGET_DEFAULTS.window,
    store = createMemoryBudgetStore(),
    key = BUDGET_DEFAULTS.key,
    model,
    logger = consoleLogger,
    scheduler = asyncScheduler,
  } = config;
  if (typeof maxCost !== 'number' || !(maxCost >= 0)) {
    throw new TypeError(`budget: maxCost must be a number >= 0 (USD), got ${String(maxCost)}.`);
  }
  if (typeof window !== 'number' || !(window > 0) || !Number.isFinite(window)) {
    throw new TypeError(`budget: window must be a finite number of ms > 0, got ${String(window)}.`);
  }
  if (!store || typeof store.spent !== 'function' || typeof store.add !== 'function') {
    throw new TypeError('budget: store must implement spent and add.');
  }

  return operate<T, T>((source, subscriber) => {
    const start = Math.floor(scheduler.now() / window) * window;
    const record = (amount: number): void => {
      try {
        const written = store.add(key, start, amount, window);
        if (written instanceof Promise)
          written.catch((e: unknown) => logger.error(`budget: could not record $${amount}: ${String(e)}`));
      } catch (e) {
        logger.error(`budget: could not record $${amount}: ${String(e)}`);
      }
    };
    const go = (spent: number): void => {
      if (subscriber.closed) return;
      if (spent >= maxCost) {
        subscriber.error(new BudgetExceededError(spent, maxCost, start + window));
        return;
      }
      source
        .pipe(
          trackUsage<T>({
            model,
            onUsage: (r) => {
              if (r.cost && r.cost.total > 0) record(r.cost.total);
            },
          }),
        )
        .subscribe(linkedSubscriber(subscriber));
    };
    const spent = store.spent(key, start);
    if (spent instanceof Promise) spent.then(go, (e: unknown) => subscriber.error(e));
    else go(spent);
  });
}
