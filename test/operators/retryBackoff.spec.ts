import { defer, from, lastValueFrom, Observable, of, take, takeWhile, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  accumulateChunks,
  retryBackoff,
  RETRY_BACKOFF_DEFAULTS,
  backoffDelay,
  type RetryInfo,
} from 'rxllm/operators';
import {
  AuthenticationError,
  BadRequestError,
  ConnectionError,
  LlmError,
  RateLimitError,
  RequestAbortedError,
  ServerError,
  StreamCutError,
  type Chunk,
} from 'rxllm';

const chunk = (content: string, finish: 'stop' | null = null): Chunk => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const err500 = () => new ServerError({ status: 500 });
const err429 = (retryAfter?: string) =>
  new RateLimitError({
    status: 429,
    headers: retryAfter === undefined ? {} : { 'retry-after-ms': retryAfter },
  });

// Deterministic delays: no jitter, 5/10/20 frames.
const fast = { initialDelayMs: 5, multiplier: 2, maxDelayMs: 20, jitter: 0 };

describe('retryBackoff', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('documents SDK-like defaults', () => {
    expect(RETRY_BACKOFF_DEFAULTS).toMatchObject({
      maxRetries: 2,
      initialDelayMs: 500,
      multiplier: 2,
      maxDelayMs: 8000,
      jitter: 0.25,
      maxRetryAfterMs: 60_000,
      resume: 'never',
    });
  });

  it('computes exponential delays with a cap and takes up to the jitter fraction off', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { jitter: 0 }))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
    expect(backoffDelay(1, { random: () => 0.999999 })).toBe(375);
    expect(backoffDelay(1, { random: () => 0 })).toBe(500);
  });

  it('re-subscribes after a retryable error before the first value, waiting the backoff delays', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, err500());
      const ok = cold('--a|');
      let n = 0;
      const result = new Observable<string>((s) => (n++ < 2 ? source : ok).subscribe(s));
      // attempt 1 fails at 1, waits 5; attempt 2 at 6 fails at 7, waits 10; attempt 3 at 17 emits at 19.
      expectObservable(result.pipe(retryBackoff(fast))).toBe('-------------------a|');
      expectSubscriptions(source.subscriptions).toBe(['^!', '------^!']);
      expectSubscriptions(ok.subscriptions).toBe('-----------------^--!');
    });
  });

  it('fails with the last error once maxRetries is used up', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = err500();
      const source = cold('-#', undefined, e);
      expectObservable(source.pipe(retryBackoff({ ...fast, maxRetries: 1 }))).toBe('-------#', undefined, e);
      expectSubscriptions(source.subscriptions).toBe(['^!', '------^!']);
    });
  });

  it.each([
    ['400', new BadRequestError({ status: 400 })],
    ['401', new AuthenticationError({ status: 401 })],
    ['403', new AuthenticationError({ status: 403 })],
    ['404', new BadRequestError({ status: 404 })],
    ['422', new BadRequestError({ status: 422 })],
    ['a plain Error', new Error('bug')],
  ])('never retries %s', (_label, error) => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, error);
      expectObservable(source.pipe(retryBackoff(fast))).toBe('-#', undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it.each([
    ['408', new LlmError('x', { retryable: true })],
    ['409', BadRequestErrorWith(409)],
    ['429', err429()],
    ['502', new ServerError({ status: 502 })],
    ['a connection error', new ConnectionError('reset')],
    ['a cut stream', new StreamCutError()],
  ])('retries %s', (_label, error) => {
    ts.run(({ cold, expectObservable }) => {
      const source = cold('-#', undefined, error);
      expectObservable(source.pipe(retryBackoff({ ...fast, maxRetries: 1 }))).toBe(
        '-------#',
        undefined,
        error,
      );
    });
  });

  it('waits the server-given retryAfterMs instead of the backoff', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, err429('30'));
      expectObservable(source.pipe(retryBackoff({ ...fast, maxRetries: 1 }))).toBe(
        '--------------------------------#',
        undefined,
        err429('30'),
      );
      expectSubscriptions(source.subscriptions).toBe(['^!', '-------------------------------^!']);
    });
  });

  it('fails at once when the server asks to wait longer than maxRetryAfterMs', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = err429('120000');
      const source = cold('-#', undefined, e);
      expectObservable(source.pipe(retryBackoff(fast))).toBe('-#', undefined, e);
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('does not retry after the first chunk was emitted and attaches the merged partial output', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = err500();
      const source = cold('-a-b-#', { a: chunk('Hel'), b: chunk('lo') }, e);
      expectObservable(source.pipe(retryBackoff(fast))).toBe(
        '-a-b-#',
        { a: chunk('Hel'), b: chunk('lo') },
        e,
      );
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    expect(lastError(chunk('Hel'), chunk('lo'))?.partial?.choices[0].message.content).toBe('Hello');
  });

  it('does not retry an error that carries partial from an accumulateChunks before it (chunks billed), unless shouldRetry says so', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = err500();
      const source = cold('-a-b-#', { a: chunk('Hel'), b: chunk('lo') }, e);
      // accumulateChunks emits nothing until the end: retryBackoff sees no value, only the failure.
      expectObservable(source.pipe(accumulateChunks(), retryBackoff(fast))).toBe('-----#', undefined, e);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    // With a shouldRetry of the caller's, the caller decides: here, once.
    let subscriptions = 0;
    let failed: unknown;
    ts.run(({ cold }) => {
      const source = defer(() => (subscriptions++, cold('-a-#', { a: chunk('Hel') }, err500())));
      source
        .pipe(accumulateChunks(), retryBackoff({ ...fast, shouldRetry: (_e, attempt) => attempt === 1 }))
        .subscribe({ error: (e: unknown) => (failed = e) });
    });
    // Retried once on shouldRetry's word; the second failure is final.
    expect(subscriptions).toBe(2);
    expect(failed).toBeInstanceOf(ServerError);
  });

  it("does not retry an error that carries billed (a router's billed attempts), unless shouldRetry says so", () => {
    const billedError = () => {
      const e = err500();
      e.billed = [{ deployment: 'd', model: 'openai/gpt-4o-mini', usage: null, estimated: false }];
      return e;
    };
    for (const [config, expected] of [
      [fast, 1],
      [{ ...fast, shouldRetry: (_e: unknown, attempt: number) => attempt === 1 }, 2],
    ] as const) {
      let subscriptions = 0;
      let failed: unknown;
      ts.run(({ cold }) => {
        defer(() => (subscriptions++, cold('-#', undefined, billedError())))
          .pipe(retryBackoff(config))
          .subscribe({ error: (e: unknown) => (failed = e) });
      });
      expect(subscriptions).toBe(expected);
      expect(failed).toBeInstanceOf(ServerError);
    }
    // An empty list is nothing billed: retried as before.
    let tries = 0;
    ts.run(({ cold }) => {
      const e = err500();
      e.billed = [];
      defer(() => (tries++, cold('-#', undefined, e)))
        .pipe(retryBackoff({ ...fast, maxRetries: 1 }))
        .subscribe({ error: () => undefined });
    });
    expect(tries).toBe(2);
  });

  it('with partial: false fails after chunks with the error as it was, no merged partial', () => {
    const e = err500();
    let caught: LlmError | undefined;
    new Observable<Chunk>((s) => {
      s.next(chunk('Hel'));
      s.next(chunk('lo'));
      s.error(e);
    })
      .pipe(retryBackoff({ ...fast, partial: false }))
      .subscribe({ error: (error: LlmError) => (caught = error) });
    expect(caught).toBe(e);
    expect(caught?.partial).toBeUndefined();
  });

  // The reset chunk is built from the last chunk, which partial: false still remembers.
  it.each([true, false])(
    'restarts after chunks with resume: restart, emitting one reset chunk before the new attempt (partial: %p)',
    (partial) => {
      ts.run(({ cold, expectObservable }) => {
        const a = chunk('Hel');
        const b = chunk('Hello', 'stop');
        const first = cold('-a-#', { a }, new StreamCutError());
        const second = cold('-b|', { b });
        let n = 0;
        const source = new Observable<Chunk>((s) => (n++ === 0 ? first : second).subscribe(s));
        const reset: Chunk = {
          id: 'c1',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [],
          reset: { attempt: 1, reason: new StreamCutError().message },
        };
        // error at 3, wait 5, reset at 8, b at 9.
        expectObservable(source.pipe(retryBackoff({ ...fast, resume: 'restart', partial }))).toBe(
          '-a------rb|',
          {
            a,
            r: reset,
            b,
          },
        );
      });
    },
  );

  it('honours per-class counts from retryPolicy, including explicit opt-in and opt-out', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e = err429();
      const limited = cold('-#', undefined, e);
      expectObservable(
        limited.pipe(retryBackoff({ ...fast, maxDelayMs: 5, retryPolicy: { RateLimitError: 3 } })),
      ).toBe('-------------------#', undefined, e);
      expectSubscriptions(limited.subscriptions).toBe([
        '^!',
        '------^!',
        '------------^!',
        '------------------^!',
      ]);

      const bad = new BadRequestError({ status: 400 });
      const optIn = cold('-#', undefined, bad);
      expectObservable(optIn.pipe(retryBackoff({ ...fast, retryPolicy: { BadRequestError: 1 } }))).toBe(
        '-------#',
        undefined,
        bad,
      );

      const s = err500();
      const optOut = cold('-#', undefined, s);
      expectObservable(optOut.pipe(retryBackoff({ ...fast, retryPolicy: { ApiError: 0 } }))).toBe(
        '-#',
        undefined,
        s,
      );
    });
  });

  it('lets shouldRetry decide, with the 1-based retry number', () => {
    const seen: number[] = [];
    ts.run(({ cold, expectObservable }) => {
      const e = new Error('custom');
      const source = cold('-#', undefined, e);
      const op = retryBackoff({
        ...fast,
        maxRetries: 5,
        shouldRetry: (_e, attempt) => (seen.push(attempt), attempt < 3),
      });
      expectObservable(source.pipe(op)).toBe('------------------#', undefined, e);
    });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('calls onRetry with attempt, error and delay, and injects the jitter source', () => {
    const infos: RetryInfo[] = [];
    ts.run(({ cold, expectObservable }) => {
      const e = err500();
      const source = cold('#', undefined, e);
      const op = retryBackoff({
        initialDelayMs: 8,
        maxRetries: 2,
        jitter: 0.5,
        random: () => 0.5,
        onRetry: (i) => infos.push(i),
      });
      // 8 * (1 - 0.25) = 6, then 16 * 0.75 = 12.
      expectObservable(source.pipe(op)).toBe('------------------#', undefined, e);
    });
    expect(infos.map((i) => [i.attempt, i.delayMs])).toEqual([
      [1, 6],
      [2, 12],
    ]);
    expect(infos[0].error).toBeInstanceOf(ServerError);
  });

  it('does not start the next attempt when downstream stopped at the reset chunk', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = chunk('Hel');
      const first = cold('-a-#', { a }, new StreamCutError());
      const second = cold('-b|', { b: chunk('Hello', 'stop') });
      let n = 0;
      const source = new Observable<Chunk>((s) => (n++ === 0 ? first : second).subscribe(s));
      const piped = source.pipe(
        retryBackoff({ ...fast, resume: 'restart' }),
        takeWhile((c) => !c.reset),
      );
      // The reset chunk at 8 completes downstream: no second upstream subscription, nothing armed.
      expectObservable(piped).toBe('-a------|', { a });
      expectSubscriptions(second.subscriptions).toBe([]);
    });
    expect(ts.actions).toHaveLength(0);
  });

  it('stops a retried attempt that emits synchronously once downstream has what it needs', async () => {
    let pulled = 0;
    let attempts = 0;
    const source = new Observable<Chunk>((s) => {
      if (attempts++ === 0) return s.error(err500());
      for (let i = 0; i < 10_000 && !s.closed; i++) {
        pulled++;
        s.next(chunk(`t${i}`));
      }
      s.complete();
    });
    const out = await lastValueFrom(
      source.pipe(retryBackoff({ ...fast, initialDelayMs: 1 }), take(1), toArray()),
    );
    expect(out).toEqual([chunk('t0')]);
    expect(pulled).toBe(1);
  });

  it('treats retry-after 0 as no server wait and uses the computed backoff', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, err429('0'));
      expectObservable(source.pipe(retryBackoff({ ...fast, maxRetries: 1 }))).toBe(
        '-------#',
        undefined,
        err429('0'),
      );
      // Re-subscribed after the computed 5 frames, not back to back.
      expectSubscriptions(source.subscriptions).toBe(['^!', '------^!']);
    });
    const zeroSeconds = new RateLimitError({ status: 429, headers: { 'retry-after': '0' } });
    expect(zeroSeconds.retryAfterMs).toBe(0);
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(
      ({ cold, expectSubscriptions, expectObservable }) => {
        const source = cold('-#', undefined, zeroSeconds);
        expectObservable(source.pipe(retryBackoff({ ...fast, maxRetries: 1 }))).toBe(
          '-------#',
          undefined,
          zeroSeconds,
        );
        expectSubscriptions(source.subscriptions).toBe(['^!', '------^!']);
      },
    );
  });

  it('ends at once with RequestAbortedError when its signal fires during a Retry-After wait', () => {
    const controller = new AbortController();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      // The server asks for 30 s; the caller aborts 3 frames after the failure.
      const source = cold('-#', undefined, err429('30000'));
      cold('----a').subscribe(() => controller.abort());
      expectObservable(source.pipe(retryBackoff({ ...fast, signal: controller.signal }))).toBe(
        '----#',
        undefined,
        new RequestAbortedError(),
      );
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    expect(ts.actions).toHaveLength(0);
  });

  it('ends an attempt in flight on abort, and never subscribes when the signal already fired', () => {
    const controller = new AbortController();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-----b|', { a: chunk('x'), b: chunk('y') });
      cold('---a').subscribe(() => controller.abort('user left'));
      expectObservable(source.pipe(retryBackoff({ ...fast, signal: controller.signal }))).toBe(
        '-a-#',
        { a: chunk('x') },
        new RequestAbortedError(),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const late = cold('-a|');
      expectObservable(late.pipe(retryBackoff({ signal: AbortSignal.abort() }))).toBe(
        '#',
        undefined,
        new RequestAbortedError(),
      );
      expectSubscriptions(late.subscriptions).toBe([]);
    });
  });

  it('removes its abort listener when the stream ends', () => {
    const controller = new AbortController();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, fn: () => void, o?: unknown) => {
      added.push(fn);
      add(type, fn, o as { once?: boolean });
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, fn: () => void) => {
      removed.push(fn);
      remove(type, fn);
    }) as typeof signal.removeEventListener;
    from([1, 2]).pipe(retryBackoff({ signal })).subscribe();
    expect(added).toHaveLength(1);
    expect(removed).toEqual(added);
  });

  it('accepts resume typed as the union (the overloads type it as a Chunk operator)', () => {
    const resume = (process.env.RXLLM_RESUME === 'restart' ? 'restart' : 'never') as 'never' | 'restart';
    const op = retryBackoff({ resume, maxRetries: 1 });
    ts.run(({ cold, expectObservable }) => {
      const a = chunk('a');
      expectObservable(cold<Chunk>('-a|', { a }).pipe(op)).toBe('-a|', { a });
    });
  });

  it('passes empty, never and values through unchanged', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('|').pipe(retryBackoff(fast))).toBe('|');
      expectObservable(cold('-').pipe(retryBackoff(fast))).toBe('-');
      expectObservable(cold('-a-b|').pipe(retryBackoff(fast))).toBe('-a-b|');
    });
  });

  it('cancels the pending wait and the source on early unsubscribe', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, err500());
      expectObservable(source.pipe(retryBackoff(fast)), '^---!').toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^!');
      const never = cold('-');
      expectObservable(never.pipe(retryBackoff(fast)), '^--!').toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^--!');
    });
  });

  it('keeps retry counts per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const e = err500();
      const piped = cold('-#', undefined, e).pipe(retryBackoff({ ...fast, maxRetries: 1 }));
      expectObservable(piped).toBe('-------#', undefined, e);
      expectObservable(piped).toBe('-------#', undefined, e);
    });
  });

  it('works on a one-value observable like complete()', () => {
    ts.run(({ cold, expectObservable }) => {
      let n = 0;
      const once = new Observable<number>((s) => {
        const attempt: Observable<number> = n++ === 0 ? cold<number>('-#', undefined, err500()) : of(42);
        return attempt.subscribe(s);
      });
      expectObservable(once.pipe(retryBackoff(fast))).toBe('------(x|)', { x: 42 });
    });
  });

  it.each([
    [{ maxRetries: -1 }],
    [{ initialDelayMs: Number.NaN }],
    [{ jitter: 2 }],
    [{ retryPolicy: { RateLimitError: -1 } }],
    [{ resume: 'sometimes' as never }],
    [{ signal: {} as never }],
    [{ onRetry: 'log' as never }],
    [{ shouldRetry: true as never }],
    [{ partial: 'no' as never }],
  ])('throws a TypeError at creation for %p', (config) => {
    expect(() => retryBackoff(config as never)).toThrow(TypeError);
  });
});

function BadRequestErrorWith(status: number) {
  return new BadRequestError({ status });
}

function lastError(...chunks: Chunk[]): LlmError | undefined {
  let caught: LlmError | undefined;
  new Observable<Chunk>((s) => {
    chunks.forEach((c) => s.next(c));
    s.error(err500());
  })
    .pipe(retryBackoff({ ...fast }))
    .subscribe({ error: (e: LlmError) => (caught = e) });
  return caught;
}
