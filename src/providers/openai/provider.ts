/**
 * OpenAI-compatible provider: OpenAI, Azure-style proxies, vLLM, DeepSeek, Groq, Ollama's /v1, ...
 *
 * Wire format: https://platform.openai.com/docs/api-reference/chat-streaming — `data: {chunk}` events
 * ending with `data: [DONE]`. Chunks already have rxllm's shape, so the hot path only checks the
 * fields rxllm relies on and fixes the known dialects in place (no deep zod parse per chunk).
 */
import { defer } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { sseSink } from '../../transport/sse';
import type { Provider, ProviderCall } from '../types';
import { toOpenAIBody } from './request';
import { toCompletion } from './response';
import { OpenAIStreamDecoder } from './stream';

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
  /**
   * Send each assistant message's `reasoning` back as `reasoning_content` (`""` on a tool-call
   * message without reasoning): servers with DeepSeek's thinking mode refuse a tool loop without it.
   * Leave it off for servers that refuse unknown message fields. The built-in `deepseek` provider
   * has it on. @defaultValue false
   */
  reasoningContent?: boolean;
}

/** `user-agent` of every provider request. */
export const USER_AGENT = 'rxllm/0.1';

/**
 * Creates an OpenAI-compatible provider. Register it with `registerProvider`.
 *
 * @example
 * import { openAICompatible, registerProvider } from 'rxllm';
 * // DeepSeek behind a company gateway: its thinking mode wants reasoning_content back on tool turns.
 * registerProvider(
 *   openAICompatible({
 *     name: 'deepseek-eu',
 *     baseURL: 'https://llm-gateway.example.com/deepseek/v1',
 *     apiKeyEnv: 'DEEPSEEK_EU_API_KEY',
 *     reasoningContent: true,
 *   }),
 * );
 * // Models are now written `deepseek-eu/deepseek-reasoner`.
 */
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
    const includeUsage = options.includeUsage ?? config.includeUsage ?? true;
    const body = toOpenAIBody(request, model, streaming, includeUsage, config.reasoningContent === true);
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
