import type { MonoTypeOperatorFunction } from 'rxjs';
import type { ChatCompletion, Chunk, Usage } from '../src/chunk';
import { cost, type CostBreakdown } from '../src/cost/cost';
import { routeOf } from '../src/router/route';
import { linkedSubscriber, operate } from './internal/operate';

/** How a tracked call ended. */
export type CallEnding = 'completed' | 'failed' | 'unsubscribed';

/** What `trackUsage` reports, once per call. */
export interface UsageReport {
  ending: CallEnding;
  /** The `provider/model` that served the call (the route's model, else `config.model`, else the chunks' `model`). */
  model: string | undefined;
  /** The router deployment that served it; `undefined` outside a router. */
  deployment: string | undefined;
  /**
   * The usage the provider reported, `null` when it reported none (an aborted or cut stream):
   * absent is never 0. When the stream restarted (reset chunks), the attempts' usages are summed.
   */
  usage: Usage | null;
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
   * @defaultValue the route's model, else the `model` field of the chunks
   */
  model?: string;
}

function charsOf(value: Chunk | ChatCompletion): number {
  let n = 0;
  const add = (s: unknown) => {
    if (typeof s === 'string') n += s.length;
  };
  if (value.object === 'chat.completion') {
    for (const c of value.choices ?? []) {
      add(c.message?.content);
      add(c.message?.reasoning);
      add(c.message?.refusal);
      for (const t of c.message?.tool_calls ?? []) add(t.function?.arguments);
    }
    return n;
  }
  for (const c of value.choices ?? []) {
    add(c.delta?.content);
    add(c.delta?.reasoning);
    add(c.delta?.refusal);
    for (const t of c.delta?.tool_calls ?? []) add(t.function?.arguments);
  }
  return n;
}

function sum(a: Usage, b: Usage): Usage {
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
    prompt_tokens_details: {
      cached_tokens:
        (a.prompt_tokens_details?.cached_tokens ?? 0) + (b.prompt_tokens_details?.cached_tokens ?? 0),
    },
    completion_tokens_details: {
      reasoning_tokens:
        (a.completion_tokens_details?.reasoning_tokens ?? 0) +
        (b.completion_tokens_details?.reasoning_tokens ?? 0),
    },
  };
}

/**
 * Reports usage and cost exactly once per call — when it completes, fails or is unsubscribed —
 * with the model and deployment that served it. A stream that ended without a usage report gets
 * `usage: null` with the characters and chunks received, never a made-up 0; the cost is then
 * `null` too. Works on chunks (`stream`) and on completions (`complete`). Values pass unchanged.
 * A throwing `onUsage` becomes the stream's error.
 *
 * ```
 * source: --a--b--u--|     u: usage-only chunk
 * result: --a--b--u--|     onUsage({ ending: 'completed', usage: u.usage, cost }) at |
 * source: --a--b--#
 * result: --a--b--#        onUsage({ ending: 'failed', usage: null, received: { chunks: 2, ... } })
 * source: --a--b----       (unsubscribed here ^)
 * result: --a--b--!        onUsage({ ending: 'unsubscribed', usage: null })
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { trackUsage } from 'rxllm/operators';
 * stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(trackUsage({ model: 'openai/gpt-4o-mini', onUsage: (r) => console.log(r.ending, r.usage?.total_tokens, r.cost?.total) }))
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
  const { onUsage } = config;
  return operate<T, T>((source, subscriber) => {
    let reported = false;
    let chars = 0;
    let chunks = 0;
    let settled: Usage | null = null;
    let current: Usage | null = null;
    let model: string | undefined = config.model;
    let routedModel: string | undefined;
    let deployment: string | undefined;

    const observe = (value: T): void => {
      const route = routeOf(value);
      if (route) {
        routedModel = route.model;
        deployment = route.deployment;
      }
      if (value.object === 'chat.completion.chunk' && (value as Chunk).reset !== undefined) {
        if (current) settled = settled ? sum(settled, current) : current;
        current = null;
        return;
      }
      chunks++;
      chars += charsOf(value);
      if (!model && value.model) model = value.model;
      if (value.usage != null) current = value.usage;
    };

    const report = (ending: CallEnding, error?: unknown): void => {
      if (reported) return;
      reported = true;
      const usage: Usage | null = current ? (settled ? sum(settled, current) : current) : null;
      const served = routedModel ?? model;
      const out: UsageReport = {
        ending,
        model: served,
        deployment,
        usage,
        received: { chars, chunks },
        cost: served ? cost(usage, served) : null,
      };
      if (ending === 'failed') out.error = error;
      onUsage(out);
    };

    source.subscribe(
      linkedSubscriber<T>(subscriber, {
        next: (value) => {
          observe(value);
          subscriber.next(value);
        },
        error: (error) => {
          report('failed', error);
          subscriber.error(error);
        },
        complete: () => {
          report('completed');
          subscriber.complete();
        },
        finalize: () => report('unsubscribed'),
      }),
    );
  });
}
