/**
 * A shared rate limiter: two token buckets (requests/min, tokens/min) and a pause, behind a
 * {@link RateLimitStore}. Many streams and batches acquire from the same limiter; it learns from
 * `x-ratelimit-*` headers and pauses everyone when one request gets a 429.
 */
import { asyncScheduler, defer, from, mergeMap, Observable, of, timer, type SchedulerLike } from 'rxjs';
import { ApiError } from '../errors';
import type { ResponseMeta } from '../options';
import {
  createMemoryRateLimitStore,
  type MaybePromise,
  type RateLimitState,
  type RateLimitStore,
} from './store';

export interface RateLimiterConfig {
  /** Request budget per minute. @defaultValue Infinity (only the server's headers and 429s limit) */
  requestsPerMinute?: number;
  /** Token budget per minute (prompt + completion). @defaultValue Infinity */
  tokensPerMinute?: number;
  /** Where the state lives. @defaultValue a new in-memory store */
  store?: RateLimitStore;
  /** Key of this limiter's state in the store (one per provider account/model). @defaultValue 'default' */
  key?: string;
  /** A 429 without a server-given wait pauses the limiter this long, in ms. @defaultValue 1000 */
  pauseOn429Ms?: number;
  /** Longest pause it accepts from a server (Retry-After, reset headers), in ms. @defaultValue 60_000 */
  maxPauseMs?: number;
  /** Clock and timers. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Defaults of {@link createRateLimiter}. */
export const RATE_LIMITER_DEFAULTS = {
  requestsPerMinute: Infinity,
  tokensPerMinute: Infinity,
  key: 'default',
  pauseOn429Ms: 1000,
  maxPauseMs: 60_000,
} as const satisfies RateLimiterConfig;

export interface RateLimiter {
  /**
   * Cold: on subscribe, waits until one request and `tokens` tokens are available, takes them, emits
   * once and completes. Unsubscribing while waiting gives nothing up (nothing was taken).
   */
  acquire(tokens?: number): Observable<void>;
  /** Charges `tokens` more (negative: refunds), e.g. the difference between estimated and actual usage. */
  adjust(tokens: number): void;
  /** Grants nothing for `ms` (capped at `maxPauseMs`). */
  pause(ms: number): void;
  /** Learns from response headers. Pass it as `CallOptions.onResponse` (it is bound). */
  readonly onResponse: (meta: ResponseMeta) => void;
  /** Pauses on a 429 for the server's wait (`retryAfterMs`, else `pauseOn429Ms`); ignores other errors. */
  readonly onError: (error: unknown) => void;
  /** The current state, refilled to now. */
  state(): Observable<RateLimitState>;
}

function lift<T>(value: MaybePromise<T>): Observable<T> {
  return value instanceof Promise ? from(value) : of(value);
}

function checkRate(name: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(
      `createRateLimiter: ${name} must be a number > 0 (Infinity = no limit), got ${String(value)}.`,
    );
  }
}

/**
 * Creates a rate limiter. Use it with the `rateLimit` operator and wire its `onResponse` into the
 * calls so it learns from the server's headers.
 *
 * @example
 * import { complete, createRateLimiter } from 'rxllm';
 * import { rateLimit, retryBackoff } from 'rxllm/operators';
 * const limiter = createRateLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
 * complete(request, { onResponse: limiter.onResponse })
 *   .pipe(rateLimit(limiter, { estimateTokens: 800 }), retryBackoff())
 *   .subscribe(...);
 */
