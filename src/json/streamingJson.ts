/**
 * An incremental JSON parser for streamed model output: text goes in piece by piece, each character
 * is looked at once, and the value being built can be read at any time as a deep-partial snapshot.
 *
 * Snapshots are immutable and share structure: a container is copied only when it changes after a
 * snapshot was taken (copy-on-write along the path to the value being written), so unchanged
 * subtrees keep their identity between snapshots and a snapshot costs the sizes of the open
 * containers, never the size of the document. `pathWidth` tells a caller that cost in advance.
 * With `freeze`, every container a snapshot can reach is `Object.freeze`d: each once when it
 * closes, and the open ones (fresh copies) per snapshot, so freezing costs what copying does.
 *
 * Text fails at the first character no continuation could make valid (`01`, `1.2.`, `-x`), so a
 * failure at the end means the text was cut, never that it was wrong.
 *
 * Strict RFC 8259: no comments, no trailing commas, no single quotes, no `NaN`; the text is never
 * repaired. Internal to the structured-output operators.
 */

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where and why the text stopped being JSON. Mapped to a `StructuredOutputError` by the operators. */
export class JsonSyntaxFailure extends Error {
  constructor(
    message: string,
    /** Offset (UTF-16 units) of the offending character in the whole text. */
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
  }
}

interface Frame {
  node: JsonValue[] | { [key: string]: JsonValue };
  isArray: boolean;
  /** Entries written (duplicate keys counted twice: an upper bound of the copy cost). */
  size: number;
  /** Where this container sits in its parent. */
  slot: string | number;
  /** The key whose value comes next (objects). */
  key: string;
}

// Parser states.
const VALUE = 0; // a value must come
const VALUE_OR_END = 1; // just after '['
const KEY_OR_END = 2; // just after '{'
const KEY = 3; // after ',' in an object
const COLON = 4;
const AFTER = 5; // after a value inside a container: ',' or the closing bracket
const STRING = 6;
const NUMBER = 7;
const LITERAL = 8;
const DONE = 9; // the top-level value is complete: only whitespace may follow

// Where a number is (RFC 8259 section 6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`).
const N_MINUS = 0; // after '-': a digit must come
const N_ZERO = 1; // a leading 0: no digit may follow it
const N_INT = 2;
const N_DOT = 3; // after '.': a digit must come
const N_FRAC = 4;
const N_E = 5; // after 'e': a sign or a digit
const N_ESIGN = 6; // after the exponent's sign: a digit
const N_EXP = 7;
/** The states where the number may end. */
const N_COMPLETE = [false, true, true, false, true, false, false, true];

/** The state after `c` in number state `n`, or -1 when `c` cannot come next. */
function numberStep(n: number, c: number): number {
  const digit = c >= 0x30 && c <= 0x39;
  switch (n) {
    case N_MINUS:
      return c === 0x30 ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO:
    case N_INT:
      if (digit) return n === N_INT ? N_INT : -1;
      return c === 0x2e ? N_DOT : c === 0x65 || c === 0x45 ? N_E : -1;
    case N_DOT:
    case N_FRAC:
      if (digit) return N_FRAC;
      return n === N_FRAC && (c === 0x65 || c === 0x45) ? N_E : -1;
    case N_E:
      return digit ? N_EXP : c === 0x2b || c === 0x2d ? N_ESIGN : -1;
    default: // N_ESIGN, N_EXP
      return digit ? N_EXP : -1;
  }
}

/** Characters that can only belong to a number: after one, a number that cannot take it is wrong. */
const isNumberChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** `target[key] = value` as an own data property, even for `__proto__` (as `JSON.parse` does). */
function setOwn(target: { [key: string]: JsonValue } | JsonValue[], key: string | number, value: JsonValue) {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    (target as Record<string | number, JsonValue>)[key] = value;
  }
}

const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

