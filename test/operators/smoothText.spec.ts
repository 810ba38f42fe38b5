import {
  asyncScheduler,
  from,
  interval,
  lastValueFrom,
  map,
  Observable,
  Subject,
  take,
  toArray,
  type Subscription,
} from 'rxjs';
import { TestScheduler, type RunHelpers } from 'rxjs/testing';
import type { Chunk } from '../../src/chunk';
import { ServerError } from '../../src/errors';
import { smoothText } from '../../operators/smoothText';
import { call, chunk, finish, text, tools, usageChunk } from '../quirks/toolCallQuirks';
import { LINEAR_BOUND, ratio4x } from '../helpers/linear';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const pieces = async (deltas: string[], config: Parameters<typeof smoothText>[0]) => {
  const out = await lastValueFrom(from(deltas.map((d) => text(d))).pipe(smoothText(config), toArray()));
  return out.map((c) => c.choices[0].delta.content);
};

describe('smoothText', () => {
  it('emits whole words at a steady pace, the first at once', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a------------------------------|', { a: text('One two three four') });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a 9ms b 9ms c 10ms (d|)', {
        a: text('One '),
        b: text('two '),
        c: text('three '),
        d: text('four'),
      });
      expectSubscriptions(source.subscriptions).toBe('^-------------------------------!');
    });
  });

  it('holds the last word until it is whole; the finish chunk follows the text before it, paced', () => {
    // The diagram of the TSDoc.
    scheduler().run(({ cold, expectObservable }) => {
      const f = finish('stop');
      const u = usageChunk(3, 2);
      // "world " is whole at frame 5 but waits for its turn (11); f at 9 ends "and", whose turn is 21.
      const source = cold('-a---b---f------u-|', { a: text('Hello wor'), b: text('ld and'), f, u });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a---------b---------(cfu|)', {
        a: text('Hello '),
        b: text('world '),
        c: text('and'),
        f,
        u,
      });
    });
  });

  it('sends a tool-call chunk right after the text before it, in order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const t = tools(call(0, 'c1', 'get_weather', '{}'));
      const source = cold('-a-t----|', { a: text('a b c '), t });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a---------b---------(ct|)', {
        a: text('a '),
        b: text('b '),
        c: text('c '),
        t,
      });
    });
  });

  it('splits Chinese into words and keeps emoji sequences whole', async () => {
    const words = await pieces(['我们今天', '去北京。'], { delayMs: 0 });
    expect(words.join('')).toBe('我们今天去北京。');
    expect(words.length).toBeGreaterThan(2);
    for (const w of words) expect(w!.length).toBeLessThan(5);

    const family = '👩‍👩‍👧';
    const graphemes = await pieces(
      [...`a${family}🇵🇹é`].map((cp) => cp),
      { delayMs: 0, chunking: 'grapheme' },
    );
    expect(graphemes).toEqual(['a', family, '🇵🇹', 'é']);
  });

  it('cuts lines at newlines', async () => {
    expect(await pieces(['one\ntw', 'o\nthree'], { delayMs: 0, chunking: 'line' })).toEqual([
      'one\n',
      'two\n',
      'three',
    ]);
  });

  it('flushes held text before passing a source error on', () => {
    const error = new ServerError({ status: 500 });
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-#', { a: text('x y z') }, error);
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe(
        '-a-(bc#)',
        { a: text('x '), b: text('y '), c: text('z') },
        error,
      );
    });
  });

  it('completes at once for an empty source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(smoothText())).toBe('|');
    });
  });

  it('stays subscribed on a source that never ends, emitting what it can', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-', { a: text('x y') });
      expectObservable(source.pipe(smoothText({ delayMs: 5 }))).toBe('-a-', { a: text('x ') });
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('stops its timer and the source on early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a------|', { a: text('a b c d') });
      expectObservable(source.pipe(smoothText({ delayMs: 2 })), '^--!').toBe('-a-', { a: text('a ') });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps its queue per subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-a--|', { a: text('a b') }).pipe(smoothText({ delayMs: 2 }));
      expectObservable(piped).toBe('-a--(b|)', { a: text('a '), b: text('b') });
      expectObservable(piped).toBe('-a--(b|)', { a: text('a '), b: text('b') });
    });
  });

  it('drops text not yet emitted on a reset and passes the reset at once', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const r = chunk([], { reset: { attempt: 1, reason: 'cut' } });
      const source = cold('-a-r-b|', { a: text('old text here '), r, b: text('new') });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a-r--(b|)', {
        a: text('old '),
        r,
        b: text('new'),
      });
    });
  });

  it('smooths text that comes with empty fields beside it (refusal: null, reasoning: null)', async () => {
    const withNulls = chunk({ content: 'one two', refusal: null, reasoning: null });
    const out = await lastValueFrom(from([withNulls]).pipe(smoothText({ delayMs: 0 }), toArray()));
    expect(out.map((c) => c.choices[0].delta.content)).toEqual(['one ', 'two']);
    expect(out[0].choices[0].delta).toEqual({ content: 'one ', refusal: null, reasoning: null });
  });

  it('passes other choices and reasoning through in order', async () => {
    const other = chunk([{ index: 1, delta: { content: 'second choice' } }]);
    const reasoning = chunk({ reasoning: 'hmm' });
    const out = await lastValueFrom(
      from([reasoning, text('a b'), other]).pipe(smoothText({ delayMs: 0 }), toArray()),
    );
    expect(out).toEqual([reasoning, text('a '), text('b'), other]);
  });

  it('stops a synchronous source when downstream takes what it needs', async () => {
    let pulled = 0;
    const endless = new Observable<Chunk>((s) => {
      while (!s.closed) {
        pulled++;
        s.next(text('word '));
      }
    });
    expect(await lastValueFrom(endless.pipe(smoothText({ delayMs: 0 }), take(2), toArray()))).toHaveLength(2);
    expect(pulled).toBe(3);
  });

  it('arms no timer once the consumer stopped at a piece (take(1))', () => {
    const schedule = jest.spyOn(asyncScheduler, 'schedule');
    try {
      const got: (string | null | undefined)[] = [];
      const source = new Subject<Chunk>(); // text arriving after subscribe, as from a provider
      source
        .pipe(smoothText({ delayMs: 10 }), take(1))
        .subscribe((c) => got.push(c.choices[0].delta.content));
      source.next(text('a b c'));
      expect(got).toEqual(['a ']);
      expect(source.observed).toBe(false);
      const armed = schedule.mock.results.filter((r) => !(r.value as Subscription).closed);
      expect(armed).toHaveLength(0);
    } finally {
      schedule.mock.results.forEach((r) => (r.value as Subscription).unsubscribe());
      schedule.mockRestore();
    }
  });

  it.each([
    [{ delayMs: -1 }, 'delayMs'],
    [{ delayMs: Infinity }, 'delayMs'],
    [{ chunking: 'sentence' }, 'chunking'],
    [{ choice: -1 }, 'choice'],
  ])('rejects bad config %j with a TypeError at creation', (config, message) => {
    expect(() => smoothText(config as never)).toThrow(TypeError);
    expect(() => smoothText(config as never)).toThrow(message);
  });
});

