import { defer, mergeMap, tap, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import type { RateLimiter } from '../src/rateLimit/limiter';
import { linkedSubscriber, operate } from './internal/operate';

export interface RateLimitConfig {
  /**
   * Tokens this request is expected to use (prompt + completion), taken from the token budget before
   * subscribing (at most the whole budget). When the source reports `usage`, the last report (usage
   * is cumulative) replaces the charge when the stream ends: the difference is charged or refunded.
   * @defaultValue 0
   */
  estimateTokens?: number | (() => number);
}

/** Defaults of {@link rateLimit}. */
export const RATE_LIMIT_DEFAULTS = { estimateTokens: 0 } as const satisfies RateLimitConfig;

function usageOf(value: unknown): number | undefined {
  const total = (value as { usage?: { total_tokens?: unknown } | null } | null)?.usage?.total_tokens;
  return typeof total === 'number' && Number.isFinite(total) ? total : undefined;
}

/**
 * Delays the subscription to the source until `limiter` grants a request (and the estimated
 * tokens). A 429 from the source pauses the whole limiter for the server's wait, so the other
 * requests sharing it wait instead of hitting 429 too. Put it before `retryBackoff` so every retry
 * asks the limiter again.
 *
 * ```
 * limiter: 1 request/min, second subscription
 * source:        a|
 * result:  ------a|   (subscribed once a permit refilled)
 * ```
 *
 * `number` shorthand: `rateLimit(limiter, 800)` = `rateLimit(limiter, { estimateTokens: 800 })`.
 *
 * @example
 * import { complete, createRateLimiter } from 'rxllm';
 * import { rateLimit, retryBackoff } from 'rxllm/operators';
 * const limiter = createRateLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
 * complete({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { onResponse: limiter.onResponse })
 *   .pipe(rateLimit(limiter, { estimateTokens: 800 }), retryBackoff())
 *   .subscribe((completion) => console.log(completion.choices[0]?.message.content));
 */
export function rateLimit<T>(
  limiter: RateLimiter,
  config: number | RateLimitConfig = {},
): MonoTypeOperatorFunction<T> {
  if (!limiter || typeof limiter.acquire !== 'function' || typeof limiter.onError !== 'function') {
    throw new TypeError('rateLimit: limiter must come from createRateLimiter().');
  }
  const cfg = typeof config === 'number' ? { estimateTokens: config } : config;
  if (cfg === null || typeof cfg !== 'object')
    throw new TypeError('rateLimit: config must be a number or an object.');
  const { estimateTokens = RATE_LIMIT_DEFAULTS.estimateTokens } = cfg;
  if (typeof estimateTokens !== 'function' && !(typeof estimateTokens === 'number' && estimateTokens >= 0)) {
    throw new TypeError(
      `rateLimit: estimateTokens must be a number >= 0 or a function, got ${String(estimateTokens)}.`,
    );
  }

  // One subscription path for every operator (operate + linkedSubscriber); the pipeline is rxjs's own.
  const limited = (source: Observable<T>) =>
    defer(() => {
      const estimate = typeof estimateTokens === 'function' ? estimateTokens() : estimateTokens;
      let charged = 0;
      let lastUsage: number | undefined;
      // Providers report usage cumulatively (vLLM's `continuous_usage_stats` sends it on every
      // chunk): the last report is the request's usage. It replaces what `acquire` charged, so a
      // refund never exceeds the charge (the charge is capped at the budget, the estimate is not).
      const settleUsage = () => {
        if (lastUsage === undefined) return;
        const used = lastUsage;
        lastUsage = undefined;
        limiter.adjust(used - charged);
      };
      return limiter.acquire(estimate).pipe(
        mergeMap((taken) => {
          charged = typeof taken === 'number' ? taken : estimate;
          return source;
        }),
        tap({
          next: (value) => {
            const used = usageOf(value);
            if (used !== undefined) lastUsage = used;
          },
          error: (error: unknown) => limiter.onError(error),
          finalize: settleUsage,
        }),
      );
    });
  return operate<T, T>((source, subscriber) => {
    limited(source).subscribe(linkedSubscriber<T>(subscriber));
  });
}