export interface StreamingJsonOptions {
  /** Freeze every container a snapshot (or `end`) hands out. @defaultValue false */
  freeze?: boolean;
}

export class StreamingJsonParser {
  /** Called when a value is complete, with the frames still open around it (its parent is the last). */
  onValue?: (value: JsonValue, parents: readonly Frame[]) => void;

  private state = VALUE;
  private readonly frames: Frame[] = [];
  /** Frames `0..frozen-1` belong to the last snapshot and are copied before they change. */
  private frozen = 0;
  private width = 0;
  private root: JsonValue | undefined;
  private hasRoot = false;
  private changed = false;
  private position = 0;
  // The open string: its text so far, whether it is a key, its escape state.
  private str = '';
  private strIsKey = false;
  private strSlot: string | number = 0;
  /** 0: none; 1: after a backslash; 2..5: inside `\uXXXX`, hex digits so far in `hex`. */
  private escape = 0;
  private hex = '';
  /**
   * A high surrogate that ended the string so far, kept out of `str` until the next unit arrives:
   * a snapshot never shows half a pair, and `str` is never sliced to hide it (slicing a string
   * built by `+=` copies all of it, which made a split pair cost the whole string each time).
   */
  private high = '';
  private token = '';
  /** Where the open number is (`N_*`). */
  private numberState = N_MINUS;
  private literal = '';
  private readonly freeze: boolean;

  constructor(options: StreamingJsonOptions = {}) {
    this.freeze = options.freeze ?? false;
  }

  /** True once the top-level value is complete. */
  get complete(): boolean {
    return this.state === DONE;
  }

  /** True when the value grew since the last {@link snapshot}. */
  get dirty(): boolean {
    return this.changed;
  }

  /** What the next snapshot will copy: the number of entries of the open containers. */
  get pathWidth(): number {
    return this.width;
  }

