/**
 * One subscription of `retryBackoff`: its attempts, what it counted, the current attempt's merge and
 * the billed failures it carries on. The operator (`retryBackoff.ts`) checks the config and makes it.
 */
import { Subscriber, Subscription, type Observable, type SchedulerLike } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../src/chunk';
import { errorClassName } from '../../src/errorName';
import { LlmError } from '../../src/errors';
import { ChunkAccumulator, withPartial } from '../accumulateChunks';
import {
  completeCarrying,
  errorCarrying,
  isBilledFailure,
  retriedOf,
  valueCarrying,
  type RetriedFailure,
} from '../../src/cost/retriedBilled';
import { LinkedSubscriberBase } from './operate';

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  /** Which retry this is (1 = the first retry). */
  attempt: number;
  error: unknown;
  /** How long it waits before re-subscribing, in ms (the server's `Retry-After` when it gave one). */
  delayMs: number;
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

/** `retryBackoff`'s config with its defaults applied (the signal is handled by the operator). */
export interface RetrySettings {
  maxRetries: number;
  maxRetryAfterMs: number;
  retryPolicy: Readonly<Record<string, number>>;
  resume: 'never' | 'restart';
  partial: boolean;
  shouldRetry: ((error: unknown, attempt: number) => boolean) | undefined;
  onRetry: ((info: RetryInfo) => void) | undefined;
  scheduler: SchedulerLike;
  /** The computed wait before retry `attempt` (1-based), jitter included. */
  backoff: (attempt: number) => number;
}

/**
 * One subscription's retries: what it counted so far and the current attempt's merge, in one object
 * (not a set of closures: a gateway holds one per open stream).
 */
export class RetryRun<T> {
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
      delayMs = this.settings.backoff(attempt);
    }
    (this.perClass ??= new Map()).set(key ?? '*', used + 1);
    return delayMs;
  }

  private fail(error: unknown): void {
    this.downstream.error(
      errorCarrying(this.emitted ? this.merger.attach(error) : error, this.takeCarried()),
    );
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
    try {
      delayMs = this.decide(error);
      if (delayMs === undefined) return this.fail(error);
      this.retries++;
      settings.onRetry?.({ attempt: this.retries, error, delayMs });
    } catch (thrown) {
      // A throwing `shouldRetry` or `onRetry` becomes the stream's error, with what the failure it
      // was deciding on was billed for.
      this.carry(error);
      downstream.error(errorCarrying(thrown, this.takeCarried()));
      return;
    }
    this.carry(error);
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
