/**
 * budget: refuses calls once the window's spend reached maxCost (typed error, nothing sent), adds
 * each call's cost when it ends, resets with the window, and shares spend through its store.
 */
import { lastValueFrom, Observable, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BudgetExceededError, createMemoryBudgetStore, type BudgetStore, type Chunk } from 'rxllm';
import { budget, BUDGET_DEFAULTS } from 'rxllm/operators';
import { scriptToChunks } from 'rxllm/testing';

// 1M prompt + 1M completion tokens of gpt-4o-mini = $0.75.
const USAGE = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
const chunks = scriptToChunks({ text: 'ok', usage: USAGE }, { model: 'gpt-4o-mini' });
const values: Record<string, Chunk> = Object.fromEntries(
  chunks.map((c, i) => [String.fromCharCode(97 + i), c]),
);
const letters = Object.keys(values).join('');

describe('budget', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('documents its defaults and rejects bad config at creation', () => {
    expect(BUDGET_DEFAULTS).toEqual({ window: 86_400_000, key: 'default', outputTokens: 4096 });
    expect(() => budget({ maxCost: -1 })).toThrow(TypeError);
    expect(() => budget({ maxCost: 1, window: 0 })).toThrow(TypeError);
    expect(() => budget({ maxCost: 1, store: {} as BudgetStore })).toThrow(TypeError);
  });

  it('lets calls through until the spend reaches maxCost, then refuses without subscribing', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const store = createMemoryBudgetStore();
      const guard = budget<Chunk>({ maxCost: 1, store, scheduler: ts });
      const first = cold(`${letters}|`, values);
      const second = cold(`${letters}|`, values);
      const third = cold(`${letters}|`, values);
      expectObservable(first.pipe(guard)).toBe(`${letters}|`, values);
      expectObservable(second.pipe(guard)).toBe(`${letters}|`, values); // 0.75 < 1 when it starts
      const error = new BudgetExceededError(1.5, 1, 86_400_000);
      expectObservable(third.pipe(guard), '10ms ^').toBe('10ms #', undefined, error);
      expectSubscriptions(third.subscriptions).toBe([]);
    });
    // (checked after the run: both calls were charged)
  });

  it('charges each finished call its cost', () => {
    const store = createMemoryBudgetStore();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(
        cold(`${letters}|`, values).pipe(budget<Chunk>({ maxCost: 1, store, scheduler: ts })),
      ).toBe(`${letters}|`, values);
    });
    expect(store.spent('default', 0)).toBeCloseTo(0.75, 12);
  });

  it('starts over in the next window', () => {
    ts.run(({ cold, expectObservable }) => {
      const store = createMemoryBudgetStore();
      const guard = budget<Chunk>({ maxCost: 0.5, window: 1000, store, scheduler: ts });
      expectObservable(cold(`${letters}|`, values).pipe(guard)).toBe(`${letters}|`, values);
      const late = cold(`${letters}|`, values);
      // Subscribed at 500 ms (same window): refused; at 1000 ms (next window): allowed.
      expectObservable(late.pipe(guard), '500ms ^').toBe(
        '500ms #',
        undefined,
        new BudgetExceededError(0.75, 0.5, 1000),
      );
      expectObservable(late.pipe(guard), '1000ms ^').toBe(`1000ms ${letters}|`, values);
    });
  });

  it('handles empty, erroring, never-ending and unsubscribed calls, adding no unknown cost', () => {
    const store = createMemoryBudgetStore();
    ts.run(({ cold, expectObservable }) => {
      const guard = budget<Chunk>({ maxCost: 1, store, scheduler: ts });
      expectObservable(cold<Chunk>('|').pipe(guard)).toBe('|');
      expectObservable(cold('a#', values).pipe(guard)).toBe('a#', values);
      expectObservable(cold<Chunk>('-').pipe(guard)).toBe('-');
      expectObservable(cold('ab---', values).pipe(guard), '^-!').toBe('ab', values);
    });
    // Nothing reported usage: nothing is charged.
    expect(store.spent('default', 0)).toBe(0);
  });

  it('keeps state per subscription and shares spend only through the store', async () => {
    const store = createMemoryBudgetStore();
    const source = new Observable<Chunk>((s) => {
      for (const c of chunks) s.next(c);
      s.complete();
    });
    const guarded = source.pipe(budget({ maxCost: 2, store, key: 'team' }));
    await lastValueFrom(guarded.pipe(toArray()));
    await lastValueFrom(guarded.pipe(toArray()));
    const window = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    expect(store.spent('team', window)).toBeCloseTo(1.5, 12);
    expect(store.spent('other', window)).toBe(0);
  });

  it('waits for an async store and surfaces its error', async () => {
    const failing: BudgetStore = { spent: () => Promise.reject(new Error('store down')), add: () => 0 };
    const source = new Observable<Chunk>((s) => s.complete());
    await expect(
      lastValueFrom(source.pipe(budget({ maxCost: 1, store: failing })), { defaultValue: null }),
    ).rejects.toThrow('store down');
  });
});
