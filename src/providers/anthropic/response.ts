/**
 * Anthropic `Message` JSON (non-streaming) → `ChatCompletion`, plus the finish-reason and usage
 * mappings the stream decoder shares.
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  FinishReason,
  ReasoningDetail,
  ToolCall,
  Usage,
} from '../../chunk';
import { StreamParseError } from '../../errors';
import { inBandError } from '../../inBandError';
import { mapFinishReason } from '../openai/stream';

/** Token counts as Anthropic reports them (message_start, message_delta, Message.usage). */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** The cache writes split by TTL (https://docs.claude.com/en/docs/build-with-claude/prompt-caching). */
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number } | null;
}

/**
 * Anthropic stop reasons → OpenAI's (https://docs.anthropic.com/en/api/handling-stop-reasons).
 * end_turn/stop_sequence/tool_use/max_tokens/refusal come from the shared alias table; a context
 * window overflow truncated the output, like `length`; anything else (`pause_turn`, new values) → stop.
 */
export function anthropicFinishReason(raw: string): FinishReason {
  return raw === 'model_context_window_exceeded' ? 'length' : mapFinishReason(raw);
}

/**
 * Anthropic usage → rxllm `Usage`: prompt = input + cache writes + cache reads (Anthropic's
 * `input_tokens` excludes both), cache reads also in `prompt_tokens_details.cached_tokens`.
 */
export function toUsage(u: AnthropicUsage): Usage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + cacheRead;
  const completion = u.output_tokens ?? 0;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  // Reads and writes stay recoverable from the sum (issue 13): reads as OpenAI's cached_tokens,
  // writes as cache_creation_tokens.
  if (u.cache_read_input_tokens != null || u.cache_creation_input_tokens != null) {
    usage.prompt_tokens_details = { cached_tokens: cacheRead };
    if (u.cache_creation_input_tokens != null) {
      usage.prompt_tokens_details.cache_creation_tokens = u.cache_creation_input_tokens;
      // 1-hour writes cost 2x input, 5-minute ones 1.25x: cost() needs the split.
      const oneHour = u.cache_creation?.ephemeral_1h_input_tokens;
      if (typeof oneHour === 'number' && oneHour > 0) {
        usage.prompt_tokens_details.cache_creation_1h_tokens = oneHour;
      }
    }
  }
  return usage;
}

/** Copies the numeric fields of `from` over `into` (message_delta values are cumulative: last wins). */
export function mergeUsage(into: AnthropicUsage, from: unknown): void {
  if (from === null || typeof from !== 'object') return;
  const f = from as Record<string, unknown>;
  for (const key of [
    'input_tokens',
    'output_tokens',
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
  ] as const) {
    if (typeof f[key] === 'number') into[key] = f[key];
  }
  const split = f.cache_creation as Record<string, unknown> | null | undefined;
  if (split !== null && typeof split === 'object') {
    into.cache_creation = {};
    for (const key of ['ephemeral_5m_input_tokens', 'ephemeral_1h_input_tokens'] as const) {
      if (typeof split[key] === 'number') into.cache_creation[key] = split[key];
    }
  }
}

/** Translates a Message body; an `{type:'error'}` body in a 2xx becomes the `ApiError` it names. */
export function toChatCompletion(value: any, text: string, created: number): ChatCompletion {
  if (value !== null && typeof value === 'object' && value.error != null) throw inBandError(value);
  if (value === null || typeof value !== 'object' || !Array.isArray(value.content)) {
    throw new StreamParseError('invalid-body', 'Anthropic answered without a content array.', text);
  }
  let content: string | null = null;
  let reasoning: string | null = null;
  const toolCalls: ToolCall[] = [];
  const details: ReasoningDetail[] = [];
  // Where a thinking block stands when text or a tool_use came before it (interleaved thinking).
  const placed = (detail: ReasoningDetail): ReasoningDetail => {
    const text = content?.length ?? 0;
    if (text > 0 || toolCalls.length > 0) detail.after = { content: text, tool_calls: toolCalls.length };
    return detail;
  };
  for (const block of value.content) {
    if (block?.type === 'text' && typeof block.text === 'string') content = (content ?? '') + block.text;
    else if (block?.type === 'thinking' && typeof block.thinking === 'string') {
      reasoning = (reasoning ?? '') + block.thinking;
      const detail = placed({ index: details.length, type: 'thinking', text: block.thinking });
      if (typeof block.signature === 'string') detail.signature = block.signature;
      details.push(detail);
    } else if (block?.type === 'redacted_thinking' && typeof block.data === 'string') {
      details.push(placed({ index: details.length, type: 'redacted_thinking', data: block.data }));
    } else if (block?.type === 'tool_use') {
      toolCalls.push({
        id: String(block.id ?? ''),
        type: 'function',
        function: { name: String(block.name ?? ''), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const message: ChatCompletionMessage = { role: 'assistant', content };
  if (reasoning !== null) message.reasoning = reasoning;
  if (details.length > 0) message.reasoning_details = details;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const raw = typeof value.stop_reason === 'string' ? value.stop_reason : null;
  const choice: ChatCompletion['choices'][number] = {
    index: 0,
    message,
    finish_reason: raw === null ? null : anthropicFinishReason(raw),
  };
  if (raw !== null) choice.raw_finish_reason = raw;
  return {
    id: String(value.id ?? ''),
    object: 'chat.completion',
    created,
    model: String(value.model ?? ''),
    choices: [choice],
    usage: value.usage && typeof value.usage === 'object' ? toUsage(value.usage) : null,
  };
}
