/**
 * Neutral `ChatRequest` → OpenAI Responses API body (`POST /responses`).
 *
 * Wire format: https://platform.openai.com/docs/api-reference/responses/create. System and developer
 * messages → `instructions`; user/assistant messages → `message` input items; assistant tool calls →
 * `function_call` items; tool results → `function_call_output` items; tools → flat function tools;
 * `max_tokens` → `max_output_tokens`; `reasoning_effort` → `reasoning.effort`; `response_format` →
 * `text.format`.
 */
import { RequestValidationError } from '../../errors';
import type { ChatMessage, ChatRequest } from '../../request';

/** Responses-only top-level fields passed through unchanged when a caller puts them on the request. */
export const RESPONSES_PASSTHROUGH_FIELDS = [
  'store',
  'previous_response_id',
  'include',
  'truncation',
  'metadata',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
  'background',
] as const;

type Item = Record<string, unknown>;

/** `reasoning_details` type of a Responses reasoning item (`id`, summary in `text`, `encrypted_content` in `data`). */
export const RESPONSES_REASONING = 'openai.reasoning';
type Issue = { path: (string | number)[]; message: string };

/** The JSON body for `POST /responses`. Throws `RequestValidationError` for what cannot be translated. */
export function toResponsesBody(
  request: ChatRequest,
  model: string,
  streaming: boolean,
): Record<string, unknown> {
  const issues: Issue[] = [];
  const instructions: string[] = [];
  const input: Item[] = [];
  request.messages.forEach((message: ChatMessage, i) => {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = joinText(message.content);
        if (text) instructions.push(text);
        break;
      }
      case 'user':
        input.push({ type: 'message', role: 'user', content: userContent(message.content) });
        break;
      case 'assistant': {
        // Reasoning items of an earlier Responses turn go back first, as they came (by id, with the
        // encrypted content when the call asked for it): the model keeps its reasoning across tool calls.
        for (const d of message.reasoning_details ?? []) {
          if (d.type !== RESPONSES_REASONING || typeof d.id !== 'string') continue;
          const item: Item = {
            type: 'reasoning',
            id: d.id,
            summary: d.text ? [{ type: 'summary_text', text: d.text }] : [],
          };
          if (d.data) item.encrypted_content = d.data;
          input.push(item);
        }
        const text = message.content == null ? '' : joinText(message.content);
        if (text) input.push({ type: 'message', role: 'assistant', content: text });
        for (const call of message.tool_calls ?? []) {
          input.push({
            type: 'function_call',
            call_id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
          });
        }
        if (!text && !message.tool_calls?.length && !message.refusal) {
          issues.push({ path: ['messages', i], message: 'an assistant message needs content or tool calls' });
        }
        break;
      }
      case 'tool':
        // A function_call_output is `call_id` + `output` (+ item `id`/`status`): no error flag, so an
        // error result (`is_error`) goes as its text alone.
        input.push({
          type: 'function_call_output',
          call_id: message.tool_call_id,
          output: joinText(message.content),
        });
        break;
    }
  });
  // The API refuses a request without input even when it has instructions, unless it continues a
  // stored response (pydantic-ai#3470, "Support instructions-only agent run").
  if (input.length === 0 && (request as Record<string, unknown>).previous_response_id === undefined) {
    issues.push({
      path: ['messages'],
      message:
        'the Responses API needs at least one user, assistant or tool message (system messages go to instructions) unless previous_response_id is set',
    });
  }
  if (request.n !== undefined && request.n > 1) {
    issues.push({ path: ['n'], message: 'the Responses API returns one output per request; n must be 1' });
  }
  if (issues.length > 0) {
    throw new RequestValidationError(
      `Invalid request for the Responses API: ${issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      issues,
    );
  }

  const body: Record<string, unknown> = { model, input };
  if (instructions.length > 0) body.instructions = instructions.join('\n\n');
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined) body.max_output_tokens = maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.parallel_tool_calls !== undefined) body.parallel_tool_calls = request.parallel_tool_calls;
  if (request.user !== undefined) body.user = request.user;
  if (request.tools?.length) {
    body.tools = request.tools.map(({ function: f }) => ({
      type: 'function',
      name: f.name,
      ...(f.description !== undefined && { description: f.description }),
      parameters: f.parameters ?? { type: 'object', properties: {} },
      // Chat Completions' default; the Responses API would otherwise make every schema strict.
      strict: f.strict ?? false,
    }));
  }
  const choice = request.tool_choice;
  if (choice !== undefined) {
    body.tool_choice = typeof choice === 'string' ? choice : { type: 'function', name: choice.function.name };
  }
  const extra = request as Record<string, unknown>;
  const reasoning = { ...(isObject(extra.reasoning) ? extra.reasoning : {}) };
  if (typeof extra.reasoning_effort === 'string') reasoning.effort = extra.reasoning_effort;
  if (Object.keys(reasoning).length > 0) body.reasoning = reasoning;
  const format = request.response_format;
  if (format?.type === 'json_object') body.text = { format: { type: 'json_object' } };
  else if (format?.type === 'json_schema') {
    const { name, schema, strict, description } = format.json_schema;
    body.text = {
      format: {
        type: 'json_schema',
        name,
        schema: schema ?? {},
        ...(strict != null && { strict }),
        ...(description !== undefined && { description }),
      },
    };
  }
  for (const field of RESPONSES_PASSTHROUGH_FIELDS) {
    if (extra[field] !== undefined) body[field] = extra[field];
  }
  if (streaming) body.stream = true;
  return body;
}

function userContent(content: Extract<ChatMessage, { role: 'user' }>['content']): string | Item[] {
  if (typeof content === 'string') return content;
  return content.map((part) =>
    part.type === 'text'
      ? { type: 'input_text', text: part.text }
      : { type: 'input_image', image_url: part.image_url.url, detail: part.image_url.detail ?? 'auto' },
  );
}

function joinText(content: string | { type: 'text'; text: string }[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
