import {
  asyncScheduler,
  Observable,
  Subscriber,
  Subscription,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { ChatCompletion, Chunk } from '../src/chunk';
import { errorClassName } from '../src/errorName';
import { LlmError, RequestAbortedError } from '../src/errors';
import { ChunkAccumulator, withPartial } from './accumulateChunks';
import { checkSignal } from './internal/abort';
import {
  completeCarrying,
  errorCarrying,
  isBilledFailure,
  retriedOf,
  valueCarrying,
  type RetriedFailure,
} from '../src/cost/retriedBilled';
import { tellUnsubscribedBilled } from '../src/cost/unsubscribedBilled';
import { LinkedSubscriberBase } from './internal/operate';
import { onAbort } from '../src/abortListeners';

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  /** Which retry this is (1 = the first retry). */
  attempt: number;
  error: unknown;
  /** How long it waits before re-subscribing, in ms (the server's `Retry-After` when it gave one). */
  delayMs: number;
}

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

/** The policy key for an error: its most specific class listed in `policy`, else `undefined`. */
function policyKey(error: unknown, policy: Readonly<Record<string, number>>): string | undefined {
  let proto = error !== null && typeof error === 'object' ? Object.getPrototypeOf(error) : null;
  while (proto && proto !== Object.prototype) {
    // The written-out name of rxllm's classes: `constructor.name` is "u" in a minified bundle.
    const ctor: unknown = Object.hasOwn(proto, 'constructor') ? proto.constructor : undefined;
    const name = typeof ctor === 'function' ? errorClassName(ctor) : undefined;
    if (name && Object.prototype.hasOwnProperty.call(policy, name)) return name;
    proto = Object.getPrototypeOf(proto);
  }
  return undefined;
}

function isChunk(value: unknown): value is Chunk {
  return (value as Chunk | null)?.object === 'chat.completion.chunk';
}

/**
 * Merges the chunks of one attempt as they arrive, with `accumulateChunks`' rules, so a failure after
 * the first chunk carries what was received (`error.partial`) without keeping every chunk.
 */
class PartialMerger {
  /** Absent with `partial: false`: only the last value is remembered (for a reset chunk). */
  private readonly acc: ChunkAccumulator | undefined;
  private last: unknown;

  constructor(merge: boolean) {
    this.acc = merge ? new ChunkAccumulator() : undefined;
  }

  add(value: unknown): void {
    this.last = value;
    if (this.acc && isChunk(value)) this.acc.push(value);
  }

  /** The error with `partial` set (or wrapped in an `LlmError` when it is not an object). */
  attach(error: unknown): unknown {
    if (!this.acc) return error;
    if (this.acc.count === 0) {
      const last = this.last as ChatCompletion | undefined;
      if (last?.object === 'chat.completion' && error instanceof LlmError && !error.partial)
        error.partial = last;
      return error;
    }
    return withPartial(error, this.acc);
  }

  lastChunk(): Chunk | undefined {
    return isChunk(this.last) ? this.last : undefined;
  }
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
    initialDelayMs,
    multiplier,
    maxDelayMs,
    jitter,
    random,
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
          subscriber.error(run.carried ? errorCarrying(error, run.takeCarried()) : error);
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

/** The config with its defaults applied (the callbacks stay optional; the signal is handled apart). */
type RetrySettings = Required<Omit<RetryBackoffConfig, 'shouldRetry' | 'onRetry' | 'signal'>> &
  Pick<RetryBackoffConfig, 'shouldRetry' | 'onRetry'>;

/**
 * One subscription's retries: what it counted so far and the current attempt's merge, in one object
 * (not a set of closures: a gateway holds one per open stream).
 */
class RetryRun<T> {
  retries = 0;
  /**
   * Billed failures retried and not passed on yet: they go with the next value, the final error, the
   * completion or the unsubscribe, so that a `trackUsage` below counts them (`retriedBilled.ts`).
   */
  carried: RetriedFailure[] | undefined;
  /** Made on the first failure: most subscriptions never fail. */
  private perClass: Map<string, number> | undefined;
  merger: PartialMerger;
  emitted = false;

  constructor(
    private readonly source: Observable<T>,
    readonly downstream: Subscriber<T>,
    private readonly settings: RetrySettings,
  ) {
    this.merger = new PartialMerger(settings.partial);
  }

  /** The wait before the next attempt, or `undefined` when `error` is not retried. */
  private decide(error: unknown): number | undefined {
    const { retryPolicy, maxRetries, shouldRetry, maxRetryAfterMs } = this.settings;
    const attempt = this.retries + 1;
    const key = policyKey(error, retryPolicy);
    const limit = key === undefined ? maxRetries : retryPolicy[key];
    const used = this.perClass?.get(key ?? '*') ?? 0;
    if (used >= limit) return undefined;
    const wanted = shouldRetry
      ? shouldRetry(error, attempt)
      : key !== undefined || (error instanceof LlmError && error.retryable);
    if (!wanted) return undefined;
    const retryAfter = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    let delayMs: number;
    // `retry-after: 0` is not an invitation to retry back to back: below or at 0 the computed
    // backoff applies (openai-node `src/client.ts` uses it for values outside (0, 60 s)).
    if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter > 0) {
      // Sleeping for minutes inside a request is worse than failing: the caller decides.
      if (retryAfter > maxRetryAfterMs) return undefined;
      delayMs = retryAfter;
    } else {
      delayMs = backoffDelay(attempt, this.settings);
    }
    (this.perClass ??= new Map()).set(key ?? '*', used + 1);
    return delayMs;
  }