export function createRateLimiter(config: RateLimiterConfig = {}): RateLimiter {
  const {
    requestsPerMinute: rpm = RATE_LIMITER_DEFAULTS.requestsPerMinute,
    tokensPerMinute: tpm = RATE_LIMITER_DEFAULTS.tokensPerMinute,
    store = createMemoryRateLimitStore(),
    key = RATE_LIMITER_DEFAULTS.key,
    pauseOn429Ms = RATE_LIMITER_DEFAULTS.pauseOn429Ms,
    maxPauseMs = RATE_LIMITER_DEFAULTS.maxPauseMs,
    scheduler = asyncScheduler,
  } = config;
  checkRate('requestsPerMinute', rpm);
  checkRate('tokensPerMinute', tpm);
  if (!(pauseOn429Ms >= 0) || !(maxPauseMs >= 0)) {
    throw new TypeError('createRateLimiter: pauseOn429Ms and maxPauseMs must be numbers >= 0.');
  }
  if (!store || typeof store.get !== 'function' || typeof store.compareAndSet !== 'function') {
    throw new TypeError('createRateLimiter: store must implement get and compareAndSet.');
  }

  const refill = (s: RateLimitState | undefined, now: number): RateLimitState => {
    if (!s) return { requests: rpm, tokens: tpm, updatedAt: now, pausedUntil: 0 };
    const elapsed = Math.max(0, now - s.updatedAt);
    // An unlimited bucket stays unlimited (Infinity * 0 would be NaN).
    const requests = rpm === Infinity ? Infinity : Math.min(rpm, s.requests + (elapsed * rpm) / 60_000);
    const tokens = tpm === Infinity ? Infinity : Math.min(tpm, s.tokens + (elapsed * tpm) / 60_000);
    return { requests, tokens, updatedAt: now, pausedUntil: s.pausedUntil };
  };

  /** Read-modify-write with compare-and-set, retried when another user of the store wrote first. */
  const update = <R>(
    fn: (s: RateLimitState, now: number) => { next: RateLimitState; result: R },
  ): Observable<R> => {
    const tryOnce = (tries: number): Observable<R> =>
      lift(store.get(key)).pipe(
        mergeMap((stored) => {
          const now = scheduler.now();
          const { next, result } = fn(refill(stored, now), now);
          return lift(store.compareAndSet(key, stored, next)).pipe(
            mergeMap((written) => {
              if (written) return of(result);
              if (tries >= 50)
                throw new Error('createRateLimiter: the store kept rejecting writes (contention).');
              return tryOnce(tries + 1);
            }),
          );
        }),
      );
    return defer(() => tryOnce(0));
  };

  const fireAndForget = (o: Observable<unknown>) => o.subscribe({ error: () => undefined });
  const capPause = (ms: number) => Math.min(Math.max(0, ms), maxPauseMs);

  const acquire = (tokens = 0): Observable<void> => {
    if (typeof tokens !== 'number' || !(tokens >= 0)) {
      throw new TypeError(`RateLimiter.acquire: tokens must be a number >= 0, got ${String(tokens)}.`);
    }
    // A request larger than the whole budget would never fit: it waits for a full bucket instead.
    const cost = Math.min(tokens, tpm);
    const attempt = (): Observable<void> =>
      update((s, now) => {
        let wait = 0;
        if (now < s.pausedUntil) wait = s.pausedUntil - now;
        else if (s.requests < 1 || s.tokens < cost) {
          const needRequests = s.requests < 1 ? ((1 - s.requests) * 60_000) / rpm : 0;
          const needTokens = s.tokens < cost ? ((cost - s.tokens) * 60_000) / tpm : 0;
          wait = Math.max(needRequests, needTokens);
        }
        if (wait > 0) return { next: s, result: Math.ceil(wait) };
        return { next: { ...s, requests: s.requests - 1, tokens: s.tokens - cost }, result: 0 };
      }).pipe(
        mergeMap((wait) => (wait === 0 ? of(undefined) : timer(wait, scheduler).pipe(mergeMap(attempt)))),
      );
    return defer(attempt);
  };

  const pause = (ms: number): void => {
    fireAndForget(
      update((s, now) => ({
        next: { ...s, pausedUntil: Math.max(s.pausedUntil, now + capPause(ms)) },
        result: 0,
      })),
    );
  };

  const onResponse = (meta: ResponseMeta): void => {
    const rl = meta?.rateLimit ?? {};
    fireAndForget(
      update((s, now) => {
        const next = { ...s };
        // The server's count includes other clients of the same key: never trust more than it says.
        if (rl.remainingRequests !== undefined && rpm !== Infinity)
          next.requests = Math.min(next.requests, rl.remainingRequests);
        if (rl.remainingTokens !== undefined && tpm !== Infinity)
          next.tokens = Math.min(next.tokens, rl.remainingTokens);
        if (rl.remainingRequests === 0 && rl.resetRequestsMs !== undefined) {
          next.pausedUntil = Math.max(next.pausedUntil, now + capPause(rl.resetRequestsMs));
        }
        if (rl.remainingTokens === 0 && rl.resetTokensMs !== undefined) {
          next.pausedUntil = Math.max(next.pausedUntil, now + capPause(rl.resetTokensMs));
        }
        return { next, result: 0 };
      }),
    );
  };

  const onError = (error: unknown): void => {
    if (!(error instanceof ApiError) || error.status !== 429) return;
    const wait = error.retryAfterMs;
    pause(typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 ? wait : pauseOn429Ms);
  };

  const adjust = (tokens: number): void => {
    if (!Number.isFinite(tokens) || tokens === 0 || tpm === Infinity) return;
    fireAndForget(update((s) => ({ next: { ...s, tokens: Math.min(tpm, s.tokens - tokens) }, result: 0 })));
  };

  const state = (): Observable<RateLimitState> =>
    defer(() => lift(store.get(key))).pipe(mergeMap((s) => of(refill(s, scheduler.now()))));

  return { acquire, adjust, pause, onResponse, onError, state };
}
