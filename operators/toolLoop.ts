import { sumUsage } from '../src/cost/sumUsage';
import { concat, defer, EMPTY, from, map, mergeMap, Observable, of } from 'rxjs';
import type { Chunk, FinishReason, Usage } from '../src/chunk';
import type { CallOptions } from '../src/options';
import type { ChatMessage, ChatRequest } from '../src/request';
import { isStandardSchema } from '../src/standardSchema';
import { assistantTurn, CallIdRegistry, callKey, type LoopCall } from './internal/assistantTurn';
import { linkedSubscriber } from './internal/operate';
import { runToolCall } from './internal/runToolCall';
import { toolParameters } from './internal/toolParameters';
import {
  partialToolCallGuard,
  type GuardedChunk,
  type InvalidToolCall,
  type ValidToolCall,
} from './partialToolCallGuard';
import type { ToolResult, ToolSet } from './tool';

/** What `toolLoop` calls the model with: `createClient()` from 'rxllm', or `{ stream }`. */
export interface ToolLoopClient {
  stream(request: ChatRequest, options?: CallOptions): Observable<Chunk>;
}

/** One model call and the tool calls it asked for. */
export interface StepResult {
  step: number;
  /**
   * The assistant turn appended to the conversation: the whole merged message (reasoning details,
   * thought signatures, refusal included), each call with its loop id.
   */
  message: Extract<ChatMessage, { role: 'assistant' }>;
  finishReason: FinishReason | null;
  usage: Usage | null;
  toolResults: ToolResult[];
}

/** What `stopWhen` sees after each step that ran tools. */
export interface ToolLoopState {
  step: number;
  steps: readonly StepResult[];
  messages: readonly ChatMessage[];
}

/** What `prepareStep` sees before each model call. */
export interface PrepareStepState {
  /** The step (1-based) about to call the model. */
  step: number;
  /** The steps that ended. */
  steps: readonly StepResult[];
  /** The conversation so far. */
  messages: readonly ChatMessage[];
  /** The request the loop would send: the conversation, the tools and `tool_choice` as the loop set it. */
  request: ChatRequest;
}

/** Fields merged over one step's request (`tool_choice`, `model`, `tools`, `messages`, ...). */
export type PrepareStepResult = Partial<ChatRequest> | undefined | void;

/** Why the loop ended. */
export type ToolLoopFinishReason = 'done' | 'max-steps' | 'stop-when';

/** The loop's own events, carried by chunks with `choices: []` (see {@link ToolLoopChunk}). */
export type ToolLoopEvent =
  | { type: 'step-start'; step: number }
  | {
      type: 'tool-call';
      step: number;
      /** The released call (`valid`: parsed and checked, with `input`) or the refused one (with `reason`). */
      call: ValidToolCall | InvalidToolCall;
      valid: boolean;
      toolCallId: string;
      name: string;
      /** The arguments exactly as the model sent them. */
      arguments: string;
    }
  | ({ type: 'tool-result' } & ToolResult)
  | ({ type: 'step-end' } & StepResult)
  | {
      type: 'finish';
      reason: ToolLoopFinishReason;
      steps: number;
      /** The whole conversation: the request's messages plus every assistant turn and tool result. */
      messages: ChatMessage[];
      /** Summed over the steps; `null` when no step reported usage. */
      usage: Usage | null;
    };

/**
 * A chunk of the loop: a model chunk (tool calls whole and validated, as `partialToolCallGuard` gives
 * them) or, with `choices: []` and `tool_loop` set, an event of the loop. Event chunks carry no text
 * and no usage, so `textDeltas()`, `collectText()` and `usage()` read the model chunks only.
 */
export interface ToolLoopChunk extends GuardedChunk {
  tool_loop?: ToolLoopEvent;
}

/** True for a chunk carrying a loop event. */
export function isToolLoopEvent(chunk: Chunk): chunk is ToolLoopChunk & { tool_loop: ToolLoopEvent } {
  return (chunk as ToolLoopChunk).tool_loop !== undefined;
}

