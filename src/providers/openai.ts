/**
 * OpenAI-compatible provider: OpenAI, Azure-style proxies, vLLM, DeepSeek, Groq, Ollama's /v1, ...
 *
 * Wire format: https://platform.openai.com/docs/api-reference/chat-streaming — `data: {chunk}` events
 * ending with `data: [DONE]`. Chunks already have rxllm's shape, so the hot path only checks the
 * fields rxllm relies on and fixes the known dialects in place (no deep zod parse per chunk).
 */
import { defer } from 'rxjs';
import type { ChatCompletion, Chunk, FinishReason } from '../chunk';
import { ConfigurationError, StreamCutError, StreamParseError } from '../errors';
import { inBandError } from '../inBandError';
import { registerSecret } from '../redact';
import { httpRequest, type HttpRequestSpec } from '../transport/http';
import { jsonBodySink, parseProviderJson } from '../transport/json';
import { sseSink, type EventSourceMessage, type SseEventDecoder } from '../transport/sse';
import type { Provider, ProviderCall } from './types';

export interface OpenAICompatibleConfig {
  /** Prefix users write in `provider/model`. */
  name: string;
  /** Default base URL; without one, callers must pass `baseURL`. */
  baseURL?: string;
  /** Environment variable holding the API key. */
  apiKeyEnv?: string;
  /** Environment variable that overrides the base URL. @defaultValue `${NAME}_BASE_URL` */
  baseURLEnv?: string;
  /** Fail before sending when there is no key. @defaultValue true */
  keyRequired?: boolean;
  /** Send `stream_options.include_usage` unless the call says otherwise. @defaultValue true */
  includeUsage?: boolean;
}

const USER_AGENT = 'rxllm/0.1';

const FINISH_REASONS = new Set<string>(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

/** Other vocabularies seen on compatible servers → OpenAI's. Unknown values map to `stop`. */
const FINISH_ALIASES: Record<string, FinishReason> = {
  eos: 'stop',
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_length: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  safety: 'content_filter',
};

/** Maps a non-OpenAI finish reason; the caller keeps the raw one beside it. */
export function mapFinishReason(raw: string): FinishReason {
  return FINISH_ALIASES[raw.toLowerCase()] ?? 'stop';
}

/** Creates an OpenAI-compatible provider. Register it with `registerProvider`. */
export function openAICompatible(config: OpenAICompatibleConfig): Provider {
  const envPrefix = config.name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const baseURLEnv = config.baseURLEnv ?? `${envPrefix}_BASE_URL`;

  const target = (call: ProviderCall, streaming: boolean): HttpRequestSpec => {
    const { options, request, model } = call;
    const baseURL = options.baseURL ?? process.env[baseURLEnv] ?? config.baseURL;
    if (!baseURL) {
      throw new ConfigurationError(
        `Provider "${config.name}" needs a base URL: pass options.baseURL or set ${baseURLEnv}.`,
      );
    }
    const apiKey = options.apiKey ?? (config.apiKeyEnv ? process.env[config.apiKeyEnv] : undefined);
    if (!apiKey && config.keyRequired !== false) {
      throw new ConfigurationError(
        `No API key for provider "${config.name}": pass options.apiKey${config.apiKeyEnv ? ` or set ${config.apiKeyEnv}` : ''}.`,
      );
    }
    registerSecret(apiKey);
    const body: Record<string, unknown> = { ...request, model };
    if (streaming) {
      body.stream = true;
      const includeUsage = options.includeUsage ?? config.includeUsage ?? true;
      if (includeUsage) {
        body.stream_options = { ...(request.stream_options as object | undefined), include_usage: true };
      }
    } else {
      delete body.stream;
      delete body.stream_options;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: streaming ? 'text/event-stream' : 'application/json',
      'user-agent': USER_AGENT,
      ...options.headers,
    };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    return {
      url: `${baseURL.replace(/\/+$/, '')}/chat/completions`,
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    };
  };

  return {
    name: config.name,
    stream(call) {
      // defer: the URL, key and body are worked out per subscription (cold; config errors at subscribe).
      return defer(() =>
        httpRequest<Chunk>(target(call, true), call.options, (subscriber) =>
          sseSink(subscriber, new OpenAIStreamDecoder()),
        ),
      );
    },
    complete(call) {
      return defer(() =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (subscriber) =>
          jsonBodySink(subscriber, 'The provider', toCompletion),
        ),
      );
    },
  };
}

