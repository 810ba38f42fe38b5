import type { OperatorFunction } from 'rxjs';
import type {
  ChatCompletion,
  ChatCompletionChoice,
  Chunk,
  ChunkChoice,
  FinishReason,
  ReasoningDetail,
  ToolCall,
  ToolCallDelta,
  Usage,
} from '../src/chunk';
import { LlmError, StreamParseError } from '../src/errors';
import { redactAndCut } from '../src/redact';
import { MAX_CHOICES } from '../src/requestLimits';
import { linkedSubscriber, operate } from './internal/operate';

export interface AccumulateChunksConfig {
  /**
   * `'final'`: one `ChatCompletion` when the source completes. `'snapshots'`: the merged response so
   * far after every chunk (a reset chunk included, which yields an empty response), for UIs that
   * render the whole message each time. @defaultValue 'final'
   */
  emit?: 'final' | 'snapshots';
}

/** Defaults of {@link accumulateChunks}. */
export const ACCUMULATE_CHUNKS_DEFAULTS = { emit: 'final' } as const satisfies AccumulateChunksConfig;

/**
 * One tool call being assembled from fragments. Internal: shared with `partialToolCallGuard`,
 * not re-exported from `rxllm/operators`.
 * @internal
 */
export interface AssembledToolCall {
  /** Position in the message (0-based, creation order). */
  readonly position: number;
  /** The provider's `index`, when it sent one. */
  readonly index: number | undefined;
  id: string;
  name: string;
  arguments: string;
  /** Provider data to send back with the call (Gemini thought signatures); last one wins. */
  extra_content?: Record<string, unknown>;
  /** Cached immutable view, cleared when a fragment changes the call. */
  view?: ToolCall;
}

/**
 * Keys tool-call fragments of one choice to calls, with the rules real providers need
 * (see the TSDoc of {@link accumulateChunks}).
 * @internal
 */
export class ToolCallAssembler {
  readonly calls: AssembledToolCall[] = [];
  private readonly byIndex = new Map<number, AssembledToolCall>();
  private readonly byId = new Map<string, AssembledToolCall>();

  /** Adds one fragment; `started` says whether it opened a new call. */
  add(delta: ToolCallDelta): { call: AssembledToolCall; started: boolean } {
    const id = delta.id || '';
    let call: AssembledToolCall | undefined;
    if (typeof delta.index === 'number') {
      const current = this.byIndex.get(delta.index);
      // A different non-empty id on an index in use is a new call (proxies that restart indexes).
      if (current && !(id && current.id && id !== current.id)) call = current;
    } else if (id) {
      call = this.byId.get(id);
    } else {
      // No index, no id (some OpenAI-compatible servers): it continues the last call.
      call = this.calls[this.calls.length - 1];
    }
    const name = delta.function?.name;
    const args = delta.function?.arguments;
    // A fragment that names a function and brings arguments while the call it would continue already
    // has a name and whole JSON arguments is the next call: a name comes only on a call's first
    // fragment, and nothing can follow whole JSON. Gemini's OpenAI-compatible endpoint sends parallel
    // calls whole, each with the same index (or none) and no id (NousResearch/hermes-agent#62937,
    // #67507): matched by index or as "the last call", they would be merged into one.
    if (call && name && call.name && args && isWholeJson(call.arguments)) call = undefined;
    const started = call === undefined;
    if (call === undefined) {
      call = { position: this.calls.length, index: delta.index, id: '', name: '', arguments: '' };
      this.calls.push(call);
      if (delta.index !== undefined) this.byIndex.set(delta.index, call);
    }
    if (id && !call.id) {
      call.id = id;
      this.byId.set(id, call);
    }
    // First non-empty name wins: a later `name: ""` (or a repeated name) must not change it.
    if (name && !call.name) call.name = name;
    if (args) call.arguments += args;
    if (delta.extra_content !== undefined) call.extra_content = delta.extra_content;
    call.view = undefined;
    return { call, started };
  }
}

