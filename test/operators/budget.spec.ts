/**
 * budget: refuses calls once the window's spend reached maxCost (typed error, nothing sent), adds
 * each call's cost when it ends, resets with the window, and shares spend through its store.
 */
import { lastValueFrom, merge, Observable, toArray, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  BudgetExceededError,
  createMemoryBudgetStore,
  estimateRequestCost,
  stream,
  type BudgetStore,
  type ChatRequest,
  type Chunk,
} from 'rxllm';
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
    // A fixed clock: both runs fall in one daily window even if a day ends during the test.
    const scheduler = new VirtualTimeScheduler();
    const guarded = source.pipe(budget({ maxCost: 2, store, key: 'team', scheduler }));
    await lastValueFrom(guarded.pipe(toArray()));
    await lastValueFrom(guarded.pipe(toArray()));
    const window = 0; // the daily window that starts at virtual time 0
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

  it('refuses at creation a model it cannot price, and warns once about calls served by one', () => {
    expect(() => budget({ maxCost: 1, model: 'mock/gpt-4o-mini' })).toThrow(
      /no price for model "mock\/gpt-4o-mini"/,
    );
    expect(() => budget({ maxCost: 1, model: 'openai/no-such-model' })).toThrow(TypeError);
    expect(() => budget({ maxCost: 1, outputTokens: -1 })).toThrow(TypeError);
    const mockRequest: ChatRequest = { model: 'mock/gpt-4o-mini', messages: [] };
    expect(() => budget({ maxCost: 1, request: mockRequest })).toThrow(/request's model "mock\/gpt-4o-mini"/);
    // Priced through `model`, or a router group name (priced by the route when the call ends): accepted.
    expect(() => budget({ maxCost: 1, request: mockRequest, model: 'openai/gpt-4o-mini' })).not.toThrow();
    expect(() => budget({ maxCost: 1, request: { model: 'fast', messages: [] } })).not.toThrow();
    expect(() => budget({ maxCost: 1, request: 'hi' as never })).toThrow(TypeError);
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: () => undefined };
    const unpriced = scriptToChunks({ text: 'ok', usage: USAGE }, { model: 'local-llama' });
    const store = createMemoryBudgetStore();
    ts.run(({ cold, expectObservable }) => {
      const guard = budget<Chunk>({ maxCost: 1, store, logger, scheduler: ts });
      const values = Object.fromEntries(unpriced.map((c, i) => [String.fromCharCode(97 + i), c]));
      const marbles = Object.keys(values).join('') + '|';
      expectObservable(cold(marbles, values).pipe(guard)).toBe(marbles, values);
      expectObservable(cold(marbles, values).pipe(guard)).toBe(marbles, values);
    });
    expect(warnings).toEqual([
      'budget: no price for model "local-llama"; its calls are not counted against the budget (add one with setPrice).',
    ]);
  });

  describe('with the request: reservations', () => {
    // A request whose estimate is $0.75 on gpt-4o-mini: ~1M prompt tokens and a 1M-token output cap.
    const REQUEST: ChatRequest = {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'x'.repeat(3_999_984) }],
      max_tokens: 1_000_000,
    };
    const ESTIMATE = estimateRequestCost(REQUEST)!;

    it('reserves the estimate when a call starts, so a parallel call is refused before the first ends', () => {
      expect(ESTIMATE).toBeCloseTo(0.75, 12);
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const store = createMemoryBudgetStore();
        const guard = budget<Chunk>({ maxCost: 1, store, request: REQUEST, scheduler: ts });
        const slow = cold(`-----${letters}|`, values);
        const parallel = cold(`${letters}|`, values);
        expectObservable(slow.pipe(guard)).toBe(`-----${letters}|`, values);
        // Subscribed at 2 ms while the first is running: 0.75 reserved < 1, so it starts (0.75 -> 1.5).
        expectObservable(parallel.pipe(guard), '--^').toBe(`--${letters}|`, values);
        // At 3 ms: 1.5 reserved >= 1: refused, nothing sent. Before reservations it started.
        const third = cold(`${letters}|`, values);
        expectObservable(third.pipe(guard), '---^').toBe(
          '---#',
          undefined,
          new BudgetExceededError(1.5, 1, 86_400_000),
        );
        expectSubscriptions(third.subscriptions).toBe([]);
      });
    });

    it('settles each reservation to the real cost: cheaper, unsubscribed, erroring and empty calls', () => {
      const store = createMemoryBudgetStore();
      const cheap = scriptToChunks(
        { text: 'ok', usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 } },
        { model: 'gpt-4o-mini' },
      );
      const cheapValues = Object.fromEntries(cheap.map((c, i) => [String.fromCharCode(97 + i), c]));
      const cheapLetters = Object.keys(cheapValues).join('');
      ts.run(({ cold, expectObservable }) => {
        const guard = budget<Chunk>({ maxCost: 10, store, request: REQUEST, scheduler: ts });
        expectObservable(cold(`${cheapLetters}|`, cheapValues).pipe(guard)).toBe(
          `${cheapLetters}|`,
          cheapValues,
        );
        expectObservable(cold<Chunk>('|').pipe(guard)).toBe('|');
        expectObservable(cold<Chunk>('#').pipe(guard)).toBe('#');
        expectObservable(cold<Chunk>('-----').pipe(guard), '^-!').toBe('---');
      });
      // Only the cheap call's 1000 x 0.15 + 100 x 0.6 per million is left; the rest went back.
      expect(store.spent('default', 0)).toBeCloseTo(0.00021, 12);
    });

    it('charges a call stopped after some chunks an estimate, not $0', () => {
      const store = createMemoryBudgetStore();
      const text = scriptToChunks(
        { text: 'y'.repeat(400), chunkSize: 100, usage: null },
        { model: 'gpt-4o-mini' },
      );
      const v = Object.fromEntries(text.map((c, i) => [String.fromCharCode(97 + i), c]));
      ts.run(({ cold, expectObservable }) => {
        const guard = budget<Chunk>({ maxCost: 10, store, request: REQUEST, scheduler: ts });
        // Stopped after the role chunk and two 100-character deltas.
        expectObservable(cold('abc-----', v).pipe(guard), '^--!').toBe('abc', v);
      });
      // ~1M prompt tokens estimated from the request + 50 output tokens received.
      expect(store.spent('default', 0)).toBeCloseTo((1_000_000 * 0.15 + 50 * 0.6) / 1e6, 12);
    });

    it('gives a reservation back when unsubscribed before an async store answered', async () => {
      const memory = createMemoryBudgetStore();
      let answer!: () => void;
      const gate = new Promise<void>((resolve) => (answer = resolve));
      const slow: BudgetStore = {
        spent: (k, w) => memory.spent(k, w),
        add: (k, w, a, t) => memory.add(k, w, a, t),
        reserve: async (...args) => {
          await gate;
          return memory.reserve(...args);
        },
      };
      let subscribed = false;
      const source = new Observable<Chunk>(() => void (subscribed = true));
      const clock = new VirtualTimeScheduler();
      const subscription = source
        .pipe(budget({ maxCost: 1, store: slow, request: REQUEST, scheduler: clock }))
        .subscribe();
      subscription.unsubscribe();
      answer();
      await new Promise((resolve) => setImmediate(resolve));
      expect(subscribed).toBe(false);
      expect(memory.spent('default', 0)).toBeCloseTo(0, 12);
    });

    it("40 parallel calls overspend by at most one call's estimate (they spent 40 x before reservations)", async () => {
      // The numbers: maxCost $0.10, each call $0.075 (10,000 prompt + 5,000 output tokens of
      // gpt-4o), 40 calls started at once against the mock provider.
      const request: ChatRequest = {
        model: 'mock/gpt-4o',
        messages: [{ role: 'user', content: 'x'.repeat(39_984) }],
        max_tokens: 5000,
        mock_response: {
          text: 'done',
          usage: { prompt_tokens: 10_000, completion_tokens: 5000, total_tokens: 15_000 },
        },
        mock_delay_ms: 5,
      };
      const estimate = estimateRequestCost(request, 'openai/gpt-4o')!;
      expect(estimate).toBeCloseTo(0.075, 12);
      const store = createMemoryBudgetStore();
      const clock = new VirtualTimeScheduler();
      const guard = budget<Chunk>({ maxCost: 0.1, store, request, model: 'openai/gpt-4o', scheduler: clock });
      let served = 0;
      let refused = 0;
      const calls = Array.from(
        { length: 40 },
        () =>
          new Observable<void>((s) =>
            stream(request)
              .pipe(guard)
              .subscribe({
                complete: () => {
                  served++;
                  s.complete();
                },
                error: (e) => {
                  if (e instanceof BudgetExceededError) refused++;
                  s.complete();
                },
              }),
          ),
      );
      await lastValueFrom(merge(...calls), { defaultValue: undefined });
      const spent = store.spent('default', 0);
      expect(served + refused).toBe(40);
      expect(spent).toBeLessThanOrEqual(0.1 + estimate + 1e-9);
      expect(spent).toBeCloseTo(served * 0.075, 9);
      expect(served).toBe(2);
    });

    it('reserves through spent then add on a store without reserve, and settles the same way', () => {
      const memory = createMemoryBudgetStore();
      const writes: number[] = [];
      const plain: BudgetStore = {
        spent: (k, w) => memory.spent(k, w),
        add: (k, w, a, t) => (writes.push(a), memory.add(k, w, a, t)),
      };
      ts.run(({ cold, expectObservable }) => {
        const guard = budget<Chunk>({ maxCost: 1, store: plain, request: REQUEST, scheduler: ts });
        expectObservable(cold(`-${letters}|`, values).pipe(guard)).toBe(`-${letters}|`, values);
        // Subscribed while the first runs: 0.75 already added, still < 1: starts; a third is refused.
        expectObservable(cold(`${letters}|`, values).pipe(guard)).toBe(`${letters}|`, values);
        expectObservable(cold(`${letters}|`, values).pipe(guard)).toBe(
          '#',
          undefined,
          new BudgetExceededError(1.5, 1, 86_400_000),
        );
      });
      // Two reservations of the estimate; each call cost exactly 0.75, so no settling write.
      expect(writes.map((w) => Math.round(w * 1e9) / 1e9)).toEqual([0.75, 0.75]);
    });
  });
});

describe('createMemoryBudgetStore', () => {
  it('keeps the last window apart from the new one: a late settlement does not reset the new spend', () => {
    const store = createMemoryBudgetStore();
    store.add('k', 0, 0.5, 1000);
    store.add('k', 1000, 0.25, 1000); // the next window began
    store.add('k', 0, -0.2, 1000); // a call of the last window settles
    expect(store.spent('k', 1000)).toBeCloseTo(0.25, 12);
    expect(store.spent('k', 0)).toBeCloseTo(0.3, 12);
    expect(store.reserve('k', 1000, 0.5, 0.5, 1000)).toEqual({ granted: true, spent: 0.75 });
    expect(store.reserve('k', 1000, 0.5, 0.5, 1000)).toEqual({ granted: false, spent: 0.75 });
  });
});