export interface ToolLoopConfig<T extends ToolSet = ToolSet> {
  /** Calls the model: `createClient()` (from 'rxllm') or `{ stream }`. Required. */
  client: ToolLoopClient;
  /** The tools, by name. Sent to the model as `request.tools` unless the request has its own. Required. */
  tools: T;
  /** Most model calls. @defaultValue 10 */
  maxSteps?: number;
  /** Asked after every step that ran tools; `true` ends the loop before the next model call. @defaultValue undefined (never) */
  stopWhen?: (state: ToolLoopState) => boolean;
  /** Most tool calls running at once. @defaultValue Infinity */
  concurrency?: number;
  /** Asked before a valid call runs; `false` sends "denied" to the model instead. @defaultValue undefined (all run) */
  approve?: (call: ValidToolCall) => boolean | Promise<boolean>;
  /** Options for every model call (`baseURL`, `timeouts`, ...). @defaultValue undefined */
  callOptions?: CallOptions;
  /**
   * Asked before every model call (step 1 included) with the request the loop would send; the fields
   * it returns (sync or as a Promise) are merged over that request for that call only (the loop's
   * conversation keeps growing as before): switch `tool_choice`, `model` or `tools` per step, trim
   * `messages`. A throw or rejection ends the stream with that error. @defaultValue undefined (no changes)
   */
  prepareStep?: (state: PrepareStepState) => PrepareStepResult | PromiseLike<PrepareStepResult>;
  /** Most milliseconds a tool call may run, for tools without their own `timeoutMs`. @defaultValue Infinity */
  toolTimeoutMs?: number;
}

/** Defaults of {@link toolLoop}. */
export const TOOL_LOOP_DEFAULTS = {
  maxSteps: 10,
  concurrency: Infinity,
  toolTimeoutMs: Infinity,
} as const satisfies Partial<ToolLoopConfig>;

function checkTimeout(name: string, ms: unknown): void {
  if (ms === undefined || ms === Infinity) return;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(
      `toolLoop: ${name} must be a number > 0 (milliseconds) or Infinity, got ${String(ms)}.`,
    );
  }
}

function checkConfig(config: ToolLoopConfig): void {
  if (config === null || typeof config !== 'object')
    throw new TypeError('toolLoop: config must be an object.');
  if (typeof config.client?.stream !== 'function') {
    throw new TypeError(
      'toolLoop: client must have a stream(request) method (e.g. createClient() from rxllm).',
    );
  }
  if (config.tools === null || typeof config.tools !== 'object') {
    throw new TypeError('toolLoop: tools must be an object of { schema, execute } by tool name.');
  }
  for (const [name, t] of Object.entries(config.tools)) {
    if (!isStandardSchema(t?.schema)) {
      throw new TypeError(
        `toolLoop: tools.${name}.schema must be a Standard Schema (a zod 3.25+ or 4 schema, Valibot, ArkType).`,
      );
    }
    if (typeof t.execute !== 'function')
      throw new TypeError(`toolLoop: tools.${name}.execute must be a function.`);
    checkTimeout(`tools.${name}.timeoutMs`, t.timeoutMs);
  }
  checkTimeout('toolTimeoutMs', config.toolTimeoutMs);
  const { maxSteps = TOOL_LOOP_DEFAULTS.maxSteps, concurrency = TOOL_LOOP_DEFAULTS.concurrency } = config;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) {
    throw new TypeError(`toolLoop: maxSteps must be an integer >= 1, got ${String(maxSteps)}.`);
  }
  if (!(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency >= 1))) {
    throw new TypeError(
      `toolLoop: concurrency must be an integer >= 1 or Infinity, got ${String(concurrency)}.`,
    );
  }
  for (const key of ['stopWhen', 'approve', 'prepareStep'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'function') {
      throw new TypeError(`toolLoop: ${key} must be a function.`);
    }
  }
}

/** The loop's usage so far plus a step's: every priced detail kept (`cost(finish.usage)` bills all of it). */
function addUsage(total: Usage | null, step: Usage | null): Usage | null {
  if (!step) return total;
  return total ? sumUsage(total, step) : { ...step };
}

