/**
 * Google Gemini provider (Gemini API, `generativelanguage.googleapis.com`).
 *
 * Wire format: https://ai.google.dev/api/generate-content — `POST models/<model>:streamGenerateContent?alt=sse`
 * answers with `data: <GenerateContentResponse>` events and no end marker; `:generateContent` answers
 * with one. The key goes in the `x-goog-api-key` header, never in the URL (`?key=` would end up in
 * proxy and access logs). Translation: `gemini/request.ts` (request), `gemini/stream.ts` (events),
 * `gemini/response.ts` (finish reasons, usage, `complete()`).
 */
import { Observable } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { toGeminiBody } from './request';
import { geminiError, toChatCompletion } from './response';
import { geminiSseSink } from './stream';
import type { Provider, ProviderCall } from '../types';
import { USER_AGENT } from '../openai/provider';

export interface GeminiConfig {
  /** Prefix users write in `provider/model`. @defaultValue `'gemini'` */
  name?: string;
  /** Base URL up to the API version. @defaultValue `'https://generativelanguage.googleapis.com/v1beta'` */
  baseURL?: string;
  /** Environment variable that overrides the base URL. @defaultValue `'GEMINI_BASE_URL'` */
  baseURLEnv?: string;
  /** Environment variables tried in order for the API key. @defaultValue `['GEMINI_API_KEY', 'GOOGLE_API_KEY']` */
  apiKeyEnv?: readonly string[];
}

/** Defaults of {@link geminiProvider}. */
export const GEMINI_DEFAULTS = {
  name: 'gemini',
  baseURL: 'https://generativelanguage.googleapis.com/v1beta',
  baseURLEnv: 'GEMINI_BASE_URL',
  /** The official SDKs read GEMINI_API_KEY, then GOOGLE_API_KEY. */
  apiKeyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
} as const;

/**
 * Creates the Gemini provider: `gemini/<model>` streams from `models/<model>:streamGenerateContent`.
 * Registered as `gemini` by default; call it with a config to register another copy (a proxy).
 *
 * @example
 * // doc-test: typecheck-only
 * import { stream } from 'rxllm';
 * stream({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((chunk) => process.stdout.write(chunk.choices[0]?.delta.content ?? ''));
 */
export function geminiProvider(config: GeminiConfig = {}): Provider {
  const { name, baseURL: defaultBaseURL, baseURLEnv, apiKeyEnv } = { ...GEMINI_DEFAULTS, ...config };

  const target = (call: ProviderCall, streaming: boolean): HttpRequestSpec => {
    const { options, request, model } = call;
    const baseURL = options.baseURL ?? process.env[baseURLEnv] ?? defaultBaseURL;
    let apiKey = options.apiKey;
    for (const env of apiKeyEnv) apiKey ||= process.env[env];
    if (!apiKey) {
      throw new ConfigurationError(
        `No API key for provider "${name}": pass options.apiKey or set ${apiKeyEnv.join(' or ')}.`,
      );
    }
    registerSecret(apiKey);
    const method = streaming ? 'streamGenerateContent?alt=sse' : 'generateContent';
    // A model id may carry a `models/` or `tunedModels/` prefix already (as the API lists them).
    const path = /^(models|tunedModels)\//.test(model) ? model : `models/${model}`;
    return {
      url: `${baseURL.replace(/\/+$/, '')}/${encodePath(path)}:${method}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: streaming ? 'text/event-stream' : 'application/json',
        'user-agent': USER_AGENT,
        ...options.headers,
        'x-goog-api-key': apiKey,
      },
      body: JSON.stringify(toGeminiBody(request)),
    };
  };

  return {
    name,
    stream(call) {
      return new Observable<Chunk>((subscriber) =>
        httpRequest<Chunk>(target(call, true), call.options, (sub) =>
          geminiSseSink(sub, call.model, call.options.includeUsage ?? true),
        ).subscribe(subscriber),
      );
    },
    complete(call) {
      return new Observable<ChatCompletion>((subscriber) =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (sub) =>
          jsonBodySink(sub, 'Gemini', (value, text) => {
            if (value?.error != null) throw geminiError(value);
            return toChatCompletion(value, call.model, text);
          }),
        ).subscribe(subscriber),
      );
    },
  };
}

/** Each path segment percent-encoded (model ids are plain, but a stray `?` or `#` must not reshape the URL). */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
