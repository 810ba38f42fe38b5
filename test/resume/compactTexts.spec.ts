/**
 * CompactTexts: the resume memory store's per-stream chunk texts, kept as differences from a
 * reference text. Every text must come back exactly, whatever it holds.
 */
import { createMemoryResumeStore, type Chunk } from '../../src';
import { CompactTexts } from '../../src/resume/compactTexts';

/** mulberry32: a small seeded generator, so a failing fuzz case is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const base = (delta: object, extra: object = {}): Chunk =>
  ({
    id: 'chatcmpl-x',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'compat/bench',
    system_fingerprint: 'fp',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
    ...extra,
  }) as Chunk;

/** The JSON texts of a realistic answer: role, content, a tool call in fragments, finish, usage. */
function answerTexts(words: readonly string[]): string[] {
  const chunks: Chunk[] = [base({ role: 'assistant', content: '' })];
  for (const word of words) chunks.push(base({ content: word }));
  chunks.push(
    base({
      tool_calls: [
        { index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } },
      ],
    }),
  );
  for (const part of ['{"ci', 'ty":', ' "Paris', ' 🚀"}'])
    chunks.push(base({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
  chunks.push({ ...base({}), choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
  chunks.push({
    ...base({}),
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 },
  });
  return chunks.map((c) => JSON.stringify(c));
}

function roundTrip(texts: readonly string[], list = new CompactTexts()): CompactTexts {
  for (const text of texts) list.push(text);
  expect(list.length).toBe(texts.length);
  for (let i = 0; i < texts.length; i++) expect(list.get(i)).toBe(texts[i]);
  return list;
}

const WORDS = [
  ' The',
  ' quick',
  ' brown',
  ' fox',
  ' jumps',
  ' über',
  ' 日本語',
  ' 🚀',
  '🚀',
  '\n',
  '"',
  ' é🚀é',
];

describe('CompactTexts', () => {
  it('gives back every text of a realistic chunk stream exactly', () => {
    roundTrip(answerTexts(WORDS.concat(WORDS.map((w, i) => `${w}${i}`))));
  });

  it('keeps the texts of such a stream in far fewer bytes than their UTF-8 JSON', () => {
    const texts = answerTexts(Array.from({ length: 200 }, (_, i) => WORDS[i % WORDS.length] + i));
    const list = roundTrip(texts);
    list.trim();
    const internals = list as unknown as {
      bytes: Uint8Array;
      ends: Int32Array;
      runs: number[];
      refs: string[];
    };
    const full = texts.reduce((n, t) => n + new TextEncoder().encode(t).length, 0);
    const kept = internals.bytes.length + internals.ends.byteLength + internals.runs.length * 4;
    // A text costs one Int32 and its middle's few bytes: the texts are kept in under a tenth.
    expect(kept * 10).toBeLessThan(full);
    // The role chunk and the usage chunk differ most; the content and tool-call chunks do not.
    expect(internals.refs.length).toBeLessThanOrEqual(3);
    // Texts stored alike share a run: a few per reference, not one per text.
    expect(internals.runs.length / 4).toBeLessThanOrEqual(internals.refs.length * 4);
  });

  it('takes the previous text as the reference when it shares much more than the reference does', () => {
    // The role chunk opens the answer, then content chunks, then tool-call fragments: each run is
    // stored against its first chunk, not against a chunk of another kind.
    const texts = [base({ role: 'assistant', content: '' })];
    for (let i = 0; i < 50; i++) texts.push(base({ content: ` word${i}` }));
    for (let i = 0; i < 50; i++)
      texts.push(base({ tool_calls: [{ index: 0, function: { arguments: `{"a${i}` } }] }));
    const list = roundTrip(texts.map((c) => JSON.stringify(c)));
    const internals = list as unknown as { refs: string[]; used: number };
    expect(internals.refs.map((r) => Object.keys((JSON.parse(r) as Chunk).choices[0].delta))).toEqual([
      ['role', 'content'],
      ['content'],
      ['tool_calls'],
    ]);
    // Against the role chunk each content middle would hold `content":"` too (16+ bytes), and each
    // fragment against a content chunk its whole `tool_calls` array (50+ bytes).
    expect(internals.used).toBeLessThan(100 * 6);
  });

  it('handles empty strings, identical texts, and a text that is a prefix or suffix of the reference', () => {
    const ref = '{"delta":{"content":"hello world"}}';
    roundTrip([
      '',
      '',
      ref,
      ref,
      ref.slice(0, 20),
      ref.slice(15),
      '',
      ref,
      ref.slice(0, ref.length - 1),
      'x',
    ]);
    roundTrip([ref, '', ref.slice(0, 1), ref, ref + ref.slice(-5)]);
  });

  it('never cuts a surrogate pair between the shared part and the stored middle', () => {
    const refs = (list: CompactTexts) => (list as unknown as { refs: string[] }).refs.length;
    // 🚀 (\ud83d\ude80) and 😀 (\ud83d\ude00) share their high half: a prefix taken at the first
    // difference would end between the halves. The pair goes to the middle, so no new reference.
    expect(refs(roundTrip(['{"c":"a🚀b"}', '{"c":"a😀b"}', '{"c":"a🚀b"}']))).toBe(1);
    // 𝄞 (\ud834\udd1e) and 🔞 (\ud83d\udd1e) share their low half: same at the suffix.
    expect(refs(roundTrip(['{"c":"x𝄞"}', '{"c":"y🔞"}', '{"c":"𝄞"}', '{"c":"🔞"}']))).toBe(1);
    roundTrip(['🔞', '𝄞', '🔞🔞', '𝄞🔞', '🔞𝄞']);
    roundTrip(['a🚀🚀🚀z', 'a🚀😀🚀z', 'a😀🚀😀z', 'a🚀z', 'az', 'a🚀🚀z']);
  });

  it('gives back strings with lone surrogates (which UTF-8 cannot hold) exactly', () => {
    roundTrip([
      '{"c":"ab"}',
      '{"c":"a\ud83db"}',
      '{"c":"a\ude80b"}',
      '{"c":"\ud83d"}',
      '\udc00',
      '{"c":"ab"}',
    ]);
  });

  it('makes a text that shares too little with the reference a new reference', () => {
    const list = roundTrip([
      'aaaaaaaaaaaaaaaaaaaa',
      'bbbbbbbbbbbbbbbbbbbb',
      'bbbbbbbbbcbbbbbbbbbb',
      'aaaaaaaaaaaaaaaaaaaa',
    ]);
    expect((list as unknown as { refs: string[] }).refs).toEqual([
      'aaaaaaaaaaaaaaaaaaaa',
      'bbbbbbbbbbbbbbbbbbbb',
      'aaaaaaaaaaaaaaaaaaaa',
    ]);
  });

  it('grows past its initial room, keeps long streams exact, and still pushes after trim', () => {
    const texts: string[] = [];
    for (let n = 0; n < 5000; n++) texts.push(answerTexts([` w${n}`, ' ñ'])[1 + (n % 6)]);
    const list = roundTrip(texts, new CompactTexts(1, 1));
    list.trim();
    const more = answerTexts([' after', ' trim 🚀']);
    for (const text of more) list.push(text);
    for (let i = 0; i < more.length; i++) expect(list.get(texts.length + i)).toBe(more[i]);
    expect(list.get(0)).toBe(texts[0]);
    expect(list.get(4999)).toBe(texts[4999]);
  });

  it('rejects an index outside the list with a RangeError', () => {
    const list = roundTrip(['a', 'b']);
    for (const index of [-1, 2, 0.5, NaN]) expect(() => list.get(index)).toThrow(RangeError);
  });

  it('round-trips a seeded random mix of chunk texts, unicode, near-copies and unrelated strings', () => {
    const random = seeded(20261207);
    const pieces = ['a', 'é', '日', '🚀', '😀', '\ud83d', '\ude80', '"', '\\', ' ', '{', '}', 'x'];
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const word = () => Array.from({ length: Math.floor(random() * 6) }, () => pick(pieces)).join('');
    for (let round = 0; round < 40; round++) {
      const texts: string[] = [];
      for (let n = 0; n < 300; n++) {
        const r = random();
        if (r < 0.5) texts.push(JSON.stringify(base({ content: word() })));
        else if (r < 0.6 && texts.length) texts.push(pick(texts));
        else if (r < 0.7 && texts.length) {
          const t = pick(texts);
          texts.push(
            t.slice(0, Math.floor(random() * t.length)) + word() + t.slice(Math.floor(random() * t.length)),
          );
        } else if (r < 0.8) texts.push(word() + word());
        else if (r < 0.9) texts.push(pick(answerTexts([word()])));
        else texts.push('');
      }
      roundTrip(texts, new CompactTexts(Math.floor(random() * 4), Math.floor(random() * 8)));
    }
  });
});

describe('the memory resume store with CompactTexts', () => {
  it('replays every chunk of a stream as it was appended, and trims its texts once the stream ends', async () => {
    const store = createMemoryResumeStore();
    const chunks = answerTexts(WORDS).map((t) => JSON.parse(t) as Chunk);
    await store.create('s1', 60_000);
    await store.append(
      's1',
      chunks.map((chunk, i) => ({ seq: i + 1, chunk })),
    );
    const trim = jest.spyOn(CompactTexts.prototype, 'trim');
    try {
      await store.end('s1', { state: 'complete' });
      expect(trim).toHaveBeenCalledTimes(1);
      await store.end('s1', { state: 'stopped' });
      expect(trim).toHaveBeenCalledTimes(1);
    } finally {
      trim.mockRestore();
    }
    const batch = await store.read('s1', 0, { waitMs: 0 });
    expect(batch?.events.map((e) => e.chunk)).toEqual(chunks);
    expect(batch?.events.map((e) => e.seq)).toEqual(chunks.map((_, i) => i + 1));
    expect(batch?.end).toEqual({ state: 'complete' });
  });
});