/**
 * Runs the tool-calling loop: streams a model call, takes its complete, validated tool calls (through
 * `partialToolCallGuard`), runs them (in parallel up to `concurrency`, after `approve`), appends the
 * assistant turn and the tool results, and calls the model again, until an answer without tool
 * calls (`done`), `maxSteps` model calls (`max-steps`) or `stopWhen` (`stop-when`). Anchors:
 * openai-node `runTools`, the AI SDK's `stopWhen`.
 *
 * It takes the request rather than being piped onto a stream because it must send new requests
 * (the conversation grows each step); like `stream()` it is cold and each subscription runs its
 * own loop. It emits every model chunk of every step plus event chunks (`choices: []`, `tool_loop`:
 * step start/end, tool call, tool result, finish with the whole conversation), so
 * `.pipe(textDeltas())` shows the whole answer. It works on the neutral request and chunks, so with
 * every provider. Tool calls are read from choice 0 (a loop follows one conversation).
 *
 * The appended assistant turn is the whole merged answer (`mergeChunks`): Anthropic thinking blocks
 * with their signatures and Responses reasoning items (`reasoning_details`), Gemini thought
 * signatures (each call's `extra_content`), reasoning text (Ollama's `thinking`), so each provider
 * accepts its own turn back. Every call gets an id unique in the conversation (the provider's, or
 * `call_rxllm_<n>` when it sent none or a repeated one, as some OpenAI-compatible servers do); events,
 * `execute`'s `context.call` and the tool messages all use it.
 *
 * An `execute` error, a result that cannot be written as JSON, a tool past its `timeoutMs`, invalid
 * arguments (bad JSON, schema mismatch, unknown tool, cut call) and a denied call go back to the model
 * as the call's tool result, marked `is_error: true`: sent as Anthropic's `tool_result.is_error` and
 * as Gemini's `functionResponse.response.error`; OpenAI chat, the Responses API and Ollama have no
 * such flag and get the `Error: ...` text alone. A call whose arguments are not a JSON object is sent
 * back with `{}` as arguments (Anthropic and Gemini take parsed objects) and its raw text quoted in
 * the error result.
 *
 * A `tool_choice` that forces a call (`'required'`, or one named function) is sent on step 1 only;
 * later steps send `'auto'`: the forced call was made, and forcing again would call tools until
 * `maxSteps` (openai-node's `runTools` stops after a forced function for the same reason). To force
 * calls on later steps too (an agent that must end with an `answer` tool), return `tool_choice` from
 * `prepareStep`. A model error, or a throwing `approve`/`stopWhen`/`prepareStep`, ends the stream with
 * that error. Unsubscribing aborts the model call in flight and the `signal` given to running tools.
 *
 * ```
 * model 1: -t--c--f-u|                  t: text, c: fragments of a get_weather call, f: finish 'tool_calls', u: usage
 * tools:              -r|               r: what execute returned
 * model 2:               -a--s-u|       a: answer text, s: finish 'stop'
 * result:  St-----CTf-u-RES-a--s-uEF|   S: step-start, C: the whole call (validated), T: tool-call, R: tool-result,
 *                                       E: step-end, F: finish (reason 'done', the whole conversation)
 *          (several letters in one frame are written one after another, not as a group)
 * ```
 *
 * @example
 * import { lastValueFrom, tap } from 'rxjs';
 * import { z } from 'zod';
 * import { createClient } from 'rxllm';
 * import { isToolLoopEvent, textDeltas, tool, toolLoop } from 'rxllm/operators';
 * import { createMockServer } from 'rxllm/testing';
 *
 * const server = await createMockServer();
 * server.enqueue(
 *   { toolCalls: [{ name: 'get_weather', arguments: { city: 'Lisbon' } }] },
 *   { text: 'It is 21 °C and sunny in Lisbon.' },
 * );
 * const loop$ = toolLoop(
 *   { model: 'compat/mock', messages: [{ role: 'user', content: 'Weather in Lisbon?' }] },
 *   {
 *     client: createClient({ baseURL: server.url }),
 *     tools: {
 *       get_weather: tool({
 *         description: 'Current weather for a city',
 *         schema: z.object({ city: z.string() }),
 *         execute: async ({ city }) => ({ city, celsius: 21, sky: 'sunny' }),
 *       }),
 *     },
 *   },
 * );
 * const events = loop$.pipe(
 *   tap((chunk) => {
 *     if (isToolLoopEvent(chunk)) console.log('event:', chunk.tool_loop.type);
 *   }),
 * );
 * await lastValueFrom(events.pipe(textDeltas(), tap((text) => process.stdout.write(text))));
 * await server.close();
 */
