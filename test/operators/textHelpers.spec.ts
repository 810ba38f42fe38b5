import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Chunk } from '../../src/chunk';
import { ServerError } from '../../src/errors';
import { collectText } from '../../operators/collectText';
import { reasoningDeltas } from '../../operators/reasoningDeltas';
import { textDeltas } from '../../operators/textDeltas';
import { usage } from '../../operators/usage';
import { chunk, finish, text, usageChunk } from '../quirks/toolCallQuirks';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const r = chunk({ role: 'assistant', content: null });
const a = text('Hel');
const n = text(null);
const e = text('');
const b = text('lo');
const t1 = chunk({ reasoning: 'Let', content: null });
const t2 = chunk({ reasoning: ' me' });
const reset = chunk([], { reset: { attempt: 1, reason: 'retry' } });
const u1 = usageChunk(5, 1);
const u2 = usageChunk(5, 3);
const error = new ServerError({ status: 500 });

describe('textDeltas', () => {
  it('emits non-empty content strings only, null-safe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-n-e-b-|', { r, a, n, e, b });
      expectObservable(source.pipe(textDeltas())).toBe('---a-----b-|', { a: 'Hel', b: 'lo' });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('reads the chosen choice only (n > 1)', () => {
    const both = chunk([
      { index: 0, delta: { content: 'zero' } },
      { index: 1, delta: { content: 'one' } },
    ]);
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-x-|', { x: both }).pipe(textDeltas({ choice: 1 }))).toBe('-o-|', { o: 'one' });
      expectObservable(cold('-x-|', { x: both }).pipe(textDeltas())).toBe('-z-|', { z: 'zero' });
    });
  });

  it('handles empty, error, never and early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<Chunk>('|').pipe(textDeltas())).toBe('|');
      expectObservable(cold('-a-#', { a }, error).pipe(textDeltas())).toBe('-a-#', { a: 'Hel' }, error);
      expectObservable(cold<Chunk>('-').pipe(textDeltas())).toBe('-');
      const source = cold('-a-b-|', { a, b });
      expectObservable(source.pipe(textDeltas()), '^-!').toBe('-a-', { a: 'Hel' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('throws a TypeError for a bad choice when created', () => {
    expect(() => textDeltas({ choice: -1 })).toThrow(TypeError);
    expect(() => reasoningDeltas({ choice: 1.5 })).toThrow(TypeError);
    expect(() => collectText({ choice: 'x' as never })).toThrow(TypeError);
  });
});

describe('reasoningDeltas', () => {
  it('emits reasoning deltas and never content', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-x-y-a-|', { x: t1, y: t2, a }).pipe(reasoningDeltas())).toBe('-x-y---|', {
        x: 'Let',
        y: ' me',
      });
      expectObservable(cold('-x-y-a-|', { x: t1, y: t2, a }).pipe(textDeltas())).toBe('-----a-|', {
        a: 'Hel',
      });
    });
  });
});

describe('collectText', () => {
  it('emits the whole text once on completion', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-r-a-n-b-|', { r, a, n, b }).pipe(collectText())).toBe('---------(t|)', {
        t: 'Hello',
      });
    });
  });

  it("emits '' for an empty source, nothing on never, the error on error", () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(collectText())).toBe('(t|)', { t: '' });
      expectObservable(cold('-a-', { a }).pipe(collectText())).toBe('---');
      expectObservable(cold('-a-#', { a }, error).pipe(collectText())).toBe('---#', undefined, error);
    });
  });

  it('discards text received before a reset chunk', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-x-b-|', { a, x: reset, b }).pipe(collectText())).toBe('-------(t|)', {
        t: 'lo',
      });
    });
  });

  it('keeps state per subscription', () => {
    const source = new Subject<Chunk>();
    const texts: string[] = [];
    const collected = source.pipe(collectText());
    collected.subscribe((x) => texts.push(x));
    source.next(a);
    collected.subscribe((x) => texts.push(x));
    source.next(b);
    source.complete();
    expect(texts).toEqual(['Hello', 'lo']);
  });
});

describe('usage', () => {
  it('emits the last non-null usage, never a sum', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-x-a-y-s-|', { x: u1, a, y: u2, s: finish('stop') }).pipe(usage())).toBe(
        '---------(u|)',
        { u: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } },
      );
    });
  });

  it('emits null, not zeros, when the provider reported no usage (empty source included)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-|', { a, b }).pipe(usage())).toBe('-----(u|)', { u: null });
      expectObservable(cold<Chunk>('|').pipe(usage())).toBe('(u|)', { u: null });
    });
  });

  it('passes errors, waits on never, unsubscribes early, forgets usage before a reset', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold('-x-#', { x: u1 }, error).pipe(usage())).toBe('---#', undefined, error);
      expectObservable(cold('-x-', { x: u1 }).pipe(usage())).toBe('---');
      const source = cold('-x-y-|', { x: u1, y: u2 });
      expectObservable(source.pipe(usage()), '^-!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^-!');
      expectObservable(cold('-x-r-a-|', { x: u1, r: reset, a }).pipe(usage())).toBe('-------(u|)', {
        u: null,
      });
    });
  });

  it('keeps state per subscription', () => {
    const source = new Subject<Chunk>();
    const seen: unknown[] = [];
    const total = source.pipe(usage());
    total.subscribe((x) => seen.push(x?.total_tokens ?? null));
    source.next(u1);
    total.subscribe((x) => seen.push(x?.total_tokens ?? null));
    source.complete();
    expect(seen).toEqual([6, null]);
  });
});
