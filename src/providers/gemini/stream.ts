/**
 * `streamGenerateContent?alt=sse` events → rxllm chunks. Each `data:` is a whole
 * `GenerateContentResponse` holding the new parts of each candidate; there is no `[DONE]`: a stream
 * is whole when every candidate seen has a `finishReason`, or when the prompt was blocked.
 */
import type { Subscriber } from 'rxjs';
import type { Chunk, ChunkChoice, ChunkDelta, ToolCallDelta } from '../../chunk';
import { StreamCutError } from '../../errors';
import type { BodySink } from '../../transport/http';
import { parseProviderJson } from '../../transport/json';
import { sseSink, type EventSourceMessage, type SseEventDecoder } from '../../transport/sse';
import { geminiError, mapGeminiFinish, mapGeminiUsage, parseError, readParts, toToolCall } from './response';

/**
 * Per-stream state. Usage is held, not emitted per event: Gemini repeats cumulative `usageMetadata`
 * on many events, and the last one is the total. It goes out once, as a usage-only chunk
 * (`choices: []`) after the body ended whole (see {@link geminiSseSink}).
 */
export class GeminiStreamDecoder implements SseEventDecoder<Chunk> {
  private id: string | undefined;
  private modelVersion: string | undefined;
  private usage: unknown;
  private blocked = false;
  private calls = 0;
  private readonly seen = new Set<number>();
  private readonly finished = new Set<number>();
  /** Running tool-call ordinal per candidate (`ToolCallDelta.index`). */
  private readonly callIndex = new Map<number, number>();
  private readonly hadCall = new Set<number>();

  constructor(private readonly model: string) {}

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    const data = event.data;
    const value = parseProviderJson(data, 'Gemini', 'event');
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw parseError('an event is not a GenerateContentResponse object', data);
    }
    if (value.error != null) throw geminiError(value);
    if (value.usageMetadata != null) this.usage = value.usageMetadata;
    if (this.id === undefined && typeof value.responseId === 'string') this.id = value.responseId;
    if (this.modelVersion === undefined && typeof value.modelVersion === 'string') {
      this.modelVersion = value.modelVersion;
    }
    const candidates = value.candidates;
    if (candidates != null && !Array.isArray(candidates))
      throw parseError('candidates is not an array', data);
    if (!candidates?.length) {
      const blockReason = value.promptFeedback?.blockReason;
      if (typeof blockReason === 'string' && !this.blocked) {
        // The prompt itself was refused: no candidate will come.
        this.blocked = true;
        emit(
          this.chunk([
            {
              index: 0,
              delta: { role: 'assistant' },
              finish_reason: 'content_filter',
              raw_finish_reason: blockReason,
            },
          ]),
        );
      }
      return;
    }
    const choices: ChunkChoice[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const choice = this.candidate(candidates[i], i, data);
      if (choice) choices.push(choice);
    }
    if (choices.length > 0) emit(this.chunk(choices));
  }

  end(): StreamCutError | void {
    if (this.blocked) return;
    if (this.seen.size > 0 && this.finished.size >= this.seen.size) return;
    return new StreamCutError(
      'The Gemini stream ended before every candidate had a finishReason; the response is incomplete.',
    );
  }

  /** The usage-only last chunk, or `undefined` when the stream carried no `usageMetadata`. */
  usageChunk(): Chunk | undefined {
    return this.usage == null ? undefined : { ...this.chunk([]), usage: mapGeminiUsage(this.usage) };
  }

  private candidate(candidate: any, position: number, data: string): ChunkChoice | undefined {
    if (candidate === null || typeof candidate !== 'object') {
      throw parseError('a candidate is not an object', data);
    }
    const index = typeof candidate.index === 'number' ? candidate.index : position;
    if (this.finished.has(index)) return undefined;
    const parts = readParts(candidate, data);
    const delta: ChunkDelta = {};
    if (!this.seen.has(index)) {
      this.seen.add(index);
      delta.role = 'assistant';
    }
    if (parts.text !== '') delta.content = parts.text;
    if (parts.reasoning !== '') delta.reasoning = parts.reasoning;
    if (parts.calls.length > 0) {
      this.hadCall.add(index);
      let next = this.callIndex.get(index) ?? 0;
      // Gemini sends each call whole (args as an object), so one delta carries the whole call.
      delta.tool_calls = parts.calls.map((call): ToolCallDelta => ({
        index: next++,
        ...toToolCall(call, `call_${this.calls++}`),
      }));
      this.callIndex.set(index, next);
    }
    const raw = candidate.finishReason;
    const choice: ChunkChoice = { index, delta, finish_reason: null };
    if (typeof raw === 'string' && raw !== '') {
      choice.finish_reason = mapGeminiFinish(raw, this.hadCall.has(index));
      choice.raw_finish_reason = raw;
      this.finished.add(index);
    } else if (Object.keys(delta).length === 0) {
      return undefined; // nothing new (e.g. an empty part that only carries a thought signature)
    }
    return choice;
  }

  private chunk(choices: ChunkChoice[]): Chunk {
    return {
      id: this.id ?? '',
      object: 'chat.completion.chunk',
      created: 0,
      model: this.modelVersion ?? this.model,
      choices,
    };
  }
}

/** `sseSink` with the held usage emitted once, after the body ended whole. */
export function geminiSseSink(subscriber: Subscriber<Chunk>, model: string, includeUsage: boolean): BodySink {
  const decoder = new GeminiStreamDecoder(model);
  const inner = sseSink(subscriber, decoder);
  return {
    data: (chunk) => inner.data(chunk),
    end() {
      const error = inner.end();
      if (error) return error;
      const usage = includeUsage ? decoder.usageChunk() : undefined;
      if (usage) subscriber.next(usage);
    },
  };
}
