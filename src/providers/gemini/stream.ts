/**
 * `streamGenerateContent?alt=sse` events → rxllm chunks. Each `data:` is a whole
 * `GenerateContentResponse` holding the new parts of each candidate; there is no `[DONE]`: a stream
 * is whole when every candidate seen has a `finishReason`, or when the prompt was blocked.
 */
import type { Subscriber } from 'rxjs';
import type { Chunk, ChunkChoice, ChunkDelta, ToolCallDelta } from '../../chunk';
import { FinishReasonError, StreamCutError, type LlmError } from '../../errors';
import type { BodySink } from '../../transport/bodySink';
import { parseProviderJson } from '../../transport/json';
import { sseSink, type EventSourceMessage, type SseEventDecoder } from '../../transport/sse';
import {
  CallIds,
  FAILED_CALLS,
  geminiError,
  mapGeminiFinish,
  mapGeminiUsage,
  parseError,
  readParts,
  signatureDetails,
  toToolCall,
} from './response';

/**
 * Per-stream state. Usage is held, not emitted per event: Gemini repeats cumulative `usageMetadata`
 * on many events, and the last one is the total. Finish reasons are held too: real streams can carry
 * `finishReason` on every event (`STOP` on each, then e.g. `RECITATION` on the last), so, as Google's
 * SDK does, every part is appended and the last reason wins. The finish chunk and the
 * usage-only chunk go out once, after the body ended whole (see {@link geminiSseSink}).
 */
export class GeminiStreamDecoder implements SseEventDecoder<Chunk> {
  private id: string | undefined;
  private modelVersion: string | undefined;
  private usage: unknown;
  private blocked = false;
  private readonly seen = new Set<number>();
  /** Last raw `finishReason` (and `finishMessage`) per candidate. */
  private readonly finish = new Map<number, { raw: string; message?: string }>();
  /** Running tool-call ordinal per candidate (`ToolCallDelta.index`). */
  private readonly callIndex = new Map<number, number>();
  /** Per candidate: characters of text and signature details emitted so far (`ReasoningDetail.after`). */
  private readonly textLength = new Map<number, number>();
  private readonly signatureCount = new Map<number, number>();
  private readonly hadCall = new Set<number>();
  /** Ids for calls Gemini sent without one: unique per stream, so a transcript never repeats one. */
  private readonly ids = new CallIds();

  /**
   * @param model the model asked for, used until the stream names its `modelVersion`.
   * @param created `created` of every chunk (Unix seconds): Gemini events carry no timestamp.
   */
  constructor(
    private readonly model: string,
    private readonly created = Math.floor(Date.now() / 1000),
    private readonly includeUsage = false,
  ) {}

  event(event: EventSourceMessage, emit: (chunk: Chunk) => void): void {
    if (this.includeUsage) {
      // The usage so far rides on the event's first chunk as `partial_usage`: a stream stopped or
      // cut before its end was billed for the prompt it reports (trackUsage/budget cost it).
      const pass = emit;
      let first = true;
      emit = (chunk) => {
        if (first && this.usage != null) chunk.partial_usage = mapGeminiUsage(this.usage);
        first = false;
        pass(chunk);
      };
    }
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

  end(): LlmError | void {
    if (this.blocked) return;
    if (this.seen.size > 0 && this.finish.size >= this.seen.size) return;
    return new StreamCutError(
      'The Gemini stream ended before every candidate had a finishReason; the response is incomplete.',
    );
  }

  /** One chunk holding every candidate's last finish reason, once the body ended whole. */
  finishChunk(): Chunk | undefined {
    if (this.finish.size === 0) return undefined;
    const choices = [...this.finish].map(([index, { raw }]): ChunkChoice => ({
      index,
      delta: {},
      finish_reason: mapGeminiFinish(raw, this.hadCall.has(index)),
      raw_finish_reason: raw,
    }));
    return this.chunk(choices);
  }

  /**
   * A `FinishReasonError` when a candidate ended because the model's function call could not be
   * used (`MALFORMED_FUNCTION_CALL`, ...): not a clean stop, and Gemini's `finishMessage` says why.
   */
  failure(): FinishReasonError | undefined {
    for (const [index, { raw, message }] of this.finish) {
      if (FAILED_CALLS.has(raw)) {
        return new FinishReasonError(
          raw,
          index,
          `Gemini ended candidate ${index} with ${raw}${message ? `: ${message.slice(0, 300)}` : ''}. Retrying may help.`,
        );
      }
    }
    return undefined;
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
    const parts = readParts(candidate, data);
    const delta: ChunkDelta = {};
    if (!this.seen.has(index)) {
      this.seen.add(index);
      delta.role = 'assistant';
    }
    if (parts.text !== '') delta.content = parts.text;
    if (parts.reasoning !== '') delta.reasoning = parts.reasoning;
    if (parts.signatures.length > 0) {
      const first = this.signatureCount.get(index) ?? 0;
      const text = this.textLength.get(index) ?? 0;
      delta.reasoning_details = signatureDetails(parts, first, text, this.callIndex.get(index) ?? 0);
      this.signatureCount.set(index, first + parts.signatures.length);
    }
    if (parts.text !== '') this.textLength.set(index, (this.textLength.get(index) ?? 0) + parts.text.length);
    if (parts.calls.length > 0) {
      this.hadCall.add(index);
      let next = this.callIndex.get(index) ?? 0;
      // Gemini sends each call whole (args as an object), so one delta carries the whole call.
      delta.tool_calls = parts.calls.map((call): ToolCallDelta => ({
        index: next++,
        ...toToolCall(call, this.ids.next()),
      }));
      this.callIndex.set(index, next);
    }
    const raw = candidate.finishReason;
    if (typeof raw === 'string' && raw !== '') {
      const message = typeof candidate.finishMessage === 'string' ? candidate.finishMessage : undefined;
      this.finish.set(index, { raw, message });
    }
    // Nothing new (e.g. a bare finishReason).
    if (Object.keys(delta).length === 0) return undefined;
    return { index, delta, finish_reason: null };
  }

  private chunk(choices: ChunkChoice[]): Chunk {
    return {
      id: this.id ?? '',
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.modelVersion ?? this.model,
      choices,
    };
  }
}

/** `sseSink` with the held finish reasons and usage emitted once, after the body ended whole. */
export function geminiSseSink(subscriber: Subscriber<Chunk>, model: string, includeUsage: boolean): BodySink {
  const decoder = new GeminiStreamDecoder(model, undefined, includeUsage);
  const inner = sseSink(subscriber, decoder);
  return {
    data: (chunk) => inner.data(chunk),
    end() {
      const error = inner.end();
      if (error) return error;
      const failure = decoder.failure();
      if (failure) return failure;
      const finish = decoder.finishChunk();
      if (finish) subscriber.next(finish);
      const usage = includeUsage ? decoder.usageChunk() : undefined;
      if (usage) subscriber.next(usage);
    },
  };
}
