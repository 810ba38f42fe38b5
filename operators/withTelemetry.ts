import { asyncScheduler, type MonoTypeOperatorFunction, type Observable, type Subscription } from 'rxjs';
import type { Chunk, FinishReason } from '../src/chunk';
import type { ChatMessage, ChatRequest } from '../src/request';
import { linkedSubscriber, operate } from './internal/operate';
import { retryBackoff, type RetryBackoffConfig } from './retryBackoff';

// Structural types: the operators entry never loads @opentelemetry/api (an optional peer). A Tracer
// from `trace.getTracer(...)` fits these shapes.

/** A span attribute value, as OpenTelemetry accepts it. */
export type TelemetryAttributeValue = string | number | boolean | string[] | number[] | boolean[];

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
  /** Where spans go: `trace.getTracer('my-app')` from @opentelemetry/api. Required. */
  tracer: TelemetryTracer;
  /** The request the stream answers: model, provider and parameters become span attributes. @defaultValue undefined */
  request?: ChatRequest;
  /** `gen_ai.operation.name`, also the first word of the span name. @defaultValue 'chat' */
  operationName?: string;
  /** `gen_ai.provider.name`. @defaultValue derived from the request's `provider/` prefix (`gemini` → `gcp.gemini`) */
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
   * `(span, run) => context.with(trace.setSpan(context.active(), span as Span), run)`.
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

/** rxllm provider prefixes whose well-known `gen_ai.provider.name` differs from the prefix. */
const PROVIDER_NAMES: Record<string, string> = { gemini: 'gcp.gemini' };

/** `retryBackoff` with the user's config and our `onRetry` (its overloads split on `resume`). */
function retryWith(retry: RetryBackoffConfig, onRetry: RetryBackoffConfig['onRetry']) {
  return retryBackoff<Chunk>({ ...retry, onRetry } as RetryBackoffConfig & { resume?: 'never' });
}

/** The class name of an error (`RateLimitError`, `TimeoutError`, ...), for `error.type`. */
function errorType(error: unknown): string {
  if (error instanceof Error) return error.constructor?.name || error.name || 'Error';
  return typeof error;
}

function requestAttributes(request: ChatRequest | undefined, provider: string | undefined) {
  const attributes: Record<string, TelemetryAttributeValue> = {};
  if (provider) attributes['gen_ai.provider.name'] = provider;
  if (!request) return attributes;
  const slash = request.model.indexOf('/');
  attributes['gen_ai.request.model'] = slash < 0 ? request.model : request.model.slice(slash + 1);
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = maxTokens;
  if (request.temperature !== undefined) attributes['gen_ai.request.temperature'] = request.temperature;
  if (request.top_p !== undefined) attributes['gen_ai.request.top_p'] = request.top_p;
  if (request.seed !== undefined) attributes['gen_ai.request.seed'] = request.seed;
  if (request.n !== undefined && request.n !== 1) attributes['gen_ai.request.choice.count'] = request.n;
  if (request.stop !== undefined) {
    attributes['gen_ai.request.stop_sequences'] =
      typeof request.stop === 'string' ? [request.stop] : request.stop;
  }
  if (request.frequency_penalty !== undefined) {
    attributes['gen_ai.request.frequency_penalty'] = request.frequency_penalty;
  }
  if (request.presence_penalty !== undefined) {
    attributes['gen_ai.request.presence_penalty'] = request.presence_penalty;
  }
  const format = request.response_format?.type;
  if (format) attributes['gen_ai.output.type'] = format === 'text' ? 'text' : 'json';
  return attributes;
}

/** The semantic conventions' message shape (`role` + `parts`), as JSON. */
function inputMessages(messages: readonly ChatMessage[]): string {
  return JSON.stringify(
    messages.map((m) => {
      const parts: unknown[] = [];
      const content = m.content;
      if (typeof content === 'string') {
        if (m.role === 'tool')
          parts.push({ type: 'tool_call_response', id: m.tool_call_id, response: content });
        else if (content) parts.push({ type: 'text', content });
      } else if (Array.isArray(content)) {
        for (const part of content) {
          parts.push(part.type === 'text' ? { type: 'text', content: part.text } : { type: part.type });
        }
      }
      if (m.role === 'assistant') {
        for (const call of m.tool_calls ?? []) {
          parts.push({
            type: 'tool_call',
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
          });
        }
      }
      return { role: m.role, parts };
    }),
  );
}