/** True when `text` is one whole JSON value (cheap check first: arguments are objects). */
function isWholeJson(text: string): boolean {
  const end = text.trimEnd();
  if (!end.endsWith('}') && !end.endsWith(']')) return false;
  try {
    JSON.parse(end);
    return true;
  } catch {
    return false;
  }
}

class ChoiceState {
  content: string | null = null;
  refusal: string | null = null;
  reasoning: string | null = null;
  /** Reasoning blocks by their `index` (Anthropic thinking signatures, redacted thinking). */
  details: Map<number, ReasoningDetail> | undefined;
  finish: FinishReason | null = null;
  raw: string | undefined;
  readonly tools = new ToolCallAssembler();
  view: ChatCompletionChoice | undefined;

  constructor(readonly index: number) {}

  add(choice: ChunkChoice): void {
    const { delta } = choice;
    // `+=` on a string is O(1) in V8 (a rope is built, flattened once when read): the text is never
    // copied per chunk, so snapshots stay linear (measured in bench/accumulate-linear.ts).
    if (delta) {
      if (typeof delta.content === 'string') this.content = (this.content ?? '') + delta.content;
      if (typeof delta.refusal === 'string') this.refusal = (this.refusal ?? '') + delta.refusal;
      if (typeof delta.reasoning === 'string') this.reasoning = (this.reasoning ?? '') + delta.reasoning;
      if (delta.tool_calls) for (const tc of delta.tool_calls) this.tools.add(tc);
      if (delta.reasoning_details) for (const d of delta.reasoning_details) this.addDetail(d);
    }
    if (choice.finish_reason != null) this.finish = choice.finish_reason;
    if (choice.raw_finish_reason !== undefined) this.raw = choice.raw_finish_reason;
    this.view = undefined;
  }

  private addDetail(fragment: ReasoningDetail): void {
    const details = (this.details ??= new Map());
    // A fragment without a numeric index (a gateway's own details) is a block of its own.
    const index = typeof fragment.index === 'number' ? fragment.index : details.size;
    const known = details.get(index);
    if (!known) {
      details.set(index, { ...fragment, index });
      return;
    }
    // A new object per change: a snapshot already handed out keeps its own view.
    const next = { ...known };
    if (fragment.text) next.text = (next.text ?? '') + fragment.text;
    if (fragment.signature) next.signature = (next.signature ?? '') + fragment.signature;
    if (fragment.data) next.data = (next.data ?? '') + fragment.data;
    details.set(index, next);
  }

  build(): ChatCompletionChoice {
    if (this.view) return this.view;
    const calls = this.tools.calls;
    const message: ChatCompletionChoice['message'] = {
      role: 'assistant',
      content: this.content,
      refusal: this.refusal,
      reasoning: this.reasoning,
    };
    if (this.details) {
      message.reasoning_details = [...this.details.values()].sort((a, b) => a.index - b.index);
    }
    // OpenAI rejects `tool_calls: []` in a follow-up request, so the field is left out when empty.
    if (calls.length > 0) {
      message.tool_calls = calls.map(
        (c) =>
          (c.view ??= {
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: c.arguments },
            ...(c.extra_content === undefined ? {} : { extra_content: c.extra_content }),
          }),
      );
    }
    const view: ChatCompletionChoice = { index: this.index, message, finish_reason: this.finish };
    if (this.raw !== undefined) view.raw_finish_reason = this.raw;
    return (this.view = view);
  }
}

function validIndex(index: unknown): index is number {
  return Number.isInteger(index) && (index as number) >= 0 && (index as number) < MAX_CHOICES;
}

/**
 * Incremental merge state (internal: shared with `retryBackoff`, not re-exported). Each `push` costs O(size of the chunk); each `snapshot` costs
 * O(choices + tool calls), never O(text): unchanged choices and calls are shared between snapshots.
 */
