/**
 * The chunk texts of one resumable stream, held compactly. A gateway keeps every chunk of every
 * stream for minutes after it ends, and the chunks of one stream are nearly the same JSON: only the
 * delta in the middle changes (`{"id":"chatcmpl-x",...,"delta":{"content":" quick"},...}`). So a
 * text is kept as what it shares with a reference text of its stream (a common prefix and suffix,
 * two numbers) and the part in between. References are kept whole: the first text, a text sharing
 * less than half of itself with the current reference (or whose middle holds a lone surrogate, which
 * UTF-8 cannot carry), and the previous text when it shares far more with the one being pushed than
 * the current reference does. The middles sit in one growing `Uint8Array` (UTF-8) and the numbers in
 * one growing `Int32Array`, so a stream is a few heap objects plus its references, instead of one
 * string per chunk for the GC to walk.
 *
 * No `Buffer`: the resume store is not Node-only.
 */

/** Int32s per text: its reference, prefix length, suffix length, end of its middle in `bytes`. */
const FIELDS = 4;
/** A middle longer than this (UTF-16 units) is also compared with the previous text. */
const PROMOTE_ABOVE = 8;

const decoder = new TextDecoder();

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** An append-only list of strings, each read back exactly as it was pushed. */
export class CompactTexts {
  /** Texts kept whole; a text is stored against the last one. */
  private readonly refs: string[] = [];
  private records: Int32Array;
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
    this.records = new Int32Array(Math.max(1, textCapacity) * FIELDS);
    this.bytes = new Uint8Array(Math.max(1, byteCapacity));
  }

  /** How many texts were pushed. */
  get length(): number {
    return this.count;
  }

  /** Appends `text`. */
  push(text: string): void {
    if ((this.count + 1) * FIELDS > this.records.length) {
      const records = new Int32Array(Math.max(FIELDS * 4, this.records.length * 2));
      records.set(this.records);
      this.records = records;
    }
    const at = this.count * FIELDS;
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
    const used = middle * 2 <= text.length ? this.encode(text, this.prefix, text.length - this.suffix) : -1;
    if (used >= 0) {
      this.records[at] = refIndex;
      this.records[at + 1] = this.prefix;
      this.records[at + 2] = this.suffix;
      this.used = used;
    } else {
      // The first text, one sharing less than half of itself with the reference, or one whose
      // middle UTF-8 cannot hold (a lone surrogate): kept whole, and later texts compare with it.
      this.refs.push(text);
      this.records[at] = this.refs.length - 1;
      this.records[at + 1] = text.length;
      this.records[at + 2] = 0;
    }
    this.records[at + 3] = this.used;
    this.last = text;
    this.lastIsCandidate = used >= 0;
    this.count++;
  }

  /** The text pushed `index`-th (from 0). */
  get(index: number): string {
    if (!(Number.isInteger(index) && index >= 0 && index < this.count))
      throw new RangeError(`CompactTexts: no text at ${index} (length ${this.count})`);
    const at = index * FIELDS;
    const ref = this.refs[this.records[at]];
    const prefix = this.records[at + 1];
    const suffix = this.records[at + 2];
    const start = index === 0 ? 0 : this.records[at - 1];
    const end = this.records[at + 3];
    if (start === end && suffix === 0) return prefix === ref.length ? ref : ref.slice(0, prefix);
    const middle = start === end ? '' : decoder.decode(this.bytes.subarray(start, end));
    return ref.slice(0, prefix) + middle + ref.slice(ref.length - suffix);
  }

  /** Drops the spare room of the arrays (a stream that will not grow any more); pushing still works. */
  trim(): void {
    if (this.records.length > this.count * FIELDS) this.records = this.records.slice(0, this.count * FIELDS);
    if (this.bytes.length > this.used) this.bytes = this.bytes.slice(0, this.used);
    this.last = '';
    this.lastIsCandidate = false;
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
    if (
      prefix > 0 &&
      prefix < length &&
      isHigh(text.charCodeAt(prefix - 1)) &&
      isLow(text.charCodeAt(prefix))
    )
      prefix--;
    // Bounded so the prefix and the suffix never overlap, in the text or in the reference.
    const most = shorter - prefix;
    let suffix = 0;
    while (suffix < most && text.charCodeAt(length - 1 - suffix) === ref.charCodeAt(refLength - 1 - suffix))
      suffix++;
    const middleEnd = length - suffix;
    if (
      suffix > 0 &&
      middleEnd > prefix &&
      isHigh(text.charCodeAt(middleEnd - 1)) &&
      isLow(text.charCodeAt(middleEnd))
    )
      suffix--;
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
      const bytes = new Uint8Array(Math.max(need, this.bytes.length * 2));
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