/**
 * Traces a streamed call with OpenTelemetry, per the GenAI semantic conventions: one CLIENT span
 * named `{gen_ai.operation.name} {gen_ai.request.model}` per subscription, with
 * `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.*` (model and parameters, from
 * `request`), `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`,
 * `gen_ai.usage.input_tokens` / `output_tokens`, `gen_ai.response.time_to_first_chunk` (seconds)
 * and `rxllm.chunk_count`. Retries (with `retry`), fallbacks (with `fallbacks`) and reset chunks
 * are span events (`rxllm.retry`, `rxllm.fallback`, `rxllm.reset`). An error is recorded with its
 * class as `error.type`, `recordException` and status ERROR, then passed on; an unsubscribe ends the
 * span with `rxllm.cancelled`. No prompt or completion text is recorded unless `captureContent`.
 *
 * `@opentelemetry/api` is an optional peer: the tracer is passed in and only its shape is used, so
 * importing `rxllm/operators` never loads it. Chunks pass through unchanged; times come from the rxjs
 * scheduler.
 *
 * ```
 * source: --a--b--c--u--|     a: first chunk (model "gpt-4o-2024"), c: finish "stop", u: usage 12/5
 * result: --a--b--c--u--|     the same chunks
 * span:   [chat gpt-4o ..............]  time_to_first_chunk 0.002, finish_reasons ["stop"],
 *                                      usage.input_tokens 12, output_tokens 5, chunk_count 4
 * ```
 *
 * @example
 * // doc-test: typecheck-only
 * import { context, trace, type Span } from '@opentelemetry/api';
 * import { stream } from 'rxllm';
 * import { textDeltas, withTelemetry } from 'rxllm/operators';
 * const request = { model: 'openai/gpt-4o-mini' as const, messages: [{ role: 'user' as const, content: 'Hi' }] };
 * const telemetry = withTelemetry({
 *   tracer: trace.getTracer('my-app'),
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
    throw new TypeError('withTelemetry: config must be an object with a tracer.');
  }
  const {
    tracer,
    request,
    operationName = WITH_TELEMETRY_DEFAULTS.operationName,
    captureContent = WITH_TELEMETRY_DEFAULTS.captureContent,
    retry,
    fallbacks = WITH_TELEMETRY_DEFAULTS.fallbacks,
    activate,
  } = config;
  if (typeof tracer?.startSpan !== 'function') {
    throw new TypeError('withTelemetry: tracer must be an OpenTelemetry Tracer (trace.getTracer(name)).');
  }
  if (typeof operationName !== 'string' || operationName === '') {
    throw new TypeError('withTelemetry: operationName must be a non-empty string.');
  }
  if (activate !== undefined && typeof activate !== 'function') {
    throw new TypeError('withTelemetry: activate must be a function (span, run) => void.');
  }
  if (!Array.isArray(fallbacks))
    throw new TypeError('withTelemetry: fallbacks must be an array of observables.');
  if (request !== undefined && (request === null || typeof request.model !== 'string')) {
    throw new TypeError('withTelemetry: request must be a chat request with a model.');
  }
  // A bad retry config throws its TypeError now, not at subscribe.
  if (retry !== undefined) retryWith(retry, undefined);
  const prefix =
    request && request.model.includes('/') ? request.model.slice(0, request.model.indexOf('/')) : '';
  const provider =
    config.providerName ?? (prefix ? (PROVIDER_NAMES[prefix.toLowerCase()] ?? prefix) : undefined);
  const startAttributes: Record<string, TelemetryAttributeValue> = {
    'gen_ai.operation.name': operationName,
    ...requestAttributes(request, provider),
  };
  const model = startAttributes['gen_ai.request.model'];
  const spanName = model === undefined ? operationName : `${operationName} ${String(model)}`;

  return operate<Chunk, Chunk>((source, subscriber) => {
    const span = tracer.startSpan(spanName, { kind: SPAN_KIND_CLIENT, attributes: startAttributes });
    if (captureContent && request)
      span.setAttribute('gen_ai.input.messages', inputMessages(request.messages));
    const started = asyncScheduler.now();
    let chunks = 0;
    let ended = false;
    let responseModel = '';
    let responseId = '';
    let usage: Chunk['usage'];
    const finishReasons = new Map<number, FinishReason>();
    let output = '';

    const end = (attributes: Record<string, TelemetryAttributeValue>) => {
      if (ended) return;
      ended = true;
      // A span whose setAttribute throws is still ended (the throw is the stream's error).
      try {
        setEndAttributes(attributes);
      } finally {
        span.end();
      }
    };
    const setEndAttributes = (attributes: Record<string, TelemetryAttributeValue>) => {
      if (responseModel) span.setAttribute('gen_ai.response.model', responseModel);
      if (responseId) span.setAttribute('gen_ai.response.id', responseId);
      if (finishReasons.size > 0)
        span.setAttribute('gen_ai.response.finish_reasons', [...finishReasons.values()]);
      if (usage) {
        span.setAttribute('gen_ai.usage.input_tokens', usage.prompt_tokens);
        span.setAttribute('gen_ai.usage.output_tokens', usage.completion_tokens);
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
        span.setAttribute('gen_ai.response.time_to_first_chunk', (asyncScheduler.now() - started) / 1000);
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
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({
              code: SPAN_STATUS_ERROR,
              message: error instanceof Error ? error.message : String(error),
            });
            end({ 'error.type': type });
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
        end({ 'rxllm.cancelled': true });
      } catch {
        /* see above */
      }
    };
  });
}
