/**
 * The built-in `mock` provider and the script engine behind it (re-exported by `rxllm/testing`,
 * which also serves scripts over real HTTP with `createMockServer`). It lives in the core because
 * the registry needs it and the core never imports `src/testing`.
 *
 * Chunks look like OpenAI's: a role chunk with `content: ''`, then reasoning, content, refusal and
 * tool-call fragments, a finish chunk (`delta: {}`), and a usage-only chunk (`choices: []`).
 */
import { asyncScheduler, NEVER, Observable, defer, throwError, type SchedulerLike } from 'rxjs';
import type { ChatCompletion, ChatCompletionChoice, Chunk, ChunkDelta, FinishReason, Usage } from '../chunk';
import type { Provider, ProviderCall } from './types';

/** What a mocked model answers. A bare string is shorthand for `{ text }`. */
export interface MockScript {
  /** Assistant content. */
  text?: string;
  /** Reasoning text, streamed before the content as `delta.reasoning`. */
  reasoning?: string;
  /** A refusal, streamed as `delta.refusal`. */
  refusal?: string;
  /** Tool calls, streamed after the content; `arguments` objects are JSON-encoded. */
  toolCalls?: {
    /** @defaultValue `call_mock_<index>` */
    id?: string;
    name: string;
    arguments: string | object;
    /** Code points per argument fragment. @defaultValue the script's `chunkSize` */
    argumentChunkSize?: number;
  }[];
  /** `null` = the stream never finishes (no finish chunk, no usage, never completes). @defaultValue 'tool_calls' with tool calls, else 'stop' */
  finishReason?: FinishReason | null;
  /** `'auto'` estimates ~1 token per 4 code points; `null` sends no usage chunk. @defaultValue 'auto' */
  usage?: Usage | null | 'auto';
  /** Code points (never half a surrogate pair) per content/reasoning/refusal chunk. @defaultValue 4 */
  chunkSize?: number;
  /** Number of choices; each gets the same content, their chunks interleaved. @defaultValue 1 */
  n?: number;
  /** @defaultValue the context's model, else 'mock' */
  model?: string;
  /** @defaultValue `chatcmpl-mock-<hash of the script>` (deterministic) */
  id?: string;
  /** Unix seconds. @defaultValue 1700000000 */
  created?: number;
  /**
   * `mockStream` and the mock provider error with `error` where chunk `chunks + 1` would have been
   * (after the last chunk when `chunks` is larger); `complete()` errors at once. `scriptToChunks` ignores it.
   */
  errorAfter?: { chunks: number; error: unknown };
}

/** Defaults the caller of the script knows better than the script (the provider, the mock server). */
export interface MockScriptContext {
  /** Used when the script has no `model`. */
  model?: string;
  /** Used when the script has no `id`. */
  id?: string;
  /** Prompt tokens reported by `usage: 'auto'`. @defaultValue 10 */
  promptTokens?: number;
}

/** Documented defaults of {@link MockScript}. */
export const MOCK_SCRIPT_DEFAULTS = {
  chunkSize: 4,
  n: 1,
  model: 'mock',
  created: 1_700_000_000,
  promptTokens: 10,
} as const;

function normalize(script: MockScript | string): MockScript {
  if (typeof script === 'string') return { text: script };
  if (script === null || typeof script !== 'object') {
    throw new TypeError('A mock script is a string or an object like { text: "..." }.');
  }
  return script;
}

function positiveInt(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new TypeError(`Mock script ${name} must be an integer >= 1, got ${value}.`);
  return value;
}

