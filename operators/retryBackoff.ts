import { asyncScheduler, Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { RequestAbortedError } from '../src/errors';
import { checkSignal } from './internal/abort';
import { errorCarrying } from '../src/cost/retriedBilled';
import { tellUnsubscribedBilled } from '../src/cost/unsubscribedBilled';
import { onAbort } from '../src/abortListeners';
import { RetryRun, type RetryInfo, type RetrySettings } from './internal/retryRun';

export type { RetryInfo };

export interface RetryBackoffConfig {
  /** Retries after the first attempt, for errors no `retryPolicy` entry covers. @defaultValue 2 */
  maxRetries?: number;
  /** Wait before the first retry, in ms. @defaultValue 500 */
  initialDelayMs?: number;
  /** Factor between two consecutive waits. @defaultValue 2 */
  multiplier?: number;
  /** Longest computed wait (before jitter), in ms. @defaultValue 8000 */
  maxDelayMs?: number;
  /** Up to this fraction is taken off each computed wait, at random (0 = none). @defaultValue 0.25 */
  jitter?: number;
  /** Random source in [0, 1) for the jitter; inject a constant in tests. @defaultValue Math.random */
  random?: () => number;
  /**
   * Longest server-given wait (`retryAfterMs` from `retry-after-ms` / `retry-after`) it will honour.
   * A longer one fails with the error at once instead of sleeping for minutes. A wait of 0 (or less)
   * is ignored and the computed backoff is used, as openai-node does, so a server saying
   * `retry-after: 0` is not hammered back to back. @defaultValue 60_000
   */
  maxRetryAfterMs?: number;
  /**
   * Retries per error class, like LiteLLM's `retry_policy`: `{ RateLimitError: 5, ServerError: 3,
   * BadRequestError: 0 }`. The most specific class in an error's prototype chain wins; each class
   * has its own count. An entry is an explicit decision: a class listed with N > 0 is retried even
   * if its `retryable` is false, but not when the error says the provider billed it (see below).
   * @defaultValue {}
   */
  retryPolicy?: Readonly<Record<string, number>>;
  /**
   * Replaces the `error.retryable` check (the counts still apply). `attempt` is the retry it would be
   * (1 = first). What it throws becomes the stream's error. @defaultValue undefined (retry what
   * `error.retryable` says)
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * What to do when the source fails after it emitted values. `'never'`: fail with the error, its
   * `partial` set to what was received (merged). `'restart'`: re-subscribe and first emit a reset
   * chunk (`Chunk.reset`) telling consumers to drop what they built. @defaultValue 'never'
   */
  resume?: 'never' | 'restart';
  /**
   * Whether a failure after the first value carries `error.partial` (what was received, merged).
   * `false` leaves it unset and skips merging each chunk as it passes: a relay that forwards the
   * chunks and never reads `partial` (the gateway) saves that work and the memory it holds.
   * @defaultValue true
   */
  partial?: boolean;
  /**
   * Called before each wait, for logging and metrics. What it throws becomes the stream's error (no
   * retry follows). @defaultValue undefined
   */
  onRetry?: (info: RetryInfo) => void;
  /** Scheduler of the waits. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
  /**
   * Aborting it ends the stream at once with a `RequestAbortedError`, during an attempt or a wait
   * (backoff or `Retry-After`), and no attempt follows. Pass the same signal as the call's
   * `options.signal`. @defaultValue undefined
   */
  signal?: AbortSignal;
}

/**
 * Defaults of {@link retryBackoff}, close to the official SDKs (openai-node `src/client.ts`: 2 retries,
 * 0.5 s initial, x2, 8 s max, up to 25 % jitter taken off; server waits honoured under 60 s).
 */
export const RETRY_BACKOFF_DEFAULTS = {
  maxRetries: 2,
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 8000,
  jitter: 0.25,
  random: Math.random,
  maxRetryAfterMs: 60_000,
  retryPolicy: {} as Readonly<Record<string, number>>,
  resume: 'never',
  partial: true,
} as const satisfies RetryBackoffConfig;

function check(name: string, value: number, max = Infinity): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value > max) {
    throw new TypeError(`retryBackoff: ${name} must be a number between 0 and ${max}, got ${String(value)}.`);
  }
}

/** The computed wait before retry `attempt` (1-based), jitter included. */
export function backoffDelay(
  attempt: number,
  config: Pick<RetryBackoffConfig, 'initialDelayMs' | 'multiplier' | 'maxDelayMs' | 'jitter' | 'random'> = {},
): number {
  const {
    initialDelayMs = RETRY_BACKOFF_DEFAULTS.initialDelayMs,
    multiplier = RETRY_BACKOFF_DEFAULTS.multiplier,
    maxDelayMs = RETRY_BACKOFF_DEFAULTS.maxDelayMs,
    jitter = RETRY_BACKOFF_DEFAULTS.jitter,
    random = RETRY_BACKOFF_DEFAULTS.random,
  } = config;
  const base = Math.min(initialDelayMs * Math.pow(multiplier, attempt - 1), maxDelayMs);
  return Math.round(base * (1 - jitter * random()));
}

