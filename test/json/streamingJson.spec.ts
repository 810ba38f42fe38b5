import { JsonSyntaxFailure, StreamingJsonParser, type JsonValue } from '../../src/json/streamingJson';
import { seededRandom } from '../../src/testing/bytes';

/** Parses `text` fed in pieces cut at the given sizes (cycled). */
function parseIn(text: string, sizes: number[]): JsonValue {
  const parser = new StreamingJsonParser();
  let at = 0;
  for (let k = 0; at < text.length; k++) {
    const size = sizes[k % sizes.length];
    parser.write(text.slice(at, at + size));
    at += size;
  }
  return parser.end();
}

const DOCS = [
  '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
  '[]',
  '{}',
  ' [ 1 , -2.5e+3 , 0 , 0.25, 1E2 ] ',
  '"just a string"',
  '42',
  '-0',
  'true',
  'null',
  '{"esc":"quote \\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t unicode \\u00e9 \\ud83d\\ude00"}',
  '{"cjk":"写一首四句五言诗","emoji":"👩‍👩‍👧 🇵🇹"}',
  '{"nested":[[[[{"x":[{"y":{}}]}]]]]}',
  '{"__proto__":{"polluted":true},"k":1}',
  '{"dup":1,"dup":2}',
  '[0,-0,0.5,-0.5e-3,10E+2,1e0,123.456,-7,0e5,[0],{"z":0}]',
  '"lone \\ud83d then text, and a lone low \\ude00"',
];