/** Splits by code points, `size` per piece, so a surrogate pair is never cut. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  let start = 0;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point: step over both.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count === size) {
      out.push(text.slice(start, i + 1));
      start = i + 1;
      count = 0;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** FNV-1a: a deterministic id without a global counter, so `scriptToChunks` stays pure. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

function copyDelta(delta: ChunkDelta): ChunkDelta {
  const copy = { ...delta };
  if (delta.tool_calls)
    copy.tool_calls = delta.tool_calls.map((t) => ({ ...t, function: { ...t.function } }));
  return copy;
}

function toolArguments(args: string | object): string {
  return typeof args === 'string' ? args : JSON.stringify(args);
}

const tokens = (text: string | undefined) => Math.ceil(Array.from(text ?? '').length / 4);

function resolveUsage(script: MockScript, n: number, promptTokens: number): Usage | null {
  const usage = script.usage === undefined ? 'auto' : script.usage;
  if (usage !== 'auto') return usage;
  const reasoning = tokens(script.reasoning) * n;
  const args = (script.toolCalls ?? []).reduce(
    (sum, call) => sum + tokens(toolArguments(call.arguments)) + 1,
    0,
  );
  const completion = (tokens(script.text) + tokens(script.refusal) + args) * n + reasoning;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    ...(script.reasoning ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
  };
}

function header<O extends string>(script: MockScript, context: MockScriptContext, object: O) {
  return {
    id: script.id ?? context.id ?? `chatcmpl-mock-${hash(JSON.stringify(script))}`,
    object,
    created: script.created ?? MOCK_SCRIPT_DEFAULTS.created,
    model: script.model ?? context.model ?? MOCK_SCRIPT_DEFAULTS.model,
  };
}

function finishOf(script: MockScript): FinishReason | null {
  return script.finishReason === undefined
    ? script.toolCalls?.length
      ? 'tool_calls'
      : 'stop'
    : script.finishReason;
}

/**
 * Renders a script as the chunks an OpenAI-compatible server would stream. Pure and deterministic.
 *
 * @example
 * import { scriptToChunks } from 'rxllm/testing';
 * scriptToChunks({ text: 'Hello 👋 world', chunkSize: 3 }); // role, 'Hel', 'lo ', '👋 w', 'orl', 'd', finish, usage
 */
export function scriptToChunks(script: MockScript | string, context: MockScriptContext = {}): Chunk[] {
  const s = normalize(script);
  const size = positiveInt(s.chunkSize, 'chunkSize', MOCK_SCRIPT_DEFAULTS.chunkSize);
  const n = positiveInt(s.n, 'n', MOCK_SCRIPT_DEFAULTS.n);
  const base = header(s, context, 'chat.completion.chunk' as const);
  const deltas: ChunkDelta[] = [{ role: 'assistant', content: '' }];
  for (const part of pieces(s.reasoning ?? '', size)) deltas.push({ reasoning: part });
  for (const part of pieces(s.text ?? '', size)) deltas.push({ content: part });
  for (const part of pieces(s.refusal ?? '', size)) deltas.push({ refusal: part });
  (s.toolCalls ?? []).forEach((call, index) => {
    const argSize = positiveInt(call.argumentChunkSize, 'argumentChunkSize', size);
    const id = call.id ?? `call_mock_${index}`;
    deltas.push({
      tool_calls: [{ index, id, type: 'function', function: { name: call.name, arguments: '' } }],
    });
    for (const part of pieces(toolArguments(call.arguments), argSize)) {
      deltas.push({ tool_calls: [{ index, function: { arguments: part } }] });
    }
  });
  const chunks: Chunk[] = [];
  for (const delta of deltas) {
    for (let index = 0; index < n; index++) {
      // Each choice gets its own delta object, so a consumer mutating one cannot change another.
      const own = index === 0 ? delta : copyDelta(delta);
      chunks.push({ ...base, choices: [{ index, delta: own, finish_reason: null }] });
    }
  }
  const finish = finishOf(s);
  if (finish === null) return chunks;
  for (let index = 0; index < n; index++)
    chunks.push({ ...base, choices: [{ index, delta: {}, finish_reason: finish }] });
  const usage = resolveUsage(s, n, context.promptTokens ?? MOCK_SCRIPT_DEFAULTS.promptTokens);
  if (usage) chunks.push({ ...base, choices: [], usage });
  return chunks;
}

