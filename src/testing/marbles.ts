/**
 * Marble-test helpers: turn a mock script into the marble string and values that `mockStream`
 * produces under a `TestScheduler`, so a pipeline's spec can write `cold(marbles, values)` instead of
 * spelling out dozens of chunks, and read results back as text.
 */
import type { Chunk } from '../chunk';
import {
  mockSetup,
  scriptToChunks,
  type MockRequestFields,
  type MockResponse,
  type MockScript,
  type MockScriptContext,
  type MockStreamOptions,
} from '../providers/mock';
import { normalize } from '../providers/mock/script';
import { splitModel } from '../request';

/** Options of {@link chunkMarbles}: the timing of `mockStream` (same defaults), or the request. */
export interface ChunkMarblesOptions extends Pick<MockStreamOptions, 'delayMs' | 'firstChunkDelayMs'> {
  /**
   * The request your code sends to the mock provider (`model: 'mock/...'`): its model, messages (the
   * prompt-token estimate of `usage`), `n`, `mock_delay_ms` and `mock_first_chunk_delay_ms` are used
   * exactly as the provider uses them, so the values are what `stream(request)` emits. The script is
   * the first argument, or `request.mock_response` when that is `undefined`. `delayMs` and
   * `firstChunkDelayMs` given here win over the request's. @defaultValue undefined (mockStream's
   * model `mock` and 10 prompt tokens)
   */
  request?: { model: string; messages?: readonly unknown[]; n?: number } & MockRequestFields;
  /** The call option of the same name: `false` drops the usage chunk. @defaultValue true */
  includeUsage?: boolean;
  /** Which attempt of a sequence `mock_response` to draw (1-based). @defaultValue 1 */
  attempt?: number;
}

/** Marble string, values and error, ready for `cold(marbles, values, error)` or `expectObservable(...).toBe(...)`. */
export interface ChunkMarbles {
  marbles: string;
  values: Record<string, Chunk>;
  /** The script's `errorAfter.error` (what `#` stands for). */
  error?: unknown;
}

const RESERVED = new Set([...'-|#^!()[]{}, 0123456789']);

/** Value letters: a-z, A-Z, then Greek and CJK code points (all single UTF-16 units, as the parser reads them). */
function letter(i: number): string {
  const ranges: [number, number][] = [
    [0x61, 26],
    [0x41, 26],
    [0x3b1, 25],
    [0x4e00, 20000],
  ];
  for (const [start, size] of ranges) {
    if (i < size) return String.fromCharCode(start + i);
    i -= size;
  }
  throw new RangeError('chunkMarbles supports at most 20077 chunks.');
}

/**
 * The marbles of `mockStream(script, options)` in TestScheduler run mode: chunk `i` at frame
 * `firstChunkDelayMs + i * delayMs`, completion with the last chunk, `#` where chunk `k + 1` would
 * have been for `errorAfter`, no terminal for `finishReason: null`.
 *
 * ```
 * chunkMarbles('Hi!', { delayMs: 5 }).marbles  ->  '5ms a 4ms b 4ms c 4ms (d|)'   (role, 'Hi!', finish, usage)
 * ```
 *
 * With `{ request }` the values are exactly what `stream(request, { scheduler })` emits for the
 * `mock/...` model (model name, usage estimate, `n`, delays), so a service's marble test needs no
 * hand-written chunk.
 *
 * @example
 * import { deepStrictEqual } from 'node:assert';
 * import { TestScheduler } from 'rxjs/testing';
 * import { stream } from 'rxllm';
 * import { chunkMarbles, mockStream } from 'rxllm/testing';
 * const scheduler = new TestScheduler((actual, expected) => deepStrictEqual(actual, expected));
 * scheduler.run(({ expectObservable }) => {
 *   const { marbles, values } = chunkMarbles('Hello', { delayMs: 10 });
 *   expectObservable(mockStream('Hello', { delayMs: 10 })).toBe(marbles, values);
 *   // What a service built on stream() receives from the mock provider, chunk for chunk:
 *   const request = {
 *     model: 'mock/gpt' as const,
 *     messages: [{ role: 'user' as const, content: 'Hi' }],
 *     mock_response: 'Hello',
 *     mock_delay_ms: 10,
 *   };
 *   const expected = chunkMarbles(undefined, { request });
 *   expectObservable(stream(request, { scheduler })).toBe(expected.marbles, expected.values);
 * });
 */
