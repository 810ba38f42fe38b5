import { defer, from, Observable, throwError, timer, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  mapConcurrent,
  MAP_CONCURRENT_DEFAULTS,
  type ConcurrencyProgress,
  type Settled,
} from 'rxllm/operators';
import { RequestAbortedError, ServerError } from 'rxllm';

describe('mapConcurrent', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('documents its defaults', () => {
    expect(MAP_CONCURRENT_DEFAULTS).toEqual({ concurrency: 20, ordered: false, settle: false });
  });

  it('keeps at most N inner observables subscribed and starts the next when one finishes', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('----A|');
      const b = cold('--B|');
      const c = cold('----C|');
      const inners: Record<string, Observable<string>> = { a, b, c };
      const result = cold('(abc|)').pipe(mapConcurrent((x: string) => inners[x], 2));
      expectObservable(result).toBe('--B-A--C|');
      expectSubscriptions(a.subscriptions).toBe('^----!');
      expectSubscriptions(b.subscriptions).toBe('^--!');
      expectSubscriptions(c.subscriptions).toBe('---^----!');
    });
  });

  it('keeps input order when ordered, buffering later items', () => {
    ts.run(({ cold, expectObservable }) => {
      const inners: Record<string, Observable<string>> = {
        a: cold('----A|'),
        b: cold('--B|'),
        c: cold('----C|'),
      };
      const result = cold('(abc|)').pipe(
        mapConcurrent((x: string) => inners[x], { concurrency: 2, ordered: true }),
      );
      expectObservable(result).toBe('----AB-C|');
    });
  });

  it('fails fast by default: the first error ends everything and unsubscribes the others', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = new ServerError({ status: 500 });
      const a = cold('------A|');
      const b = cold('--#', undefined, e);
      const inners: Record<string, Observable<string>> = { a, b };
      expectObservable(cold('(ab|)').pipe(mapConcurrent((x: string) => inners[x], 2))).toBe(
        '--#',
        undefined,
        e,
      );
      expectSubscriptions(a.subscriptions).toBe('^-!');
    });
  });

  it('settles: failures become values and the batch goes on', () => {
    ts.run(({ cold, expectObservable }) => {
      const e = new ServerError({ status: 500 });
      const inners: Record<string, Observable<string>> = {
        a: cold('---A|'),
        b: cold('-#', undefined, e),
        c: cold('-C|'),
      };
      const result = cold('(abc|)').pipe(
        mapConcurrent((x: string) => inners[x], { concurrency: 2, settle: true }),
      );
      const values: Record<string, Settled<string, string>> = {
        x: { ok: false, index: 1, item: 'b', error: e },
        y: { ok: true, index: 0, item: 'a', value: 'A' },
        z: { ok: true, index: 2, item: 'c', value: 'C' },
      };
      expectObservable(result).toBe('-xzy|', values);
    });
  });

  it('never leaks a slot: 50 failing items with a cap of 3 all settle and the good ones still run', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await collect(
      from(Array.from({ length: 60 }, (_, i) => i)).pipe(
        mapConcurrent(
          (i: number) =>
            defer(() => {
              inFlight++;
              peak = Math.max(peak, inFlight);
              const work =
                i % 6 === 5
                  ? timer(1).pipe(map(() => i))
                  : throwError(() => new ServerError({ status: 503 }));
              return new Observable<number>((s) => {
                const sub = work.subscribe(s);
                return () => {
                  inFlight--;
                  sub.unsubscribe();
                };
              });
            }),
          { concurrency: 3, settle: true },
        ),
      ),
    );
    expect(results).toHaveLength(60);
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(peak).toBe(3);
    expect(inFlight).toBe(0);
  });

  it('reports progress counts as it goes', () => {
    const seen: ConcurrencyProgress[] = [];
    ts.run(({ cold, expectObservable }) => {
      const inners: Record<string, Observable<string>> = { a: cold('--A|'), b: cold('-#') };
      const op = mapConcurrent((x: string) => inners[x], {
        concurrency: 1,
        settle: true,
        onProgress: (p) => seen.push(p),
      });
      expectObservable(cold('(ab|)').pipe(op)).toBe('--A-(x|)', {
        A: { ok: true, index: 0, item: 'a', value: 'A' },
        x: { ok: false, index: 1, item: 'b', error: 'error' },
      });
    });
    expect(seen).toEqual([
      { done: 0, failed: 0, inFlight: 1, received: 1 },
      { done: 1, failed: 0, inFlight: 0, received: 2 },
      { done: 1, failed: 0, inFlight: 1, received: 2 },
      { done: 1, failed: 1, inFlight: 0, received: 2 },
    ]);
  });

  it('settles a project that throws synchronously into { ok: false } for that item; the others go on', () => {
    const boom = new Error('bad item');
    ts.run(({ cold, expectObservable }) => {
      const result = cold('(abc|)').pipe(
        mapConcurrent(
          (x: string) => {
            if (x === 'b') throw boom;
            return cold('-X---|', { X: x.toUpperCase() });
          },
          { concurrency: 2, settle: true },
        ),
      );
      expectObservable(result).toBe('x(AC)|', {
        x: { ok: false, index: 1, item: 'b', error: boom },
        A: { ok: true, index: 0, item: 'a', value: 'A' },
        C: { ok: true, index: 2, item: 'c', value: 'C' },
      });
    });
  });

  it('fails fast with what a synchronously throwing project threw', () => {
    const boom = new Error('bad item');
    ts.run(({ cold, expectObservable }) => {
      const result = cold('-a-b|').pipe(
        mapConcurrent((x: string) => {
          if (x === 'b') throw boom;
          return cold('-----X|');
        }),
      );
      expectObservable(result).toBe('---#', undefined, boom);
    });
  });

  it('ends at once with RequestAbortedError when its signal fires, unsubscribing every item', () => {
    const controller = new AbortController();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('------A|');
      const b = cold('------B|');
      const inners: Record<string, Observable<string>> = { a, b };
      cold('--x').subscribe(() => controller.abort());
      expectObservable(
        cold('(ab|)').pipe(mapConcurrent((x: string) => inners[x], { signal: controller.signal })),
      ).toBe('--#', undefined, new RequestAbortedError());
      expectSubscriptions(a.subscriptions).toBe('^-!');
      expectSubscriptions(b.subscriptions).toBe('^-!');
    });
    expect(() => mapConcurrent((x: number) => [x], { signal: {} as AbortSignal })).toThrow(TypeError);
  });

  it('does not subscribe the source when its signal already fired', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a|');
      expectObservable(source.pipe(mapConcurrent((x: string) => [x], { signal: AbortSignal.abort() }))).toBe(
        '#',
        undefined,
        new RequestAbortedError(),
      );
      expectSubscriptions(source.subscriptions).toBe([]);
    });
  });

  it('passes empty, never and a source error through', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('|').pipe(mapConcurrent((x: string) => cold(x), 2))).toBe('|');
      expectObservable(cold('-').pipe(mapConcurrent((x: string) => cold(x), 2))).toBe('-');
      expectObservable(cold('--#').pipe(mapConcurrent((x: string) => cold(x), 2))).toBe('--#');
    });
  });

  it('unsubscribes every inner observable on early unsubscribe', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('------A|');
      const b = cold('------B|');
      const inners: Record<string, Observable<string>> = { a, b };
      expectObservable(cold('(ab|)').pipe(mapConcurrent((x: string) => inners[x], 5)), '^--!').toBe('---');
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe('^--!');
    });
  });

  it('keeps order buffers and counters per subscription', () => {
    const counts: number[] = [];
    ts.run(({ cold, expectObservable }) => {
      const inners: Record<string, Observable<string>> = { a: cold('--A|'), b: cold('-B|') };
      const piped = cold('(ab|)').pipe(
        mapConcurrent((x: string) => inners[x], {
          concurrency: 2,
          ordered: true,
          onProgress: (p) => counts.push(p.done),
        }),
      );
      expectObservable(piped).toBe('--A(B|)');
      expectObservable(piped, '-^').toBe('---A(B|)');
    });
    expect(Math.max(...counts)).toBe(2);
  });

  it.each([[0], [1.5], [-3], [{ concurrency: Number.NaN }], [{ onProgress: 'log' }], [{ signal: 'stop' }]])(
    'throws a TypeError at creation for %p',
    (config) => {
      expect(() => mapConcurrent((x: number) => [x], config as never)).toThrow(TypeError);
    },
  );
});

function collect<T>(source: Observable<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    source.subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
  });
}
