/**
 * Neutral (OpenAI-shaped) `ChatRequest` → Anthropic Messages request body.
 *
 * Wire format: https://docs.anthropic.com/en/api/messages. Differences handled here: the system
 * prompt is a top-level field, tool calls and tool results are content blocks, a tool result is a
 * *user* turn, `max_tokens` is required, and `tool_choice` has its own vocabulary.
 */
import type { ChatMessage, ChatRequest } from '../../request';
import { RequestValidationError } from '../../errors';

/** Defaults of the Anthropic request translation. */
export const ANTHROPIC_REQUEST_DEFAULTS = {
  /**
   * Anthropic requires `max_tokens`; OpenAI-shaped requests usually omit it. 4096 is accepted by
   * every current Claude model and is what the official examples use for chat turns.
   */
  maxTokens: 4096,
} as const;

/**
 * Top-level request fields that exist only in Anthropic's API and are passed through unchanged when
 * a caller puts them on the neutral request. Every other unknown field (OpenAI's `reasoning_effort`,
 * `logit_bias`, `seed`, penalties, `response_format`, ...) is dropped, because Anthropic rejects
 * unknown fields with a 400.
 */
export const ANTHROPIC_PASSTHROUGH_FIELDS = [
  'thinking',
  'metadata',
  'top_k',
  'service_tier',
  'output_config',
] as const;

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

type Issue = { path: (string | number)[]; message: string };

