/**
 * The chunk texts of one resumable stream, held compactly. A gateway keeps every chunk of every
 * stream for minutes after it ends, and the chunks of one stream are nearly the same JSON: only the
 * delta in the middle changes (`{"id":"chatcmpl-x",...,"delta":{"content":" quick"},...}`). So a
 * text is kept as what it shares with a reference text of its stream (a common prefix and suffix,
 * two numbers) and the part in between; references are kept whole. The middles sit in one growing
 * `Uint8Array` (UTF-8) and the numbers in one growing `Int32Array`, so a stream is a handful of heap
 * objects however many chunks it holds, instead of one string per chunk for the GC to walk.
 *
 * No `Buffer`: the resume store is not Node-only.
 */

/** Int32s per text: its reference, prefix length, suffix length, end of its middle in `bytes`. */
const FIELDS = 4;

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
    const refIndex = this.refs.length - 1;
    const ref = refIndex >= 0 ? this.refs[refIndex] : undefined;
    if (ref === undefined || !this.pushAgainst(text, ref, refIndex, at)) {
      // The first text, one sharing less than half of itself with the reference, or one whose
      // middle UTF-8 cannot hold (a lone surrogate): kept whole, and later texts compare with it.
      this.refs.push(text);
      this.records[at] = this.refs.length - 1;
      this.records[at + 1] = text.length;
      this.records[at + 2] = 0;
      this.records[at + 3] = this.used;
    }
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
  }

  /** Stores `text` as prefix + middle + suffix of `ref`; false when it is better kept whole. */
  private pushAgainst(text: string, ref: string, refIndex: number, at: number): boolean {
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
    if ((length - suffix - prefix) * 2 > length) return false;
    const used = this.encode(text, prefix, length - suffix);
    if (used < 0) return false;
    this.records[at] = refIndex;
    this.records[at + 1] = prefix;
    this.records[at + 2] = suffix;
    this.records[at + 3] = used;
    this.used = used;
    return true;
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
