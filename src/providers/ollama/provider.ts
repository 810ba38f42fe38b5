/**
 * Ollama's native API: `ollama/<model>` → `POST {OLLAMA_HOST}/api/chat`, streamed as NDJSON
 * (`application/x-ndjson`), no key. Ollama's OpenAI-compatible `/v1` stays reachable through the
 * `compat` provider with `baseURL: 'http://127.0.0.1:11434/v1'`.
 */
import { defer } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { checkUrl } from '../../transport/limits';
import { ndjsonSink } from '../../transport/ndjson';
import { USER_AGENT } from '../openai/provider';
import type { Provider, ProviderCall } from '../types';
import { toOllamaBody } from './request';
import { OllamaStreamDecoder, toChatCompletion } from './stream';

export interface OllamaConfig {
  /** Prefix users write in `provider/model`. @defaultValue 'ollama' */
  name?: string;
  /** Server when neither `options.baseURL` nor the environment names one. @defaultValue 'http://127.0.0.1:11434' */
  baseURL?: string;
  /** Environment variable naming the server (`host`, `host:port` or a URL, as the Ollama CLI reads it). @defaultValue 'OLLAMA_HOST' */
  hostEnv?: string;
}

/** Defaults of {@link ollamaProvider}. */
export const OLLAMA_DEFAULTS = {
  name: 'ollama',
  baseURL: 'http://127.0.0.1:11434',
  hostEnv: 'OLLAMA_HOST',
} as const;

/**
 * Creates an Ollama provider (native `/api/chat`). The built-in one is registered as `ollama`.
 *
 * @example
 * // doc-test: typecheck-only
 * import { stream } from 'rxllm';
 * stream({ model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((chunk) => process.stdout.write(chunk.choices[0]?.delta.content ?? ''));
 */
export function ollamaProvider(config: OllamaConfig = {}): Provider {
  const { name, baseURL, hostEnv } = { ...OLLAMA_DEFAULTS, ...config };

  const target = (call: ProviderCall, streaming: boolean): HttpRequestSpec => {
    const { options, request, model } = call;
    const base = hostURL(options.baseURL ?? process.env[hostEnv] ?? baseURL);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: streaming ? 'application/x-ndjson' : 'application/json',
      'user-agent': USER_AGENT,
      ...options.headers,
    };
    // Ollama needs no key; one given (a proxy in front of it) goes as a bearer token.
    if (options.apiKey) {
      registerSecret(options.apiKey);
      headers.authorization = `Bearer ${options.apiKey}`;
    }
    return {
      url: `${base}/api/chat`,
      method: 'POST',
      headers,
      body: JSON.stringify(toOllamaBody(request, model, streaming)),
    };
  };

  return {
    name,
    stream(call) {
      return defer(() =>
        httpRequest<Chunk>(target(call, true), call.options, (sub) =>
          ndjsonSink(sub, new OllamaStreamDecoder(call.model, call.options.includeUsage ?? true)),
        ),
      );
    },
    complete(call) {
      return defer(() =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (sub) =>
          jsonBodySink(sub, 'Ollama', (value, text) => toChatCompletion(value, text, call.model)),
        ),
      );
    },
  };
}

/**
 * `OLLAMA_HOST` forms (`0.0.0.0`, `host:port`, `http://host:port/`) → `http://host:port`. Throws
 * `ConfigurationError` for a value that is no URL.
 */
export function hostURL(value: string): string {
  let url = value
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/api$/, '');
  const hadScheme = /^https?:\/\//i.test(url);
  if (!hadScheme) url = `http://${url}`;
  // checkUrl, not `new URL`: a malformed host is a ConfigurationError, not a raw TypeError whose
  // `input` carries the whole value (credentials of a proxy URL included).
  const parsed = checkUrl(url, 'Ollama');
  // A bare host means Ollama's default port, as the Ollama CLI reads OLLAMA_HOST.
  if (!hadScheme && !parsed.port) parsed.port = '11434';
  return parsed.toString().replace(/\/+$/, '');
}