export class ChunkAccumulator {
  /** Chunks merged since the start or the last reset. */
  count = 0;
  private id = '';
  private model = '';
  private created = 0;
  private fingerprint: string | null | undefined;
  private usage: Usage | null = null;
  private readonly choices = new Map<number, ChoiceState>();
  private ordered: ChoiceState[] = [];

  /**
   * @param strict what to do with a choice index outside 0..MAX_CHOICES-1: `true` (the operator and
   * `mergeChunks`) throws a `StreamParseError`; `false` (bookkeeping inside other operators, such as
   * `retryBackoff`'s `partial`, which must never throw from a `next` handler) leaves that choice out.
   */
  constructor(private readonly strict = false) {}

  push(chunk: Chunk): void {
    if (chunk.reset !== undefined) {
      this.clear();
      return;
    }
    this.count++;
    // Azure sends a first chunk with id "", model "" and created 0 (prompt filter results).
    if (!this.id && chunk.id) this.id = chunk.id;
    if (!this.model && chunk.model) this.model = chunk.model;
    if (!this.created && chunk.created) this.created = chunk.created;
    if (this.fingerprint == null && chunk.system_fingerprint != null)
      this.fingerprint = chunk.system_fingerprint;
    // Providers report cumulative usage: the last non-null value is the total, never a sum.
    if (chunk.usage != null) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      let state = this.choices.get(choice.index);
      if (!state) {
        if (!validIndex(choice.index)) {
          if (!this.strict) continue;
          throw new StreamParseError(
            'invalid-event',
            `A chunk has choice index ${redactAndCut(String(choice.index), 20)}; choice indexes are integers from 0 to ${MAX_CHOICES - 1} (MAX_CHOICES).`,
          );
        }
        state = this.open(choice.index);
      }
      state.add(choice);
    }
  }

  /**
   * A new choice, kept in index order: appended when it comes after the last one (the usual case,
   * O(1)), else inserted at its binary-searched place. Indexes are bounded by `MAX_CHOICES`, so a
   * hostile stream cannot make this state grow without bound.
   */
  private open(index: number): ChoiceState {
    const state = new ChoiceState(index);
    this.choices.set(index, state);
    const ordered = this.ordered;
    if (ordered.length === 0 || ordered[ordered.length - 1].index < index) {
      ordered.push(state);
    } else {
      let lo = 0;
      let hi = ordered.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ordered[mid].index < index) lo = mid + 1;
        else hi = mid;
      }
      ordered.splice(lo, 0, state);
    }
    return state;
  }

  snapshot(): ChatCompletion {
    const completion: ChatCompletion = {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: this.ordered.map((c) => c.build()),
      usage: this.usage,
    };
    if (this.fingerprint !== undefined) completion.system_fingerprint = this.fingerprint;
    return completion;
  }

  private clear(): void {
    this.count = 0;
    this.id = this.model = '';
    this.created = 0;
    this.fingerprint = undefined;
    this.usage = null;
    this.choices.clear();
    this.ordered = [];
  }
}

/**
 * Merges saved chunks into one `ChatCompletion` (LiteLLM's `stream_chunk_builder`), with the same
 * rules as {@link accumulateChunks}. A reset chunk discards what came before it.
 *
 * @example
 * import { scriptToChunks } from 'rxllm/testing';
 * import { mergeChunks } from 'rxllm/operators';
 * const savedChunks = scriptToChunks({ text: 'Hello', chunkSize: 2 });
 * const response = mergeChunks(savedChunks);
 * console.log(response.choices[0].message.content, response.usage); // 'Hello', { ... }
 */
export function mergeChunks(chunks: Iterable<Chunk>): ChatCompletion {
  const acc = new ChunkAccumulator(true);
  for (const chunk of chunks) acc.push(chunk);
  return acc.snapshot();
}

