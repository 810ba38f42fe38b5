/**
 * Anthropic Messages SSE events → rxllm chunks (OpenAI's chat.completion.chunk shape).
 *
 * Wire format: https://docs.anthropic.com/en/docs/build-with-claude/streaming — `event: <type>` +
 * `data: {"type": <type>, ...}`: message_start, then per content block content_block_start /
 * content_block_delta* / content_block_stop, then message_delta (stop reason, cumulative usage) and
 * message_stop; `ping` at any time; `error` in place of the rest. The hot path checks only the fields
 * it reads; unknown event and delta types are skipped, as Anthropic's versioning policy asks.
 */
import type { Chunk, ChunkChoice, ChunkDelta, ReasoningDetail } from '../../chunk';
import { StreamCutError, StreamParseError } from '../../errors';
import { parseProviderJson } from '../../transport/json';
import type { EventSourceMessage, SseEventDecoder } from '../../transport/sse';
import { inBandError } from '../../inBandError';
import { anthropicFinishReason, mergeUsage, toUsage, type AnthropicUsage } from './response';

/** What the decoder remembers about one content block, by its Anthropic `index`. */
interface BlockState {
  type: string;
  /** Position among the message's tool_use blocks: the OpenAI `tool_calls[].index`. */
  toolIndex: number;
  /** A non-empty `partial_json` fragment was emitted. */
  hasArguments: boolean;
  /** Position among the message's thinking/redacted_thinking blocks: the `reasoning_details` index. */
  detailIndex: number;
}

/**
 * Per-stream state. A stream that ends without `message_stop` is cut (`StreamCutError`, retryable);
 * an `error` event ends it with the `ApiError` its type implies (overloaded_error → 529 ServerError).
 *
 * Thinking blocks also stream as `reasoning_details` fragments (text, then the `signature_delta`),
 * and `redacted_thinking` blocks as one fragment with their `data`: `accumulateChunks` rebuilds the
 * blocks, and the next request sends them back before the `tool_use` blocks, as Anthropic requires.
 * A block that comes after text or a `tool_use` (interleaved thinking) says where it stood
 * (`ReasoningDetail.after`), so it goes back in the same place.
 */
export class AnthropicStreamDecoder implements SseEventDecoder<Chunk> {
  private done = false;
  private id = '';
  private model = '';
  private readonly usage: AnthropicUsage = {};
  private readonly blocks = new Map<number, BlockState>();
  private tools = 0;
  private details = 0;
  /** Characters of text emitted so far: where a thinking block stands among text and tool_use blocks. */
  private text = 0;

