import { Observable, Subscriber, type OperatorFunction } from 'rxjs';
import type { Chunk, ChunkChoice, ChunkDelta, ToolCallDelta } from '../src/chunk';
import { ToolCallError, type InvalidToolCallReason, type ToolCallIssue } from '../src/errors';
import { ToolCallAssembler, type AssembledToolCall } from './accumulateChunks';
import { isStandardSchema, validateSync, type StandardSchemaV1 } from '../src/standardSchema';
import { LinkedSubscriberBase } from './internal/operate';

/**
 * The schema of each tool's input, by tool name: `{ get_weather: z.object({ city: z.string() }) }`.
 * Any Standard Schema: zod 3.25+ (classic or `zod/v4`), zod 4, Valibot, ArkType.
 */
export type ToolSchemas = Record<string, StandardSchemaV1>;

/** A whole tool call whose arguments parsed (strict `JSON.parse`) and passed the tool's schema. */
export interface ValidToolCall<Name extends string = string, Input = unknown> extends ToolCallDelta {
  index: number;
  id: string;
  type: 'function';
  function: { name: Name; arguments: string };
  /** The tool name again, top-level, so `if (call.name === 'get_weather')` narrows `input`. */
  name: Name;
  /** The schema's output for the parsed arguments. */
  input: Input;
  validated: true;
}

/** A whole call to a tool with no schema, released because `unknownTool: 'accept'`: JSON-parsed only. */
export interface UnvalidatedToolCall extends ToolCallDelta {
  index: number;
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  name: string;
  input: unknown;
  validated: false;
}

/** The released call union for a schema map: one member per tool name, `input` typed by its schema. */
export type ValidToolCallOf<S extends ToolSchemas> = {
  [K in keyof S & string]: ValidToolCall<K, StandardSchemaV1.InferOutput<S[K]>>;
}[keyof S & string];

/** A call that was cut, did not parse, failed its schema or named an unknown tool. Never repaired. */
export interface InvalidToolCall {
  index: number;
  id: string;
  name: string;
  /** The concatenated fragments exactly as received. */
  arguments: string;
  reason: InvalidToolCallReason;
  /** Schema issues (`schema-mismatch` only; otherwise empty). */
  issues: readonly ToolCallIssue[];
  message: string;
}

/** A delta after the guard: `tool_calls` holds only whole released calls; refused ones are apart. */
export interface GuardedDelta<T extends ToolCallDelta> extends ChunkDelta {
  tool_calls?: T[];
  invalid_tool_calls?: InvalidToolCall[];
}

export interface GuardedChoice<T extends ToolCallDelta> extends ChunkChoice {
  delta: GuardedDelta<T>;
}

/**
 * A `Chunk` whose `tool_calls` are whole, parsed and validated calls. It is still a `Chunk`: it pipes
 * into `accumulateChunks`, and consumers unaware of the guard never see an invalid call as a call
 * (those are in `invalid_tool_calls`, a field plain consumers ignore).
 */
export interface GuardedChunk<T extends ToolCallDelta = ValidToolCall> extends Chunk {
  choices: GuardedChoice<T>[];
}

export interface PartialToolCallGuardConfig<S extends ToolSchemas = ToolSchemas> {
  /**
   * The input schema of each tool, by name (any Standard Schema). A schema that throws (a `.transform`
   * or `.refine` that throws instead of adding an issue) fails the stream with what it threw; one with
   * async checks fails it too (zod's own error for zod, a `TypeError` for others). @defaultValue {}
   */
  schemas?: S;
  /**
   * `'emit'`: an invalid call goes out as an entry of `delta.invalid_tool_calls`. `'error'`: the
   * stream fails with a `ToolCallError`. @defaultValue 'emit'
   */
  onInvalid?: 'emit' | 'error';
  /**
   * A call naming a tool without a schema: `'invalid'` (reason `unknown-tool`) or `'accept'` (released
   * with its JSON-parsed input and `validated: false`; the JSON must still parse). @defaultValue 'invalid'
   */
  unknownTool?: 'invalid' | 'accept';
}

/** Defaults of {@link partialToolCallGuard}. */
export const PARTIAL_TOOL_CALL_GUARD_DEFAULTS = {
  schemas: {},
  onInvalid: 'emit',
  unknownTool: 'invalid',
} as const satisfies PartialToolCallGuardConfig;