/** Builds the JSON body for `POST /messages`. Throws `RequestValidationError` for what cannot be translated. */
export function toAnthropicBody(
  request: ChatRequest,
  model: string,
  streaming: boolean,
  defaultMaxTokens: number = ANTHROPIC_REQUEST_DEFAULTS.maxTokens,
): Record<string, unknown> {
  const issues: Issue[] = [];
  const system: Block[] = [];
  const turns: Turn[] = [];

  const push = (role: Turn['role'], content: Block[]) => {
    if (content.length === 0) return;
    const last = turns[turns.length - 1];
    // Anthropic wants alternating turns; consecutive tool results (and a user message after them)
    // form one user turn, with the tool_result blocks first, as its docs require.
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content });
  };

  request.messages.forEach((message: ChatMessage, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(message.content));
        break;
      case 'user':
        push('user', userBlocks(message.content));
        break;
      case 'assistant':
        push('assistant', assistantBlocks(message, i, issues));
        break;
      case 'tool':
        push('user', [
          {
            type: 'tool_result',
            tool_use_id: message.tool_call_id,
            content: typeof message.content === 'string' ? message.content : textBlocks(message.content),
            // "Set to true if the tool execution resulted in an error" (tool_result block,
            // https://docs.anthropic.com/en/docs/build-with-claude/tool-use/implement-tool-use).
            ...(message.is_error === true && { is_error: true }),
          },
        ]);
        break;
    }
  });

  if (request.temperature !== undefined && request.temperature > 1) {
    issues.push({ path: ['temperature'], message: 'Anthropic takes a temperature from 0 to 1' });
  }
  const format = request.response_format;
  if (format?.type === 'json_object') {
    issues.push({
      path: ['response_format'],
      message:
        'Anthropic has no JSON mode without a schema: use response_format json_schema (sent as output_config.format)',
    });
  } else if (format?.type === 'json_schema' && !format.json_schema.schema) {
    issues.push({
      path: ['response_format', 'json_schema', 'schema'],
      message: 'Anthropic needs the schema',
    });
  }
  const extra = request as Record<string, unknown>;
  const maxTokens = maxTokensFor(request, extra.thinking, defaultMaxTokens, issues);
  if (request.n !== undefined && request.n > 1) {
    issues.push({ path: ['n'], message: 'Anthropic returns one choice per request; n must be 1' });
  }
  if (turns.length === 0) {
    issues.push({ path: ['messages'], message: 'Anthropic needs at least one user or assistant message' });
  }
  if (issues.length > 0) {
    throw new RequestValidationError(
      `Invalid request for Anthropic: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      issues,
    );
  }

  const body: Record<string, unknown> = {
    model,
    max_tokens: maxTokens,
    messages: turns,
  };
  // A string when it can be; blocks when there are several or one carries cache_control.
  if (system.length === 1 && system[0].cache_control === undefined) body.system = system[0].text;
  else if (system.length > 0) body.system = system;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.stop !== undefined) {
    body.stop_sequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  }
  if (request.tools?.length) {
    body.tools = request.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined && { description: t.function.description }),
      // Anthropic requires an input_schema; a tool without parameters takes an empty object.
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
      // Strict tool use (structured outputs): the input always matches the schema.
      ...(t.function.strict === true && { strict: true }),
      ...(t.cache_control !== undefined && { cache_control: t.cache_control }),
    }));
  }
  if (format?.type === 'json_schema') {
    // Structured outputs (https://docs.claude.com/en/docs/build-with-claude/structured-outputs).
    // Merged with a caller's own output_config (e.g. `effort`), which passes through below.
    const own = extra.output_config;
    body.output_config = {
      ...(own !== null && typeof own === 'object' ? own : {}),
      format: { type: 'json_schema', schema: format.json_schema.schema },
    };
  }
  const toolChoice = toToolChoice(request);
  if (toolChoice) body.tool_choice = toolChoice;
  for (const field of ANTHROPIC_PASSTHROUGH_FIELDS) {
    if (extra[field] !== undefined && body[field] === undefined) body[field] = extra[field];
  }
  // OpenAI's end-user id has an Anthropic equivalent.
  if (request.user !== undefined && body.metadata === undefined) body.metadata = { user_id: request.user };
  if (streaming) body.stream = true;
  return body;
}

type TextContent = string | { type: 'text'; text: string; cache_control?: unknown }[];

function textBlocks(content: TextContent): Block[] {
  // Anthropic rejects empty text blocks.
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return content.filter((p) => p.text).map((p) => withCache({ type: 'text', text: p.text }, p));
}

/** Copies a part's `cache_control` mark (prompt caching) onto the block made from it. */
function withCache(block: Block, part: { cache_control?: unknown }): Block {
  if (part.cache_control !== undefined) block.cache_control = part.cache_control;
  return block;
}

/**
 * `max_tokens`: the caller's, else the default. With extended thinking, `budget_tokens` must be
 * below `max_tokens` (https://docs.claude.com/en/docs/build-with-claude/extended-thinking): an
 * explicit `max_tokens` at or under the budget fails before sending; a default grows to
 * budget + default so the answer still has room.
 */
function maxTokensFor(
  request: ChatRequest,
  thinking: unknown,
  defaultMaxTokens: number,
  issues: Issue[],
): number {
  const explicit = request.max_tokens ?? request.max_completion_tokens;
  const budget = (thinking as { type?: unknown; budget_tokens?: unknown } | undefined)?.budget_tokens;
  const thinkingOn = (thinking as { type?: unknown } | undefined)?.type === 'enabled';
  if (!thinkingOn || typeof budget !== 'number') return explicit ?? defaultMaxTokens;
  if (explicit === undefined) return budget < defaultMaxTokens ? defaultMaxTokens : budget + defaultMaxTokens;
  if (budget >= explicit) {
    issues.push({
      path: ['thinking', 'budget_tokens'],
      message: `thinking.budget_tokens (${budget}) must be below max_tokens (${explicit})`,
    });
  }
  return explicit;
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function userBlocks(content: Extract<ChatMessage, { role: 'user' }>['content']): Block[] {
  if (typeof content === 'string') return textBlocks(content);
  const out: Block[] = [];
  for (const part of content) {
    if (part.type === 'text') {
      if (part.text) out.push(withCache({ type: 'text', text: part.text }, part));
      continue;
    }
    const url = part.image_url.url;
    const data = DATA_URL.exec(url);
    out.push(
      withCache(
        {
          type: 'image',
          source: data ? { type: 'base64', media_type: data[1], data: data[2] } : { type: 'url', url },
        },
        part,
      ),
    );
  }
  return out;
}

function assistantBlocks(
  message: Extract<ChatMessage, { role: 'assistant' }>,
  i: number,
  issues: Issue[],
): Block[] {
  // Thinking blocks go back first, unchanged, with their signatures: Anthropic rejects a tool_use
  // turn whose thinking block is missing when thinking is on (extended-thinking docs, "tool use").
  const out: Block[] = [];
  for (const d of message.reasoning_details ?? []) {
    if (d.type === 'redacted_thinking') out.push({ type: 'redacted_thinking', data: d.data ?? '' });
    else if (d.type === 'thinking') {
      out.push({ type: 'thinking', thinking: d.text ?? '', signature: d.signature ?? '' });
    }
    // Other types are another provider's (a gateway's): Anthropic would reject them.
  }
  if (message.content) out.push(...textBlocks(message.content));
  message.tool_calls?.forEach((call, j) => {
    let input: unknown = {};
    const args = call.function.arguments;
    if (args.trim() !== '') {
      try {
        input = JSON.parse(args);
      } catch {
        issues.push({
          path: ['messages', i, 'tool_calls', j, 'function', 'arguments'],
          message: 'tool call arguments must be JSON (Anthropic takes the parsed object)',
        });
        return;
      }
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      issues.push({
        path: ['messages', i, 'tool_calls', j, 'function', 'arguments'],
        message: 'tool call arguments must be a JSON object',
      });
      return;
    }
    out.push({ type: 'tool_use', id: call.id, name: call.function.name, input });
  });
  return out;
}

function toToolChoice(request: ChatRequest): Block | undefined {
  const choice = request.tool_choice;
  // parallel_tool_calls:false is Anthropic's disable_parallel_tool_use, which lives in tool_choice.
  const serial = request.parallel_tool_calls === false;
  const extra = serial ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return request.tools?.length && serial ? { type: 'auto', ...extra } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...extra };
  if (choice === 'required') return { type: 'any', ...extra };
  return { type: 'tool', name: choice.function.name, ...extra };
}