export function retryBackoff<T>(
  config?: number | (RetryBackoffConfig & { resume?: 'never' }),
): MonoTypeOperatorFunction<T>;
export function retryBackoff(
  config: RetryBackoffConfig & { resume: 'restart' },
): MonoTypeOperatorFunction<Chunk>;
// `resume` only known at run time (`'never' | 'restart'`): it may emit reset chunks, so chunks only.
export function retryBackoff(config: RetryBackoffConfig): MonoTypeOperatorFunction<Chunk>;
/**
 * Re-subscribes to the source when it fails with a retryable error, waiting with exponential backoff
 * and jitter, or the server's `Retry-After` when it gave one (up to `maxRetryAfterMs`).
 *
 * Retries only before the first value by default: re-subscribing after chunks were delivered would
 * duplicate text. Then it fails with the error, `error.partial` holding what was received. With
 * `resume: 'restart'` it restarts anyway and emits a reset chunk first (`Chunk.reset`). Nor does it
 * retry an error that already carries `partial` (an `accumulateChunks` placed before it received
 * chunks), `billed` (a router's attempts that were billed though they passed nothing on) or
 * `billedAnswer` (a `complete()` answer billed whose body broke), whatever `retryPolicy` says: the
 * provider generated, and billed, them; a `shouldRetry` of yours decides instead. When it does retry
 * one, what that failure was billed for goes on with the next value, the final error or the end, so
 * that a `trackUsage` (or `budget`) below still counts it.
 *
 * ```
 * retryBackoff({ initialDelayMs: 3, jitter: 0 })
 * source:  -#                (attempt 1: 429 with retryAfterMs 2)
 * 2nd:        -#              (subscribed 2 ms later: 500)
 * 3rd:               ---a-b|  (subscribed 3 x 2 = 6 ms later: the second computed backoff)
 * result:  -------------a-b|
 *
 * source:  -a-#              (500 after a chunk)
 * result:  -a-#              (no retry; error.partial = merged "a")
 * ```
 *
 * (Each diagram is run as a marble test: test/operators/docMarbles.spec.ts.)
 *
 * Nothing runs after the subscriber leaves: no timer stays armed, and no attempt is subscribed once
 * downstream is closed (a consumer that stops at the reset chunk gets no second request).
 *
 * `number` shorthand: `retryBackoff(3)` = `retryBackoff({ maxRetries: 3 })`. Place it after
 * `timeouts()` so each attempt gets its own time limits.
 *
 * @example
 * import { stream } from 'rxllm';
 * import { retryBackoff, timeouts } from 'rxllm/operators';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(timeouts({ firstChunk: 60_000 }), retryBackoff({ maxRetries: 3, onRetry: (i) => console.warn(i) }))
 *   .subscribe((chunk) => console.log(chunk.choices[0]?.delta.content ?? ''));
 */
export function retryBackoff<T>(config: number | RetryBackoffConfig = {}): MonoTypeOperatorFunction<T> {
  const cfg = typeof config === 'number' ? { maxRetries: config } : config;
  if (cfg === null || typeof cfg !== 'object')
    throw new TypeError('retryBackoff: config must be a number or an object.');
  const {
    maxRetries = RETRY_BACKOFF_DEFAULTS.maxRetries,
    initialDelayMs = RETRY_BACKOFF_DEFAULTS.initialDelayMs,
    multiplier = RETRY_BACKOFF_DEFAULTS.multiplier,
    maxDelayMs = RETRY_BACKOFF_DEFAULTS.maxDelayMs,
    jitter = RETRY_BACKOFF_DEFAULTS.jitter,
    random = RETRY_BACKOFF_DEFAULTS.random,
    maxRetryAfterMs = RETRY_BACKOFF_DEFAULTS.maxRetryAfterMs,
    retryPolicy = RETRY_BACKOFF_DEFAULTS.retryPolicy,
    resume = RETRY_BACKOFF_DEFAULTS.resume,
    partial = RETRY_BACKOFF_DEFAULTS.partial,
    shouldRetry,
    onRetry,
    scheduler = asyncScheduler,
  } = cfg;
  check('maxRetries', maxRetries);
  check('initialDelayMs', initialDelayMs);
  check('multiplier', multiplier);
  check('maxDelayMs', maxDelayMs);
  check('jitter', jitter, 1);
  check('maxRetryAfterMs', maxRetryAfterMs);
  for (const [k, v] of Object.entries(retryPolicy)) check(`retryPolicy.${k}`, v);
  if (resume !== 'never' && resume !== 'restart') {
    throw new TypeError(`retryBackoff: resume must be 'never' or 'restart', got ${String(resume)}.`);
  }
  if (typeof partial !== 'boolean') throw new TypeError('retryBackoff: partial must be a boolean.');
  if (typeof random !== 'function') throw new TypeError('retryBackoff: random must be a function.');
  for (const [name, fn] of [
    ['shouldRetry', shouldRetry],
    ['onRetry', onRetry],
  ] as const) {
    if (fn !== undefined && typeof fn !== 'function')
      throw new TypeError(`retryBackoff: ${name} must be a function.`);
  }
  const signal = checkSignal('retryBackoff', cfg.signal);

  const settings: RetrySettings = {
    maxRetries,
    backoff: (attempt) => backoffDelay(attempt, { initialDelayMs, multiplier, maxDelayMs, jitter, random }),
    maxRetryAfterMs,
    retryPolicy,
    resume,
    partial,
    shouldRetry,
    onRetry,
    scheduler,
  };
  return (source) =>
    new Observable<T>((subscriber) => {
      const run = new RetryRun(source, subscriber, settings);
      if (signal) {
        const abort = () => {
          const error = new RequestAbortedError({ cause: signal.reason });
          subscriber.error(errorCarrying(error, run.takeCarried()));
        };
        if (signal.aborted) return abort();
        subscriber.add(onAbort(signal, abort));
      }
      // Left with billed failures not passed on yet: a `trackUsage` unsubscribing it is told of them.
      subscriber.add(() => {
        if (run.carried) tellUnsubscribedBilled([], run.takeCarried());
      });
      run.subscribeOnce();
    });
}