export function chunkMarbles(
  script: MockResponse | undefined,
  options: ChunkMarblesOptions = {},
): ChunkMarbles {
  const { request, includeUsage, attempt = 1 } = options;
  let s: MockScript;
  let context: MockScriptContext = {};
  let delay = 0;
  let firstDelay: number | undefined;
  if (request) {
    const setup = mockSetup(
      { ...request, mock_response: script ?? request.mock_response },
      splitModel(request.model).model,
      includeUsage,
      attempt,
    );
    ({ script: s, context, delayMs: delay, firstDelayMs: firstDelay } = setup);
  } else {
    if (script === undefined || Array.isArray(script) || typeof script === 'function') {
      throw new TypeError('chunkMarbles: give a script, or { request } for a sequence or a request.');
    }
    s = normalize(script as MockScript | string);
    if (includeUsage === false) s = { ...s, usage: null };
  }
  delay = options.delayMs ?? delay;
  const first = options.firstChunkDelayMs ?? (options.delayMs !== undefined ? delay : (firstDelay ?? delay));
  const chunks = scriptToChunks(s, context);
  const values: Record<string, Chunk> = {};
  // Events per frame, in order.
  const frames = new Map<number, string[]>();
  const at = (i: number) => first + i * delay;
  const add = (frame: number, token: string) => frames.set(frame, [...(frames.get(frame) ?? []), token]);
  const errorAt = s.errorAfter
    ? Math.min(chunks.length, Math.max(0, Math.floor(s.errorAfter.chunks)))
    : Infinity;
  for (let i = 0; i < Math.min(chunks.length, errorAt); i++) {
    const name = letter(i);
    if (RESERVED.has(name)) throw new Error(`internal: reserved marble letter ${name}`);
    values[name] = chunks[i];
    add(at(i), name);
  }
  if (errorAt !== Infinity) add(at(errorAt), '#');
  else if (s.finishReason !== null) add(chunks.length ? at(chunks.length - 1) : 0, '|');

  let marbles = '';
  let position = 0;
  for (const frame of [...frames.keys()].sort((a, b) => a - b)) {
    const tokens = frames.get(frame)!.join('');
    if (frame < position)
      throw new RangeError('chunkMarbles: events closer than a group allows; use delayMs >= 2 or 0.');
    const gap = frame - position;
    // Short gaps read best as dashes, long ones as time progressions (`10ms `, which needs spaces).
    if (gap > 0) marbles += gap <= 3 ? '-'.repeat(gap) : `${marbles ? ' ' : ''}${gap}ms `;
    const text = tokens.length > 1 ? `(${tokens})` : tokens;
    marbles += text;
    position = frame + text.length;
  }
  return { marbles: marbles.trim(), values, ...(s.errorAfter ? { error: s.errorAfter.error } : {}) };
}

/**
 * The content text of one choice, concatenated (reset chunks start it over, as `accumulateChunks` does).
 *
 * @example
 * import { scriptToChunks, textOf } from 'rxllm/testing';
 * textOf(scriptToChunks('Hello')); // 'Hello'
 */
export function textOf(chunks: readonly Chunk[], choiceIndex = 0): string {
  let text = '';
  for (const chunk of chunks) {
    if (chunk.reset) text = '';
    for (const choice of chunk.choices) if (choice.index === choiceIndex) text += choice.delta.content ?? '';
  }
  return text;
}

/** The reasoning text of one choice, concatenated (see {@link textOf}). */
export function reasoningOf(chunks: readonly Chunk[], choiceIndex = 0): string {
  let text = '';
  for (const chunk of chunks) {
    if (chunk.reset) text = '';
    for (const choice of chunk.choices)
      if (choice.index === choiceIndex) text += choice.delta.reasoning ?? '';
  }
  return text;
}
