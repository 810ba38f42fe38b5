/**
 * OpenAI chat-completions SSE events → rxllm chunks (already rxllm's shape: only the fields rxllm
 * relies on are checked, and known dialects are fixed in place; no deep zod parse per chunk).
 *
 * Wire format: https://platform.openai.com/docs/api-reference/chat-streaming — `data: {chunk}` events
 * ending with `data: [DONE]`.
 */
import type { Chunk, FinishReason } from '../../chunk';
import { StreamCutError, StreamParseError } from '../../errors';
import { inBandError } from '../../inBandError';
import { parseProviderJson } from '../../transport/json';
import type { EventSourceMessage, SseEventDecoder } from '../../transport/sse';

export const FINISH_REASONS: ReadonlySet<string> = new Set<string>([
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
]);

/** Other vocabularies seen on compatible servers → OpenAI's. Unknown values map to `stop`. */
const FINISH_ALIASES: Record<string, FinishReason> = {
  eos: 'stop',
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_length: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  safety: 'content_filter',
};

/** Maps a non-OpenAI finish reason; the caller keeps the raw one beside it. */
export function mapFinishReason(raw: string): FinishReason {
  return FINISH_ALIASES[raw.toLowerCase()] ?? 'stop';
}

/**
 * Per-stream state: which choices finished, whether `[DONE]` arrived. A stream that ends with
 * neither is cut (`StreamCutError`, retryable); one that ends after every choice finished is whole
 * even without `[DONE]` (some servers never send it, or send it without the final blank line).
 */
export class OpenAIStreamDecoder implements SseEventDecoder<Chunk> {
  private done = false;
  private readonly seen = new Set<number>();
  private readonly finished = new Set<number>();

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    if (this.done) return;
    const data = event.data;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const value = parseProviderJson(data, 'The provider', 'event');
    if (value !== null && typeof value === 'object' && value.error != null) {
      throw inBandError(value);
    }
    if (event.event === 'error') throw inBandError({ error: value });
    emit(this.normalize(value, data));
  }

  end(): StreamCutError | void {
    if (this.done) return;
    if (this.seen.size > 0 && this.finished.size >= this.seen.size) return;
    return new StreamCutError();
  }

  /** Checks the fields rxllm relies on and fixes known dialects in place. */
  private normalize(value: any, data: string): Chunk {
    if (value === null || typeof value !== 'object' || !Array.isArray(value.choices)) {
      throw new StreamParseError(
        'invalid-event',
        'A stream event is not a chat.completion.chunk (no choices array).',
        data,
      );
    }
    const choices = value.choices;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i];
      if (choice === null || typeof choice !== 'object') {
        throw new StreamParseError('invalid-event', 'A chunk choice is not an object.', data);
      }
      if (typeof choice.index !== 'number') choice.index = i;
      let delta = choice.delta;
      if (delta == null) {
        choice.delta = delta = {};
      } else if (typeof delta !== 'object') {
        throw new StreamParseError('invalid-event', 'A chunk delta is not an object.', data);
      }
      if (delta.content != null && typeof delta.content !== 'string') {
        throw new StreamParseError('invalid-event', 'A chunk delta has non-string content.', data);
      }
      if (delta.tool_calls != null) checkToolCalls(delta.tool_calls, data);
      // DeepSeek, vLLM and others stream reasoning as `reasoning_content`.
      if (delta.reasoning_content !== undefined) {
        if (delta.reasoning == null) delta.reasoning = delta.reasoning_content;
        delete delta.reasoning_content;
      }
      this.trackFinish(choice);
    }
    if (value.object !== 'chat.completion.chunk') value.object = 'chat.completion.chunk';
    if (typeof value.id !== 'string') value.id = value.id == null ? '' : String(value.id);
    if (typeof value.created !== 'number') value.created = 0;
    if (typeof value.model !== 'string') value.model = '';
    return value as Chunk;
  }

  private trackFinish(choice: any): void {
    this.seen.add(choice.index);
    const reason = choice.finish_reason;
    // sglang, Ollama's older /v1 and some gateways send `""` on every chunk that has not finished.
    if (reason === undefined || reason === '') {
      choice.finish_reason = null;
    } else if (reason !== null) {
      if (!FINISH_REASONS.has(reason)) {
        choice.raw_finish_reason = String(reason);
        choice.finish_reason = mapFinishReason(String(reason));
      }
      this.finished.add(choice.index);
    }
  }
}

/**
 * Checks each tool-call fragment so a malformed one ends the stream with a `StreamParseError` here,
 * not as a raw `TypeError` later inside `accumulateChunks` (`tool_calls: [null]`, a
 * non-object `function`, a non-string `arguments` or `name`).
 */
function checkToolCalls(calls: unknown, data: string): void {
  if (!Array.isArray(calls)) {
    throw new StreamParseError('invalid-event', 'A chunk delta has tool_calls that are not an array.', data);
  }
  for (const call of calls) {
    if (call === null || typeof call !== 'object' || Array.isArray(call)) {
      throw new StreamParseError('invalid-event', 'A tool-call fragment is not an object.', data);
    }
    const { function: fn, id, index } = call as Record<string, unknown>;
    if (index != null && typeof index !== 'number') {
      throw new StreamParseError('invalid-event', 'A tool-call fragment has a non-numeric index.', data);
    }
    if (id != null && typeof id !== 'string') {
      throw new StreamParseError('invalid-event', 'A tool-call fragment has a non-string id.', data);
    }
    if (fn == null) continue;
    if (typeof fn !== 'object' || Array.isArray(fn)) {
      throw new StreamParseError('invalid-event', 'A tool-call fragment has a non-object function.', data);
    }
    const { name, arguments: args } = fn as Record<string, unknown>;
    if (name != null && typeof name !== 'string') {
      throw new StreamParseError('invalid-event', 'A tool-call fragment has a non-string name.', data);
    }
    if (args != null && typeof args !== 'string') {
      throw new StreamParseError('invalid-event', 'A tool-call fragment has non-string arguments.', data);
    }
  }
}