  /**
   * @param created `created` of every chunk (Unix seconds): Anthropic events carry no timestamp.
   * @param includeUsage emit the usage-only chunk after the finish chunk.
   */
  constructor(
    private readonly created: number,
    private readonly includeUsage = true,
  ) {}

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    if (this.done) return;
    const value = parseProviderJson(event.data, 'Anthropic', 'event');
    if (value === null || typeof value !== 'object') {
      throw new StreamParseError('invalid-event', 'An Anthropic stream event is not an object.', event.data);
    }
    switch (value.type) {
      case 'message_start':
        return this.messageStart(value, emit);
      case 'content_block_start':
        return this.blockStart(value, event.data, emit);
      case 'content_block_delta':
        return this.blockDelta(value, event.data, emit);
      case 'content_block_stop':
        return this.blockStop(value, emit);
      case 'message_delta':
        return this.messageDelta(value, emit);
      case 'message_stop':
        this.done = true;
        return;
      case 'ping':
        return;
      case 'error':
        throw inBandError(value);
      default:
        if (event.event === 'error' || value.error != null)
          throw inBandError({ error: value.error ?? value });
    }
  }

  end(): StreamCutError | void {
    if (!this.done) return new StreamCutError('The Anthropic stream ended before message_stop.');
  }

  private chunk(
    delta: ChunkDelta,
    finish: Pick<ChunkChoice, 'finish_reason' | 'raw_finish_reason'> = {
      finish_reason: null,
    },
  ): Chunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, ...finish }],
    };
  }

  private messageStart(value: any, emit: (chunk: Chunk) => void): void {
    const message = value.message ?? {};
    if (typeof message.id === 'string') this.id = message.id;
    if (typeof message.model === 'string') this.model = message.model;
    mergeUsage(this.usage, message.usage);
    const chunk = this.chunk({ role: 'assistant' });
    // message_start already reports the prompt's tokens (input, cache writes and reads), which
    // Anthropic bills even when the stream is stopped or cut before message_delta
    // (https://docs.claude.com/en/docs/build-with-claude/streaming): carried on the role chunk as
    // `partial_usage` so trackUsage/budget can cost a stopped call. Not `usage`: the final usage
    // and what accumulateChunks reports stay what the provider reported at the end.
    if (this.includeUsage && message.usage !== null && typeof message.usage === 'object') {
      chunk.partial_usage = toUsage(this.usage);
    }
    emit(chunk);
  }

  private index(value: any, data: string): number {
    if (typeof value.index !== 'number') {
      throw new StreamParseError('invalid-event', `An Anthropic ${value.type} event has no index.`, data);
    }
    return value.index;
  }

  private blockStart(value: any, data: string, emit: (chunk: Chunk) => void): void {
    const index = this.index(value, data);
    const block = value.content_block;
    if (block === null || typeof block !== 'object') {
      throw new StreamParseError('invalid-event', 'A content_block_start has no content_block.', data);
    }
    const state: BlockState = {
      type: String(block.type),
      toolIndex: -1,
      hasArguments: false,
      detailIndex: -1,
    };
    this.blocks.set(index, state);
    if (block.type === 'text' && typeof block.text === 'string' && block.text) {
      this.text += block.text.length;
      emit(this.chunk({ content: block.text }));
    } else if (block.type === 'thinking') {
      state.detailIndex = this.details++;
      const text = typeof block.thinking === 'string' ? block.thinking : '';
      const signature = typeof block.signature === 'string' ? block.signature : '';
      const detail: ReasoningDetail = this.placed({ index: state.detailIndex, type: 'thinking', text });
      if (signature) detail.signature = signature;
      emit(
        this.chunk(text ? { reasoning: text, reasoning_details: [detail] } : { reasoning_details: [detail] }),
      );
    } else if (block.type === 'redacted_thinking') {
      state.detailIndex = this.details++;
      const payload = expectString(block.data ?? '', 'data', data);
      emit(
        this.chunk({
          reasoning_details: [
            this.placed({ index: state.detailIndex, type: 'redacted_thinking', data: payload }),
          ],
        }),
      );
    } else if (block.type === 'tool_use') {
      // Only client tools: server_tool_use (web search, code execution) runs at Anthropic, not here.
      state.toolIndex = this.tools++;
      emit(
        this.chunk({
          tool_calls: [
            {
              index: state.toolIndex,
              id: String(block.id ?? ''),
              type: 'function',
              function: { name: String(block.name ?? ''), arguments: '' },
            },
          ],
        }),
      );
    }
  }

  private blockDelta(value: any, data: string, emit: (chunk: Chunk) => void): void {
    const index = this.index(value, data);
    const delta = value.delta;
    if (delta === null || typeof delta !== 'object') {
      throw new StreamParseError('invalid-event', 'A content_block_delta has no delta.', data);
    }
    switch (delta.type) {
      case 'text_delta':
        if (delta.text) {
          const text = expectString(delta.text, 'text', data);
          this.text += text.length;
          emit(this.chunk({ content: text }));
        }
        return;
      case 'thinking_delta': {
        const text = expectString(delta.thinking ?? '', 'thinking', data);
        const state = this.blocks.get(index);
        if (!text) return;
        const out: ChunkDelta = { reasoning: text };
        if (state && state.detailIndex >= 0) {
          out.reasoning_details = [{ index: state.detailIndex, type: 'thinking', text }];
        }
        emit(this.chunk(out));
        return;
      }
      case 'signature_delta': {
        const signature = expectString(delta.signature ?? '', 'signature', data);
        const state = this.blocks.get(index);
        if (!signature || !state || state.detailIndex < 0) return;
        emit(this.chunk({ reasoning_details: [{ index: state.detailIndex, type: 'thinking', signature }] }));
        return;
      }
      case 'input_json_delta': {
        const state = this.blocks.get(index);
        const fragment = expectString(delta.partial_json ?? '', 'partial_json', data);
        if (!state || state.toolIndex < 0 || fragment === '') return;
        state.hasArguments = true;
        emit(this.chunk({ tool_calls: [{ index: state.toolIndex, function: { arguments: fragment } }] }));
        return;
      }
      default:
      // citations_delta and future delta types carry nothing rxllm's chunk can hold.
    }
  }

  /** A block's first fragment, with where it stands when text or a tool_use came before it. */
  private placed(detail: ReasoningDetail): ReasoningDetail {
    if (this.text > 0 || this.tools > 0) detail.after = { content: this.text, tool_calls: this.tools };
    return detail;
  }

  private blockStop(value: any, emit: (chunk: Chunk) => void): void {
    const state = this.blocks.get(value.index);
    // A tool called without input streams no fragment (or only ""): its arguments are "{}".
    if (state && state.toolIndex >= 0 && !state.hasArguments) {
      state.hasArguments = true;
      emit(this.chunk({ tool_calls: [{ index: state.toolIndex, function: { arguments: '{}' } }] }));
    }
  }

  private messageDelta(value: any, emit: (chunk: Chunk) => void): void {
    const raw = value.delta?.stop_reason;
    if (typeof raw === 'string') {
      emit(this.chunk({}, { finish_reason: anthropicFinishReason(raw), raw_finish_reason: raw }));
    }
    mergeUsage(this.usage, value.usage);
    if (this.includeUsage) emit({ ...this.chunk({}), choices: [], usage: toUsage(this.usage) });
  }
}

function expectString(value: unknown, field: string, data: string): string {
  if (typeof value !== 'string') {
    throw new StreamParseError('invalid-event', `An Anthropic delta has a non-string ${field}.`, data);
  }
  return value;
}
