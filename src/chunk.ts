/**
 * The one normalized chunk shape: OpenAI's `chat.completion.chunk`, whatever the provider.
 *
 * The TypeScript types are what users program against. The zod schemas of the wire shape live in
 * `./chunkSchema` (exported from `rxllm` only), so the browser path (`rxllm/browser`, the operators)
 * never loads zod; the streaming hot path checks only the fields it relies on.
 */

/** OpenAI's finish reasons. Providers that say something else keep their raw value in `raw_finish_reason`. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/** Token counts. `prompt_tokens` includes cached tokens; `completion_tokens` includes reasoning tokens. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /**
   * `cached_tokens`: prompt tokens read from a cache. `cache_creation_tokens`: prompt tokens written
   * to a cache (Anthropic prompt caching), so cache writes and reads stay recoverable from the sum;
   * `cache_creation_1h_tokens`: those of them written to a 1-hour cache (billed higher).
   */
  prompt_tokens_details?: {
    cached_tokens?: number;
    cache_creation_tokens?: number;
    cache_creation_1h_tokens?: number;
    [k: string]: unknown;
  } | null;
  completion_tokens_details?: { reasoning_tokens?: number; [k: string]: unknown } | null;
}

/** One streamed tool-call fragment. The first fragment of a call carries `id`, `type` and `function.name`. */
export interface ToolCallDelta {
  /**
   * Position of the call in the message. OpenAI always sends it; some OpenAI-compatible servers omit
   * it (then `accumulateChunks` matches the fragment by `id`, else continues the last call) or start at 1.
   */
  index?: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  /** Provider data that must be sent back with the call (Gemini: `{ google: { thought_signature } }`). */
  extra_content?: Record<string, unknown>;
}

/**
 * One piece of provider reasoning that must be sent back unchanged in the next turn: Anthropic's
 * thinking blocks (text + `signature`) and `redacted_thinking` blocks (without them a thinking +
 * tools loop is rejected on turn 2). Streamed as fragments keyed by `index` (the block's
 * position among the message's reasoning blocks); `accumulateChunks` concatenates `text`,
 * `signature` and `data` per index, so the merged assistant message can be pushed back as it is.
 */
export interface ReasoningDetail {
  /** Position among the message's reasoning blocks (fragments of one block share it). */
  index: number;
  /**
   * Anthropic's `thinking` (readable text with a signature) and `redacted_thinking` (an opaque
   * `data` payload); other values are a gateway's own (OpenRouter's `reasoning.*`), kept as they came.
   */
  type: 'thinking' | 'redacted_thinking' | (string & {});
  text?: string;
  signature?: string;
  data?: string;
  /**
   * Where the block stood in the message, for a provider that wants the same order back: after
   * `content` characters of the message's text and `tool_calls` of its calls. Anthropic's interleaved
   * thinking blocks (a block after text or a `tool_use`) and Gemini's text-part thought signatures
   * (`type: 'google.thought_signature'`, on the text part ending there) carry it; without it a block
   * stands before the text and the calls. Set on the block's first fragment.
   */
  after?: { content: number; tool_calls: number };
  /** Other fields of a provider's block (the Responses API's item `id`, a gateway's `format`), kept. */
  [key: string]: unknown;
}

/** What a chunk adds to one choice. Every field may be absent; `content` may also be `null`. */
export interface ChunkDelta {
  role?: 'assistant' | 'system' | 'user' | 'tool' | 'developer';
  content?: string | null;
  refusal?: string | null;
  /** Reasoning/thinking text (DeepSeek `reasoning_content`, Anthropic thinking, Gemini thoughts). Never part of `content`. */
  reasoning?: string | null;
  /** Fragments of reasoning blocks to send back next turn (see {@link ReasoningDetail}). */
  reasoning_details?: ReasoningDetail[];
  tool_calls?: ToolCallDelta[];
}

export interface ChunkChoice {
  index: number;
  delta: ChunkDelta;
  finish_reason: FinishReason | null;
  /** The provider's own finish reason when it is not OpenAI's vocabulary (`end_turn`, `SAFETY`, ...). */
  raw_finish_reason?: string;
  logprobs?: unknown;
}

/** A signal, not content: everything received before it is to be discarded (a stream was restarted). */
export interface ChunkReset {
  /** Which attempt starts with the chunks after this one (1 = first retry). */
  attempt: number;
  /** Why the stream restarted (the error's message). */
  reason: string;
}

export interface Chunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint?: string | null;
  /** Empty in the usage-only final chunk (see {@link isUsageChunk}). */
  choices: ChunkChoice[];
  usage?: Usage | null;
  /**
   * Usage the provider reported before the end of the stream (Anthropic's `message_start`: the
   * prompt's tokens, with output tokens so far). A stopped or cut call is billed at least this
   * much; `trackUsage` and `budget` cost such a call from it. The final `usage` supersedes it, and
   * `accumulateChunks` and `usage()` ignore it.
   */
  partial_usage?: Usage;
  /**
   * Set only on a reset chunk (`choices: []`) emitted by `retryBackoff({ resume: 'restart' })`:
   * consumers drop what they built so far. `accumulateChunks` and the SSE helpers honour it.
   */
  reset?: ChunkReset;
}

/** A usage-only chunk: `choices: []` with a `usage` object (the last chunk when usage is requested). */
export type UsageChunk = Chunk & { choices: []; usage: Usage };

/** True for the usage-only final chunk. */
export function isUsageChunk(chunk: Chunk): chunk is UsageChunk {
  return chunk.choices.length === 0 && chunk.usage != null;
}

/** True for a reset signal (see {@link Chunk.reset}). */
export function isResetChunk(chunk: Chunk): chunk is Chunk & { reset: ChunkReset } {
  return chunk.reset !== undefined;
}

/** A tool call in a complete message. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Provider data to send back with the call in the next turn (see {@link ToolCallDelta.extra_content}). */
  extra_content?: Record<string, unknown>;
}

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  refusal?: string | null;
  reasoning?: string | null;
  /** Whole reasoning blocks, in order, to send back with this message (see {@link ReasoningDetail}). */
  reasoning_details?: ReasoningDetail[];
  tool_calls?: ToolCall[];
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  finish_reason: FinishReason | null;
  raw_finish_reason?: string;
  logprobs?: unknown;
}

/** A whole response: what `complete()` returns and what `accumulateChunks` builds. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: ChatCompletionChoice[];
  /** `null` when the provider reported none; never a made-up zero. */
  usage: Usage | null;
}