/** What came out of `smoothText(config)` in virtual time: each chunk with its frame, and the end. */
function timeline(
  source: (helpers: RunHelpers) => Observable<Chunk>,
  config: Parameters<typeof smoothText>[0],
) {
  const ts = scheduler();
  const out: { at: number; content: string | null | undefined; chunk: Chunk }[] = [];
  let completedAt = -1;
  ts.run((helpers) => {
    source(helpers)
      .pipe(smoothText(config))
      .subscribe({
        next: (chunk) => out.push({ at: ts.now(), content: chunk.choices[0]?.delta.content, chunk }),
        complete: () => (completedAt = ts.now()),
      });
  });
  const gaps = out.slice(1).map((o, i) => o.at - out[i].at);
  return { out, gaps, completedAt };
}

describe('smoothText pacing', () => {
  it('spreads a fast source evenly at the pace, never more than maxLagMs behind, with no burst at the end', () => {
    // 200 words, one per 5 ms; the pace is one per 20 ms: the source is 4x too fast.
    const words = 200;
    const { out, gaps, completedAt } = timeline(
      () =>
        interval(5).pipe(
          take(words),
          map((i) => text(`w${i} `)),
        ),
      { delayMs: 20, maxLagMs: 500 },
    );
    expect(out.map((o) => o.content)).toEqual(Array.from({ length: words }, (_, i) => `w${i} `));
    // Word i arrives at 5(i+1) and is whole when the next one starts (the last: at completion, 1000).
    const whole = (i: number) => (i < words - 1 ? 5 * (i + 2) : 1000);
    out.forEach((o, i) => expect(o.at - whole(i)).toBeLessThanOrEqual(500));
    // Paced at delayMs while the queue is within the limit...
    expect(gaps.slice(0, 9)).toEqual(Array(9).fill(20));
    // ...then gradually faster, one piece at a time: no two in the same frame, never slower than the
    // pace, no jump between steps (the steps go 20, 18, 17, 15, ... down to the source's 5-6 ms).
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(1);
      expect(gap).toBeLessThanOrEqual(20);
      if (i > 0) expect(Math.abs(gap - gaps[i - 1])).toBeLessThanOrEqual(2);
    });
    // Evenly: after the source ended, the last pieces are spread over the time left (steps of 4-6 ms).
    const tail = out.filter((o) => o.at > 1000);
    expect(tail.length).toBeGreaterThan(50);
    const tailGaps = tail.slice(1).map((o, i) => o.at - tail[i].at);
    expect(Math.max(...tailGaps) - Math.min(...tailGaps)).toBeLessThanOrEqual(2);
    expect(completedAt).toBe(out.at(-1)!.at);
  });

  it('adds no delay to a source slower than the pace', () => {
    const { out, completedAt } = timeline(
      ({ cold }) =>
        cold('-a 49ms b 49ms c 49ms d 49ms |', {
          a: text('one '),
          b: text('two '),
          c: text('three '),
          d: text('four'),
        }),
      { delayMs: 20 },
    );
    // Each word goes out the moment it is whole (when the next one starts); the last at completion.
    expect(out.map((o) => [o.at, o.content])).toEqual([
      [51, 'one '],
      [101, 'two '],
      [151, 'three '],
      [201, 'four'],
    ]);
    expect(completedAt).toBe(201);
  });

  it('spreads a burst evenly over maxLagMs, and paces it at delayMs with maxLagMs: Infinity', () => {
    const burst = Array.from({ length: 101 }, (_, i) => `w${i}`).join(' ');
    const capped = timeline(({ cold }) => cold('-a 999ms |', { a: text(burst) }), {
      delayMs: 20,
      maxLagMs: 500,
    });
    expect(capped.out).toHaveLength(101);
    expect(capped.out[0].at).toBe(1);
    // 100 whole words at frame 1 must all be out by 501: about 5 ms apart.
    expect(capped.out[99].at).toBeLessThanOrEqual(501);
    for (const gap of capped.gaps.slice(0, 99)) expect([5, 6]).toContain(gap);

    const paced = timeline(({ cold }) => cold('-a|', { a: text('a b c d e f') }), {
      delayMs: 20,
      maxLagMs: Infinity,
    });
    expect(paced.out.map((o) => o.at)).toEqual([1, 21, 41, 61, 81, 101]);
    expect(paced.completedAt).toBe(101);
  });

  it('keeps a piece within maxLagMs even when that is shorter than delayMs', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b|', { a: text('a b '), b: text('c ') });
      // "b " is whole at 3: the pace says 21, the limit 8; "c " (whole at 4) gets the next step at 9.
      expectObservable(source.pipe(smoothText({ delayMs: 20, maxLagMs: 5 }))).toBe('-a------b(c|)', {
        a: text('a '),
        b: text('b '),
        c: text('c '),
      });
    });
  });

  it('treats an empty content delta as text: it neither ends the word nor lets the queue out', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-e-b-|', { a: text('Hel'), e: text(''), b: text('lo big world') });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-----a---------b---------(c|)', {
        a: text('Hello '),
        b: text('big '),
        c: text('world'),
      });
    });
  });

  it("carries an empty first delta's role on the first piece, and passes one that stays alone", async () => {
    const role = chunk({ role: 'assistant', content: '' });
    const out = await lastValueFrom(
      from([role, text('Hi there')]).pipe(smoothText({ delayMs: 0 }), toArray()),
    );
    expect(out.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: 'Hi ' },
      { content: 'there' },
    ]);
    const f = finish('stop');
    const alone = await lastValueFrom(from([role, f]).pipe(smoothText({ delayMs: 0 }), toArray()));
    expect(alone).toEqual([role, f]);
  });

  it('completes after the queue drained, with the held word as its last piece', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a|', { a: text('one two three') });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a 9ms b 9ms (c|)', {
        a: text('one '),
        b: text('two '),
        c: text('three'),
      });
    });
  });

  it('on a reset, drops the queued text but not the other chunks queued before it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const t = tools(call(0, 'c1', 'f', '{}'));
      const r = chunk([], { reset: { attempt: 1, reason: 'cut' } });
      const source = cold('-a-t-r', { a: text('x y z '), t, r });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a---(tr)', { a: text('x '), t, r });
    });
  });

  it.each([
    [{ maxLagMs: -1 }, 'maxLagMs'],
    [{ maxLagMs: NaN }, 'maxLagMs'],
    [{ maxLagMs: '5' }, 'maxLagMs'],
  ])('rejects bad config %j with a TypeError at creation', (config, message) => {
    expect(() => smoothText(config as never)).toThrow(TypeError);
    expect(() => smoothText(config as never)).toThrow(message);
  });
});