/**
 * Per-stream state: which choices finished, whether `[DONE]` arrived. A stream that ends with
 * neither is cut (`StreamCutError`, retryable); one that ends after every choice finished is whole
 * even without `[DONE]` (some servers never send it, or send it without the final blank line).
 */
export class OpenAIStreamDecoder implements SseEventDecoder<Chunk> {
  private done = false;
  private readonly seen = new Set<number>();
  private readonly finished = new Set<number>();

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    if (this.done) return;
    const data = event.data;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const value = parseProviderJson(data, 'The provider', 'event');
    if (value !== null && typeof value === 'object' && value.error != null) {
      throw inBandError(value);
    }
    if (event.event === 'error') throw inBandError({ error: value });
    emit(this.normalize(value, data));
  }

  end(): StreamCutError | void {
    if (this.done) return;
    if (this.seen.size > 0 && this.finished.size >= this.seen.size) return;
    return new StreamCutError();
  }

  /** Checks the fields rxllm relies on and fixes known dialects in place. */
  private normalize(value: any, data: string): Chunk {
    if (value === null || typeof value !== 'object' || !Array.isArray(value.choices)) {
      throw new StreamParseError(
        'invalid-event',
        'A stream event is not a chat.completion.chunk (no choices array).',
        data,
      );
    }
    const choices = value.choices;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i];
      if (choice === null || typeof choice !== 'object') {
        throw new StreamParseError('invalid-event', 'A chunk choice is not an object.', data);
      }
      if (typeof choice.index !== 'number') choice.index = i;
      let delta = choice.delta;
      if (delta == null) {
        choice.delta = delta = {};
      } else if (typeof delta !== 'object') {
        throw new StreamParseError('invalid-event', 'A chunk delta is not an object.', data);
      }
      if (delta.content != null && typeof delta.content !== 'string') {
        throw new StreamParseError('invalid-event', 'A chunk delta has non-string content.', data);
      }
      if (delta.tool_calls != null && !Array.isArray(delta.tool_calls)) {
        throw new StreamParseError(
          'invalid-event',
          'A chunk delta has tool_calls that are not an array.',
          data,
        );
      }
      // DeepSeek, vLLM and others stream reasoning as `reasoning_content`.
      if (delta.reasoning_content !== undefined) {
        if (delta.reasoning == null) delta.reasoning = delta.reasoning_content;
        delete delta.reasoning_content;
      }
      this.trackFinish(choice);
    }
    if (value.object !== 'chat.completion.chunk') value.object = 'chat.completion.chunk';
    if (typeof value.id !== 'string') value.id = value.id == null ? '' : String(value.id);
    if (typeof value.created !== 'number') value.created = 0;
    if (typeof value.model !== 'string') value.model = '';
    return value as Chunk;
  }

  private trackFinish(choice: any): void {
    this.seen.add(choice.index);
    const reason = choice.finish_reason;
    if (reason === undefined) {
      choice.finish_reason = null;
    } else if (reason !== null) {
      if (!FINISH_REASONS.has(reason)) {
        choice.raw_finish_reason = String(reason);
        choice.finish_reason = mapFinishReason(String(reason));
      }
      this.finished.add(choice.index);
    }
  }
}

/** A non-streaming answer → `ChatCompletion`, with the same dialect fixes as the stream. */
function toCompletion(value: any, text: string): ChatCompletion {
  if (value?.error != null) throw inBandError(value);
  if (!value || !Array.isArray(value.choices)) {
    throw new StreamParseError('invalid-body', 'The provider answered without a choices array.', text);
  }
  for (const choice of value.choices) {
    const message = choice.message ?? (choice.message = { role: 'assistant', content: null });
    if (message.reasoning_content !== undefined) {
      if (message.reasoning == null) message.reasoning = message.reasoning_content;
      delete message.reasoning_content;
    }
    if (choice.finish_reason != null && !FINISH_REASONS.has(choice.finish_reason)) {
      choice.raw_finish_reason = String(choice.finish_reason);
      choice.finish_reason = mapFinishReason(String(choice.finish_reason));
    }
    if (choice.finish_reason === undefined) choice.finish_reason = null;
  }
  value.object = 'chat.completion';
  if (value.usage === undefined) value.usage = null;
  return value as ChatCompletion;
}
