/**
 * The Anthropic Messages provider: `anthropic/<model>` → `POST {baseURL}/messages`, over the shared
 * transport (`httpRequest` + `sseSink`). HTTP errors are typed there; Anthropic's error body
 * `{type:'error', error:{type, message}}` gives the message.
 */
import { Observable } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { sseSink } from '../../transport/sse';
import type { Provider, ProviderCall } from '../types';
import { ANTHROPIC_REQUEST_DEFAULTS, toAnthropicBody } from './request';
import { toChatCompletion } from './response';
import { AnthropicStreamDecoder } from './stream';
import { USER_AGENT } from '../openai/provider';

export interface AnthropicConfig {
  /** Prefix users write in `provider/model`. @defaultValue 'anthropic' */
  name?: string;
  /** Base URL (without `/messages`). @defaultValue 'https://api.anthropic.com/v1' */
  baseURL?: string;
  /** Environment variable that overrides the base URL. @defaultValue 'ANTHROPIC_BASE_URL' */
  baseURLEnv?: string;
  /** Environment variable holding the API key. @defaultValue 'ANTHROPIC_API_KEY' */
  apiKeyEnv?: string;
  /** `anthropic-version` header. @defaultValue '2023-06-01' */
  version?: string;
  /** `max_tokens` when the request sets neither max_tokens nor max_completion_tokens. @defaultValue 4096 */
  defaultMaxTokens?: number;
}

/** Defaults of `anthropicProvider`. */
export const ANTHROPIC_DEFAULTS = {
  name: 'anthropic',
  baseURL: 'https://api.anthropic.com/v1',
  baseURLEnv: 'ANTHROPIC_BASE_URL',
  apiKeyEnv: 'ANTHROPIC_API_KEY',
  /** The only stable Messages API version (https://docs.anthropic.com/en/api/versioning). */
  version: '2023-06-01',
  defaultMaxTokens: ANTHROPIC_REQUEST_DEFAULTS.maxTokens,
} as const;

/**
 * Creates an Anthropic Messages provider. The built-in one is registered as `anthropic`; make another
 * (a proxy, a second account) and add it with `registerProvider`.
 *
 * @example
 * import { anthropicProvider, registerProvider, stream } from 'rxllm';
 * registerProvider(anthropicProvider({ name: 'claude-proxy', baseURL: 'https://proxy.internal/v1' }));
 * stream({ model: 'claude-proxy/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] });
 */
export function anthropicProvider(config: AnthropicConfig = {}): Provider {
  const { name, baseURL, baseURLEnv, apiKeyEnv, version, defaultMaxTokens } = {
    ...ANTHROPIC_DEFAULTS,
    ...config,
  };
  if (!Number.isInteger(defaultMaxTokens) || defaultMaxTokens < 1) {
    throw new TypeError(
      `anthropicProvider: defaultMaxTokens must be a positive integer, got ${defaultMaxTokens}.`,
    );
  }

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
    const body = toAnthropicBody(request, model, streaming, defaultMaxTokens);
    return {
      url: `${base.replace(/\/+$/, '')}/messages`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: streaming ? 'text/event-stream' : 'application/json',
        'user-agent': USER_AGENT,
        'anthropic-version': version,
        ...options.headers,
        'x-api-key': apiKey,
      },
      body: JSON.stringify(body),
    };
  };

  return {
    name,
    stream(call) {
      return new Observable<Chunk>((subscriber) => {
        const spec = target(call, true);
        const includeUsage = call.options.includeUsage ?? true;
        return httpRequest<Chunk>(spec, call.options, (sub) =>
          sseSink(sub, new AnthropicStreamDecoder(nowSeconds(), includeUsage)),
        ).subscribe(subscriber);
      });
    },
    complete(call) {
      return new Observable<ChatCompletion>((subscriber) =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (sub) =>
          jsonBodySink(sub, 'Anthropic', (value, text) => toChatCompletion(value, text, nowSeconds())),
        ).subscribe(subscriber),
      );
    },
  };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The built-in Anthropic provider, registered as `anthropic`. */
export const anthropic: Provider = anthropicProvider();