/**
 * A tool call {@link partialToolCallGuard} releases: validated against its schema, or, with
 * `unknownTool: 'accept'`, a call to a tool without a schema (`validated: false`).
 */
export type ReleasedToolCall<S extends ToolSchemas, U> = U extends 'accept'
  ? ValidToolCallOf<S> | UnvalidatedToolCall
  : ValidToolCallOf<S>;

interface ChoiceHold {
  tools: ToolCallAssembler;
  /** Fields of the fragments besides the ones assembled (`extra_content`, provider extras): last wins. */
  extras: Map<AssembledToolCall, Record<string, unknown>>;
  pending: AssembledToolCall[];
  released: Set<AssembledToolCall>;
  late: Set<AssembledToolCall>;
}

/** True when a call's arguments are one whole JSON value already (more text could only break it). */
function isWholeJson(call: AssembledToolCall): boolean {
  try {
    JSON.parse(call.arguments);
    return true;
  } catch {
    return false;
  }
}

/** Finish reasons after which a held call is treated as cut: the model was stopped mid-output. */
const CUT_REASONS = new Set(['length', 'content_filter']);

/**
 * Never lets half a tool call out. Text, refusal and reasoning deltas pass through unchanged and at
 * once; tool-call fragments are held back and each call is released once, whole (with its complete
 * `arguments`, its input parsed with strict `JSON.parse` and checked by its schema) when the next
 * call of the choice starts (if its JSON is whole by then; else it is held on, since providers that
 * match fragments by id may interleave calls), when the choice finishes (before the finishing chunk),
 * or at stream end.
 *
 * A call that was cut (finish `length`/`content_filter`, source completed or failed before the choice
 * finished), whose JSON does not parse, that fails its schema or names an unknown tool is never
 * repaired and never released as valid: it goes out in `delta.invalid_tool_calls` or, with
 * `onInvalid: 'error'`, fails the stream with a `ToolCallError`. A reset chunk drops held fragments
 * and passes on. Fragments are keyed with the same rules as `accumulateChunks`. Whatever else a
 * fragment carries (`extra_content`, such as Gemini's `thought_signature`) stays on the released call.
 *
 * ```
 * source: --t--a--b--c--f--u--|   t: text, a/b/c: fragments of call 0, f: finish "tool_calls", u: usage
 * result: --t-----------(Cf)u--|  C: one chunk with the whole call 0 and its parsed `input`
 * source: --a--b--x--|            x: finish "length" (call 0 cut)
 * result: --------(Ix)|           I: `invalid_tool_calls: [{ reason: 'truncated', ... }]`
 * ```
 *
 * @example
 * import { z } from 'zod';
 * import { stream } from 'rxllm';
 * import { partialToolCallGuard } from 'rxllm/operators';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(partialToolCallGuard({ schemas: { get_weather: z.object({ city: z.string() }) } }))
 *   .subscribe((chunk) => {
 *     for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
 *       if (call.name === 'get_weather') console.log('weather for', call.input.city);
 *     }
 *   });
 */
export function partialToolCallGuard<
  S extends ToolSchemas = ToolSchemas,
  U extends 'invalid' | 'accept' = 'invalid',
