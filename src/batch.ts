/**
 * `batch`: many chat calls with a concurrency cap, retries, per-attempt timeouts and an optional
 * shared rate limiter. A creation function (like rxjs `from`), not an operator: it starts from a list
 * of requests, so it lives in the core and is imported from `rxllm`.
 */
import { defer, from, isObservable, Observable, share, takeLast, throwIfEmpty } from 'rxjs';
import { abortError, checkSignal, failWith } from '../operators/internal/abort';
import { linkedSubscriber } from '../operators/internal/operate';
import { mapConcurrent, type ConcurrencyProgress } from '../operators/mapConcurrent';
import { rateLimit } from '../operators/rateLimit';
import { retryBackoff, type RetryBackoffConfig } from '../operators/retryBackoff';
import { timeouts, type TimeoutsConfig } from '../operators/timeouts';
import type { ChatCompletion } from './chunk';
import { complete } from './client';
import { StreamCutError } from './errors';
import type { CallOptions, ResponseMeta } from './options';
import { estimateRequestTokens } from './rateLimit/estimate';
import type { RateLimiter } from './rateLimit/limiter';
import type { ChatRequest } from './request';

/** Progress of a batch, reported after every start, success, failure and retry. */
export interface BatchProgress extends ConcurrencyProgress {
  /** Number of requests, when they were given as an array. */
  total: number | undefined;
  /** Retries so far, all items together. */
  retries: number;
}

/** One request's outcome. `attempts` = 1 + its retries. */
export type BatchResult<R = ChatCompletion> =
  | { ok: true; index: number; request: ChatRequest; value: R; attempts: number }
  | { ok: false; index: number; request: ChatRequest; error: unknown; attempts: number };

export interface BatchConfig<R = ChatCompletion> {
  /** Most requests in flight at once. @defaultValue 20 */
  concurrency?: number;
  /** Retries per request (`retryBackoff` config), `false` for none. @defaultValue RETRY_BACKOFF_DEFAULTS */
  retry?: number | Omit<RetryBackoffConfig, 'resume'> | false;
  /**
   * Time limits per attempt (`timeouts` config; a number is the total per attempt), `false` for none.
   * @defaultValue TIMEOUTS_DEFAULTS
   */
  timeout?: number | TimeoutsConfig | false;
  /** Emit results in input order instead of as they finish. @defaultValue false */
  ordered?: boolean;
  /** Fail the whole batch on the first failed request instead of emitting `{ ok: false }`. @defaultValue false */
  failFast?: boolean;
  /** A shared limiter every request (and retry) acquires from; it also learns from the responses. @defaultValue undefined */
  limiter?: RateLimiter;
  /**
   * Token estimate given to the limiter. What it throws becomes the batch's error.
   * @defaultValue estimateRequestTokens (text, images and output cap; see its docs)
   */
  estimateTokens?: (request: ChatRequest) => number;
  /**
   * Options of each call (`complete(request, options)`). An `options.signal` is listened to once per
   * batch (not once per call, which would pass Node's 10-listener warning at the default concurrency)
   * and not handed to the calls: when it fires, every request not finished yet gets
   * `{ ok: false, error: RequestAbortedError }` and is unsubscribed (which aborts it). @defaultValue {}
   */
  options?: CallOptions;
  /**
   * Makes one call; replaces `complete(request, options)` (e.g. a client's `complete`). Its last value
   * is the request's result; completing without a value is a `StreamCutError` (retried like one); a
   * call that throws fails its own request only, like one that errors.
   * @defaultValue undefined
   */
  call?: (request: ChatRequest, index: number, options: CallOptions) => Observable<R>;
  /** Called after every change of the counts. What it throws becomes the batch's error. @defaultValue undefined */
  onProgress?: (progress: BatchProgress) => void;
  /**
   * Aborting it ends the whole batch at once with a `RequestAbortedError` (waits and requests in
   * flight included). @defaultValue undefined
   */
  signal?: AbortSignal;
}

/** Defaults of {@link batch}. */
export const BATCH_DEFAULTS = { concurrency: 20, ordered: false, failFast: false } as const;

/**
 * Runs chat calls with at most `concurrency` in flight, each with retries and per-attempt timeouts;
 * emits exactly one result per request (`{ ok: true, value }` or `{ ok: false, error }` with a typed
 * error) and goes on after failures unless `failFast`. Cold; unsubscribing aborts every request in
 * flight.
 *
 * ```
 * batch([r0, r1, r2], { concurrency: 2 })
 * r0:      ----(A|)
 * r1:      --#            (400: not retried)
 * r2:        ---(C|)      (starts when r1 frees its slot)
 * result:  --x-A(C|)      (x = { ok: false, index: 1, error: BadRequestError })
 * ```
 *
 * (Run as a marble test: test/operators/docMarbles.spec.ts; `A` stands for `{ ok: true, index: 0,
 * value: A }`.)
 *
 * @example
 * import { batch, type ChatRequest } from 'rxllm';
 * const tickets = ['I was charged twice', 'The app crashes on start'];
 * const classifyRequest = (ticket: string): ChatRequest => ({
 *   model: 'openai/gpt-4o-mini',
 *   messages: [{ role: 'user', content: `Classify: ${ticket}` }],
 * });
 * batch(tickets.map(classifyRequest), { concurrency: 20, retry: 3, timeout: 15_000 })
 *   .subscribe((r) => (r.ok ? console.log(r.index, r.value.choices[0]?.message.content) : console.error(r.index, r.error)));
 */
