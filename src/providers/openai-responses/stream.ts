/**
 * OpenAI Responses API SSE events → rxllm chunks.
 *
 * Wire format: https://platform.openai.com/docs/api-reference/responses-streaming — `event: <type>` +
 * `data: {"type": <type>, "sequence_number": n, ...}`, no `[DONE]`: the stream ends after
 * `response.completed`, `response.incomplete` or `response.failed`. Unknown event types are skipped
 * (the API adds types over time).
 */
import type { Chunk, ChunkChoice, ChunkDelta, ReasoningDetail } from '../../chunk';
import { StreamCutError, StreamParseError } from '../../errors';
import { inBandError } from '../../inBandError';
import { parseProviderJson } from '../../transport/json';
import type { EventSourceMessage, SseEventDecoder } from '../../transport/sse';
import { RESPONSES_REASONING } from './request';
import { mapResponsesUsage, responsesError, responsesFinish } from './response';

/** One function call being streamed: its position among the calls and whether arguments arrived. */
interface CallState {
  index: number;
  streamed: boolean;
}

/**
 * Per-stream state: function calls by `item_id` (tool-call index = order of output), whether a call
 * was output (`completed` → `tool_calls`), and whether a terminal event arrived.
 */
export class ResponsesStreamDecoder implements SseEventDecoder<Chunk> {
  private done = false;
  private id = '';
  private model: string;
  private created: number;
  private started = false;
  private readonly calls = new Map<string, CallState>();
  private reasoningItems = 0;

  constructor(
    model: string,
    private readonly includeUsage = true,
    created = Math.floor(Date.now() / 1000),
  ) {
    this.model = model;
    this.created = created;
  }

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    if (this.done) return;
    const value = parseProviderJson(event.data, 'The Responses API', 'event');
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new StreamParseError('invalid-event', 'A Responses API event is not an object.', event.data);
    }
    const type = typeof value.type === 'string' ? value.type : event.event;
    switch (type) {
      case 'response.created':
      case 'response.in_progress':
        return this.begin(value.response, emit);
      case 'response.output_text.delta':
        return this.text('content', value, event.data, emit);
      case 'response.refusal.delta':
        return this.text('refusal', value, event.data, emit);
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return this.text('reasoning', value, event.data, emit);
      case 'response.output_item.added':
        return this.itemAdded(value, event.data, emit);
      case 'response.function_call_arguments.delta':
        return this.arguments(value, event.data, emit);
      case 'response.output_item.done':
        return this.itemDone(value, emit);
      case 'response.completed':
      case 'response.incomplete':
        return this.finish(value.response, event.data, emit);
      case 'response.failed':
        this.done = true;
        throw responsesError(value.response?.error, 'The response failed');
      case 'error':
        this.done = true;
        // Documented flat (`{"type":"error","code","message","param"}`, responses-streaming
        // reference); the live API also nests the fields (`{"type":"error","error":{"type":
        // "insufficient_quota","code":...,"message":...}}`): inBandError reads both.
        throw inBandError({ error: value });
      default:
    }
  }

  end(): StreamCutError | void {
    if (!this.done) {
      return new StreamCutError(
        'The Responses API stream ended before response.completed; the answer is incomplete.',
      );
    }
  }

  private chunk(delta: ChunkDelta, finish?: Pick<ChunkChoice, 'finish_reason' | 'raw_finish_reason'>): Chunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: null, ...finish }],
    };
  }

  private begin(response: any, emit: (chunk: Chunk) => void): void {
    if (response && typeof response === 'object') {
      if (typeof response.id === 'string') this.id = response.id;
      if (typeof response.model === 'string') this.model = response.model;
      if (typeof response.created_at === 'number') this.created = Math.floor(response.created_at);
    }
    if (!this.started) {
      this.started = true;
      emit(this.chunk({ role: 'assistant' }));
    }
  }

  private text(
    field: 'content' | 'refusal' | 'reasoning',
    value: any,
    data: string,
    emit: (chunk: Chunk) => void,
  ) {
    if (typeof value.delta !== 'string') {
      throw new StreamParseError('invalid-event', `A ${value.type} event has no string delta.`, data);
    }
    if (value.delta) emit(this.chunk({ [field]: value.delta }));
  }

  private itemAdded(value: any, data: string, emit: (chunk: Chunk) => void): void {
    const item = value.item;
    if (item === null || typeof item !== 'object') {
      throw new StreamParseError('invalid-event', 'A response.output_item.added event has no item.', data);
    }
    if (item.type !== 'function_call') return;
    if (typeof item.name !== 'string' || typeof item.call_id !== 'string') {
      throw new StreamParseError('invalid-event', 'A function_call item has no name or call_id.', data);
    }
    const state: CallState = { index: this.calls.size, streamed: false };
    this.calls.set(String(item.id ?? value.output_index), state);
    const args = typeof item.arguments === 'string' ? item.arguments : '';
    if (args) state.streamed = true;
    emit(
      this.chunk({
        tool_calls: [
          {
            index: state.index,
            id: item.call_id,
            type: 'function',
            function: { name: item.name, arguments: args },
          },
        ],
      }),
    );
  }

  private arguments(value: any, data: string, emit: (chunk: Chunk) => void): void {
    const state = this.calls.get(String(value.item_id ?? value.output_index));
    if (typeof value.delta !== 'string') {
      throw new StreamParseError(
        'invalid-event',
        'A function_call_arguments.delta event has no string delta.',
        data,
      );
    }
    if (!state || !value.delta) return;
    state.streamed = true;
    emit(this.chunk({ tool_calls: [{ index: state.index, function: { arguments: value.delta } }] }));
  }

  /**
   * A call whose arguments came only whole, on `output_item.done`, still gets them. A finished
   * reasoning item becomes a `reasoning_details` entry, so the next turn can send it back.
   */
  private itemDone(value: any, emit: (chunk: Chunk) => void): void {
    const item = value.item;
    if (item?.type === 'reasoning' && typeof item.id === 'string') {
      const detail: ReasoningDetail & { id: string } = {
        index: this.reasoningItems++,
        type: RESPONSES_REASONING,
        id: item.id,
      };
      const summary = Array.isArray(item.summary)
        ? item.summary.map((p: any) => (typeof p?.text === 'string' ? p.text : '')).join('')
        : '';
      if (summary) detail.text = summary;
      if (typeof item.encrypted_content === 'string') detail.data = item.encrypted_content;
      emit(this.chunk({ reasoning_details: [detail] }));
      return;
    }
    if (item?.type !== 'function_call') return;
    const state = this.calls.get(String(item.id ?? value.output_index));
    if (!state || state.streamed) return;
    state.streamed = true;
    const args = typeof item.arguments === 'string' && item.arguments ? item.arguments : '{}';
    emit(this.chunk({ tool_calls: [{ index: state.index, function: { arguments: args } }] }));
  }

  private finish(response: any, data: string, emit: (chunk: Chunk) => void): void {
    if (response === null || typeof response !== 'object') {
      throw new StreamParseError('invalid-event', 'A terminal Responses API event has no response.', data);
    }
    this.begin(response, () => undefined);
    this.done = true;
    const { finish, raw } = responsesFinish(response, this.calls.size > 0);
    emit(this.chunk({}, { finish_reason: finish, raw_finish_reason: raw }));
    if (this.includeUsage && response.usage && typeof response.usage === 'object') {
      emit({ ...this.chunk({}), choices: [], usage: mapResponsesUsage(response.usage) });
    }
  }
}
