/**
 * The OpenAI Responses API provider: `openai-responses/<model>` → `POST {baseURL}/responses` with
 * `stream: true`, same key (`OPENAI_API_KEY`) and base URL (`OPENAI_BASE_URL`) as `openai`.
 * `complete()` uses the non-streaming call and returns the same `ChatCompletion` shape.
 */
import { defer } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { sseSink } from '../../transport/sse';
import { USER_AGENT } from '../openai/provider';
import type { Provider, ProviderCall } from '../types';
import { toResponsesBody } from './request';
import { toChatCompletion } from './response';
import { ResponsesStreamDecoder } from './stream';

export interface OpenAIResponsesConfig {
  /** Prefix users write in `provider/model`. @defaultValue 'openai-responses' */
  name?: string;
  /** Base URL (without `/responses`). @defaultValue 'https://api.openai.com/v1' */
  baseURL?: string;
  /** Environment variable that overrides the base URL. @defaultValue 'OPENAI_BASE_URL' */
  baseURLEnv?: string;
  /** Environment variable holding the API key. @defaultValue 'OPENAI_API_KEY' */
  apiKeyEnv?: string;
}

/** Defaults of {@link openAIResponsesProvider}. */
export const OPENAI_RESPONSES_DEFAULTS = {
  name: 'openai-responses',
  baseURL: 'https://api.openai.com/v1',
  baseURLEnv: 'OPENAI_BASE_URL',
  apiKeyEnv: 'OPENAI_API_KEY',
} as const;

/**
 * Creates a Responses API provider. The built-in one is registered as `openai-responses`.
 *
 * @example
 * // doc-test: typecheck-only
 * import { stream } from 'rxllm';
 * stream({ model: 'openai-responses/gpt-5-mini', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'low' })
 *   .subscribe((chunk) => process.stdout.write(chunk.choices[0]?.delta.content ?? ''));
 */
export function openAIResponsesProvider(config: OpenAIResponsesConfig = {}): Provider {
  const { name, baseURL, baseURLEnv, apiKeyEnv } = { ...OPENAI_RESPONSES_DEFAULTS, ...config };

  const target = (call: ProviderCall, streaming: boolean): HttpRequestSpec => {
    const { options, request, model } = call;
    const base = options.baseURL ?? process.env[baseURLEnv] ?? baseURL;
    const apiKey = options.apiKey ?? process.env[apiKeyEnv];
    if (!apiKey) {
      throw new ConfigurationError(
        `No API key for provider "${name}": pass options.apiKey or set ${apiKeyEnv}.`,
      );
    }
    registerSecret(apiKey);
    return {
      url: `${base.replace(/\/+$/, '')}/responses`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: streaming ? 'text/event-stream' : 'application/json',
        'user-agent': USER_AGENT,
        ...options.headers,
        authorization: `Bearer ${apiKey}`,
      },
      body: JSON.stringify(toResponsesBody(request, model, streaming)),
    };
  };

  return {
    name,
    stream(call) {
      return defer(() =>
        httpRequest<Chunk>(target(call, true), call.options, (sub) =>
          sseSink(sub, new ResponsesStreamDecoder(call.model, call.options.includeUsage ?? true)),
        ),
      );
    },
    complete(call) {
      return defer(() =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (sub) =>
          jsonBodySink(sub, 'The Responses API', (value, text) => toChatCompletion(value, text, call.model)),
        ),
      );
    },
  };
}
