import { lineCutter, segmentCutter, type UnitCutter } from '../../../operators/internal/textUnits';
import { seededRandom } from '../../../src/testing/bytes';
import { LINEAR_BOUND, ratio4x } from '../../helpers/linear';

type Chunking = 'word' | 'line' | 'grapheme';

/**
 * The reference: the whole open unit and the new text cut again from the start on every delta
 * (smoothText's former splitter, quadratic on long runs). The incremental cutters must agree with it.
 */
function reference(chunking: Chunking): UnitCutter {
  let rest = '';
  const cut = (text: string): { units: string[]; rest: string } => {
    if (chunking === 'line') {
      const end = text.lastIndexOf('\n') + 1;
      return end === 0
        ? { units: [], rest: text }
        : { units: text.slice(0, end).split(/(?<=\n)/), rest: text.slice(end) };
    }
    const segmenter = new Intl.Segmenter(undefined, { granularity: chunking });
    if (chunking === 'grapheme') {
      const units = Array.from(segmenter.segment(text), (s) => s.segment);
      return { units, rest: units.pop() ?? '' };
    }
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
  return {
    push(text) {
      const result = cut(rest + text);
      rest = result.rest;
      return result.units;
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

function incremental(chunking: Chunking): UnitCutter {
  return chunking === 'line'
    ? lineCutter()
    : segmentCutter(new Intl.Segmenter(undefined, { granularity: chunking }), chunking === 'word');
}

/** Every unit `cutter` gives for `deltas`, the open one taken at the end. */
function units(cutter: UnitCutter, deltas: string[]): string[] {
  const out: string[] = [];
  for (const delta of deltas) out.push(...cutter.push(delta));
  const last = cutter.take();
  if (last) out.push(last);
  return out;
}

const TOKENS = [
  'hello',
  ' ',
  '  ',
  ', ',
  '.',
  'a.b',
  "don't",
  'e.g.',
  '3.14',
  '1,000',
  '写一首四句五言诗',
  '今天',
  'テスト',
  '😀',
  '👩‍👩‍👧',
  '👋🏽',
  '🇵🇹🇯🇵',
  'e\u0301',
  '\n',
  '\r\n',
  '_',
  '_a',
  '#tag',
  'x'.repeat(150),
  'QUJDRGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkwQUJDREVGR0hJSktMTU5PUFFSU1RVVld4',
  '- ',
  '**bold**',
  // Runs longer than the window the cutters read again (64 units).
  '🇵🇹🇯🇵🇫🇷'.repeat(12),
  '👩‍👩‍👧'.repeat(12),
  'ab'.repeat(40) + '.ccc',
];

describe('incremental text cutters', () => {
  it.each(['word', 'line', 'grapheme'] as const)(
    'cut %s units exactly as re-cutting all the open text would, whatever the deltas (surrogate pairs split too)',
    (chunking) => {
      const random = seededRandom(chunking.length * 7919);
      for (let round = 0; round < 60; round++) {
        let text = '';
        for (let i = 0; i < 40; i++) text += TOKENS[Math.floor(random() * TOKENS.length)];
        const deltas: string[] = [];
        for (let at = 0; at < text.length;) {
          const size = 1 + Math.floor(random() * (round % 3 === 0 ? 40 : 6));
          deltas.push(text.slice(at, at + size));
          at += size;
        }
        const got = units(incremental(chunking), deltas);
        expect(got.join('')).toBe(text);
        expect(got).toEqual(units(reference(chunking), deltas));
      }
    },
  );

  it('past a run of more than ~48 combining marks, may end a word early, but loses nothing and splits no grapheme', () => {
    // UAX #29 (WB4) looks back over all the marks to the letter they belong to; the window does not.
    const text = `one a${'\u0301'.repeat(80)}b two`;
    const deltas = text.match(/[^]{1,4}/g)!;
    for (const chunking of ['word', 'grapheme'] as const) {
      const got = units(incremental(chunking), deltas);
      expect(got.join('')).toBe(text);
      for (const unit of got) expect(unit.startsWith('\u0301')).toBe(false);
    }
  });

  it('starts over after take(): text before the first word goes with it again', () => {
    const cutter = incremental('word');
    expect(cutter.push('  one two')).toEqual(['  one ']);
    expect(cutter.take()).toBe('two');
    expect(cutter.pending).toBe(false);
    expect(cutter.push('. three four')).toEqual(['. three ']);
  });

  /** `run(size)`: a run of `unit` of about `size` characters without a boundary, in 4-unit deltas. */
  const long = (chunking: Chunking, unit: string) => (size: number) => {
    const text = unit.repeat(Math.ceil(size / unit.length));
    const cutter = incremental(chunking);
    let count = 0;
    for (let i = 0; i < text.length; i += 4) count += cutter.push(text.slice(i, i + 4)).length;
    expect(count).toBe(0);
    expect(cutter.take()).toBe(text);
  };

  it("stays linear on a paragraph without a newline ('line')", () => {
    expect(ratio4x(long('line', 'lorem ipsum dolor sit amet, '), 64 * 1024)).toBeLessThan(LINEAR_BOUND);
  });

  // 128 KB against 512 KB: below ~32 KB a run stays in a faster regime of V8's strings and garbage
  // collector (measured: 8 KB to 32 KB cost 14-26x, 32 KB to 128 KB 1.4-2.6x, 128 KB to 512 KB 3.5-5x),
  // so a smaller 1x would measure V8, not the cutter.
  it("stays linear on unbroken base64, one word-like segment ('word')", () => {
    expect(ratio4x(long('word', 'QUJDRGVmZ2hpamtsbW5vcHFy'), 128 * 1024)).toBeLessThan(LINEAR_BOUND);
  }, 60_000); // ~5 s idle; a loaded machine may take several times that

  it("stays linear on one grapheme of thousands of combining marks ('grapheme')", () => {
    const run = long('grapheme', '\u0301');
    expect(ratio4x((size) => run(size), 128 * 1024)).toBeLessThan(LINEAR_BOUND);
  }, 60_000);
});
