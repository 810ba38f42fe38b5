import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { timeouts, TIMEOUTS_DEFAULTS } from 'rxllm/operators';
import { TimeoutError } from 'rxllm';

describe('timeouts', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('documents defaults fit for reasoning models: 10 min to the first chunk, 2 min idle, no total', () => {
    expect(TIMEOUTS_DEFAULTS).toEqual({ firstChunk: 600_000, idle: 120_000, total: Infinity });
  });

  it('fails with a firstChunk TimeoutError and unsubscribes from the source', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-----a|');
      expectObservable(source.pipe(timeouts({ firstChunk: 3 }))).toBe(
        '---#',
        undefined,
        new TimeoutError('firstChunk', 3),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('fails with an idle TimeoutError when chunks stop after the first', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-----c|');
      expectObservable(source.pipe(timeouts({ firstChunk: 3, idle: 3 }))).toBe(
        '-a-b--#',
        undefined,
        new TimeoutError('idle', 3),
      );
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('does not fire idle while chunks keep coming closer together than the limit', () => {
    ts.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-f-g|');
      expectObservable(source.pipe(timeouts({ firstChunk: 3, idle: 3 }))).toBe('-a-b-c-d-e-f-g|');
    });
  });

  it('fails with a total TimeoutError even while chunks keep coming', () => {
    ts.run(({ cold, expectObservable }) => {
      const source = cold('-a-a-a-a-a-a|');
      expectObservable(source.pipe(timeouts({ idle: 3, total: 6 }))).toBe(
        '-a-a-a#',
        undefined,
        new TimeoutError('total', 6),
      );
    });
  });

  it('says which limit fired', () => {
    let caught: unknown;
    ts.run(({ cold }) => {
      cold('-a------')
        .pipe(timeouts({ idle: 2 }))
        .subscribe({ error: (e) => (caught = e) });
    });
    expect(caught).toBeInstanceOf(TimeoutError);
    expect(caught).toMatchObject({ timeout: 'idle', ms: 2, retryable: true });
  });

  it('treats a number as the total limit', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c|').pipe(timeouts(4))).toBe(
        '-a-b#',
        undefined,
        new TimeoutError('total', 4),
      );
    });
  });

  it('turns a limit off with 0 or Infinity', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('------a-------b|').pipe(timeouts({ firstChunk: 0, idle: Infinity }))).toBe(
        '------a-------b|',
      );
    });
  });

  it('passes empty and error through, and times out never', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('|').pipe(timeouts({ firstChunk: 2 }))).toBe('|');
      expectObservable(cold('-#').pipe(timeouts({ firstChunk: 2 }))).toBe('-#');
      expectObservable(cold('-').pipe(timeouts({ firstChunk: 2 }))).toBe(
        '--#',
        undefined,
        new TimeoutError('firstChunk', 2),
      );
    });
  });

  it('stops its timers and the source on early unsubscribe', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a------');
      expectObservable(source.pipe(timeouts({ idle: 4 })), '^--!').toBe('-a-');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('times each subscription on its own', () => {
    ts.run(({ cold, expectObservable }) => {
      const piped = cold('---a|').pipe(timeouts({ firstChunk: 4 }));
      expectObservable(piped).toBe('---a|');
      // A second subscriber starting later gets its own timer: a shared one would fire at frame 4.
      expectObservable(piped, '--^').toBe('-----a|');
    });
  });

  it('handles a source that emits synchronously on subscribe', () => {
    const values: number[] = [];
    new Observable<number>((s) => {
      s.next(1);
      s.next(2);
      s.complete();
    })
      .pipe(timeouts({ firstChunk: 1 }))
      .subscribe((v) => values.push(v));
    expect(values).toEqual([1, 2]);
  });

  it.each([[{ firstChunk: -1 }], [{ idle: Number.NaN }], [{ total: '5' as never }], [null as never]])(
    'throws a TypeError at creation for %p',
    (config) => {
      expect(() => timeouts(config)).toThrow(TypeError);
    },
  );
});
