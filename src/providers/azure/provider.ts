/**
 * Azure OpenAI: `azure/<deployment>` → the chat-completions route of a deployment, in OpenAI's
 * wire format (the stream decoder and the `complete()` mapping are OpenAI's).
 *
 * Two URL forms (https://learn.microsoft.com/azure/ai-foundry/openai/reference and
 * .../api-version-lifecycle):
 * - deployment form (default): `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`;
 * - v1 form (`apiVersion: 'v1'`, or an endpoint ending in `/openai/v1`):
 *   `{endpoint}/openai/v1/chat/completions`, the deployment as `model`, no api-version.
 * The key goes in the `api-key` header. Azure's content-filter results stay on the chunks as they
 * came (`prompt_filter_results` on a first chunk with no choices, `content_filter_results` on
 * choices, annotation chunks with no `delta`); a filtered stream finishes `content_filter`.
 */
import { defer } from 'rxjs';
import type { ChatCompletion, Chunk } from '../../chunk';
import { ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { httpRequest, type HttpRequestSpec } from '../../transport/http';
import { jsonBodySink } from '../../transport/json';
import { sseSink } from '../../transport/sse';
import { OpenAIStreamDecoder, toCompletion, toOpenAIBody, USER_AGENT } from '../openai';
import type { Provider, ProviderCall } from '../types';

export interface AzureConfig {
  /** Prefix users write in `provider/model`. @defaultValue 'azure' */
  name?: string;
  /** Environment variable holding the resource endpoint (`https://<resource>.openai.azure.com`). @defaultValue 'AZURE_OPENAI_ENDPOINT' */
  endpointEnv?: string;
  /** Environment variable holding the key, sent as `api-key`. @defaultValue 'AZURE_OPENAI_API_KEY' */
  apiKeyEnv?: string;
  /** Environment variable that overrides `apiVersion`. @defaultValue 'AZURE_OPENAI_API_VERSION' */
  apiVersionEnv?: string;
  /** `api-version` of the deployment form, or `'v1'` for the `/openai/v1` form. @defaultValue '2024-10-21' */
  apiVersion?: string;
}

/** Defaults of {@link azureProvider}. */
export const AZURE_DEFAULTS = {
  name: 'azure',
  endpointEnv: 'AZURE_OPENAI_ENDPOINT',
  apiKeyEnv: 'AZURE_OPENAI_API_KEY',
  apiVersionEnv: 'AZURE_OPENAI_API_VERSION',
  /** The latest GA data-plane version of the deployment form (Azure's API version lifecycle page). */
  apiVersion: '2024-10-21',
} as const;

/**
 * Creates an Azure OpenAI provider. The built-in one is registered as `azure`; the model part of
 * `azure/<deployment>` is the deployment name.
 *
 * @example
 * // doc-test: typecheck-only
 * import { stream } from 'rxllm';
 * // AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com, AZURE_OPENAI_API_KEY=...
 * stream({ model: 'azure/my-gpt-4o-deployment', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((chunk) => process.stdout.write(chunk.choices[0]?.delta.content ?? ''));
 */
export function azureProvider(config: AzureConfig = {}): Provider {
  const { name, endpointEnv, apiKeyEnv, apiVersionEnv, apiVersion } = { ...AZURE_DEFAULTS, ...config };

  const target = (call: ProviderCall, streaming: boolean): HttpRequestSpec => {
    const { options, request, model } = call;
    const endpoint = options.baseURL ?? process.env[endpointEnv];
    if (!endpoint) {
      throw new ConfigurationError(
        `Provider "${name}" needs the resource endpoint: pass options.baseURL or set ${endpointEnv}.`,
      );
    }
    const apiKey = options.apiKey ?? process.env[apiKeyEnv];
    const hasToken = Object.keys(options.headers ?? {}).some((h) => h.toLowerCase() === 'authorization');
    if (!apiKey && !hasToken) {
      throw new ConfigurationError(
        `No API key for provider "${name}": pass options.apiKey, set ${apiKeyEnv}, or pass an Entra ID token in options.headers.authorization.`,
      );
    }
    registerSecret(apiKey);
    const version = process.env[apiVersionEnv] ?? apiVersion;
    const body = toOpenAIBody(request, model, streaming, options.includeUsage ?? true);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: streaming ? 'text/event-stream' : 'application/json',
      'user-agent': USER_AGENT,
      ...options.headers,
    };
    if (apiKey) headers['api-key'] = apiKey;
    return { url: azureURL(endpoint, model, version), method: 'POST', headers, body: JSON.stringify(body) };
  };

  return {
    name,
    stream(call) {
      return defer(() =>
        httpRequest<Chunk>(target(call, true), call.options, (sub) =>
          sseSink(sub, new OpenAIStreamDecoder()),
        ),
      );
    },
    complete(call) {
      return defer(() =>
        httpRequest<ChatCompletion>(target(call, false), call.options, (sub) =>
          jsonBodySink(sub, 'Azure OpenAI', toCompletion),
        ),
      );
    },
  };
}

/** The chat-completions URL of a deployment, in the form `version` selects. */
export function azureURL(endpoint: string, deployment: string, version: string): string {
  const base = endpoint.replace(/\/+$/, '');
  if (version === 'v1' || /\/openai\/v1$/.test(base)) {
    return `${base.replace(/\/openai\/v1$/, '')}/openai/v1/chat/completions`;
  }
  const root = base.replace(/\/openai$/, '');
  return `${root}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${encodeURIComponent(version)}`;
}
