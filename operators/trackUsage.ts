import { Observable, Subscriber, type MonoTypeOperatorFunction } from 'rxjs';
import type { ChatCompletion, Chunk, Usage } from '../src/chunk';
import { AttemptUsage } from '../src/cost/attemptUsage';
import { attemptParts, failureParts, priceParts, type BilledPart } from '../src/cost/billedParts';
import { unsubscribeListening } from '../src/cost/unsubscribedBilled';
import { retriedCompleting, retriedOf, retriedParts, type RetriedFailure } from '../src/cost/retriedBilled';
import type { CostBreakdown } from '../src/cost/cost';
import type { CostedRequest } from '../src/cost/estimate';
import { servedModel } from '../src/cost/servedBy';
import { routeOf, type BilledAttempt } from '../src/router/route';
import { LinkedSubscriberBase } from './internal/operate';
import { isStepStart } from './internal/stepStart';

/** How a tracked call ended. */
export type CallEnding = 'completed' | 'failed' | 'unsubscribed';

/** What `trackUsage` reports, once per call. */
export interface UsageReport {
  ending: CallEnding;
  /**
   * The `provider/model` that served the call: the route's model, else `config.model`, else the
   * request's, else the chunks' `model` (`mock/<model>` for the `mock` provider's chunks, which say
   * only `<model>`: a mock call is never priced as the billed model of the same name).
   */
  model: string | undefined;
  /** The router deployment that served it; `undefined` outside a router. */
  deployment: string | undefined;
  /**
   * The usage the provider reported; for a call it did not report to the end (stopped, cut,
   * erroring after some chunks, OpenAI without `include_usage`) an estimate, with `estimated: true`:
   * the prompt tokens the provider reported before the end (Anthropic's `message_start`), else the
   * request's estimate (needs `config.request`), and the output tokens received (1 per 4 characters,
   * 1 per CJK character) or reported, whichever is larger. A `complete()` answer whose 2xx body broke
   * (`error.billedAnswer`: generated and billed, never read) is estimated at the request's prompt.
   * `null` when nothing was received (an HTTP error, a refused connection: not billed) or nothing is
   * known of the prompt: absent is never 0.
   * When the stream restarted (reset chunks) or a router went on with another deployment (after a
   * refusal or a failure: `route.billed`, `error.billed`, a continuation, or, unsubscribed before
   * either was told, the attempts the router had left), the attempts' usages are summed; so are the
   * steps of a `toolLoop` (each step is a call of its own).
   */
  usage: Usage | null;
  /** `true` when `usage` (so `cost`) is an estimate, not the provider's final report. */
  estimated: boolean;
  /** What arrived, whatever the usage: characters of content, reasoning, refusal and tool arguments, and chunks. */
  received: { chars: number; chunks: number };
  /**
   * The cost in USD when `usage` is known and the model has a price; else `null`. Each attempt is
   * priced at its own model (a fallback deployment's price is not the first one's); `null` when one
   * of them has no price. With several attempts, `cost.model` is the last one's price key.
   */
  cost: CostBreakdown | null;
  /** The error, when `ending` is `'failed'`. */
  error?: unknown;
}

export interface TrackUsageConfig {
  /** Called exactly once per subscription, when the call completes, fails or is unsubscribed. */
  onUsage: (report: UsageReport) => void;
  /**
   * The `provider/model` to price the call with, when the values do not carry a route.
   * @defaultValue the route's model, else `request.model`, else the `model` field of the chunks
   */
  model?: string;
  /**
   * The request the call sent: it gives the prompt estimate of a call whose usage never came, and
   * names the provider where the chunks do not (an `ollama/` call's chunks name only the model; the
   * `mock` provider's chunks are recognised without it, unless an operator before this one copied them).
   * @defaultValue none: such a call's usage is `null` unless the provider reported its prompt
   */
  request?: CostedRequest;
}

/**
 * Reports usage and cost exactly once per call — when it completes, fails or is unsubscribed —
 * with the model and deployment that served it. A call the provider did not report to the end (a
 * Stop button, a cut stream, an error after some chunks, a provider asked for no usage) is still
 * billed: its usage is estimated from what the provider did report (Anthropic's `message_start`
 * gives the prompt's tokens) or from `config.request`, plus the output received, and marked
 * `estimated: true`. With neither, or when nothing was received, `usage` and `cost` are `null`,
 * never a made-up 0. Works on chunks (`stream`) and on completions (`complete`). Values pass
 * unchanged. A throwing `onUsage` becomes the stream's error.
 *
 * ```
 * source: --a--b--u--|     u: usage-only chunk
 * result: --a--b--u--|     onUsage({ ending: 'completed', usage: u.usage, estimated: false, cost }) at |
 * source: --a--b--#
 * result: --a--b--#        onUsage({ ending: 'failed', usage: estimate or null, estimated: true, ... })
 * source: --a--b----       (unsubscribed here ^)
 * result: --a--b--!        onUsage({ ending: 'unsubscribed', usage: estimate or null, ... })
 * ```
 *
 * @example
 * import { stream, type ChatRequest } from 'rxllm';
 * import { trackUsage } from 'rxllm/operators';
 * const request: ChatRequest = { model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] };
 * stream(request)
 *   .pipe(trackUsage({ request, model: 'openai/gpt-4o-mini', onUsage: (r) => console.log(r.ending, r.usage?.total_tokens, r.estimated, r.cost?.total) }))
 *   .subscribe();
 */