/**
 * Renders a script as one non-streamed `ChatCompletion` (what `complete()` and the mock server's
 * non-streaming answer return). A script that never finishes gets `finish_reason: null`.
 */
export function scriptToCompletion(
  script: MockScript | string,
  context: MockScriptContext = {},
): ChatCompletion {
  const s = normalize(script);
  const n = positiveInt(s.n, 'n', MOCK_SCRIPT_DEFAULTS.n);
  positiveInt(s.chunkSize, 'chunkSize', MOCK_SCRIPT_DEFAULTS.chunkSize);
  const choices: ChatCompletionChoice[] = [];
  for (let index = 0; index < n; index++) {
    const toolCalls = (s.toolCalls ?? []).map((call, i) => ({
      id: call.id ?? `call_mock_${i}`,
      type: 'function' as const,
      function: { name: call.name, arguments: toolArguments(call.arguments) },
    }));
    choices.push({
      index,
      message: {
        role: 'assistant',
        content: s.text ?? (toolCalls.length || s.refusal ? null : ''),
        ...(s.refusal !== undefined ? { refusal: s.refusal } : {}),
        ...(s.reasoning !== undefined ? { reasoning: s.reasoning } : {}),
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
      },
      finish_reason: finishOf(s),
    });
  }
  const usage = resolveUsage(s, n, context.promptTokens ?? MOCK_SCRIPT_DEFAULTS.promptTokens);
  return { ...header(s, context, 'chat.completion' as const), choices, usage };
}

/** Options of {@link mockStream}. */
export interface MockStreamOptions {
  /** Scheduler that times the chunks. @defaultValue none: synchronous when both delays are 0, else asyncScheduler */
  scheduler?: SchedulerLike;
  /** Time between two chunks. @defaultValue 0 */
  delayMs?: number;
  /** Time from subscribe to the first chunk. @defaultValue delayMs */
  firstChunkDelayMs?: number;
}

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new TypeError(`mockStream ${name} must be a finite number >= 0, got ${value}.`);
  }
  return value;
}

/**
 * Streams a script as a cold observable. Chunk `i` arrives at `firstChunkDelayMs + i * delayMs`;
 * completion arrives with the last chunk; `errorAfter` errors where chunk `k + 1` would have been;
 * `finishReason: null` never completes. Unsubscribing cancels the pending scheduler action.
 *
 * ```
 * mockStream('Hi', { delayMs: 3 }):   ---r--c--f--(u|)    r = role chunk, c = 'Hi', f = finish, u = usage
 * ```
 *
 * @example
 * import { mockStream } from 'rxllm/testing';
 * mockStream({ text: 'Hello', chunkSize: 2 }, { delayMs: 20 }).subscribe((c) => console.log(c.choices[0]?.delta));
 */
export function mockStream(script: MockScript | string, options: MockStreamOptions = {}): Observable<Chunk> {
  const delayMs = nonNegative(options.delayMs, 'delayMs') ?? 0;
  const firstDelay = nonNegative(options.firstChunkDelayMs, 'firstChunkDelayMs') ?? delayMs;
  const s = normalize(script);
  const chunks = scriptToChunks(s);
  return streamChunks(chunks, s, options.scheduler, delayMs, firstDelay);
}