>(
  config: PartialToolCallGuardConfig<S> & { unknownTool?: U } = {},
): OperatorFunction<Chunk, GuardedChunk<ReleasedToolCall<S, U>>> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`partialToolCallGuard: config must be an object, got ${String(config)}.`);
  }
  const {
    schemas = PARTIAL_TOOL_CALL_GUARD_DEFAULTS.schemas as unknown as S,
    onInvalid = PARTIAL_TOOL_CALL_GUARD_DEFAULTS.onInvalid,
    unknownTool = PARTIAL_TOOL_CALL_GUARD_DEFAULTS.unknownTool,
  } = config;
  if (schemas === null || typeof schemas !== 'object') {
    throw new TypeError('partialToolCallGuard: schemas must be an object of schemas by tool name.');
  }
  for (const [name, schema] of Object.entries(schemas)) {
    if (!isStandardSchema(schema)) {
      throw new TypeError(
        `partialToolCallGuard: schemas.${name} is not a Standard Schema (a zod 3.25+ or 4 schema, Valibot, ArkType).`,
      );
    }
  }
  if (onInvalid !== 'emit' && onInvalid !== 'error') {
    throw new TypeError(
      `partialToolCallGuard: onInvalid must be 'emit' or 'error', got ${String(onInvalid)}.`,
    );
  }
  if (unknownTool !== 'invalid' && unknownTool !== 'accept') {
    throw new TypeError(
      `partialToolCallGuard: unknownTool must be 'invalid' or 'accept', got ${String(unknownTool)}.`,
    );
  }

  /** Checks one whole call: the released call, or why it is refused. */
  function check(
    call: AssembledToolCall,
    cut: boolean,
    late: boolean,
    extras: Record<string, unknown> | undefined,
  ): ValidToolCall | UnvalidatedToolCall | InvalidToolCall {
    const index = call.index ?? call.position;
    const invalid = (reason: InvalidToolCallReason, message: string, issues: ToolCallIssue[] = []) =>
      ({
        index,
        id: call.id,
        name: call.name,
        arguments: call.arguments,
        reason,
        issues,
        message,
      }) satisfies InvalidToolCall;
    if (late)
      return invalid('late-fragment', `Tool call "${call.name}" got fragments after it was released.`);
    if (cut) return invalid('truncated', `Tool call "${call.name}" was cut before it ended.`);
    const schema = Object.prototype.hasOwnProperty.call(schemas, call.name) ? schemas[call.name] : undefined;
    if (!schema && unknownTool === 'invalid')
      return invalid('unknown-tool', `No schema for tool "${call.name}".`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(call.arguments);
    } catch (error) {
      return invalid(
        'invalid-json',
        `Tool call "${call.name}" arguments are not JSON: ${(error as Error).message}`,
      );
    }
    // Whatever else the fragments carried (Gemini's `extra_content.google.thought_signature`, which
    // must be sent back on the next turn) passes through; the assembled fields win.
    const base = {
      ...extras,
      index,
      id: call.id,
      type: 'function' as const,
      function: { name: call.name, arguments: call.arguments },
    };
    if (!schema)
      return { ...base, name: call.name, input: parsed, validated: false } satisfies UnvalidatedToolCall;
    const result = validateSync(schema, parsed, `partialToolCallGuard: tool "${call.name}"`);
    if (!result.ok) {
      const message = `Tool call "${call.name}" input does not match its schema.`;
      return invalid('schema-mismatch', message, result.issues);
    }
    return { ...base, name: call.name, input: result.value, validated: true } satisfies ValidToolCall;
  }

  return (source) =>
    new Observable<GuardedChunk<ReleasedToolCall<S, U>>>((subscriber) => {
      const guard = new GuardSubscriber<ReleasedToolCall<S, U>>(subscriber, onInvalid, check);
      // Linked before the source is subscribed: a synchronous source sees downstream close at once.
      subscriber.add(guard);
      source.subscribe(guard);
    });
}

/**
 * One subscription's held tool calls and the source's subscriber, in one object (a gateway holds one
 * per open stream). What a handler throws (a schema's `.transform`/`.refine`) fails the stream.
 */
class GuardSubscriber<R extends ToolCallDelta> extends LinkedSubscriberBase<Chunk, GuardedChunk<R>> {
  /** Per choice index; made when a tool call first appears (most streams have none). */
  private holds: Map<number, ChoiceHold> | undefined;
  // The envelope of the chunks the released calls go out in: the latest id, created and model seen.
  private id = '';
  private created = 0;
  private model = '';

  constructor(
    downstream: Subscriber<GuardedChunk<R>>,
    private readonly onInvalid: 'emit' | 'error',
    private readonly check: (
      call: AssembledToolCall,
      cut: boolean,
      late: boolean,
      extras: Record<string, unknown> | undefined,
    ) => ValidToolCall | UnvalidatedToolCall | InvalidToolCall,
  ) {
    super(downstream);
  }

  private hold(index: number): ChoiceHold {
    const holds = (this.holds ??= new Map());
    let h = holds.get(index);
    if (!h)
      holds.set(
        index,
        (h = {
          tools: new ToolCallAssembler(),
          extras: new Map(),
          pending: [],
          released: new Set(),
          late: new Set(),
        }),
      );
    return h;
  }