export function trackUsage<T extends Chunk | ChatCompletion>(
  config: TrackUsageConfig,
): MonoTypeOperatorFunction<T> {
  if (config === null || typeof config !== 'object' || typeof config.onUsage !== 'function') {
    throw new TypeError('trackUsage: config.onUsage must be a function.');
  }
  if (config.model !== undefined && typeof config.model !== 'string') {
    throw new TypeError('trackUsage: model must be a string ("provider/model").');
  }
  if (config.request !== undefined && (config.request === null || typeof config.request !== 'object')) {
    throw new TypeError('trackUsage: request must be the ChatRequest the call sends.');
  }
  return (source) =>
    new Observable<T>((subscriber) => {
      const tracked = new UsageSubscriber<T>(subscriber, config);
      // Linked before the source is subscribed: a synchronous source sees downstream close at once.
      subscriber.add(tracked);
      source.subscribe(tracked);
    });
}

/**
 * One subscription's count and the source's subscriber, in one object (a gateway holds one per open
 * stream). It reports once: at completion, failure, or when it is unsubscribed first.
 */
class UsageSubscriber<T extends Chunk | ChatCompletion> extends LinkedSubscriberBase<T> {
  private reported = false;
  private chars = 0;
  private chunks = 0;
  /** Attempts over before the current one (reset, continued elsewhere, or billed and left). */
  private settled: BilledPart[] | undefined;
  private attempt = new AttemptUsage();
  /** The router's attempt number of the current attempt. */
  private attemptNo: number | undefined;
  private model: string | undefined;
  private routedModel: string | undefined;
  private deployment: string | undefined;

  constructor(
    downstream: Subscriber<T>,
    private readonly config: TrackUsageConfig,
  ) {
    super(downstream);
    this.model = config.model ?? config.request?.model;
  }

  private addBilled(billed: readonly BilledAttempt[]): void {
    if (billed.length > 0) (this.settled ??= []).push(...attemptParts(billed));
  }

  /** Failures a `retryBackoff` above retried though the provider billed them. */
  private addRetried(retried: readonly RetriedFailure[]): void {
    const parts = retriedParts(retried, this.config.request, this.routedModel ?? this.model);
    if (parts.length > 0) (this.settled ??= []).push(...parts);
  }

  /**
   * The current attempt is over (`completed`: its stream ended normally, a loop's step): its usage,
   * or its estimate, is kept (the provider billed it).
   */
  private settleAttempt(completed = false): void {
    if (this.attempt.chunks === 0) return;
    const part = this.attempt.settle(completed, this.config.request);
    (this.settled ??= []).push({ ...part, model: this.routedModel ?? this.model });
    this.attempt = new AttemptUsage();
  }

  private observe(value: T): void {
    if (isStepStart(value)) {
      // A `toolLoop` step starts: the step before was a call of its own, billed for its own usage
      // (each step's final usage counts, not only the last step's).
      this.settleAttempt(true);
      this.attemptNo = undefined;
      return;
    }
    const route = routeOf(value);
    if (route) {
      if (route.billed) this.addBilled(route.billed);
      // Another attempt without a reset between (a router's `afterFirstChunk: 'continue'`): the one
      // before was billed for what it sent.
      if (route.attempt !== this.attemptNo) {
        this.settleAttempt();
        this.attemptNo = route.attempt;
      }
      this.routedModel = route.model;
      this.deployment = route.deployment;
    }
    if (value.object === 'chat.completion.chunk' && (value as Chunk).reset !== undefined) {
      this.settleAttempt();
      return;
    }
    this.chunks++;
    const before = this.attempt.chars;
    this.attempt.observe(value);
    this.chars += this.attempt.chars - before;
    // The in-process mock marks its values: `gpt-4o-mini` from `mock/gpt-4o-mini` is not OpenAI's.
    if (!this.model) this.model = servedModel(value);
  }

  private report(ending: CallEnding, error?: unknown): void {
    if (this.reported) return;
    this.reported = true;
    const { request } = this.config;
    const served = this.routedModel ?? this.model;
    const parts = this.settled ?? [];
    if (ending === 'failed') {
      const retried = retriedOf(error);
      if (retried) parts.push(...retriedParts(retried, request, served));
      parts.push(...failureParts(error, request, served, this.attempt.chunks > 0));
    }
    parts.push({ ...this.attempt.settle(ending === 'completed', request), model: served });
    const { usage, estimated, cost: total } = priceParts(parts);
    const out: UsageReport = {
      ending,
      model: served,
      deployment: this.deployment,
      usage,
      estimated,
      received: { chars: this.chars, chunks: this.chunks },
      cost: total,
    };
    if (ending === 'failed') out.error = error;
    this.config.onUsage(out);
  }

  protected override onNext(value: T): void {
    this.observe(value);
    const retried = retriedOf(value);
    if (retried) this.addRetried(retried);
    this.downstream.next(value);
  }

  // A throwing `onUsage` becomes the stream's error.
  protected override onError(error: unknown): void {
    this.report('failed', error);
    this.downstream.error(error);
  }

  protected override onComplete(): void {
    const retried = retriedCompleting();
    if (retried) this.addRetried(retried);
    this.report('completed');
    this.downstream.complete();
  }

  override unsubscribe(): void {
    if (this.closed) return;
    // A router below that is left with billed attempts it had not told yet tells them here.
    unsubscribeListening(
      (billed, retried) => {
        this.addBilled(billed);
        if (retried) this.addRetried(retried);
      },
      () => super.unsubscribe(),
    );
    try {
      this.report('unsubscribed');
    } catch (thrown) {
      this.downstream.error(thrown);
    }
  }
}