  private fail(error: unknown): void {
    const failed = this.emitted ? this.merger.attach(error) : error;
    this.downstream.error(this.carried ? errorCarrying(failed, this.takeCarried()) : failed);
  }

  /** The carried failures, handed on once. */
  takeCarried(): RetriedFailure[] {
    const carried = this.carried ?? [];
    this.carried = undefined;
    return carried;
  }

  /** A billed failure is retried: what it was billed for goes on with what comes next. */
  private carry(error: unknown): void {
    const before = retriedOf(error);
    const billed = isBilledFailure(error);
    if (!before && !billed) return;
    const carried = (this.carried ??= []);
    if (before) carried.push(...before);
    if (billed) carried.push({ error, sawValues: this.emitted });
  }

  /** An attempt failed: the stream fails, or the next attempt is subscribed after a wait. */
  onError(error: unknown): void {
    const { downstream, settings } = this;
    if (this.emitted && settings.resume === 'never') return this.fail(error);
    // An error carrying `partial` comes from a stream that delivered chunks further up (an
    // `accumulateChunks` before this operator): the provider generated, and billed, them, and a retry
    // would send the request again. Only `shouldRetry` can say otherwise.
    // So does one carrying `billed` (a router's attempts the provider billed though they passed
    // nothing on) or `billedAnswer` (a `complete()` answer billed, its body never read), whatever
    // `retryPolicy` says. If `shouldRetry` retries one anyway, what it was billed for is carried on.
    if (!this.emitted && !settings.shouldRetry && isBilledFailure(error)) return this.fail(error);
    let delayMs: number | undefined;
    let carried = false;
    try {
      delayMs = this.decide(error);
      if (delayMs === undefined) return this.fail(error);
      this.retries++;
      this.carry(error);
      carried = true;
      settings.onRetry?.({ attempt: this.retries, error, delayMs });
    } catch (thrown) {
      // A throwing `shouldRetry` or `onRetry` becomes the stream's error, with what the failure it
      // was deciding on was billed for.
      if (!carried) this.carry(error);
      downstream.error(this.carried ? errorCarrying(thrown, this.takeCarried()) : thrown);
      return;
    }
    const last = this.emitted ? this.merger.lastChunk() : undefined;
    // Added to the subscriber: an unsubscribe or an abort during the wait cancels it. Removed once
    // it ran, so a long restarting stream does not collect finished waits.
    const wait = new Subscription();
    downstream.add(wait);
    wait.add(
      settings.scheduler.schedule(() => {
        downstream.remove(wait);
        if (this.emitted) {
          const reason = error instanceof Error ? error.message : String(error);
          const reset = {
            id: last?.id ?? '',
            object: 'chat.completion.chunk',
            created: last?.created ?? 0,
            model: last?.model ?? '',
            choices: [],
            reset: { attempt: this.retries, reason },
          } satisfies Chunk as T;
          downstream.next(this.carried ? valueCarrying(reset, this.takeCarried()) : reset);
        }
        this.emitted = false;
        this.merger = new PartialMerger(settings.partial);
        // A consumer that stopped at the reset chunk (`takeWhile(c => !c.reset)`) gets no new attempt.
        if (!downstream.closed) this.subscribeOnce();
      }, delayMs),
    );
  }

  /**
   * Subscribes the source once more. The attempt's subscriber is linked to downstream before the
   * source is subscribed, so an attempt that emits synchronously stops as soon as downstream has what
   * it needs.
   */
  subscribeOnce(): void {
    const attempt = new AttemptSubscriber<T>(this);
    this.downstream.add(attempt);
    this.source.subscribe(attempt);
  }
}

/** One attempt's subscriber; what a handler throws (a user's `shouldRetry`, `onRetry`) fails the stream. */
class AttemptSubscriber<T> extends LinkedSubscriberBase<T> {
  constructor(private readonly run: RetryRun<T>) {
    super(run.downstream);
  }

  protected override onNext(value: T): void {
    const { run } = this;
    run.emitted = true;
    run.merger.add(value);
    this.downstream.next(run.carried ? valueCarrying(value, run.takeCarried()) : value);
  }

  protected override onComplete(): void {
    const { run } = this;
    if (run.carried) completeCarrying(run.takeCarried(), () => this.downstream.complete());
    else this.downstream.complete();
  }

  protected override onError(error: unknown): void {
    this.run.onError(error);
  }
}