function streamChunks(
  chunks: Chunk[],
  s: MockScript,
  scheduler: SchedulerLike | undefined,
  delayMs: number,
  firstDelay: number,
): Observable<Chunk> {
  const errorAt = s.errorAfter
    ? Math.min(chunks.length, Math.max(0, Math.floor(s.errorAfter.chunks)))
    : Infinity;
  const finishes = finishOf(s) !== null;
  return new Observable<Chunk>((subscriber) => {
    // Returns false when the stream has ended (error or completion).
    const step = (i: number): boolean => {
      if (i >= errorAt) {
        subscriber.error(s.errorAfter!.error);
        return false;
      }
      if (i < chunks.length) subscriber.next(chunks[i]);
      // With `errorAfter` past the last chunk, the error takes the slot after it.
      if (i + 1 >= chunks.length && errorAt === Infinity) {
        if (finishes) subscriber.complete();
        return false;
      }
      return true;
    };
    if (chunks.length === 0 && errorAt === Infinity) {
      if (finishes) subscriber.complete();
      return;
    }
    if (!scheduler && delayMs === 0 && firstDelay === 0) {
      for (let i = 0; !subscriber.closed && step(i); i++);
      return;
    }
    return (scheduler ?? asyncScheduler).schedule<number>(
      function (i) {
        if (step(i!)) this.schedule(i! + 1, delayMs);
      },
      firstDelay,
      0,
    );
  });
}

/** The content of the last user message, as text. */
function lastUserText(messages: readonly unknown[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string; content?: unknown };
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .map((p: { type?: string; text?: string }) => (p?.type === 'text' ? p.text : ''))
        .join('');
    }
  }
  return undefined;
}

/** What the mock answers when told nothing: `Mock reply to: <last user message>`. */
export function defaultMockScript(messages: readonly unknown[] = []): MockScript {
  const text = lastUserText(messages);
  return { text: text === undefined ? 'Mock reply.' : `Mock reply to: ${text}` };
}

/** ~1 token per 4 code points of the messages' text, for `usage: 'auto'`. */
export function estimatePromptTokens(messages: readonly unknown[] = []): number {
  return Math.max(
    1,
    tokens(JSON.stringify(messages.map((m) => (m as { content?: unknown })?.content ?? ''))),
  );
}

function scriptOf(call: ProviderCall): { script: MockScript; context: MockScriptContext; delayMs: number } {
  const request = call.request as ProviderCall['request'] & {
    mock_response?: unknown;
    mock_delay_ms?: unknown;
  };
  const given = request.mock_response;
  let script: MockScript =
    given === undefined ? defaultMockScript(request.messages) : normalize(given as MockScript);
  if (script.n === undefined && request.n !== undefined) script = { ...script, n: request.n };
  if (call.options.includeUsage === false) script = { ...script, usage: null };
  const delayMs = nonNegative(request.mock_delay_ms as number | undefined, 'mock_delay_ms') ?? 0;
  return {
    script,
    context: { model: call.model, promptTokens: estimatePromptTokens(request.messages) },
    delayMs,
  };
}

/**
 * The `mock/<anything>` provider: no network. It streams the request's `mock_response` (a string
 * or a {@link MockScript}), else `Mock reply to: <last user message>`, timed by
 * `options.scheduler` (default asyncScheduler) with `mock_delay_ms` between chunks (default 0).
 *
 * @example
 * import { stream } from 'rxllm';
 * stream({ model: 'mock/any', messages: [{ role: 'user', content: 'Hi' }], mock_response: { text: 'Hello!' } } as any);
 */
export const mockProvider: Provider = {
  name: 'mock',
  stream(call) {
    return defer(() => {
      const { script, context, delayMs } = scriptOf(call);
      const chunks = scriptToChunks(script, context);
      return streamChunks(chunks, script, call.options.scheduler ?? asyncScheduler, delayMs, delayMs);
    });
  },
  complete(call) {
    return defer(() => {
      const { script, context, delayMs } = scriptOf(call);
      if (script.errorAfter) return throwError(() => script.errorAfter!.error);
      const completion = scriptToCompletion(script, context);
      // A script that never finishes never answers, like a server that hangs.
      if (finishOf(script) === null) return NEVER;
      return new Observable<ChatCompletion>((subscriber) =>
        (call.options.scheduler ?? asyncScheduler).schedule(() => {
          subscriber.next(completion);
          subscriber.complete();
        }, delayMs),
      );
    });
  },
};