  /** Feeds the next piece of text. Throws a {@link JsonSyntaxFailure} where it stops being JSON. */
  write(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      const state = this.state;
      if (state === STRING) {
        i = this.readString(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (state === NUMBER) {
        const next = numberStep(this.numberState, c);
        if (next >= 0) {
          this.numberState = next;
          this.token += text[i];
          i++;
          this.position++;
          continue;
        }
        // `01`, `1.2.`, `1e5-`, `-.5`: no continuation can make this a number.
        if (isNumberChar(c) || !N_COMPLETE[this.numberState]) {
          this.fail(`Invalid number "${(this.token + text[i]).slice(0, 40)}"`);
        }
        this.endNumber();
        continue; // the same character again, in the state after the number
      }
      if (state === LITERAL) {
        if (text[i] !== this.literal[this.token.length])
          this.fail(`Unexpected "${text[i]}" in ${this.literal}`);
        this.token += text[i];
        i++;
        this.position++;
        if (this.token.length === this.literal.length) {
          this.addValue(this.literal === 'true' ? true : this.literal === 'false' ? false : null);
        }
        continue;
      }
      i++;
      if (isWhitespace(c)) {
        this.position++;
        continue;
      }
      this.structural(c, text[i - 1]);
      this.position++;
    }
  }

  /**
   * The value so far: strings as far as they arrived, numbers and literals once complete, keys once
   * their value started. `undefined` before anything started. Later writes never change it.
   */
  snapshot(): JsonValue | undefined {
    if (this.changed) {
      if (this.state === STRING && !this.strIsKey) this.flushString();
      // Changed since the last snapshot: every open container is a fresh copy (see `thaw`).
      if (this.freeze) for (const frame of this.frames) Object.freeze(frame.node);
    }
    this.frozen = this.frames.length;
    this.changed = false;
    return this.root;
  }

  /** Ends the text: the whole value, or a {@link JsonSyntaxFailure} when it is incomplete. */
  end(): JsonValue {
    if (this.state === NUMBER && this.frames.length === 0 && N_COMPLETE[this.numberState]) this.endNumber();
    if (this.state !== DONE) {
      throw new JsonSyntaxFailure(
        this.hasRoot || this.position > 0
          ? 'The JSON text ended before its value was complete'
          : 'No JSON value',
        this.position,
      );
    }
    this.frozen = this.frames.length;
    return this.root as JsonValue;
  }

  private fail(message: string): never {
    throw new JsonSyntaxFailure(message, this.position);
  }

  private structural(c: number, ch: string): void {
    switch (this.state) {
      case VALUE:
      case VALUE_OR_END:
        if (c === 0x5d /* ] */ && this.state === VALUE_OR_END) return this.close(true);
        return this.startValue(c, ch);
      case KEY_OR_END:
      case KEY:
        if (c === 0x7d /* } */ && this.state === KEY_OR_END) return this.close(false);
        if (c !== 0x22) this.fail(`Expected a property name, got "${ch}"`);
        this.openString(true);
        return;
      case COLON:
        if (c !== 0x3a) this.fail(`Expected ":", got "${ch}"`);
        this.state = VALUE;
        return;
      case AFTER: {
        const top = this.frames[this.frames.length - 1];
        if (c === 0x2c /* , */) {
          this.state = top.isArray ? VALUE : KEY;
          return;
        }
        if (c === (top.isArray ? 0x5d : 0x7d)) return this.close(top.isArray);
        return this.fail(`Expected "," or "${top.isArray ? ']' : '}'}", got "${ch}"`);
      }
      case DONE:
        return this.fail(`Unexpected "${ch}" after the JSON value`);
    }
  }

  private startValue(c: number, ch: string): void {
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const isArray = c === 0x5b;
      const node: Frame['node'] = isArray ? [] : {};
      const slot = this.place(node);
      this.frames.push({ node, isArray, size: 0, slot, key: '' });
      this.state = isArray ? VALUE_OR_END : KEY_OR_END;
      return;
    }
    if (c === 0x22) return this.openString(false);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.token = ch;
      this.numberState = c === 0x2d ? N_MINUS : c === 0x30 ? N_ZERO : N_INT;
      this.state = NUMBER;
      return;
    }
    const literal = ch === 't' ? 'true' : ch === 'f' ? 'false' : ch === 'n' ? 'null' : '';
    if (!literal) this.fail(`Unexpected "${ch}" where a value should start`);
    this.literal = literal;
    this.token = ch;
    this.state = LITERAL;
  }

  /** A number in a complete state (`numberStep` checked every character). */
  private endNumber(): void {
    this.addValue(Number(this.token));
  }

  /** A complete scalar: placed, reported, and the state moves past it. */
  private addValue(value: JsonValue): void {
    this.place(value);
    this.afterValue(value);
  }

  private afterValue(value: JsonValue): void {
    this.state = this.frames.length === 0 ? DONE : AFTER;
    this.onValue?.(value, this.frames);
  }

  private close(isArray: boolean): void {
    const frame = this.frames.pop()!;
    if (frame.isArray !== isArray) this.fail('Mismatched bracket');
    // Its children closed (and froze) before it: the whole subtree is frozen now, and never copied again.
    if (this.freeze) Object.freeze(frame.node);
    this.width -= frame.size;
    if (this.frozen > this.frames.length) this.frozen = this.frames.length;
    this.afterValue(frame.node);
  }

  /** Copies the frozen containers (root first) so the open ones may change. */
  private thaw(): void {
    for (let j = 0; j < this.frozen; j++) {
      const frame = this.frames[j];
      // Spread, not `slice()`: V8's `slice` of a frozen array takes a slow path (measured 60x slower).
      const copy: Frame['node'] = frame.isArray ? [...(frame.node as JsonValue[])] : { ...frame.node };
      if (j === 0) this.root = copy;
      else setOwn(this.frames[j - 1].node, frame.slot, copy);
      frame.node = copy;
    }
    this.frozen = 0;
  }

  /** Puts a value where the grammar says it goes; returns its slot in the parent. */
  private place(value: JsonValue): string | number {
    this.changed = true;
    const top = this.frames[this.frames.length - 1];
    if (!top) {
      this.root = value;
      this.hasRoot = true;
      return 0;
    }
    this.thaw();
    top.size++;
    this.width++;
    if (top.isArray) {
      const array = top.node as JsonValue[];
      array.push(value);
      return array.length - 1;
    }
    setOwn(top.node, top.key, value);
    return top.key;
  }

  private openString(isKey: boolean): void {
    this.str = '';
    this.high = '';
    this.strIsKey = isKey;
    this.escape = 0;
    if (!isKey) this.strSlot = this.place('');
    this.state = STRING;
  }

  /** Writes the open string into its slot. */
  private flushString(): void {
    const top = this.frames[this.frames.length - 1];
    if (!top) this.root = this.str;
    else {
      this.thaw();
      setOwn(top.node, this.strSlot, this.str);
    }
  }

  /** Adds decoded text to the open string; a trailing high surrogate waits in `high` for its pair. */
  private append(piece: string): void {
    if (this.high) {
      piece = this.high + piece;
      this.high = '';
    }
    if (isHighSurrogate(piece.charCodeAt(piece.length - 1))) {
      this.high = piece[piece.length - 1];
      piece = piece.slice(0, -1); // a copy of the new piece only
    }
    if (piece.length === 0) return;
    this.str += piece;
    if (!this.strIsKey) this.changed = true;
  }

  /** The closing quote: a lone high surrogate still held is part of the string (as in `JSON.parse`). */
  private closeString(): boolean {
    const held = this.high !== '';
    if (held) {
      this.str += this.high;
      this.high = '';
    }
    return held;
  }

  /** Reads string characters from `i`; returns where it stopped. */
  private readString(text: string, i: number): number {
    const n = text.length;
    while (i < n) {
      if (this.escape === 1) {
        const ch = text[i];
        if (ch === 'u') {
          this.escape = 2;
          this.hex = '';
        } else {
          const decoded = ESCAPES[ch];
          if (decoded === undefined) this.fail(`Invalid escape "\\${ch}"`);
          this.escape = 0;
          this.append(decoded);
        }
        i++;
        this.position++;
        continue;
      }
      if (this.escape >= 2) {
        const ch = text[i];
        if (!/[0-9a-fA-F]/.test(ch)) this.fail(`Invalid \\u escape digit "${ch}"`);
        this.hex += ch;
        i++;
        this.position++;
        if (this.hex.length === 4) {
          this.escape = 0;
          this.append(String.fromCharCode(parseInt(this.hex, 16)));
        }
        continue;
      }
      // Plain characters up to the next quote, backslash or control character, appended at once.
      const start = i;
      let c = 0;
      while (i < n) {
        c = text.charCodeAt(i);
        if (c === 0x22 || c === 0x5c || c < 0x20) break;
        i++;
      }
      if (i > start) {
        this.append(text.slice(start, i));
        this.position += i - start;
      }
      if (i === n) break;
      if (c < 0x20) this.fail('Unescaped control character in a string');
      i++;
      this.position++;
      if (c === 0x5c) {
        this.escape = 1;
        continue;
      }
      // The closing quote.
      if (this.strIsKey) {
        this.closeString();
        this.frames[this.frames.length - 1].key = this.str;
        this.state = COLON;
      } else {
        this.flushStringWhole();
        this.afterValue(this.str);
      }
      return i;
    }
    return i;
  }

  /** The closing quote: the tree gets the whole string (a closing quote alone is no growth). */
  private flushStringWhole(): void {
    const heldBack = this.closeString();
    if (this.changed || heldBack) {
      this.changed = true;
      this.flushString();
    }
  }
}

export type { Frame as JsonFrame };
