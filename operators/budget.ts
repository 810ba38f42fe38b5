import { asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { ChatCompletion, Chunk } from '../src/chunk';
import { createMemoryBudgetStore, type BudgetReservation, type BudgetStore } from '../src/cost/budgetStore';
import { findPrice } from '../src/cost/cost';
import { DEFAULT_OUTPUT_TOKENS, estimateRequestCost, type CostedRequest } from '../src/cost/estimate';
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
  /**
   * `provider/model` to price calls whose values carry no route. Must have a price (shipped or
   * `setPrice`): a budget that cannot price its calls would never stop one.
   * @defaultValue the route's model, else `request.model`, else the chunks' `model`
   */
  model?: string;
  /**
   * The request the guarded call sends. Its estimated cost (prompt by the rate limiter's token rule,
   * output at its `max_completion_tokens` / `max_tokens`, else `outputTokens`) is reserved when the
   * call starts and settled to the real cost when it ends, so parallel calls cannot overspend the
   * budget by more than one call's estimate; and a call stopped or cut before its usage came is
   * charged an estimate instead of $0. Without it, calls are only checked before they start and
   * charged when they end: calls started together can all pass.
   * @defaultValue none
   */
  request?: CostedRequest;
  /** Output tokens to reserve for a request without `max_completion_tokens` / `max_tokens`. @defaultValue 4096 */
  outputTokens?: number;
  /** Where a failed write to the store, or a call on an unpriced model, is reported. @defaultValue consoleLogger */
  logger?: Logger;
  /** Clock. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Defaults of {@link budget}. */
export const BUDGET_DEFAULTS = {
  window: 86_400_000,
  key: 'default',
  outputTokens: DEFAULT_OUTPUT_TOKENS,
} as const;

/**
 * Refuses a call with a `BudgetExceededError` (before anything is sent) once the spend of the
 * current window has reached `maxCost`; otherwise lets it through and, when it ends, charges its
 * cost (from the usage it reported and the price table; estimated for a call stopped or cut before
 * its usage came, see `trackUsage`). With `request`, the call's estimated cost is reserved in the
 * store as it starts, atomically with the check, and settled to the real cost when it ends: 40
 * calls started at once cannot all pass a nearly spent budget. Calls already running when the
 * limit is passed finish: a budget stops new calls, it does not cut answers, so the spend can pass
 * `maxCost` by one call (its estimate, when the estimate holds: set `max_tokens`).
 *
 * A `model` (or, without it, a `provider/model` request) without a price is refused at creation
 * (`TypeError`); a call served by a model without a price is charged nothing and warned about once
 * per operator through `logger`.
 *
 * ```
 * maxCost 0.01, spent 0.004 (call 1 costs 0.007)
 * call 1:  --a--u--|        spent becomes 0.011 at |
 * call 2:  #                BudgetExceededError (0.011 >= 0.01)
 * ```
 *
 * @example
 * import { stream, createMemoryBudgetStore, type ChatRequest } from 'rxllm';
 * import { budget } from 'rxllm/operators';
 * const store = createMemoryBudgetStore();
 * const request: ChatRequest = { model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 200 };
 * stream(request)
 *   .pipe(budget({ maxCost: 5, window: 86_400_000, store, request, model: 'openai/gpt-4o-mini' }))
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
    request,
    outputTokens = BUDGET_DEFAULTS.outputTokens,
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
  if (model !== undefined && (typeof model !== 'string' || !findPrice(model))) {
    throw new TypeError(
      `budget: no price for model ${JSON.stringify(model)}, so no call could ever be charged; add one with setPrice('${String(model)}', { input, output }).`,
    );
  }
  if (request !== undefined && (request === null || typeof request !== 'object')) {
    throw new TypeError('budget: request must be the ChatRequest the guarded call sends.');
  }
  // A `provider/model` request (not a router group name) that nothing can price: refused like `model`.
  if (model === undefined && request && request.model.includes('/') && !findPrice(request.model)) {
    throw new TypeError(
      `budget: no price for the request's model ${JSON.stringify(request.model)}, so no call could ever be charged; pass model (the price to charge) or setPrice('${request.model}', { input, output }).`,
    );
  }
  if (typeof outputTokens !== 'number' || !(outputTokens >= 0) || !Number.isFinite(outputTokens)) {
    throw new TypeError(`budget: outputTokens must be a finite number >= 0, got ${String(outputTokens)}.`);
  }
  // Computed once: the request is the same for every subscription. A router's group name has no
  // price: such calls are charged when they end but not reserved (set `model` to reserve).
  const estimate = request ? (estimateRequestCost(request, model ?? request.model, outputTokens) ?? 0) : 0;
  let warned = false;
  const warnUnpriced = (served: string | undefined): void => {
    if (warned) return;
    warned = true;
    logger.warn(
      `budget: no price for model ${JSON.stringify(served)}; its calls are not counted against the budget (add one with setPrice).`,
    );
  };

  return operate<T, T>((source, subscriber) => {
    const start = Math.floor(scheduler.now() / window) * window;
    const record = (amount: number): void => {
      const failed = (e: unknown) => logger.error(`budget: could not record $${amount}: ${String(e)}`);
      try {
        const written = store.add(key, start, amount, window);
        if (written instanceof Promise) written.catch(failed);
      } catch (e) {
        failed(e);
      }
    };
    const go = ({ granted, spent }: BudgetReservation, reserved: number): void => {
      if (subscriber.closed) {
        // Unsubscribed while the store answered: the call never ran, its reservation goes back.
        if (granted && reserved > 0) record(-reserved);
        return;
      }
      if (!granted) {
        subscriber.error(new BudgetExceededError(spent, maxCost, start + window));
        return;
      }
      source
        .pipe(
          trackUsage<T>({
            model,
            request,
            onUsage: (r) => {
              if (r.usage && !r.cost) warnUnpriced(r.model);
              // Settles the reservation to what the call cost (0 when nothing was billed).
              const delta = (r.cost?.total ?? 0) - reserved;
              if (delta !== 0) record(delta);
            },
          }),
        )
        .subscribe(linkedSubscriber(subscriber));
    };
    const failed = (e: unknown) => subscriber.error(e);
    if (estimate > 0 && store.reserve) {
      const answer = store.reserve(key, start, estimate, maxCost, window);
      if (answer instanceof Promise) answer.then((a) => go(a, estimate), failed);
      else go(answer, estimate);
      return;
    }
    // No atomic reservation: check, then (with an estimate) add it; two calls may interleave here.
    const checked = (spent: number): void => {
      if (spent >= maxCost || estimate === 0) return go({ granted: spent < maxCost, spent }, 0);
      const added = store.add(key, start, estimate, window);
      if (added instanceof Promise)
        added.then((total) => go({ granted: true, spent: total }, estimate), failed);
      else go({ granted: true, spent: added }, estimate);
    };
    const spent = store.spent(key, start);
    if (spent instanceof Promise) spent.then(checked, failed);
    else checked(spent);
  });
}