export function toolLoop<T extends ToolSet>(
  request: ChatRequest,
  config: ToolLoopConfig<T>,
): Observable<ToolLoopChunk> {
  checkConfig(config);
  const {
    client,
    tools,
    maxSteps = TOOL_LOOP_DEFAULTS.maxSteps,
    concurrency = TOOL_LOOP_DEFAULTS.concurrency,
    stopWhen,
    approve,
    callOptions,
    prepareStep,
    toolTimeoutMs = TOOL_LOOP_DEFAULTS.toolTimeoutMs,
  } = config;
  const names = Object.keys(tools);
  const guard = partialToolCallGuard({ schemas: Object.fromEntries(names.map((n) => [n, tools[n].schema])) });
  const declared = request.tools ?? [
    ...names.map((name) => {
      const t = tools[name];
      return {
        type: 'function' as const,
        function: {
          name,
          ...(t.description !== undefined && { description: t.description }),
          parameters: toolParameters(name, t),
        },
      };
    }),
  ];
  const choice = request.tool_choice;
  const forcing = choice === 'required' || (typeof choice === 'object' && choice !== null);

  return defer(() => {
    const messages: ChatMessage[] = [...request.messages];
    const steps: StepResult[] = [];
    const ids = new CallIdRegistry(request.messages);
    let total: Usage | null = null;
    const envelope = { id: '', created: 0, model: request.model };
    const event = (e: ToolLoopEvent): ToolLoopChunk => ({
      ...envelope,
      object: 'chat.completion.chunk',
      choices: [],
      tool_loop: e,
    });

    /** The request of one step: the conversation so far, the tools, `tool_choice` (see the TSDoc), then `prepareStep`'s changes. */
    const prepare = (step: number): Observable<ChatRequest> =>
      defer(() => {
        const body: ChatRequest = { ...request, messages: [...messages] };
        if (declared.length > 0) body.tools = declared;
        if (forcing && step > 1) body.tool_choice = 'auto';
        if (!prepareStep) return of(body);
        const changes = prepareStep({ step, steps: [...steps], messages: [...messages], request: body });
        const merge = (c: PrepareStepResult): ChatRequest => {
          if (c == null) return body;
          if (typeof c !== 'object' || Array.isArray(c)) {
            throw new TypeError('toolLoop: prepareStep must return an object of request fields, or nothing.');
          }
          return { ...body, ...c };
        };
        const thenable = changes as PromiseLike<PrepareStepResult> | undefined;
        return typeof thenable?.then === 'function'
          ? from(thenable).pipe(map(merge))
          : of(merge(changes as PrepareStepResult));
      });

    /** Takes a released call: gives it its loop id, records it, and says whether the id changed. */
    const adopt = <C extends ValidToolCall | InvalidToolCall>(call: C, calls: LoopCall[]): C => {
      const id = ids.claim(call.id);
      const adopted = id === call.id ? call : { ...call, id };
      calls.push({ call: adopted, key: callKey(call.index, call.id) });
      return adopted;
    };

    /** One model call: its chunks and tool-call events; fills `calls` and the raw chunks for the turn. */
    const modelCall = (step: number, body: ChatRequest, raw: Chunk[], calls: LoopCall[]) =>
      new Observable<ToolLoopChunk>((subscriber) => {
        // Linked to the loop's subscriber, not to the guard's: when downstream stops, a synchronous
        // model stream stops too, whatever the operators in between do.
        const source = new Observable<Chunk>((inner) => {
          const linked = linkedSubscriber<Chunk>(subscriber, {
            next: (chunk) => {
              if (chunk.reset !== undefined) raw.length = 0;
              else raw.push(chunk);
              inner.next(chunk);
            },
            error: (error) => inner.error(error),
            complete: () => inner.complete(),
          });
          client.stream(body, callOptions).subscribe(linked);
          return linked;
        }).pipe(guard);
        source.subscribe(
          linkedSubscriber<GuardedChunk>(subscriber, {
            next: (chunk) => {
              if (chunk.reset !== undefined) {
                calls.length = 0;
                ids.releaseStep();
              }
              if (chunk.id) envelope.id = chunk.id;
              if (chunk.created) envelope.created = chunk.created;
              const found: ToolLoopChunk[] = [];
              let out: GuardedChunk = chunk;
              for (const c of chunk.choices) {
                if (c.index !== 0) continue;
                const { tool_calls: valid, invalid_tool_calls: invalid } = c.delta;
                if (!valid?.length && !invalid?.length) continue;
                const delta = { ...c.delta };
                if (valid?.length) delta.tool_calls = valid.map((call) => adopt(call, calls));
                if (invalid?.length) delta.invalid_tool_calls = invalid.map((call) => adopt(call, calls));
                // The model chunk carries the loop's ids too, so its calls pair with the events.
                out = { ...chunk, choices: chunk.choices.map((x) => (x === c ? { ...c, delta } : x)) };
                for (const call of delta.tool_calls ?? []) {
                  const info = { toolCallId: call.id, name: call.name, arguments: call.function.arguments };
                  found.push(event({ type: 'tool-call', step, call, valid: true, ...info }));
                }
                for (const call of delta.invalid_tool_calls ?? []) {
                  const info = { toolCallId: call.id, name: call.name, arguments: call.arguments };
                  found.push(event({ type: 'tool-call', step, call, valid: false, ...info }));
                }
              }
              subscriber.next(out);
              for (const e of found) subscriber.next(e);
            },
          }),
        );
      });

    /** Runs one call; emits its tool-result event and records the result. */
    const runCall = (
      step: number,
      call: ValidToolCall | InvalidToolCall,
      results: Map<ValidToolCall | InvalidToolCall, ToolResult>,
    ): Observable<ToolLoopChunk> => {
      const timeoutMs = ('input' in call ? tools[call.name]?.timeoutMs : undefined) ?? toolTimeoutMs;
      return runToolCall(call, { tools, approve, step, messages, timeoutMs }).pipe(
        map((result) => {
          results.set(call, result);
          return event({ type: 'tool-result', ...result });
        }),
      );
    };

    const runStep = (step: number): Observable<ToolLoopChunk> =>
      defer(() => {
        const raw: Chunk[] = [];
        let calls: LoopCall[] = [];
        const results = new Map<ValidToolCall | InvalidToolCall, ToolResult>();
        let assistant: StepResult['message'];
        let finishReason: FinishReason | null = null;
        let usage: Usage | null = null;

        const closeTurn = () => {
          const turn = assistantTurn(raw, calls);
          ids.endStep();
          const choice0 = turn.merged.choices.find((c) => c.index === 0);
          finishReason = choice0?.finish_reason ?? null;
          usage = turn.merged.usage;
          total = addUsage(total, usage);
          // The model's order, which the tool messages follow too.
          calls = turn.calls;
          assistant = turn.message;
          messages.push(assistant);
          return EMPTY;
        };

        const finishStep = () => {
          const toolResults = calls.map((c) => results.get(c.call)!);
          for (const r of toolResults) {
            messages.push({
              role: 'tool',
              tool_call_id: r.toolCallId,
              content: r.content,
              ...(r.status !== 'ok' && { is_error: true }),
            });
          }
          const result: StepResult = { step, message: assistant, finishReason, usage, toolResults };
          steps.push(result);
          let reason: ToolLoopFinishReason | undefined;
          if (calls.length === 0) reason = 'done';
          else if (step >= maxSteps) reason = 'max-steps';
          else if (stopWhen?.({ step, steps: [...steps], messages: [...messages] })) reason = 'stop-when';
          const end = of(event({ type: 'step-end', ...result }));
          if (reason === undefined) return concat(end, runStep(step + 1));
          const finish = event({
            type: 'finish',
            reason,
            steps: step,
            messages: [...messages],
            usage: total,
          });
          return concat(end, of(finish));
        };

        return concat(
          of(event({ type: 'step-start', step })),
          prepare(step).pipe(mergeMap((body) => modelCall(step, body, raw, calls))),
          defer(closeTurn),
          defer(() => from(calls).pipe(mergeMap(({ call }) => runCall(step, call, results), concurrency))),
          defer(finishStep),
        );
      });

    return runStep(1);
  });
}
