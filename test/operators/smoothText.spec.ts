import {
  asyncScheduler,
  from,
  lastValueFrom,
  Observable,
  Subject,
  take,
  toArray,
  type Subscription,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Chunk } from '../../src/chunk';
import { ServerError } from '../../src/errors';
import { smoothText } from '../../operators/smoothText';
import { call, chunk, finish, text, tools, usageChunk } from '../quirks/toolCallQuirks';

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

  it('holds the last word until it is whole, and never delays the finish chunk', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const f = finish('stop');
      const u = usageChunk(3, 2);
      // "world " is whole at frame 5 but waits for its turn (frame 11); the finish at 9 flushes it.
      const source = cold('-a---b---f------u-|', { a: text('Hello wor'), b: text('ld and'), f, u });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a-------(bcf)--u-|', {
        a: text('Hello '),
        b: text('world '),
        c: text('and'),
        f,
        u,
      });
    });
  });

  it('flushes queued text before a tool-call chunk and keeps the order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const t = tools(call(0, 'c1', 'get_weather', '{}'));
      const source = cold('-a-t----|', { a: text('a b c '), t });
      expectObservable(source.pipe(smoothText({ delayMs: 10 }))).toBe('-a-(bct)|', {
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