  /** Emits the held calls of a choice, one chunk each. False when the stream was failed instead. */
  private release(choiceIndex: number, h: ChoiceHold, cut: boolean, onlyWhole = false): boolean {
    const calls = onlyWhole ? h.pending.filter(isWholeJson) : h.pending;
    h.pending = onlyWhole ? h.pending.filter((c) => !calls.includes(c)) : [];
    for (const call of calls) {
      const checked = this.check(call, cut, h.late.delete(call), h.extras.get(call));
      h.released.add(call);
      let delta: GuardedDelta<R>;
      if ('reason' in checked) {
        if (this.onInvalid === 'error') {
          const { reason, message, issues, name, id } = checked;
          const init = {
            reason,
            message,
            issues,
            toolName: name,
            toolCallId: id,
            choiceIndex,
            arguments: checked.arguments,
          };
          this.downstream.error(new ToolCallError(init));
          return false;
        }
        delta = { invalid_tool_calls: [checked] };
      } else {
        delta = { tool_calls: [checked as unknown as R] };
      }
      this.downstream.next({
        id: this.id,
        created: this.created,
        model: this.model,
        object: 'chat.completion.chunk',
        choices: [{ index: choiceIndex, delta, finish_reason: null }],
      });
    }
    return true;
  }

  private releaseAll(): boolean {
    if (this.holds) for (const [index, h] of this.holds) if (!this.release(index, h, true)) return false;
    return true;
  }

  protected override onNext(chunk: Chunk): void {
    const { downstream } = this;
    if (chunk.reset !== undefined) {
      this.holds?.clear();
      downstream.next(chunk as GuardedChunk<R>);
      return;
    }
    // Hot path: most chunks carry text only and pass through as they are, with no allocation.
    if (chunk.id) this.id = chunk.id;
    if (chunk.created) this.created = chunk.created;
    if (chunk.model) this.model = chunk.model;
    let hadCalls = false;
    for (const choice of chunk.choices) {
      const fragments = choice.delta?.tool_calls;
      if (fragments && fragments.length > 0) {
        hadCalls = true;
        const h = this.hold(choice.index);
        for (const fragment of fragments) {
          const { call, started } = h.tools.add(fragment);
          const { index: _i, id: _id, type: _t, function: _f, ...extra } = fragment;
          if (Object.keys(extra).length > 0) h.extras.set(call, { ...h.extras.get(call), ...extra });
          // The previous calls of this choice are complete once the next one starts. One whose JSON
          // does not parse yet stays held until the choice ends: a provider matching fragments by
          // id may interleave calls, and releasing it now would refuse a call that later completes.
          if (started && !this.release(choice.index, h, false, true)) return;
          if (h.released.has(call)) {
            // A fragment for a call already released (a provider interleaving calls): the released
            // call may have been incomplete; the late part is refused, never merged as valid.
            if (fragment.function?.arguments?.trim()) h.late.add(call);
            else continue;
          }
          if (!h.pending.includes(call)) h.pending.push(call);
        }
      }
      if (choice.finish_reason != null) {
        const h = this.holds?.get(choice.index);
        if (h && !this.release(choice.index, h, CUT_REASONS.has(choice.finish_reason))) return;
      }
    }
    if (!hadCalls) {
      downstream.next(chunk as GuardedChunk<R>);
      return;
    }
    // The chunk without its fragments: what else it carried (text, finish, usage) still goes out.
    const kept: ChunkChoice[] = [];
    for (const choice of chunk.choices) {
      if (choice.delta?.tool_calls === undefined) {
        kept.push(choice);
        continue;
      }
      const { tool_calls: _fragments, ...rest } = choice.delta;
      if (Object.keys(rest).length > 0 || choice.finish_reason != null) kept.push({ ...choice, delta: rest });
    }
    if (kept.length > 0 || chunk.usage != null) {
      downstream.next({ ...chunk, choices: kept } as GuardedChunk<R>);
    }
  }

  protected override onError(error: unknown): void {
    // Held calls are cut; say so before the error (with onInvalid 'error' the source error wins,
    // and it wins over a schema that throws while the cut calls are checked).
    try {
      if (this.onInvalid === 'emit') this.releaseAll();
    } finally {
      this.downstream.error(error);
    }
  }

  protected override onComplete(): void {
    if (this.releaseAll()) this.downstream.complete();
  }
}
