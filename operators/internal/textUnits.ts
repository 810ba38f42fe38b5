/**
 * Incremental cutting of streamed text into whole units (words, lines, graphemes) for `smoothText`.
 * Each cutter reads only the new text and a bounded window before it, never the whole unit still
 * open: a 1 MB paragraph without a newline, or a run of base64 that is one "word", costs time linear
 * in its length instead of being re-segmented on every delta.
 */

/** Per-subscription state: text goes in, the units it completed come out. */
export interface UnitCutter {
  /** Adds text; returns the units now whole (every unit but the last, which more text may extend). */
  push(text: string): string[];
  /** The open unit ('' when none); the cutter starts over after it. */
  take(): string;
  /** True while an open unit holds text. */
  readonly pending: boolean;
}

/**
 * Units of the open text that `Intl.Segmenter` reads again with each delta: the boundaries that new
 * text can still move lie at its very end (UAX #29 looks at most a few characters ahead: `a.` +
 * `b` is one word `a.b`), while the rules look further back (a letter before a `.`, flags counted in
 * pairs, a run of combining marks): the window gives them `CONTEXT - RECHECK` characters of it.
 * Only a letter followed by more than ~48 combining marks and then another letter is cut otherwise
 * than by re-reading everything (WB4 skips all the marks): the word may end before that letter.
 */
const CONTEXT = 64;
/** Boundaries at most this far before the end of the open text are judged again with new text. */
const RECHECK = 16;

/** The last `CONTEXT` units of `text`, never starting with the low half of a surrogate pair. */
function tailOf(text: string): string {
  if (text.length <= CONTEXT) return text;
  const tail = text.slice(-CONTEXT);
  const first = tail.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? tail.slice(1) : tail;
}

/** Lines: a unit ends after each `\n`; only the new text is searched. */
export function lineCutter(): UnitCutter {
  let rest = '';
  return {
    push(text) {
      const end = text.lastIndexOf('\n') + 1;
      if (end === 0) {
        rest += text;
        return [];
      }
      const head = rest + text.slice(0, end);
      rest = text.slice(end);
      return head.split(/(?<=\n)/);
    },
    take() {
      const unit = rest;
      rest = '';
      return unit;
    },
    get pending() {
      return rest !== '';
    },
  };
}

/**
 * Words or graphemes from `Intl.Segmenter`. A grapheme unit ends at every boundary; a word unit is
 * one word-like segment with the spaces and punctuation after it (text before the first word goes
 * with it), so a unit ends where the next word-like segment starts.
 */
export function segmentCutter(segmenter: Intl.Segmenter, words: boolean): UnitCutter {
  /** The open unit (only ever appended to until it is cut: `+=` is cheap, slicing it is not). */
  let rest = '';
  /** The last `CONTEXT` units of `rest`, kept apart so that reading them copies nothing. */
  let tail = '';
  /**
   * Words: where the open unit's first word-like segment starts (-1: none yet). A word-like segment
   * after it starts a new unit; the same one seen again with more text does not.
   */
  let firstWord = -1;
  return {
    push(text) {
      const base = rest.length - tail.length; // where `tail` starts in `rest`
      const window = tail + text;
      const from = Math.max(1, tail.length - RECHECK);
      const cuts: number[] = [];
      for (const { index, isWordLike } of segmenter.segment(window)) {
        const at = base + index;
        if (words) {
          if (!isWordLike) continue;
          if (firstWord < 0 || at <= firstWord) {
            firstWord = at;
            continue;
          }
        }
        if (index >= from) cuts.push(at);
      }
      if (cuts.length === 0) {
        rest += text;
        tail = tailOf(window);
        return [];
      }
      // Everything before the last cut goes out: copying `rest` here is paid once per unit.
      const whole = rest + text;
      const units: string[] = [];
      let start = 0;
      for (const cut of cuts) {
        units.push(whole.slice(start, cut));
        start = cut;
      }
      rest = whole.slice(start);
      tail = tailOf(rest);
      firstWord = 0; // a unit is cut where a word starts
      return units;
    },
    take() {
      const unit = rest;
      rest = '';
      tail = '';
      firstWord = -1;
      return unit;
    },
    get pending() {
      return rest !== '';
    },
  };
}
