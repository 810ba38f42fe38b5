import { asyncScheduler, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import type { Chunk, ChunkChoice } from '../src/chunk';
import { linkedSubscriber, operate } from './internal/operate';
import { lineCutter, segmentCutter, type UnitCutter } from './internal/textUnits';

/** How text is cut: whole words (with the spaces and punctuation after them), whole lines, or graphemes. */
export type SmoothTextChunking = 'word' | 'line' | 'grapheme';

export interface SmoothTextConfig {
  /** Time between two pieces; `0` re-chunks without waiting. @defaultValue 10 */
  delayMs?: number;
  /**
   * How far the output may fall behind the source: a piece goes out at most this long after it was
   * whole (its text arrived and the next unit began, or the source ended it). When text comes faster than one piece per `delayMs`, the pieces waiting are spread
   * evenly over the time left, so the output speeds up instead of bursting at the end. `Infinity`
   * paces every piece at `delayMs`, however far behind (the AI SDK's `smoothStream`).
   * @defaultValue 500
   */
  maxLagMs?: number;
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
  maxLagMs: 500,
  chunking: 'word',
  choice: 0,
  locale: undefined,
} as const satisfies SmoothTextConfig;

/** The text of a chunk that is only content for `choice` (role allowed), else `undefined`. */
function contentOnly(chunk: Chunk, choice: number): string | undefined {
  if (chunk.choices.length !== 1 || chunk.usage != null || chunk.reset !== undefined) return undefined;
  const c = chunk.choices[0];
  if (c.index !== choice || c.finish_reason != null || c.logprobs != null) return undefined;
  const delta = c.delta;
  // An empty content delta is text too (OpenAI-compatible streams open with `{ role: 'assistant',
  // content: '' }`): it must neither end a word nor let the queued text out at once.
  if (typeof delta?.content !== 'string') return undefined;
  // Providers send empty fields beside the text (`refusal: null`, DeepSeek's `reasoning: null`).
  for (const key in delta) {
    if (key !== 'content' && key !== 'role' && delta[key as keyof typeof delta] != null) return undefined;
  }
  return delta.content;
}

/**
 * Re-chunks streamed text into words, lines or graphemes and emits them at a steady pace, for UIs
 * (anchor: the AI SDK's `smoothStream`). Cutting uses `Intl.Segmenter`, so Chinese and Japanese
 * words, emoji (ZWJ families, flags, skin tones) and combining marks are never split; each delta is
 * cut where it arrives, so a long run without a boundary costs linear time. The first piece goes out
 * at once, each next one `delayMs` after the one before (rxjs `asyncScheduler`, so marble tests
 * control it); a source slower than that is never delayed further.
 *
 * The whole answer is paced: a source faster than the pace fills a queue that drains at the pace,
 * never more than `maxLagMs` behind the source — when the queue would fall further behind, its
 * pieces are spread evenly over the time left. Only chunks that are pure content of the chosen
 * choice are re-chunked (an empty content delta counts as text); any other chunk — finish, usage,
 * tool calls, reasoning, refusal, other choices — ends the word in progress and is never reordered:
 * it goes out right after the text before it, without a pace step of its own. Completion waits for
 * the queue; a source error flushes it at once, then passes; a reset drops the text not yet emitted
 * and passes at once. A piece is a copy of the chunk its text came from, with `content` set to it.
 *
 * ```
 * source: -a---b---f------u-|             a: "Hello wor"  b: "ld and"  f: finish  u: usage   (delayMs: 10)
 * result: -H---------W---------(Afu|)     H: "Hello "  W: "world " (whole at b, waits its turn at 11)
 *                                         A: "and" (ended by f at 9, its turn at 21; f and u follow it)
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
 *   .pipe(smoothText({ delayMs: 20, chunking: 'word', maxLagMs: 1000 }), textDeltas())
 *   .subscribe((piece) => console.log(JSON.stringify(piece)));
 */
export function smoothText(config: SmoothTextConfig = {}): MonoTypeOperatorFunction<Chunk> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`smoothText: config must be an object, got ${String(config)}.`);
  }
  const {
    delayMs = SMOOTH_TEXT_DEFAULTS.delayMs,
    maxLagMs = SMOOTH_TEXT_DEFAULTS.maxLagMs,
    chunking = SMOOTH_TEXT_DEFAULTS.chunking,
    choice = SMOOTH_TEXT_DEFAULTS.choice,
    locale = SMOOTH_TEXT_DEFAULTS.locale,
  } = config;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new TypeError(`smoothText: delayMs must be a finite number >= 0, got ${String(delayMs)}.`);
  }
  if (typeof maxLagMs !== 'number' || Number.isNaN(maxLagMs) || maxLagMs < 0) {
    throw new TypeError(`smoothText: maxLagMs must be a number >= 0 (or Infinity), got ${String(maxLagMs)}.`);
  }
  if (chunking !== 'word' && chunking !== 'line' && chunking !== 'grapheme') {
    throw new TypeError(
      `smoothText: chunking must be 'word', 'line' or 'grapheme', got ${String(chunking)}.`,
    );
  }
  if (!Number.isInteger(choice) || choice < 0) {
    throw new TypeError(`smoothText: choice must be a non-negative integer, got ${String(choice)}.`);
  }
  // Built per subscription from this (a segmenter is stateless and may be shared).
  const segmenter = chunking === 'line' ? undefined : new Intl.Segmenter(locale, { granularity: chunking });
  const newCutter = (): UnitCutter =>
    segmenter ? segmentCutter(segmenter, chunking === 'word') : lineCutter();

  return operate<Chunk, Chunk>((source, subscriber) => {
    const cutter = newCutter();
    /**
     * What waits to go out, in order: pieces of text (`paced`: each takes a pace step), other chunks
     * (right after what is before them), and `undefined` for the completion.
     */
    const queue: { chunk: Chunk | undefined; paced: boolean; at: number }[] = [];
    let head = 0;
    /** Paced pieces in the queue, and when the newest of them arrived. */
    let paced = 0;
    let newestAt = 0;
    /** The chunk where the open unit's text began (or an empty delta that came with none open). */
    let restFrom: Chunk | undefined;
    /** The pace step after the last piece: while it runs, the next piece waits. */
    let timer: Subscription | undefined;
    let due = 0;

    const piece = (from: Chunk, text: string): Chunk => {
      const c = from.choices[0] as ChunkChoice;
      return { ...from, choices: [{ ...c, delta: { ...c.delta, content: text } }] };
    };
    const stopTimer = () => {
      timer?.unsubscribe();
      timer = undefined;
    };
    const arm = (wait: number) => {
      due = asyncScheduler.now() + wait;
      timer = asyncScheduler.schedule(() => {
        timer = undefined;
        drain();
      }, wait);
    };
    const shift = () => {
      const entry = queue[head++];
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      } else if (head >= 1024 && head * 2 >= queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      if (entry.paced) paced--;
      return entry;
    };
    /**
     * The wait before the next piece: `delayMs`, shortened so that the oldest piece waiting goes out
     * within `maxLagMs` of its arrival and the ones behind it are spread evenly up to the newest one's
     * limit (each step recomputed, so the pace recovers once the queue is short again).
     */
    const nextWait = (): number => {
      if (paced === 0 || maxLagMs === Infinity) return delayMs;
      const now = asyncScheduler.now();
      const oldest = queue[head]; // after a piece and the chunks that follow it: a paced piece
      return Math.min(delayMs, oldest.at + maxLagMs - now, (newestAt + maxLagMs - now) / paced);
    };
    /** Emits what may go out now; arms the pace step after each piece. */
    const drain = () => {
      while (head < queue.length && !subscriber.closed) {
        const entry = queue[head];
        if (entry.chunk === undefined) {
          shift();
          subscriber.complete();
          return;
        }
        if (!entry.paced) {
          subscriber.next(shift().chunk!);
          continue;
        }
        if (timer) return;
        subscriber.next(shift().chunk!);
        if (delayMs === 0) continue;
        // The chunks that follow the piece go with it, so the next paced piece is at the head.
        while (head < queue.length && !subscriber.closed && !queue[head].paced && queue[head].chunk) {
          subscriber.next(shift().chunk!);
        }
        // A consumer that stopped at this piece (`take(1)`) has already run the teardown: arm nothing.
        if (subscriber.closed) return;
        // A shortened step is whole milliseconds (timers fire no sooner); under one, the limit says go now.
        const wait = nextWait();
        const step = wait >= delayMs ? delayMs : Math.floor(wait);
        if (step > 0) arm(step);
      }
    };
    const enqueue = (chunk: Chunk | undefined, isPaced: boolean, at: number) => {
      queue.push({ chunk, paced: isPaced, at });
      if (!isPaced) return;
      if (paced === 0 && timer && due > at + maxLagMs) {
        // The pace step after the last piece would make this one later than the limit.
        stopTimer();
        const wait = Math.floor(at + maxLagMs - asyncScheduler.now());
        if (wait >= 1) arm(wait);
      }
      paced++;
      newestAt = at;
    };
    /** Ends the open unit: it joins the queue (an empty delta held alone goes as it came). */
    const endUnit = (at: number) => {
      if (restFrom) {
        const text = cutter.take();
        enqueue(piece(restFrom, text), text !== '', at);
      }
      restFrom = undefined;
    };

    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          const at = delayMs === 0 ? 0 : asyncScheduler.now();
          const text = contentOnly(chunk, choice);
          if (text === undefined) {
            if (chunk.reset !== undefined) {
              // The attempt's text not yet shown is void; the other chunks it sent still go, in order.
              stopTimer();
              cutter.take();
              restFrom = undefined;
              for (const entry of queue.splice(head)) if (!entry.paced) subscriber.next(entry.chunk!);
              queue.length = 0;
              head = 0;
              paced = 0;
              subscriber.next(chunk);
              return;
            }
            endUnit(at);
            enqueue(chunk, false, at);
            drain();
            return;
          }
          const origin = restFrom ?? chunk;
          const units = text === '' ? [] : cutter.push(text);
          // A piece is a copy of the chunk where its text began.
          units.forEach((unit, i) => enqueue(piece(i === 0 ? origin : chunk, unit), true, at));
          restFrom = cutter.pending ? (units.length > 0 ? chunk : origin) : text === '' ? origin : undefined;
          drain();
        },
        error: (error) => {
          // An error is not delayed: what is held goes out at once, then the error.
          stopTimer();
          endUnit(0);
          for (const entry of queue.splice(head)) {
            if (subscriber.closed) return;
            subscriber.next(entry.chunk!);
          }
          subscriber.error(error);
        },
        complete: () => {
          const at = delayMs === 0 ? 0 : asyncScheduler.now();
          endUnit(at);
          enqueue(undefined, false, at);
          drain();
        },
      }),
    );
    return stopTimer;
  });
}
