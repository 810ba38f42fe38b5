import { asyncScheduler, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import type { Chunk, ChunkChoice } from '../src/chunk';
import { linkedSubscriber, operate } from './internal/operate';

/** How text is cut: whole words (with the spaces and punctuation after them), whole lines, or graphemes. */
export type SmoothTextChunking = 'word' | 'line' | 'grapheme';

export interface SmoothTextConfig {
  /** Time between two pieces; `0` re-chunks without waiting. @defaultValue 10 */
  delayMs?: number;
  /** The unit of a piece. Words and graphemes come from `Intl.Segmenter` (CJK and emoji cut correctly). @defaultValue 'word' */
  chunking?: SmoothTextChunking;
  /** The choice whose content is smoothed; other choices pass through in order. @defaultValue 0 */
  choice?: number;
  /** Locale for `Intl.Segmenter` (word boundaries of some languages depend on it). @defaultValue undefined (the runtime's) */
  locale?: string;
}

/** Defaults of {@link smoothText}. */
export const SMOOTH_TEXT_DEFAULTS = {
  delayMs: 10,
  chunking: 'word',
  choice: 0,
  locale: undefined,
} as const satisfies SmoothTextConfig;

/** Cuts text into whole units and the rest (the last unit, which more text may still extend). */
type Splitter = (text: string) => { units: string[]; rest: string };

function splitter(chunking: SmoothTextChunking, locale: string | undefined): Splitter {
  if (chunking === 'line') {
    return (text) => {
      const end = text.lastIndexOf('\n') + 1;
      if (end === 0) return { units: [], rest: text };
      const units = text.slice(0, end).split(/(?<=\n)/);
      return { units, rest: text.slice(end) };
    };
  }
  if (chunking === 'grapheme') {
    const segmenter = new Intl.Segmenter(locale, { granularity: 'grapheme' });
    return (text) => {
      const units = Array.from(segmenter.segment(text), (s) => s.segment);
      // The last grapheme may still grow (a ZWJ sequence, a combining mark, a flag's second half).
      const rest = units.pop() ?? '';
      return { units, rest };
    };
  }
  const segmenter = new Intl.Segmenter(locale, { granularity: 'word' });
  return (text) => {
    // A piece is one word-like segment with the spaces and punctuation before the next one.
    const units: string[] = [];
    let current = '';
    let hasWord = false;
    for (const { segment, isWordLike } of segmenter.segment(text)) {
      if (isWordLike && hasWord) {
        units.push(current);
        current = '';
        hasWord = false;
      }
      current += segment;
      if (isWordLike) hasWord = true;
    }
    return { units, rest: current };
  };
}

/** The text of a chunk that is only content for `choice` (role allowed), else `undefined`. */
function contentOnly(chunk: Chunk, choice: number): string | undefined {
  if (chunk.choices.length !== 1 || chunk.usage != null || chunk.reset !== undefined) return undefined;
  const c = chunk.choices[0];
  if (c.index !== choice || c.finish_reason != null || c.logprobs != null) return undefined;
  const delta = c.delta;
  if (typeof delta?.content !== 'string' || delta.content === '') return undefined;
  // Providers send empty fields beside the text (`refusal: null`, DeepSeek's `reasoning: null`).
  for (const key in delta) {
    if (key !== 'content' && key !== 'role' && delta[key as keyof typeof delta] != null) return undefined;
  }
  return delta.content;
}

/**
 * Re-chunks streamed text into words, lines or graphemes and emits them at a steady pace, for UIs
 * (anchor: the AI SDK's `smoothStream`). Cutting uses `Intl.Segmenter`, so Chinese and Japanese
 * words, emoji (ZWJ families, flags, skin tones) and combining marks are never split. The first piece
 * goes out at once, each next one `delayMs` later (rxjs `asyncScheduler`, so marble tests control it).
 *
 * Only chunks that are pure content of the chosen choice are smoothed. Any other chunk — finish,
 * usage, tool calls, reasoning, refusal, other choices, a reset — is never delayed or reordered:
 * the text before it is flushed at once, then it passes. The rest is flushed when the source
 * completes and before its error; a reset drops text not yet emitted. A piece is a copy of the
 * chunk its text came from, with `content` set to the piece.
 *
 * ```
 * source: -a---b---f------u-|   a: "Hello wor"  b: "ld and"  f: finish  u: usage   (delayMs: 10)
 * result: -H-------(WAf)--u-|   H: "Hello "  W: "world " (whole at b, waits its turn at 11)
 *                               A: "and" (flushed by f, which is not delayed)
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { smoothText, textDeltas } from 'rxllm/operators';
 * stream({
 *   model: 'mock/any',
 *   messages: [{ role: 'user', content: 'Hi' }],
 *   mock_response: { text: '你好，世界！Hello, world 👋🏽', chunkSize: 7 },
 * })
 *   .pipe(smoothText({ delayMs: 20, chunking: 'word' }), textDeltas())
 *   .subscribe((piece) => console.log(JSON.stringify(piece)));
 */
export function smoothText(config: SmoothTextConfig = {}): MonoTypeOperatorFunction<Chunk> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`smoothText: config must be an object, got ${String(config)}.`);
  }
  const {
    delayMs = SMOOTH_TEXT_DEFAULTS.delayMs,
    chunking = SMOOTH_TEXT_DEFAULTS.chunking,
    choice = SMOOTH_TEXT_DEFAULTS.choice,
    locale = SMOOTH_TEXT_DEFAULTS.locale,
  } = config;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new TypeError(`smoothText: delayMs must be a finite number >= 0, got ${String(delayMs)}.`);
  }
  if (chunking !== 'word' && chunking !== 'line' && chunking !== 'grapheme') {
    throw new TypeError(
      `smoothText: chunking must be 'word', 'line' or 'grapheme', got ${String(chunking)}.`,
    );
  }
  if (!Number.isInteger(choice) || choice < 0) {
    throw new TypeError(`smoothText: choice must be a non-negative integer, got ${String(choice)}.`);
  }
  const split = splitter(chunking, locale);

  return operate<Chunk, Chunk>((source, subscriber) => {
    /** Pieces cut but not yet emitted. */
    const queue: Chunk[] = [];
    /** Text not yet cut (the last unit, which may still grow), and the chunk it came from. */
    let rest = '';
    let restFrom: Chunk | undefined;
    let timer: Subscription | undefined;

    const piece = (from: Chunk, text: string): Chunk => {
      const c = from.choices[0] as ChunkChoice;
      return { ...from, choices: [{ ...c, delta: { ...c.delta, content: text } }] };
    };
    const stopTimer = () => {
      timer?.unsubscribe();
      timer = undefined;
    };
    const drain = () => {
      if (timer || queue.length === 0) return;
      if (delayMs === 0) {
        while (queue.length > 0 && !subscriber.closed) subscriber.next(queue.shift()!);
        return;
      }
      subscriber.next(queue.shift()!);
      // A consumer that stopped at this piece (`take(1)`) has already run the teardown: arm nothing.
      if (subscriber.closed) return;
      timer = asyncScheduler.schedule(() => {
        timer = undefined;
        drain();
      }, delayMs);
    };
    /** Everything held goes out now, in order. */
    const flush = () => {
      stopTimer();
      if (rest !== '' && restFrom) queue.push(piece(restFrom, rest));
      rest = '';
      restFrom = undefined;
      while (queue.length > 0 && !subscriber.closed) subscriber.next(queue.shift()!);
    };

    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          const text = contentOnly(chunk, choice);
          if (text === undefined) {
            if (chunk.reset !== undefined) {
              stopTimer();
              queue.length = 0;
              rest = '';
              restFrom = undefined;
            } else {
              flush();
            }
            subscriber.next(chunk);
            return;
          }
          const cut = split(rest + text);
          // A piece is a copy of the chunk where its text began.
          for (const unit of cut.units) queue.push(piece(restFrom ?? chunk, unit));
          if (cut.units.length > 0 || !restFrom) restFrom = chunk;
          rest = cut.rest;
          drain();
        },
        error: (error) => {
          flush();
          subscriber.error(error);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      }),
    );
    return stopTimer;
  });
}
