import { sumUsage } from '../src/cost/sumUsage';
import { Observable, Subscriber, type MonoTypeOperatorFunction } from 'rxjs';
import type { ChatCompletion, Chunk, Usage } from '../src/chunk';
import { cost, type CostBreakdown } from '../src/cost/cost';
import { estimateUsage, TextTokenCounter, type CostedRequest } from '../src/cost/estimate';
import { servedModel } from '../src/cost/servedBy';
import { routeOf } from '../src/router/route';
import { LinkedSubscriberBase } from './internal/operate';

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
   * 1 per CJK character) or reported, whichever is larger. `null` when nothing was received (an HTTP
   * error, a refused connection: not billed) or nothing is known of the prompt: absent is never 0.
   * When the stream restarted (reset chunks), the attempts' usages are summed.
   */
  usage: Usage | null;
  /** `true` when `usage` (so `cost`) is an estimate, not the provider's final report. */
  estimated: boolean;
  /** What arrived, whatever the usage: characters of content, reasoning, refusal and tool arguments, and chunks. */
  received: { chars: number; chunks: number };
  /** The cost in USD when `usage` is known and the model has a price; else `null`. */
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

/** What one attempt (the chunks between two resets) received and reported. */
class Attempt {
  chars = 0;
  chunks = 0;
  readonly output = new TextTokenCounter();
  readonly reasoning = new TextTokenCounter();
  /** The last usage reported, and whether it was the provider's final report. */
  usage: Usage | null = null;
  final = false;
  partial: Usage | null = null;

  /** Counts a text piece (no closure per chunk: this runs on every streamed chunk). */
  private take(text: unknown, counter: TextTokenCounter): void {
    if (typeof text !== 'string') return;
    this.chars += text.length;
    counter.add(text);
  }

  observe(value: Chunk | ChatCompletion): void {
    this.chunks++;
    if (value.object === 'chat.completion') {
      for (const c of value.choices ?? []) {
        this.take(c.message?.content, this.output);
        this.take(c.message?.reasoning, this.reasoning);
        this.take(c.message?.refusal, this.output);
        for (const t of c.message?.tool_calls ?? []) this.take(t.function?.arguments, this.output);
      }
      // A whole completion: its usage is the final report.
      if (value.usage != null) {
        this.usage = value.usage;
        this.final = true;
      }
      return;
    }
    const choices = value.choices ?? [];
    for (let i = 0; i < choices.length; i++) {
      const delta = choices[i].delta;
      if (!delta) continue;
      this.take(delta.content, this.output);
      this.take(delta.reasoning, this.reasoning);
      this.take(delta.refusal, this.output);
      const calls = delta.tool_calls;
      if (calls) for (let j = 0; j < calls.length; j++) this.take(calls[j].function?.arguments, this.output);
    }
    if (value.partial_usage) this.partial = value.partial_usage;
    // Providers send their final usage on a usage-only last chunk; a usage on a chunk with choices
    // (vLLM's continuous usage) is cumulative so far, final only if the stream then completes.
    if (value.usage != null) {
      this.usage = value.usage;
      this.final = value.choices.length === 0;
    }
  }

  /** The attempt's usage: the final report, else an estimate; `completed` makes the last report final. */
  settle(
    completed: boolean,
    request: CostedRequest | undefined,
  ): { usage: Usage | null; estimated: boolean } {
    if (this.usage && (this.final || completed)) return { usage: this.usage, estimated: false };
    if (this.chunks === 0) return { usage: null, estimated: false };
    const usage = estimateUsage(this.usage ?? this.partial, request, {
      output: this.output.tokens,
      reasoning: this.reasoning.tokens,
    });
    return { usage, estimated: usage !== null };
  }
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

type Settled = { usage: Usage | null; estimated: boolean } | null;

function add(into: Settled, next: { usage: Usage | null; estimated: boolean }) {
  if (!into?.usage) return next.usage ? next : (into ?? next);
  if (!next.usage) return into;
  return { usage: sumUsage(into.usage, next.usage), estimated: into.estimated || next.estimated };
}

/**
 * One subscription's count and the source's subscriber, in one object (a gateway holds one per open
 * stream). It reports once: at completion, failure, or when it is unsubscribed first.
 */
class UsageSubscriber<T extends Chunk | ChatCompletion> extends LinkedSubscriberBase<T> {
  private reported = false;
  private chars = 0;
  private chunks = 0;
  private settled: Settled = null;
  private attempt = new Attempt();
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

  private observe(value: T): void {
    const route = routeOf(value);
    if (route) {
      this.routedModel = route.model;
      this.deployment = route.deployment;
    }
    if (value.object === 'chat.completion.chunk' && (value as Chunk).reset !== undefined) {
      // The attempt before the reset was billed too: its usage, or its estimate, is kept.
      this.settled = add(this.settled, this.attempt.settle(false, this.config.request));
      this.attempt = new Attempt();
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
    const { usage, estimated } = add(
      this.settled,
      this.attempt.settle(ending === 'completed', this.config.request),
    );
    const served = this.routedModel ?? this.model;
    const out: UsageReport = {
      ending,
      model: served,
      deployment: this.deployment,
      usage,
      estimated: usage !== null && estimated,
      received: { chars: this.chars, chunks: this.chunks },
      cost: served ? cost(usage, served) : null,
    };
    if (ending === 'failed') out.error = error;
    this.config.onUsage(out);
  }

  protected override onNext(value: T): void {
    this.observe(value);
    this.downstream.next(value);
  }

  // A throwing `onUsage` becomes the stream's error.
  protected override onError(error: unknown): void {
    this.report('failed', error);
    this.downstream.error(error);
  }

  protected override onComplete(): void {
    this.report('completed');
    this.downstream.complete();
  }

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    try {
      this.report('unsubscribed');
    } catch (thrown) {
      this.downstream.error(thrown);
    }
  }
}
