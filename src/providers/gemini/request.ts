/**
 * Neutral (OpenAI-shaped) `ChatRequest` → Gemini `GenerateContentRequest` body.
 *
 * Wire format: https://ai.google.dev/api/generate-content and
 * https://ai.google.dev/gemini-api/docs/function-calling. Differences handled here: system prompts
 * are a top-level `systemInstruction`; the assistant role is `model`; tool results are `user` turns
 * holding `functionResponse` parts that name the function (not the call id); turns alternate, so
 * consecutive same-role turns are merged; sampling options live in `generationConfig`.
 */
import { RequestValidationError } from '../../errors';
import type { ChatMessage, ChatRequest } from '../../request';

/**
 * Gemini-only top-level fields passed through unchanged when a caller puts them on the neutral
 * request (`safetySettings`, a cached context, ...). A caller's `generationConfig` object (e.g. with
 * `thinkingConfig: { includeThoughts: true }`) is merged over the translated one. Every other unknown
 * field is dropped: Gemini rejects unknown fields with a 400.
 */
export const GEMINI_PASSTHROUGH_FIELDS = ['safetySettings', 'cachedContent', 'labels'] as const;

/**
 * JSON Schema keywords that Gemini's OpenAPI-subset `Schema` rejects ("Unknown name ...") and that
 * schema generators (zod's `z.toJSONSchema`, zod-to-json-schema) emit by default.
 */
const UNSUPPORTED_SCHEMA_KEYS = new Set(['$schema', '$id', '$comment', 'additionalProperties', 'strict']);

type Part = Record<string, unknown>;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

/** The JSON body for `:generateContent` / `:streamGenerateContent`. Throws `RequestValidationError`. */
export function toGeminiBody(request: ChatRequest): Record<string, unknown> {
  const system: Part[] = [];
  const contents: Content[] = [];
  const toolNames = new Map<string, string>();

  const push = (role: Content['role'], parts: Part[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  request.messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        // Gemini has one system instruction; system messages later in the chat join it, in order.
        system.push(...textParts(message.content));
        break;
      case 'user':
        push('user', userParts(message, i));
        break;
      case 'assistant':
        push('model', modelParts(message, i, toolNames));
        break;
      case 'tool': {
        const name = toolNames.get(message.tool_call_id);
        if (name === undefined) {
          throw invalid(
            ['messages', i, 'tool_call_id'],
            `tool message answers "${message.tool_call_id}", which no earlier assistant tool call has; Gemini needs the function name`,
          );
        }
        push('user', [{ functionResponse: { name, response: toolResponse(joinText(message.content)) } }]);
        break;
      }
    }
  });

  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (request.tools?.length) {
    body.tools = [
      {
        functionDeclarations: request.tools.map(({ function: f }) => {
          const declaration: Record<string, unknown> = { name: f.name };
          if (f.description !== undefined) declaration.description = f.description;
          const parameters = f.parameters && toGeminiSchema(f.parameters);
          // An object schema without properties is rejected; a function without parameters omits it.
          if (parameters && !isEmptyObjectSchema(parameters)) declaration.parameters = parameters;
          return declaration;
        }),
      },
    ];
  }
  if (request.tool_choice !== undefined) body.toolConfig = { functionCallingConfig: toolChoice(request) };

  const generationConfig = toGenerationConfig(request);
  const extra = request as Record<string, unknown>;
  if (isPlainObject(extra.generationConfig)) Object.assign(generationConfig, extra.generationConfig);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  for (const field of GEMINI_PASSTHROUGH_FIELDS) {
    if (extra[field] !== undefined) body[field] = extra[field];
  }
  return body;
}

