/**
 * The chunk texts of one resumable stream, held compactly. A gateway keeps every chunk of every
 * stream for minutes after it ends, and the chunks of one stream are nearly the same JSON: only the
 * delta in the middle changes (`{"id":"chatcmpl-x",...,"delta":{"content":" quick"},...}`). So a
 * text is kept as what it shares with a reference text of its stream (a common prefix and suffix,
 * two numbers) and the part in between. References are kept whole: the first text, a text sharing
 * less than half of itself with the current reference (or whose middle holds a lone surrogate, which
 * UTF-8 cannot carry), and the previous text when it shares far more with the one being pushed than
 * the current reference does. Texts stored against the same reference with the same prefix and
 * suffix form a run, and a stream settles into a few runs: a text costs the end of its middle (one
 * Int32) and the middle's UTF-8 bytes. The middles sit in one
 * growing `Uint8Array` and the ends in one growing `Int32Array`, so a stream is a few heap objects
 * plus its references, instead of one string per chunk for the GC to walk.
 *
 * No `Buffer`: the resume store is not Node-only.
 */

/** Int32s per run: its first text, its reference, prefix length, suffix length. */
const RUN = 4;
/** A middle longer than this (UTF-16 units) is also compared with the previous text. */
const PROMOTE_ABOVE = 8;
/** How many more characters a text's middle may hold to stay in the run before it. */
const RUN_SLACK = 8;

const decoder = new TextDecoder();

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;
/** Whether cutting `text` before `at` splits a surrogate pair (UTF-8 cannot hold either half). */
const splitsPair = (text: string, at: number) =>
  at > 0 && at < text.length && isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at));

/**
 * Whether `text` may be stored with prefix `p` and suffix `s` (its own middle `own` long): a middle
 * still small and at most a few characters longer, no surrogate pair cut.
 */
function fits(text: string, p: number, s: number, own: number): boolean {
  const middle = text.length - p - s;
  return (
    middle <= own + RUN_SLACK &&
    middle * 2 <= text.length &&
    !splitsPair(text, p) &&
    !splitsPair(text, text.length - s)
  );
}

/** A typed array's new length: at least `need`, half as much again as `length`. */
const grown = (length: number, need: number) => Math.max(need, length + (length >> 1) + 4);

/** An append-only list of strings, each read back exactly as it was pushed. */
export class CompactTexts {
  /** Texts kept whole; a text is stored against one of them. */
  private readonly refs: string[] = [];
  /**
   * Texts stored alike, in runs: each run is its first text, its reference and the prefix and
   * suffix its texts share with that reference. Most texts of a stream fall in a few runs, so a text
   * costs the end of its middle in `ends` (one Int32) and its middle's bytes.
   */
  private runs: number[] = [];
  /** Where each text's middle ends in `bytes`. */
  private ends: Int32Array;
  private bytes: Uint8Array;
  /** Bytes of `bytes` in use. */
  private used = 0;
  private count = 0;
  /** The last text pushed, and whether it may become the next reference (it is not one yet). */
  private last = '';
  private lastIsCandidate = false;
  /** What the last {@link match} found. */
  private prefix = 0;
  private suffix = 0;

  /** Room for `textCapacity` texts and `byteCapacity` bytes of middles before the first growth. */
  constructor(textCapacity = 16, byteCapacity = 256) {
    this.ends = new Int32Array(Math.max(1, textCapacity));
    this.bytes = new Uint8Array(Math.max(1, byteCapacity));
  }

  /** How many texts were pushed. */
  get length(): number {
    return this.count;
  }

  /** Appends `text`. */
  push(text: string): void {
    if (this.count + 1 > this.ends.length) {
      const ends = new Int32Array(grown(this.ends.length, this.count + 1));
      ends.set(this.ends);
      this.ends = ends;
    }
    let refIndex = this.refs.length - 1;
    let middle = refIndex < 0 ? Infinity : this.match(text, this.refs[refIndex]);
    if (middle > PROMOTE_ABOVE && this.lastIsCandidate) {
      // The reference may be a chunk unlike the rest (the role chunk opening an answer, a content
      // chunk before tool-call fragments): when the previous text shares much more with this one,
      // it becomes the reference, so the chunks of the same kind that follow are stored small.
      const { prefix, suffix } = this;
      const lastMiddle = this.match(text, this.last);
      if (lastMiddle * 2 < middle && lastMiddle * 2 <= text.length) {
        this.refs.push(this.last);
        refIndex++;
        middle = lastMiddle;
      } else {
        this.prefix = prefix;
        this.suffix = suffix;
      }
    }
    let used = -1;
    if (middle * 2 <= text.length) {
      this.runFor(text, refIndex);
      used = this.encode(text, this.prefix, text.length - this.suffix);
    }
    if (used < 0) {
      // The first text, one sharing less than half of itself with the reference, or one whose
      // middle UTF-8 cannot hold (a lone surrogate): kept whole, and later texts compare with it.
      this.refs.push(text);
      this.startRun(this.refs.length - 1, text.length, 0);
    } else this.used = used;
    this.ends[this.count] = this.used;
    this.last = text;
    this.lastIsCandidate = used >= 0;
    this.count++;
  }

