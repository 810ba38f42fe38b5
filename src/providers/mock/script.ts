/**
 * The mock's script engine: a string or a script (text, reasoning, refusal, tool calls, finish
 * reason, usage, an error after k chunks) → realistic OpenAI-style chunks or a whole completion.
 *
 * Chunks look like OpenAI's: a role chunk with `content: ''`, then reasoning, content, refusal and
 * tool-call fragments, a finish chunk (`delta: {}`), and a usage-only chunk (`choices: []`).
 */
import type {
  ChatCompletion,
  ChatCompletionChoice,
  Chunk,
  ChunkDelta,
  FinishReason,
  Usage,
} from '../../chunk';
import type { MockScript } from '../../mockRequest';

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

/** The fields of a {@link MockScript}: anything else is a typo (`content` for `text`) and refused. */
const SCRIPT_KEYS = new Set([
  'text',
  'reasoning',
  'refusal',
  'toolCalls',
  'finishReason',
  'usage',
  'chunkSize',
  'n',
  'model',
  'id',
  'created',
  'errorAfter',
]);
const FINISH_REASONS = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);
const HINTS: Record<string, string> = {
  content: 'text',
  message: 'text',
  tool_calls: 'toolCalls',
  tools: 'toolCalls',
  finish_reason: 'finishReason',
  reasoning_content: 'reasoning',
};

/**
 * Every problem of a script, as `field: what is wrong` lines (empty when it is valid). `allowed`:
 * extra field names to accept, `'any'` to accept every extra field, `'typos'` to refuse only the
 * known slips (`content` for `text`, `tool_calls` for `toolCalls`, ...).
 * @internal shared with the mock stream, the provider and the mock server
 */
export function scriptProblems(script: unknown, allowed?: ReadonlySet<string> | 'any' | 'typos'): string[] {
  if (typeof script === 'string') return [];
  if (script === null || typeof script !== 'object' || Array.isArray(script)) {
    return ['(script): a mock script is a string or an object like { text: "..." }'];
  }
  const s = script as Record<string, unknown>;
  const problems: string[] = [];
  const isStr = (v: unknown) => v === undefined || typeof v === 'string';
  for (const key of Object.keys(s)) {
    if (SCRIPT_KEYS.has(key) || allowed === 'any') continue;
    // 'typos': other fields are someone else's (the mock server's transport fields); known slips are not.
    if (allowed === 'typos' ? !HINTS[key] : typeof allowed === 'object' && allowed.has(key)) continue;
    const hint = HINTS[key] ? ` (did you mean "${HINTS[key]}"?)` : '';
    problems.push(`${key}: unknown field${hint}`);
  }
  for (const key of ['text', 'reasoning', 'refusal', 'model', 'id'] as const) {
    if (!isStr(s[key])) problems.push(`${key}: must be a string`);
  }
  if (s.created !== undefined && !Number.isFinite(s.created)) problems.push('created: must be a number');
  if (
    s.finishReason !== undefined &&
    s.finishReason !== null &&
    !FINISH_REASONS.has(s.finishReason as string)
  ) {
    problems.push(`finishReason: must be one of ${[...FINISH_REASONS].join(', ')} or null`);
  }
  const usage = s.usage as Record<string, unknown> | null | undefined | string;
  if (usage !== undefined && usage !== null && usage !== 'auto') {
    if (typeof usage !== 'object') problems.push("usage: must be 'auto', null or a usage object");
    else {
      for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
        if (typeof usage[k] !== 'number') problems.push(`usage.${k}: must be a number`);
      }
    }
  }
  if (s.toolCalls !== undefined) {
    if (!Array.isArray(s.toolCalls)) problems.push('toolCalls: must be an array');
    else {
      s.toolCalls.forEach((c: Record<string, unknown> | null, i) => {
        if (c === null || typeof c !== 'object') return problems.push(`toolCalls.${i}: must be an object`);
        if (typeof c.name !== 'string' || c.name === '')
          problems.push(`toolCalls.${i}.name: must be a non-empty string`);
        if (typeof c.arguments !== 'string' && (c.arguments === null || typeof c.arguments !== 'object')) {
          problems.push(`toolCalls.${i}.arguments: must be a string or an object`);
        }
        if (!isStr(c.id)) problems.push(`toolCalls.${i}.id: must be a string`);
      });
    }
  }
  if (s.errorAfter !== undefined) {
    const e = s.errorAfter as { chunks?: unknown } | null;
    if (e === null || typeof e !== 'object' || typeof e.chunks !== 'number' || !(e.chunks >= 0)) {
      problems.push('errorAfter: must be { chunks: number >= 0, error }');
    }
  }
  return problems;
}

/** @internal shared with the mock stream and provider */
export function normalize(script: MockScript | string, allowed?: ReadonlySet<string> | 'any'): MockScript {
  const problems = scriptProblems(script, allowed);
  if (problems.length > 0) throw new TypeError(`Invalid mock script: ${problems.join('; ')}.`);
  return typeof script === 'string' ? { text: script } : script;
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

/** @internal shared with the mock stream and provider */
export const tokens = (text: string | undefined) => Math.ceil(Array.from(text ?? '').length / 4);

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

/** @internal shared with the mock stream and provider */
export function finishOf(script: MockScript): FinishReason | null {
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
  // Extra fields are let through here: the mock server renders its scripts (with transport fields) with it.
  const s = normalize(script, 'any');
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
  const s = normalize(script, 'any');
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