/**
 * Attaches what was merged to the error that reaches the subscriber, keeping the error's class.
 * @internal shared with `retryBackoff`
 */
export function withPartial(error: unknown, acc: ChunkAccumulator): unknown {
  if (acc.count === 0) return error;
  const partial = acc.snapshot();
  if (error !== null && typeof error === 'object') {
    try {
      (error as { partial?: ChatCompletion }).partial = partial;
      return error;
    } catch {
      // A frozen error object: fall through and wrap it.
    }
  }
  return new LlmError(`The stream failed: ${String(error)}`, { cause: error, partial });
}

/**
 * Merges a chunk stream into one OpenAI-shaped `ChatCompletion` (LiteLLM's `stream_chunk_builder`, as
 * an operator): per choice `message{role, content, refusal, reasoning, tool_calls}` and
 * `finish_reason`, plus `id`, `model`, `created`, `usage`.
 *
 * Rules:
 * - Choices are merged by `index` (n > 1, interleaved chunks included), output sorted by index;
 *   linear in the number of choices. An index that is not an integer from 0 to `MAX_CHOICES - 1`
 *   (127) ends the stream with a `StreamParseError` (with `partial`).
 * - `content`/`refusal`/`reasoning` are `null` when no such delta was received.
 * - Tool calls are keyed by (choice, `index`); the first non-empty `name` wins (a later `name: ""`
 *   never clobbers it); argument fragments are concatenated; a fragment without `index` is matched by
 *   `id`, else continues the last call; a different non-empty `id` on an index in use starts a new
 *   call, and so does a fragment with a name and arguments when the call it would continue already
 *   has a name and whole JSON arguments (parallel calls sent whole under one index or id, or none);
 *   indexes may start anywhere; a whole call may arrive in one delta. `tool_calls` is left out
 *   when there are none. Ids are never invented (`''` when the provider sent none).
 * - Usage: the last non-null `usage` wins (providers send cumulative values); `null` when none.
 * - A reset chunk (`Chunk.reset`) discards everything merged so far.
 * - When the source errors, the same error object reaches the subscriber with `partial` set to the
 *   response merged so far (a non-object error is wrapped in an `LlmError` with it as `cause`).
 *
 * Snapshots share unchanged choices and tool calls with earlier ones: treat them as read-only.
 *
 * ```
 * source:    --a--b--c--|        (a: "Hel", b: "lo", c: finish "stop" + usage)
 * final:     -----------(R|)     R = { content: "Hello", finish_reason: "stop", usage }
 * snapshots: --A--B--C--|        A = "Hel", B = "Hello", C = "Hello" + stop + usage
 * source:    --a--b--#
 * result:    --------#           error.partial = { content: "Hello", finish_reason: null }
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { accumulateChunks } from 'rxllm/operators';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(accumulateChunks())
 *   .subscribe((res) => console.log(res.choices[0].message.content, res.usage));
 */
export function accumulateChunks(
  config: AccumulateChunksConfig = {},
): OperatorFunction<Chunk, ChatCompletion> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`accumulateChunks: config must be an object, got ${String(config)}.`);
  }
  const { emit = ACCUMULATE_CHUNKS_DEFAULTS.emit } = config;
  if (emit !== 'final' && emit !== 'snapshots') {
    throw new TypeError(`accumulateChunks: emit must be 'final' or 'snapshots', got ${String(emit)}.`);
  }
  return operate<Chunk, ChatCompletion>((source, subscriber) => {
    const acc = new ChunkAccumulator(true);
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          try {
            acc.push(chunk);
          } catch (error) {
            subscriber.error(withPartial(error, acc));
            return;
          }
          if (emit === 'snapshots') subscriber.next(acc.snapshot());
        },
        error: (error) => subscriber.error(withPartial(error, acc)),
        complete: () => {
          if (emit === 'final') subscriber.next(acc.snapshot());
          subscriber.complete();
        },
      }),
    );
  });
}