describe('smoothText: linear on long runs', () => {
  /** Through the operator (no pacing), in 4-character deltas: `text(size)` must come out whole. */
  const through = (chunking: 'word' | 'line', make: (size: number) => string) => (size: number) => {
    const input = make(size);
    const source = new Subject<Chunk>();
    let out = '';
    source.pipe(smoothText({ delayMs: 0, chunking })).subscribe((c) => (out += c.choices[0].delta.content));
    for (let i = 0; i < input.length; i += 4) source.next(text(input.slice(i, i + 4)));
    source.complete();
    expect(out).toBe(input);
  };

  it("stays linear on a paragraph without a newline ('line')", () => {
    const paragraph = (size: number) => 'lorem ipsum dolor sit amet, '.repeat(size / 28);
    expect(ratio4x(through('line', paragraph), 28 * 2048)).toBeLessThan(LINEAR_BOUND);
  });

  it("stays linear on unbroken base64 ('word')", () => {
    const base64 = (size: number) => 'QUJDRGVmZ2hpamtsbW5vcHFy'.repeat(size / 24);
    // 36 KB, not less: below that the 1x run fits under V8's young-generation size and the ratio says
    // more about the garbage collector than about the operator (measured: 8x at 9 KB, 3.6x from 36 KB).
    expect(ratio4x(through('word', base64), 24 * 1536)).toBeLessThan(LINEAR_BOUND);
  });
});
