/**
 * The GenAI semantic-convention attributes `withTelemetry` writes on spans and metrics: which
 * provider (`gen_ai.provider.name`), which server (`server.address`, `server.port`), the request's
 * model and parameters, token usage, and the message shapes of `captureContent`.
 *
 * Names and values follow @opentelemetry/semantic-conventions 1.45 (semantic-conventions
 * `model/gen-ai/registry.yaml` and `docs/gen-ai/gen-ai-spans.md` before the GenAI conventions moved
 * to open-telemetry/semantic-conventions-genai).
 */
import type { Usage } from '../../src/chunk';
import type { ChatMessage, ChatRequest } from '../../src/request';

/** A span or metric attribute value, as OpenTelemetry accepts it. */
export type TelemetryAttributeValue = string | number | boolean | string[] | number[] | boolean[];

/** Span or metric attributes by name (`gen_ai.request.model`, ...). */
export type TelemetryAttributes = Record<string, TelemetryAttributeValue>;

/**
 * rxllm provider prefix → `gen_ai.provider.name`. Each value is one of the conventions' well-known
 * values, which "MUST be used" when one applies: Azure OpenAI is `azure.ai.openai`, the Gemini API
 * (generativelanguage.googleapis.com) `gcp.gemini`, and the Responses API is still `openai`. A prefix
 * that is not here (`ollama`, `mock`, a registered provider) is used as it is: the conventions allow
 * a custom value when none applies.
 */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: 'openai',
  'openai-responses': 'openai',
  azure: 'azure.ai.openai',
  gemini: 'gcp.gemini',
  anthropic: 'anthropic',
  deepseek: 'deepseek',
  groq: 'groq',
};

/**
 * API hosts of the providers the conventions name, for a `compat/` model (any OpenAI-compatible
 * server): its `baseURL` says which provider actually answers. The Google hosts are the ones the
 * conventions give for `gcp.gemini` and `gcp.vertex_ai` (regional Vertex hosts are
 * `<region>-aiplatform.googleapis.com`).
 */
const HOSTS: readonly (readonly [RegExp, string])[] = [
  [/(^|\.)api\.openai\.com$/, 'openai'],
  [/\.openai\.azure\.com$/, 'azure.ai.openai'],
  [/\.(services|models|inference)\.ai\.azure\.com$/, 'azure.ai.inference'],
  [/(^|\.)generativelanguage\.googleapis\.com$/, 'gcp.gemini'],
  [/(^|[.-])aiplatform\.googleapis\.com$/, 'gcp.vertex_ai'],
  [/(^|\.)api\.anthropic\.com$/, 'anthropic'],
  [/(^|\.)api\.deepseek\.com$/, 'deepseek'],
  [/(^|\.)api\.groq\.com$/, 'groq'],
  [/(^|\.)api\.mistral\.ai$/, 'mistral_ai'],
  [/(^|\.)api\.x\.ai$/, 'x_ai'],
  [/(^|\.)api\.perplexity\.ai$/, 'perplexity'],
  [/(^|\.)api\.cohere\.(ai|com)$/, 'cohere'],
  [/^bedrock-runtime(-fips)?\.[a-z0-9-]+\.amazonaws\.com$/, 'aws.bedrock'],
  [/\.ml\.cloud\.ibm\.com$/, 'ibm.watsonx.ai'],
];

/**
 * What a `compat/` model reports when its host is unknown (vLLM, LM Studio, a proxy): `openai`, the
 * API it speaks, as OpenAI's own instrumentations report any base URL. The conventions point to
 * `server.address` to tell such servers apart (`gen_ai.provider.name` note: "may differ from the
 * actual model provider").
 */
const COMPAT_FALLBACK = 'openai';

/** `server.address` and `server.port` of a base URL (the port the scheme implies when none is written). */
export function serverAttributes(baseURL: string): TelemetryAttributes {
  const url = new URL(baseURL);
  const address = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { 'server.address': address, 'server.port': port };
}

/** `gen_ai.provider.name` of a call: from the model's prefix, or for `compat/` from the server's host. */
export function providerName(prefix: string, host: string | undefined): string | undefined {
  const byHost = host === undefined ? undefined : HOSTS.find(([pattern]) => pattern.test(host))?.[1];
  if (!prefix) return byHost;
  const p = prefix.toLowerCase();
  if (p === 'compat') return byHost ?? COMPAT_FALLBACK;
  return PROVIDER_NAMES[p] ?? p;
}

/** `gen_ai.request.*` (model without its prefix, sampling parameters) and `gen_ai.output.type`. */
export function requestAttributes(request: ChatRequest | undefined): TelemetryAttributes {
  const attributes: TelemetryAttributes = {};
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

/**
 * `gen_ai.usage.*`. rxllm's `prompt_tokens` already includes cache reads and writes and
 * `completion_tokens` the reasoning tokens, as the conventions want (cache_read / cache_creation /
 * reasoning "SHOULD be included in" input / output tokens); the parts are written when reported.
 */
export function usageAttributes(usage: Usage): TelemetryAttributes {
  const attributes: TelemetryAttributes = {
    'gen_ai.usage.input_tokens': usage.prompt_tokens,
    'gen_ai.usage.output_tokens': usage.completion_tokens,
  };
  const cacheRead = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cacheRead === 'number') attributes['gen_ai.usage.cache_read.input_tokens'] = cacheRead;
  const cacheWrite = usage.prompt_tokens_details?.cache_creation_tokens;
  if (typeof cacheWrite === 'number') attributes['gen_ai.usage.cache_creation.input_tokens'] = cacheWrite;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (typeof reasoning === 'number') attributes['gen_ai.usage.reasoning.output_tokens'] = reasoning;
  return attributes;
}

/** The conventions' message shape (`role` + `parts`), as JSON, for `gen_ai.input.messages`. */
export function inputMessages(messages: readonly ChatMessage[]): string {
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