function toGenerationConfig(request: ChatRequest): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.top_p !== undefined) config.topP = request.top_p;
  if (request.stop !== undefined)
    config.stopSequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.n !== undefined) config.candidateCount = request.n;
  if (request.seed !== undefined) config.seed = request.seed;
  if (request.presence_penalty !== undefined) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) config.frequencyPenalty = request.frequency_penalty;
  const format = request.response_format;
  if (format?.type === 'json_object') {
    config.responseMimeType = 'application/json';
  } else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = format.json_schema.schema;
    if (schema) {
      // `responseSchema` is an OpenAPI subset without references; a schema that uses them goes as
      // `responseJsonSchema`, which takes JSON Schema as it is (ai.google.dev structured-output docs).
      if (usesReferences(schema)) config.responseJsonSchema = schema;
      else config.responseSchema = toGeminiSchema(schema);
    }
  }
  return config;
}

function toolChoice(request: ChatRequest): Record<string, unknown> {
  const choice = request.tool_choice;
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'required') return { mode: 'ANY' };
  return { mode: 'ANY', allowedFunctionNames: [choice!.function.name] };
}

function userParts(message: Extract<ChatMessage, { role: 'user' }>, i: number): Part[] {
  if (typeof message.content === 'string') return [{ text: message.content }];
  return message.content.map((part, j) => {
    if (part.type === 'text') return { text: part.text };
    const match = /^data:([^;,]+);base64,(.*)$/s.exec(part.image_url.url);
    if (!match) {
      throw invalid(
        ['messages', i, 'content', j, 'image_url', 'url'],
        'Gemini takes images inline here: pass a data URL (data:image/png;base64,...)',
      );
    }
    return { inlineData: { mimeType: match[1], data: match[2] } };
  });
}

function modelParts(
  message: Extract<ChatMessage, { role: 'assistant' }>,
  i: number,
  toolNames: Map<string, string>,
): Part[] {
  const parts: Part[] =
    message.content == null ? [] : textParts(message.content).filter((p) => p.text !== '');
  message.tool_calls?.forEach((call, j) => {
    toolNames.set(call.id, call.function.name);
    let args: unknown;
    try {
      args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
    } catch {
      throw invalid(
        ['messages', i, 'tool_calls', j, 'function', 'arguments'],
        'tool call arguments are not JSON',
      );
    }
    const part: Part = { functionCall: { name: call.function.name, args } };
    // Kept from a Gemini response (see stream.ts); Gemini 3 rejects a replayed call without it.
    const signature = (call as { extra_content?: { google?: { thought_signature?: unknown } } }).extra_content
      ?.google?.thought_signature;
    if (typeof signature === 'string') part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

/** A tool result: JSON objects go as they are; anything else as `{ content: text }` (a Struct is required). */
function toolResponse(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    if (isPlainObject(value)) return value;
  } catch {
    // not JSON: wrap the text
  }
  return { content: text };
}

/** Drops the JSON Schema keywords Gemini's `Schema` rejects, at every depth. */
export function toGeminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGeminiSchema);
  if (!isPlainObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (UNSUPPORTED_SCHEMA_KEYS.has(key)) continue;
    // Under `properties` the keys are property names, not keywords: keep every one.
    out[key] =
      key === 'properties' && isPlainObject(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGeminiSchema(v)]))
        : toGeminiSchema(value);
  }
  return out;
}

function usesReferences(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.some(usesReferences);
  if (!isPlainObject(schema)) return false;
  return Object.entries(schema).some(
    ([key, value]) => key === '$ref' || key === '$defs' || key === 'definitions' || usesReferences(value),
  );
}

function isEmptyObjectSchema(schema: unknown): boolean {
  if (!isPlainObject(schema) || schema.type !== 'object') return false;
  const properties = schema.properties;
  return properties === undefined || (isPlainObject(properties) && Object.keys(properties).length === 0);
}

function textParts(content: string | { type: 'text'; text: string }[]): { text: string }[] {
  return typeof content === 'string' ? [{ text: content }] : content.map((p) => ({ text: p.text }));
}

function joinText(content: string | { type: 'text'; text: string }[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(path: (string | number)[], message: string): RequestValidationError {
  return new RequestValidationError(`Invalid chat request for Gemini: ${path.join('.')}: ${message}.`, [
    { path, message },
  ]);
}
