import { defer, mergeMap, tap, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import type { RateLimiter } from '../src/rateLimit/limiter';
import { linkedSubscriber, operate } from './internal/operate';

export interface RateLimitConfig {
  /**
   * Tokens this request is expected to use (prompt + completion), taken from the token budget before
   * subscribing. When the source reports `usage`, the difference is charged or refunded.
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
 * complete(request, { onResponse: limiter.onResponse })
 *   .pipe(rateLimit(limiter, { estimateTokens: 800 }), retryBackoff())
 *   .subscribe(...);
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
      let charged = false;
      return limiter.acquire(estimate).pipe(
        mergeMap(() => source),
        tap({
          next: (value) => {
            const used = usageOf(value);
            if (used !== undefined && !charged) {
              charged = true;
              limiter.adjust(used - estimate);
            }
          },
          error: (error: unknown) => limiter.onError(error),
        }),
      );
    });
  return operate<T, T>((source, subscriber) => {
    limited(source).subscribe(linkedSubscriber<T>(subscriber));
  });
}
