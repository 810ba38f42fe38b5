/**
 * Neutral (OpenAI-shaped) `ChatRequest` → Gemini `GenerateContentRequest` body.
 *
 * Wire format: https://ai.google.dev/api/generate-content and
 * https://ai.google.dev/gemini-api/docs/function-calling. Differences handled here: system prompts
 * are a top-level `systemInstruction`; the assistant role is `model`; tool results are `user` turns
 * holding `functionResponse` parts that name the function and echo the call's id (FunctionCall.id /
 * FunctionResponse.id, optional in https://ai.google.dev/api/caching#FunctionCall); turns alternate, so
 * consecutive same-role turns are merged; sampling options live in `generationConfig`.
 */
import { RequestValidationError } from '../../errors';
import type { ChatMessage, ChatRequest } from '../../request';
import { GEMINI_TEXT_SIGNATURE } from './response';

/**
 * Gemini-only top-level fields passed through unchanged when a caller puts them on the neutral
 * request (`safetySettings`, a cached context, ...). A caller's `generationConfig` object (e.g. with
 * `thinkingConfig: { includeThoughts: true }`) is merged over the translated one. Every other unknown
 * field is dropped: Gemini rejects unknown fields with a 400.
 */
export const GEMINI_PASSTHROUGH_FIELDS = ['safetySettings', 'cachedContent', 'labels'] as const;

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
        // The call's id goes back with its result, so parallel calls of one function answered out of
        // order pair up right (https://ai.google.dev/api/caching#FunctionResponse `id`). An error goes
        // under the "error" key, as `response` documents ("Use "output" key to specify function
        // output and "error" key to specify error details").
        const text = joinText(message.content);
        const response = message.is_error ? { error: text } : toolResponse(text);
        push('user', [{ functionResponse: { id: message.tool_call_id, name, response } }]);
        break;
      }
    }
  });

  // `contents` is required (https://ai.google.dev/api/generate-content#request-body): messages that
  // are all system text or empty would go without it, and Gemini answers 400.
  if (contents.length === 0) {
    throw invalid(
      ['messages'],
      'Gemini needs at least one user, assistant or tool message with content (system messages go to systemInstruction; empty text is dropped)',
    );
  }
  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (request.tools?.length) {
    body.tools = [
      {
        functionDeclarations: request.tools.map(({ function: f }) => {
          const declaration: Record<string, unknown> = { name: f.name };
          if (f.description !== undefined) declaration.description = f.description;
          // JSON Schema as it is (zod 4's `const`, `type: [..., "null"]`, `propertyNames` included):
          // `parametersJsonSchema` takes it, where the OpenAPI-subset `parameters` rejects them.
          // A function without parameters omits it.
          if (f.parameters && !isEmptyObjectSchema(f.parameters)) {
            declaration.parametersJsonSchema = toJsonSchema(f.parameters);
          }
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
    // JSON Schema as it is, for the same reason as `parametersJsonSchema` (structured-output docs).
    if (schema) config.responseJsonSchema = toJsonSchema(schema);
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
  // Gemini rejects empty text parts ("contents.parts must not be empty").
  if (typeof message.content === 'string') return message.content ? [{ text: message.content }] : [];
  return message.content.flatMap((part, j): Part[] => {
    if (part.type === 'text') return part.text ? [{ text: part.text }] : [];
    const match = /^data:([^;,]+);base64,(.*)$/s.exec(part.image_url.url);
    if (!match) {
      throw invalid(
        ['messages', i, 'content', j, 'image_url', 'url'],
        'Gemini takes images inline here: pass a data URL (data:image/png;base64,...)',
      );
    }
    return [{ inlineData: { mimeType: match[1], data: match[2] } }];
  });
}

function modelParts(
  message: Extract<ChatMessage, { role: 'assistant' }>,
  i: number,
  toolNames: Map<string, string>,
): Part[] {
  const calls: Part[] = [];
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
    if (!isPlainObject(args)) {
      throw invalid(
        ['messages', i, 'tool_calls', j, 'function', 'arguments'],
        'tool call arguments must be a JSON object (Gemini takes them as a Struct)',
      );
    }
    // The id goes back as sent, so the result that names it pairs with this call.
    const part: Part = { functionCall: { id: call.id, name: call.function.name, args } };
    // Kept from a Gemini response (see stream.ts); Gemini 3 rejects a replayed call without it.
    const signature = (call as { extra_content?: { google?: { thought_signature?: unknown } } }).extra_content
      ?.google?.thought_signature;
    if (typeof signature === 'string') part.thoughtSignature = signature;
    calls.push(part);
  });
  const signatures = (message.reasoning_details ?? []).filter(
    (d) => d.type === GEMINI_TEXT_SIGNATURE && typeof d.signature === 'string',
  );
  if (signatures.length === 0) {
    return [...(message.content == null ? [] : textParts(message.content)), ...calls];
  }
  // Signatures of text parts go back on the part that ends where they stood ("pass it back exactly
  // as received", https://ai.google.dev/gemini-api/docs/thought-signatures; for an answer without a
  // call it is on the last part, and a stream may bring it on a final empty text part, which goes
  // back joined to the text before it). Between two signatures, text comes before calls, as Gemini
  // sends them.
  const text = message.content == null ? '' : joinText(message.content);
  const out: Part[] = [];
  let textAt = 0;
  let callAt = 0;
  let pending: string | undefined;
  const push = (part: Part) => {
    if (pending !== undefined && part.thoughtSignature === undefined) {
      part.thoughtSignature = pending;
      pending = undefined;
    }
    out.push(part);
  };
  for (const d of signatures) {
    const after = d.after as { content?: unknown; tool_calls?: unknown } | undefined;
    const textEnd = Math.max(textAt, Math.min(text.length, count(after?.content)));
    if (textEnd > textAt) push({ text: text.slice(textAt, textEnd) });
    textAt = textEnd;
    const callEnd = Math.max(callAt, Math.min(calls.length, count(after?.tool_calls)));
    while (callAt < callEnd) push(calls[callAt++]);
    const last = out[out.length - 1];
    // A signature with no unsigned part before it (one on an empty part after a signed call) goes on
    // the next part, or is left out when none follows: an empty text part is refused.
    if (last !== undefined && last.thoughtSignature === undefined) last.thoughtSignature = d.signature;
    else pending = d.signature;
  }
  if (textAt < text.length) push({ text: text.slice(textAt) });
  while (callAt < calls.length) push(calls[callAt++]);
  return out;
}

function count(value: unknown): number {
  return typeof value === 'number' && value > 0 ? value : 0;
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

/**
 * A JSON Schema for `parametersJsonSchema` / `responseJsonSchema`: unchanged but for the top-level
 * `$schema` / `$id` markers that generators add and that say nothing about the shape.
 */
export function toJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function isEmptyObjectSchema(schema: unknown): boolean {
  if (!isPlainObject(schema) || schema.type !== 'object') return false;
  const properties = schema.properties;
  return properties === undefined || (isPlainObject(properties) && Object.keys(properties).length === 0);
}

/** Non-empty text parts only: Gemini rejects an empty `text` in any turn and in `systemInstruction`. */
function textParts(content: string | { type: 'text'; text: string }[]): { text: string }[] {
  const parts = typeof content === 'string' ? [{ text: content }] : content.map((p) => ({ text: p.text }));
  return parts.filter((p) => p.text !== '');
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