export function batch<R = ChatCompletion>(
  requests: Iterable<ChatRequest> | Observable<ChatRequest>,
  config: BatchConfig<R> = {},
): Observable<BatchResult<R>> {
  if (config === null || typeof config !== 'object') throw new TypeError('batch: config must be an object.');
  if (!isObservable(requests) && typeof (requests as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
    throw new TypeError('batch: requests must be an array, an iterable or an Observable of requests.');
  }
  const {
    concurrency = BATCH_DEFAULTS.concurrency,
    ordered = BATCH_DEFAULTS.ordered,
    failFast = BATCH_DEFAULTS.failFast,
    retry = {},
    timeout = {},
    limiter,
    estimateTokens = estimateRequestTokens,
    options = {},
    onProgress,
  } = config;
  const signal = checkSignal('batch', config.signal);
  const { signal: callSignal, ...shared } = options;
  checkSignal('batch: options.signal', callSignal);
  const call =
    config.call ??
    ((request: ChatRequest, _i: number, opts: CallOptions) => complete(request, opts) as Observable<any>);
  const userRetry: Omit<RetryBackoffConfig, 'resume'> =
    retry === false ? { maxRetries: 0 } : typeof retry === 'number' ? { maxRetries: retry } : retry;
  // Validate now (TypeError at creation): the operators check their configs when built.
  retryBackoff(userRetry);
  mapConcurrent((x: unknown) => [x], { concurrency, ordered });
  if (timeout !== false) timeouts(timeout);
  const callOptions: CallOptions = limiter
    ? {
        ...shared,
        onResponse: (meta: ResponseMeta) => {
          limiter.onResponse(meta);
          options.onResponse?.(meta);
        },
      }
    : shared;
  const total = Array.isArray(requests) ? requests.length : undefined;

  return new Observable<BatchResult<R>>((subscriber) => {
    // A user callback that throws fails the whole batch, wherever it was called from (inside an
    // item's retry loop it would otherwise only fail that item).
    const guard = <A extends unknown[], V>(fn: (...args: A) => V) => {
      return (...args: A): V => {
        try {
          return fn(...args);
        } catch (error) {
          subscriber.error(error);
          throw error;
        }
      };
    };
    let retries = 0;
    let last: ConcurrencyProgress = { done: 0, failed: 0, inFlight: 0, received: 0 };
    const report = guard(() => onProgress?.({ ...last, total, retries }));
    const estimate = guard(estimateTokens);
    const attemptsOf = new Map<number, number>();
    // One listener on the call signal for the whole batch, shared by every item.
    const callAborted = callSignal && abortError(callSignal).pipe(share());

    const one = (request: ChatRequest, index: number): Observable<R> => {
      attemptsOf.set(index, 1);
      let attempt: Observable<R> = defer(() => call(request, index, callOptions));
      if (timeout !== false) attempt = attempt.pipe(timeouts<R>(timeout));
      // Exactly one result per request: the call's last value; none is a cut response.
      attempt = attempt.pipe(
        takeLast(1),
        throwIfEmpty(
          () => new StreamCutError(`batch: the call for request ${index} completed without a value.`),
        ),
      );
      if (limiter) attempt = attempt.pipe(rateLimit<R>(limiter, { estimateTokens: () => estimate(request) }));
      return attempt.pipe(
        retryBackoff<R>({
          ...userRetry,
          resume: 'never',
          onRetry: guard((info) => {
            retries++;
            attemptsOf.set(index, info.attempt + 1);
            report();
            userRetry.onRetry?.(info);
          }),
        }),
        failWith<R>(callAborted),
      );
    };

    const source = isObservable(requests) ? requests : from(requests);
    source
      .pipe(
        mapConcurrent(one, {
          concurrency,
          ordered,
          settle: true,
          onProgress: (p) => {
            last = p;
            report();
          },
        }),
        failWith(signal && abortError(signal)),
      )
      .subscribe(
        linkedSubscriber(subscriber, {
          next: (s) => {
            const attempts = attemptsOf.get(s.index) ?? 1;
            attemptsOf.delete(s.index);
            // Fail fast: erroring unsubscribes from the items, which aborts the requests in flight.
            if (!s.ok && failFast) return subscriber.error(s.error);
            subscriber.next(
              s.ok
                ? { ok: true, index: s.index, request: s.item, value: s.value, attempts }
                : { ok: false, index: s.index, request: s.item, error: s.error, attempts },
            );
          },
        }),
      );
  });
}
