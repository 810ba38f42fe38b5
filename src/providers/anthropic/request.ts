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
  const thinking = midTurnWithoutThinking(extra.thinking, turns) ? undefined : extra.thinking;
  const maxTokens = maxTokensFor(request, thinking, defaultMaxTokens, issues);
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
    if (field === 'thinking' && thinking === undefined) continue;
    if (extra[field] !== undefined && body[field] === undefined) body[field] = extra[field];
  }
  // OpenAI's end-user id has an Anthropic equivalent.
  if (request.user !== undefined && body.metadata === undefined) body.metadata = { user_id: request.user };
  if (streaming) body.stream = true;
  return body;
}

/**
 * True when `thinking: {type: 'enabled'}` would be switched on in the middle of an assistant turn:
 * the conversation ends with tool results, and the turn they continue (everything since the last user
 * message that is not only tool results) starts with an assistant message without a thinking block,
 * e.g. a tool loop whose first step ran without thinking, or that began on another provider.
 * Anthropic keeps one thinking mode per assistant turn ("you cannot toggle thinking in the middle of
 * an assistant turn, including during tool use loops", extended-thinking docs, "toggling thinking
 * modes"); the API now disables thinking for such a request itself ("graceful thinking
 * degradation"), where it used to answer 400 "Expected `thinking` or `redacted_thinking`, but found
 * `tool_use`" (still reported through Bedrock and Vertex, anomalyco/opencode#3077). Leaving
 * `thinking` out does what the API does, everywhere, as LiteLLM does with `modify_params`
 * (BerriAI/litellm#17106). Adaptive thinking is left alone: the model may skip thinking in any
 * response, so a turn without a thinking block is one it made itself.
 */
function midTurnWithoutThinking(thinking: unknown, turns: Turn[]): boolean {
  if ((thinking as { type?: unknown } | undefined)?.type !== 'enabled') return false;
  const isResults = (t: Turn) => t.role === 'user' && t.content.some((b) => b.type === 'tool_result');
  const last = turns[turns.length - 1];
  if (!last || !isResults(last)) return false;
  let start = turns.length - 1;
  while (start > 0 && (turns[start - 1].role === 'assistant' || isResults(turns[start - 1]))) start--;
  const first = turns[start];
  if (first.role !== 'assistant') return false;
  const type = first.content[0]?.type;
  return type !== 'thinking' && type !== 'redacted_thinking';
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
  const uses = toolUseBlocks(message, i, issues);
  const texts = message.content ? textBlocks(message.content) : [];
  // Thinking blocks go back unchanged, with their signatures, in the place they came: first, unless
  // one came after text or a tool_use (interleaved thinking). Anthropic rejects a tool_use turn whose
  // thinking block is missing when thinking is on, and a turn whose thinking blocks were rearranged
  // ("you cannot rearrange or modify the sequence of these blocks", extended-thinking docs,
  // "preserving thinking blocks").
  const out: Block[] = [];
  let textAt = 0; // characters of text sent so far
  let textIndex = 0;
  let split = 0; // characters of texts[textIndex] already sent
  let useIndex = 0;
  const sendText = (upTo: number) => {
    while (textIndex < texts.length && textAt < upTo) {
      const block = texts[textIndex];
      const text = block.text as string;
      const take = Math.min(text.length - split, upTo - textAt);
      const whole = split === 0 && take === text.length;
      // A text block cut by a thinking block: its cache mark stays on the last piece.
      out.push(
        whole
          ? block
          : withCache(
              { type: 'text', text: text.slice(split, split + take) },
              split + take === text.length ? block : {},
            ),
      );
      split += take;
      textAt += take;
      if (split === text.length) {
        textIndex++;
        split = 0;
      }
    }
  };
  const sendUses = (upTo: number) => {
    while (useIndex < upTo && useIndex < uses.length) out.push(uses[useIndex++]);
  };
  for (const d of message.reasoning_details ?? []) {
    let block: Block;
    if (d.type === 'redacted_thinking') block = { type: 'redacted_thinking', data: d.data ?? '' };
    else if (d.type === 'thinking')
      block = { type: 'thinking', thinking: d.text ?? '', signature: d.signature ?? '' };
    else continue; // Other types are another provider's (a gateway's): Anthropic would reject them.
    const after = placeOf(d.after);
    sendText(after.content);
    sendUses(after.tool_calls);
    out.push(block);
  }
  sendText(Infinity);
  sendUses(Infinity);
  return out;
}

/** A `ReasoningDetail.after` as numbers (absent or malformed: before everything). */
function placeOf(after: unknown): { content: number; tool_calls: number } {
  const a = after as { content?: unknown; tool_calls?: unknown } | undefined;
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : 0);
  return { content: num(a?.content), tool_calls: num(a?.tool_calls) };
}

function toolUseBlocks(
  message: Extract<ChatMessage, { role: 'assistant' }>,
  i: number,
  issues: Issue[],
): Block[] {
  const out: Block[] = [];
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