  /** The text pushed `index`-th (from 0). */
  get(index: number): string {
    if (!(Number.isInteger(index) && index >= 0 && index < this.count))
      throw new RangeError(`CompactTexts: no text at ${index} (length ${this.count})`);
    // The last run that starts at or before `index`.
    let lo = 0;
    let hi = this.runs.length / RUN - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid * RUN] <= index) lo = mid;
      else hi = mid - 1;
    }
    const at = lo * RUN;
    const ref = this.refs[this.runs[at + 1]];
    const prefix = this.runs[at + 2];
    const suffix = this.runs[at + 3];
    const start = index === 0 ? 0 : this.ends[index - 1];
    const end = this.ends[index];
    if (start === end && suffix === 0) return prefix === ref.length ? ref : ref.slice(0, prefix);
    const middle = start === end ? '' : decoder.decode(this.bytes.subarray(start, end));
    return ref.slice(0, prefix) + middle + ref.slice(ref.length - suffix);
  }

  /** Drops the spare room of the arrays (a stream that will not grow any more); pushing still works. */
  trim(): void {
    if (this.ends.length > this.count) this.ends = this.ends.slice(0, Math.max(1, this.count));
    if (this.bytes.length > this.used) this.bytes = this.bytes.slice(0, Math.max(1, this.used));
    this.last = '';
    this.lastIsCandidate = false;
  }

  /**
   * Sets `prefix` and `suffix` to what `text` is stored with, against reference `refIndex`, from the
   * common prefix and suffix {@link match} found: the current run's when they fit (the text joins
   * it, its middle a few characters longer at most), else those of a new run. A new run against the
   * same reference takes the shorter of its own and the last run's, so a stream settles into one run
   * per reference.
   */
  private runFor(text: string, refIndex: number): void {
    const { prefix, suffix } = this;
    const own = text.length - prefix - suffix;
    // A reference exists, so a run does: the last one, when it is against this reference and not
    // the run of the reference kept whole.
    const at = this.runs.length - RUN;
    const runPrefix = this.runs[at + 2];
    const runSuffix = this.runs[at + 3];
    if (this.runs[at + 1] === refIndex && !(runSuffix === 0 && runPrefix === this.refs[refIndex].length)) {
      if (runPrefix <= prefix && runSuffix <= suffix && fits(text, runPrefix, runSuffix, own)) {
        this.prefix = runPrefix;
        this.suffix = runSuffix;
        return;
      }
      const shorterPrefix = Math.min(prefix, runPrefix);
      const shorterSuffix = Math.min(suffix, runSuffix);
      if (fits(text, shorterPrefix, shorterSuffix, own)) {
        this.prefix = shorterPrefix;
        this.suffix = shorterSuffix;
      }
    }
    this.startRun(refIndex, this.prefix, this.suffix);
  }

  /** A run of texts from the next one on, stored against `refIndex` with `prefix` and `suffix`. */
  private startRun(refIndex: number, prefix: number, suffix: number): void {
    this.runs.push(this.count, refIndex, prefix, suffix);
  }

  /**
   * The common prefix and suffix of `text` and `ref` (into `prefix` and `suffix`) and the length
   * of what is left of `text` between them.
   */
  private match(text: string, ref: string): number {
    const length = text.length;
    const refLength = ref.length;
    const shorter = Math.min(length, refLength);
    let prefix = 0;
    while (prefix < shorter && text.charCodeAt(prefix) === ref.charCodeAt(prefix)) prefix++;
    // A prefix ending inside a surrogate pair would start the middle with a lone low surrogate,
    // which UTF-8 cannot encode; the pair goes to the middle instead.
    if (splitsPair(text, prefix)) prefix--;
    // Bounded so the prefix and the suffix never overlap, in the text or in the reference.
    const most = shorter - prefix;
    let suffix = 0;
    while (suffix < most && text.charCodeAt(length - 1 - suffix) === ref.charCodeAt(refLength - 1 - suffix))
      suffix++;
    const middleEnd = length - suffix;
    if (suffix > 0 && middleEnd > prefix && splitsPair(text, middleEnd)) suffix--;
    this.prefix = prefix;
    this.suffix = suffix;
    return length - suffix - prefix;
  }

  /**
   * Writes `text[from..to)` as UTF-8 after the bytes in use; returns the new end, or -1 (nothing
   * kept) for a lone surrogate. A loop rather than `TextEncoder.encodeInto`, which would need a
   * slice of the text and a view of the array on every push; middles are a few characters.
   */
  private encode(text: string, from: number, to: number): number {
    const need = this.used + (to - from) * 3;
    if (need > this.bytes.length) {
      const bytes = new Uint8Array(grown(this.bytes.length, need));
      bytes.set(this.bytes.subarray(0, this.used));
      this.bytes = bytes;
    }
    const bytes = this.bytes;
    let n = this.used;
    for (let i = from; i < to; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        bytes[n++] = c;
      } else if (c < 0x800) {
        bytes[n++] = 0xc0 | (c >> 6);
        bytes[n++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        bytes[n++] = 0xe0 | (c >> 12);
        bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[n++] = 0x80 | (c & 0x3f);
      } else {
        const low = i + 1 < to ? text.charCodeAt(i + 1) : 0;
        if (!isHigh(c) || !isLow(low)) return -1;
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        bytes[n++] = 0xf0 | (c >> 18);
        bytes[n++] = 0x80 | ((c >> 12) & 0x3f);
        bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[n++] = 0x80 | (c & 0x3f);
      }
    }
    return n;
  }
}