describe('StreamingJsonParser', () => {
  it.each(DOCS)('parses %s exactly as JSON.parse, whatever the pieces', (doc) => {
    const expected = JSON.parse(doc);
    for (const sizes of [[1], [2], [3, 1, 7], [doc.length]]) expect(parseIn(doc, sizes)).toEqual(expected);
    const random = seededRandom(7);
    const sizes = Array.from({ length: 50 }, () => 1 + Math.floor(random() * 6));
    expect(parseIn(doc, sizes)).toEqual(expected);
  });

  it('keeps __proto__ as an own property and pollutes nothing', () => {
    const value = parseIn('{"__proto__":{"polluted":true}}', [1]) as Record<string, unknown>;
    expect(Object.getOwnPropertyNames(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it.each([
    ['{"a":1,}', 7],
    ['[1,]', 3],
    ["{'a':1}", 1],
    ['{"a" 1}', 5],
    ['[01]', 2],
    ['[1.]', 3],
    ['[-]', 2],
    ['[NaN]', 1],
    ['[tru]', 4],
    ['{"a":1}x', 7],
    ['["a\\x"]', 4],
    ['["\\u12G4"]', 6],
    ['["line\nbreak"]', 6],
    ['[1}', 2],
    ['{"a":1]', 6],
  ])('rejects %j at the offending character (position %d)', (doc, position) => {
    let failure: unknown;
    try {
      parseIn(doc, [1]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(JsonSyntaxFailure);
    expect((failure as JsonSyntaxFailure).position).toBe(position);
    expect(() => JSON.parse(doc)).toThrow();
  });

  it.each([
    '',
    '  ',
    '{"a":',
    '[1,2',
    '"open',
    '{"a":1',
    '-',
    '1.',
    '1e',
    '1e+',
    '[-',
    '[0.',
    'tru',
    '"\\ud83d',
  ])('reports %j as incomplete at the end, not before', (doc) => {
    const parser = new StreamingJsonParser();
    for (const ch of doc) parser.write(ch);
    expect(() => parser.end()).toThrow(JsonSyntaxFailure);
  });

  // Prefixes that no continuation can make valid fail as they are written, not at the end: a cut
  // stream is then told apart from a wrong one (`incomplete-json` vs `invalid-json`).
  it.each([
    ['01', 1],
    ['-01', 2],
    ['00', 1],
    ['-00', 2],
    ['1.2.', 3],
    ['-a', 1],
    ['-.5', 1],
    ['1.e5', 2],
    ['1ee', 2],
    ['1e5.', 3],
    ['1e+-', 3],
    ['1-', 1],
    ['1+', 1],
    ['0x1', 1],
    ['trux', 3],
    ['[1,01', 4],
    ['{"a":00', 6],
    ['[-0.]', 4],
    ['{"a":1.}', 7],
  ])('fails %j while it is written (position %d), before any end', (doc, position) => {
    const parser = new StreamingJsonParser();
    let failure: unknown;
    try {
      for (const ch of doc) parser.write(ch);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(JsonSyntaxFailure);
    expect((failure as JsonSyntaxFailure).position).toBe(position);
    for (const continuation of ['', '0', '1', ']', '}', '"]}'])
      expect(() => JSON.parse(doc + continuation)).toThrow();
  });

  it.each(DOCS)('never fails a prefix of the valid %s while it is written', (doc) => {
    for (let end = 0; end <= doc.length; end++) {
      const parser = new StreamingJsonParser();
      expect(() => {
        for (const ch of doc.slice(0, end)) parser.write(ch);
      }).not.toThrow();
    }
  });

  it('gives immutable snapshots that share unchanged subtrees', () => {
    const parser = new StreamingJsonParser();
    parser.write('{"done":{"x":1},"list":["ab');
    const first = parser.snapshot() as any;
    expect(first).toEqual({ done: { x: 1 }, list: ['ab'] });
    parser.write('c","d"],"n":');
    const second = parser.snapshot() as any;
    expect(first).toEqual({ done: { x: 1 }, list: ['ab'] });
    expect(second).toEqual({ done: { x: 1 }, list: ['abc', 'd'] });
    expect(second.done).toBe(first.done);
    expect(second).not.toBe(first);
    parser.write('12}');
    expect(parser.snapshot()).toEqual({ done: { x: 1 }, list: ['abc', 'd'], n: 12 });
    expect(second).toEqual({ done: { x: 1 }, list: ['abc', 'd'] });
  });

  it('shows numbers and literals only once complete, keys once their value starts', () => {
    const parser = new StreamingJsonParser();
    parser.write('{"a":12');
    expect(parser.snapshot()).toEqual({});
    parser.write('3,"b":tr');
    expect(parser.snapshot()).toEqual({ a: 123 });
    parser.write('ue,"c":"');
    expect(parser.snapshot()).toEqual({ a: 123, b: true, c: '' });
  });

  it('does not count a closing quote alone as growth', () => {
    const parser = new StreamingJsonParser();
    parser.write('["ab');
    expect(parser.snapshot()).toEqual(['ab']);
    parser.write('"');
    expect(parser.dirty).toBe(false);
    parser.write(',"');
    expect(parser.dirty).toBe(true);
  });

  it('holds back half a surrogate pair and half an escape from snapshots', () => {
    const parser = new StreamingJsonParser();
    parser.write('["x\\ud83d');
    expect(parser.snapshot()).toEqual(['x']);
    parser.write('\\ude0');
    expect(parser.snapshot()).toEqual(['x']);
    parser.write('0');
    expect(parser.snapshot()).toEqual(['x😀']);
  });

  it('with freeze, hands out deep-frozen snapshots and a frozen whole, and still shares subtrees', () => {
    const deepFrozen = (v: unknown): boolean =>
      v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v).every(deepFrozen));
    const parser = new StreamingJsonParser({ freeze: true });
    parser.write('{"done":{"x":[1]},"list":[{"a":"b');
    const first = parser.snapshot() as any;
    expect(deepFrozen(first)).toBe(true);
    parser.write('c"},2],"n":');
    const second = parser.snapshot() as any;
    expect(deepFrozen(second)).toBe(true);
    expect(second.done).toBe(first.done);
    expect(first).toEqual({ done: { x: [1] }, list: [{ a: 'b' }] });
    parser.write('1}');
    const whole = parser.end();
    expect(whole).toEqual({ done: { x: [1] }, list: [{ a: 'bc' }, 2], n: 1 });
    expect(deepFrozen(whole)).toBe(true);
    // Without the option nothing is frozen (arrayElements hands its elements over).
    const plain = new StreamingJsonParser();
    plain.write('{"a":[1]}');
    expect(Object.isFrozen(plain.end())).toBe(false);
  });

  it('reports each complete value with its open parents', () => {
    const parser = new StreamingJsonParser();
    const seen: [JsonValue, number][] = [];
    parser.onValue = (value, parents) => seen.push([value, parents.length]);
    parser.write('[{"a":1},2]');
    parser.end();
    expect(seen).toEqual([
      [1, 2],
      [{ a: 1 }, 1],
      [2, 1],
      [[{ a: 1 }, 2], 0],
    ]);
  });

  it('counts the width of the open containers', () => {
    const parser = new StreamingJsonParser();
    parser.write('{"a":[1,2,3],"b":[4,');
    expect(parser.pathWidth).toBe(2 + 1);
  });
});
