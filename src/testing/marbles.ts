/**
 * Marble-test helpers: turn a mock script into the marble string and values that `mockStream`
 * produces under a `TestScheduler`, so a pipeline's spec can write `cold(marbles, values)` instead of
 * spelling out dozens of chunks, and read results back as text.
 */
import type { Chunk } from '../chunk';
import { scriptToChunks, type MockScript, type MockStreamOptions } from '../providers/mock';

/** Options of {@link chunkMarbles}: the timing of `mockStream` (same defaults). */
export type ChunkMarblesOptions = Pick<MockStreamOptions, 'delayMs' | 'firstChunkDelayMs'>;

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
 * @example
 * import { TestScheduler } from 'rxjs/testing';
 * import { chunkMarbles, mockStream } from 'rxllm/testing';
 * new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ expectObservable }) => {
 *   const { marbles, values } = chunkMarbles('Hello', { delayMs: 10 });
 *   expectObservable(mockStream('Hello', { delayMs: 10 })).toBe(marbles, values);
 * });
 */
export function chunkMarbles(script: MockScript | string, options: ChunkMarblesOptions = {}): ChunkMarbles {
  const delay = options.delayMs ?? 0;
  const first = options.firstChunkDelayMs ?? delay;
  const s: MockScript = typeof script === 'string' ? { text: script } : script;
  const chunks = scriptToChunks(s);
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
