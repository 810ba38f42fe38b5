import { asyncScheduler, type MonoTypeOperatorFunction, type Observable, type Subscription } from 'rxjs';
import type { Chunk, FinishReason } from '../src/chunk';
import type { ChatRequest } from '../src/request';
import {
  inputMessages,
  providerName as conventionProviderName,
  requestAttributes,
  serverAttributes,
  usageAttributes,
  type TelemetryAttributes,
  type TelemetryAttributeValue,
} from './internal/genAiAttributes';
import { LlmError } from '../src/errors';
import { scrubError } from '../src/redact';
import { genAiInstruments, type TelemetryMeter } from './internal/genAiMetrics';
import { linkedSubscriber, operate } from './internal/operate';
import { retryBackoff, type RetryBackoffConfig } from './retryBackoff';

// Structural types: the operators entry never loads @opentelemetry/api (an optional peer). A Tracer
// from `trace.getTracer(...)` and a Meter from `metrics.getMeter(...)` fit these shapes.

export type { TelemetryAttributeValue, TelemetryAttributes } from './internal/genAiAttributes';
export type { TelemetryHistogram, TelemetryHistogramOptions, TelemetryMeter } from './internal/genAiMetrics';

/** The part of an OpenTelemetry `Span` that `withTelemetry` uses. */
export interface TelemetrySpan {
  setAttribute(key: string, value: TelemetryAttributeValue): unknown;
  addEvent(name: string, attributes?: Record<string, TelemetryAttributeValue>): unknown;
  recordException(exception: Error | string): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` that `withTelemetry` uses. */
export interface TelemetryTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, TelemetryAttributeValue> },
  ): TelemetrySpan;
}

/** `SpanKind.CLIENT` and `SpanStatusCode.ERROR` of @opentelemetry/api, which is not imported. */
const SPAN_KIND_CLIENT = 2;
const SPAN_STATUS_ERROR = 2;

export interface WithTelemetryConfig {
  /**
   * Where spans go: `trace.getTracer('my-app')` from @opentelemetry/api. At least one of `tracer`
   * and `meter` is required. @defaultValue undefined (no spans)
   */
  tracer?: TelemetryTracer;
  /**
   * Where the GenAI client metrics go: `metrics.getMeter('my-app')` from @opentelemetry/api. rxllm
   * never looks a meter up itself (that would load @opentelemetry/api): passing one is the opt-in.
   * @defaultValue undefined (no metrics)
   */
  meter?: TelemetryMeter;
  /** The request the stream answers: model, provider and parameters become span attributes. @defaultValue undefined */
  request?: ChatRequest;
  /**
   * The base URL the call goes to (the call's `baseURL` option): gives `server.address` and
   * `server.port`, and for a `compat/` model the provider behind it (`api.mistral.ai` →
   * `mistral_ai`, ...). @defaultValue undefined (no server attributes)
   */
  baseURL?: string;
  /** `gen_ai.operation.name`, also the first word of the span name. @defaultValue 'chat' */
  operationName?: string;
  /**
   * `gen_ai.provider.name`. @defaultValue derived from the request's `provider/` prefix, as the
   * conventions name providers (`azure` → `azure.ai.openai`, `gemini` → `gcp.gemini`,
   * `openai-responses` → `openai`; `compat` → the provider of `baseURL`'s host, else `openai`;
   * other prefixes as they are)
   */
  providerName?: string;
  /** Record prompt and completion text (`gen_ai.input.messages`, `gen_ai.output.messages`). @defaultValue false */
  captureContent?: boolean;
  /** Retry inside the span (`retryBackoff` with this config); each retry is a span event. @defaultValue undefined (no retry) */
  retry?: RetryBackoffConfig;
  /**
   * Streams tried in order when the source (after its retries) fails before its first chunk; each
   * switch is a span event. @defaultValue [] (none)
   */
  fallbacks?: readonly Observable<Chunk>[];
  /**
   * Runs the source's subscription with the span active, so spans the call makes (an instrumented
   * HTTP client) become its children. rxllm cannot do it without loading @opentelemetry/api; pass
   * `(span, run) => context.with(trace.setSpan(context.active(), span as Span), run)`. Needs a `tracer`.
   * @defaultValue undefined (the source is subscribed in the caller's context)
   */
  activate?: (span: TelemetrySpan, run: () => void) => void;
}

/** Defaults of {@link withTelemetry}. */
export const WITH_TELEMETRY_DEFAULTS = {
  operationName: 'chat',
  captureContent: false,
  fallbacks: [],
} as const satisfies Partial<WithTelemetryConfig>;

/** The span used when only a meter is given: spans cost nothing then. */
const NO_SPAN: TelemetrySpan = {
  setAttribute: () => undefined,
  addEvent: () => undefined,
  recordException: () => undefined,
  setStatus: () => undefined,
  end: () => undefined,
};

/** `error.type` of a call the subscriber left before it ended (metrics only; the span says `rxllm.cancelled`). */
const CANCELLED = 'cancelled';

/** `retryBackoff` with the user's config and our `onRetry` (its overloads split on `resume`). */
function retryWith(retry: RetryBackoffConfig, onRetry: RetryBackoffConfig['onRetry']) {
  return retryBackoff<Chunk>({ ...retry, onRetry } as RetryBackoffConfig & { resume?: 'never' });
}

/**
 * `error.type`: the error's class name (`RateLimitError`, `TimeoutError`, ...), or `_OTHER` (the
 * conventions' fallback) for a thrown value that is not an Error.
 */
function errorType(error: unknown): string {
  // `name`, not `constructor.name`: rxllm's errors write their names out, which a minifier keeps
  // (`constructor.name` is "u" in a minified bundle).
  if (error instanceof Error) return error.name || 'Error';
  return '_OTHER';
}

/**
 * Traces a streamed call with OpenTelemetry, per the GenAI semantic conventions
 * (@opentelemetry/semantic-conventions 1.45): one CLIENT span named
 * `{gen_ai.operation.name} {gen_ai.request.model}` per subscription, with `gen_ai.operation.name`,
 * `gen_ai.provider.name` (the conventions' names: `azure.ai.openai`, `gcp.gemini`, ...),
 * `gen_ai.request.*` (model and parameters, from `request`), `server.address` / `server.port` (from
 * `baseURL`), `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`,
 * `gen_ai.usage.input_tokens` / `output_tokens` and, when the usage reports them,
 * `gen_ai.usage.cache_read.input_tokens`, `cache_creation.input_tokens` and
 * `reasoning.output_tokens`, `gen_ai.response.time_to_first_chunk` (seconds) and
 * `rxllm.chunk_count`. Retries (with `retry`), fallbacks (with `fallbacks`) and reset chunks are
 * span events (`rxllm.retry`, `rxllm.fallback`, `rxllm.reset`). An error is recorded with its class
 * as `error.type`, `recordException` and status ERROR, then passed on; an unsubscribe ends the span
 * with `rxllm.cancelled`. No prompt or completion text is recorded unless `captureContent`.
 *
 * With a `meter`, each subscription also records the conventions' client metrics, with
 * `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`
 * and `server.*` as attributes and the advised bucket boundaries:
 * `gen_ai.client.operation.duration` (s; with `error.type` — the error's class name, `_OTHER` for a
 * thrown non-Error, `cancelled` when the subscriber left first), `gen_ai.client.operation.time_to_first_chunk`
 * (s; when a chunk arrived) and `gen_ai.client.token.usage` (`{token}`, `gen_ai.token.type`
 * `input` and `output`; only for a call that completed with usage, as the conventions keep failed
 * calls out of the token histograms). Durations count from the subscription, retries included.
 *
 * `@opentelemetry/api` is an optional peer: the tracer and meter are passed in and only their shape
 * is used, so importing `rxllm/operators` never loads it. Chunks pass through unchanged; times come
 * from the rxjs scheduler.
 *
 * ```
 * source: --a--b--c--u--|     a: first chunk (model "gpt-4o-2024"), c: finish "stop", u: usage 12/5
 * result: --a--b--c--u--|     the same chunks
 * span:   [chat gpt-4o ..............]  time_to_first_chunk 0.002, finish_reasons ["stop"],
 *                                      usage.input_tokens 12, output_tokens 5, chunk_count 4
 * meter:                      duration 0.008, time_to_first_chunk 0.002, token.usage 12 (input), 5 (output)
 * ```
 *
 * @example
 * // doc-test: typecheck-only
 * import { context, metrics, trace, type Span } from '@opentelemetry/api';
 * import { stream } from 'rxllm';
 * import { textDeltas, withTelemetry } from 'rxllm/operators';
 * const request = { model: 'openai/gpt-4o-mini' as const, messages: [{ role: 'user' as const, content: 'Hi' }] };
 * const telemetry = withTelemetry({
 *   tracer: trace.getTracer('my-app'),
 *   meter: metrics.getMeter('my-app'),
 *   request,
 *   retry: { maxRetries: 2 },
 *   // Optional: the HTTP spans of the call become children of the GenAI span.
 *   activate: (span, run) => context.with(trace.setSpan(context.active(), span as Span), run),
 * });
 * stream(request)
 *   .pipe(telemetry, textDeltas())
 *   .subscribe((text) => process.stdout.write(text));
 */
export function withTelemetry(config: WithTelemetryConfig): MonoTypeOperatorFunction<Chunk> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError('withTelemetry: config must be an object with a tracer or a meter.');
  }
  const {
    tracer,
    meter,
    request,
    baseURL,
    operationName = WITH_TELEMETRY_DEFAULTS.operationName,
    captureContent = WITH_TELEMETRY_DEFAULTS.captureContent,
    retry,
    fallbacks = WITH_TELEMETRY_DEFAULTS.fallbacks,
    activate,
  } = config;
  if (tracer === undefined && meter === undefined) {
    throw new TypeError(
      'withTelemetry: pass a tracer (trace.getTracer(name)), a meter (metrics.getMeter(name)) or both.',
    );
  }
  if (tracer !== undefined && typeof tracer?.startSpan !== 'function') {
    throw new TypeError('withTelemetry: tracer must be an OpenTelemetry Tracer (trace.getTracer(name)).');
  }
  if (meter !== undefined && typeof meter?.createHistogram !== 'function') {
    throw new TypeError('withTelemetry: meter must be an OpenTelemetry Meter (metrics.getMeter(name)).');
  }
  if (typeof operationName !== 'string' || operationName === '') {
    throw new TypeError('withTelemetry: operationName must be a non-empty string.');
  }
  if (activate !== undefined && (typeof activate !== 'function' || tracer === undefined)) {
    throw new TypeError('withTelemetry: activate must be a function (span, run) => void, with a tracer.');
  }
  if (!Array.isArray(fallbacks))
    throw new TypeError('withTelemetry: fallbacks must be an array of observables.');
  if (request !== undefined && (request === null || typeof request.model !== 'string')) {
    throw new TypeError('withTelemetry: request must be a chat request with a model.');
  }
  let server: TelemetryAttributes = {};
  if (baseURL !== undefined) {
    try {
      server = serverAttributes(baseURL);
    } catch {
      throw new TypeError('withTelemetry: baseURL must be an absolute URL (https://host/v1).');
    }
  }
  if (config.providerName !== undefined && typeof config.providerName !== 'string') {
    throw new TypeError('withTelemetry: providerName must be a string.');
  }
  // A bad retry config throws its TypeError now, not at subscribe.
  if (retry !== undefined) retryWith(retry, undefined);
  const prefix =
    request && request.model.includes('/') ? request.model.slice(0, request.model.indexOf('/')) : '';
  const provider =
    config.providerName ?? conventionProviderName(prefix, server['server.address'] as string | undefined);
  // What both signals carry (the metrics' attributes are this, plus the response model).
  const common: TelemetryAttributes = { 'gen_ai.operation.name': operationName };
  if (provider) common['gen_ai.provider.name'] = provider;
  const requested = requestAttributes(request);
  if (requested['gen_ai.request.model'] !== undefined)
    common['gen_ai.request.model'] = requested['gen_ai.request.model'];
  Object.assign(common, server);
  const startAttributes: TelemetryAttributes = { ...common, ...requested };
  const model = startAttributes['gen_ai.request.model'];
  const spanName = model === undefined ? operationName : `${operationName} ${String(model)}`;
  const instruments = meter && genAiInstruments(meter);

  return operate<Chunk, Chunk>((source, subscriber) => {
    const span = tracer
      ? tracer.startSpan(spanName, { kind: SPAN_KIND_CLIENT, attributes: startAttributes })
      : NO_SPAN;
    if (captureContent && request)
      span.setAttribute('gen_ai.input.messages', inputMessages(request.messages));
    const started = asyncScheduler.now();
    let firstChunkAt: number | undefined;
    let chunks = 0;
    let ended = false;
    let responseModel = '';
    let responseId = '';
    let usage: Chunk['usage'];
    const finishReasons = new Map<number, FinishReason>();
    let output = '';

    /** Ends the span and records the metrics, once; `failure` is the `error.type` of a failed call. */
    const end = (attributes: TelemetryAttributes, failure?: string) => {
      if (ended) return;
      ended = true;
      // A span whose setAttribute throws is still ended (the throw is the stream's error).
      try {
        if (instruments) recordMetrics(failure);
        setEndAttributes(attributes);
      } finally {
        span.end();
      }
    };
    const recordMetrics = (failure: string | undefined) => {
      const attributes: TelemetryAttributes = { ...common };
      if (responseModel) attributes['gen_ai.response.model'] = responseModel;
      const seconds = (at: number) => (at - started) / 1000;
      if (firstChunkAt !== undefined) instruments!.timeToFirstChunk.record(seconds(firstChunkAt), attributes);
      instruments!.duration.record(
        seconds(asyncScheduler.now()),
        failure === undefined ? attributes : { ...attributes, 'error.type': failure },
      );
      if (failure === undefined && usage) {
        instruments!.tokenUsage.record(usage.prompt_tokens, { ...attributes, 'gen_ai.token.type': 'input' });
        instruments!.tokenUsage.record(usage.completion_tokens, {
          ...attributes,
          'gen_ai.token.type': 'output',
        });
      }
    };
    const setEndAttributes = (attributes: TelemetryAttributes) => {
      if (responseModel) span.setAttribute('gen_ai.response.model', responseModel);
      if (responseId) span.setAttribute('gen_ai.response.id', responseId);
      if (finishReasons.size > 0)
        span.setAttribute('gen_ai.response.finish_reasons', [...finishReasons.values()]);
      if (usage) {
        for (const [key, value] of Object.entries(usageAttributes(usage))) span.setAttribute(key, value);
      }
      if (captureContent) {
        const reason = finishReasons.get(0);
        span.setAttribute(
          'gen_ai.output.messages',
          JSON.stringify([
            {
              role: 'assistant',
              parts: output ? [{ type: 'text', content: output }] : [],
              ...(reason && { finish_reason: reason }),
            },
          ]),
        );
      }
      span.setAttribute('rxllm.chunk_count', chunks);
      for (const [key, value] of Object.entries(attributes)) span.setAttribute(key, value);
    };

    const observe = (chunk: Chunk) => {
      if (chunk.reset !== undefined) {
        span.addEvent('rxllm.reset', { 'rxllm.attempt': chunk.reset.attempt });
        finishReasons.clear();
        output = '';
        return;
      }
      if (chunks++ === 0) {
        firstChunkAt = asyncScheduler.now();
        span.setAttribute('gen_ai.response.time_to_first_chunk', (firstChunkAt - started) / 1000);
      }
      if (chunk.model) responseModel = chunk.model;
      if (chunk.id) responseId = chunk.id;
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        if (choice.finish_reason) finishReasons.set(choice.index, choice.finish_reason);
        if (captureContent && choice.index === 0) output += choice.delta?.content ?? '';
      }
    };

    const onRetry: RetryBackoffConfig['onRetry'] = (info) => {
      span.addEvent('rxllm.retry', {
        'rxllm.attempt': info.attempt,
        'rxllm.retry.delay_ms': info.delayMs,
        'error.type': errorType(info.error),
      });
      retry?.onRetry?.(info);
    };
    const retrying = retry && retryWith(retry, onRetry);
    const attempt = (input: Observable<Chunk>) => (retrying ? input.pipe(retrying) : input);

    let current: Subscription | undefined;
    const run = (input: Observable<Chunk>, index: number) => {
      let emitted = false;
      current = attempt(input).subscribe(
        linkedSubscriber<Chunk>(subscriber, {
          next: (chunk) => {
            emitted = true;
            observe(chunk);
            subscriber.next(chunk);
          },
          error: (error) => {
            if (!emitted && index < fallbacks.length) {
              span.addEvent('rxllm.fallback', {
                'rxllm.fallback.index': index + 1,
                'error.type': errorType(error),
              });
              run(fallbacks[index], index + 1);
              return;
            }
            const type = errorType(error);
            // rxllm's errors are scrubbed already; any other (a socket's, a user callback's) is
            // recorded as a scrubbed copy: spans are exported to third parties.
            const recorded = error instanceof LlmError ? error : scrubError(error);
            span.recordException(recorded);
            span.setStatus({ code: SPAN_STATUS_ERROR, message: recorded.message });
            end({ 'error.type': type }, type);
            subscriber.error(error);
          },
          complete: () => {
            end({});
            subscriber.complete();
          },
        }),
      );
    };
    if (activate) activate(span, () => run(source, 0));
    else run(source, 0);
    return () => {
      current?.unsubscribe();
      // The stream is closed: a span method that throws here has no one to tell (it already errored
      // the stream if it threw while the stream was open), and must not break the unsubscribe.
      try {
        end({ 'rxllm.cancelled': true }, CANCELLED);
      } catch {
        /* see above */
      }
    };
  });
}
