/**
 * The rxjs operator contract, run against every operator exported from `rxllm/operators`:
 * - a synchronous source stops as soon as downstream does (`take(1)`, or a sink unsubscribed while the
 *   source is still emitting synchronously);
 * - unsubscribing mid-stream leaves no timer and no subscription to the source;
 * - a user callback that throws becomes the stream's error;
 * - state is per subscription (the same piped observable, subscribed twice, gives the same result).
 *
 * An operator added to operators/index.ts without a row in `TABLE` fails the first test: register it.
 */
import {
  defer,
  from,
  lastValueFrom,
  Observable,
  of,
  Subject,
  Subscriber,
  take,
  throwError,
  toArray,
  type OperatorFunction,
} from 'rxjs';
import { z } from 'zod';
import * as operators from 'rxllm/operators';
import { createRateLimiter, ServerError, type Chunk } from 'rxllm';
import { chunk, finish, text, tools, call } from '../quirks/toolCallQuirks';

type AnyOperator = OperatorFunction<Chunk, unknown>;

interface ThrowingCase {
  label: string;
  /** The operator with a user callback that throws `boom`. */
  op: (boom: Error) => AnyOperator;
  /** A source that makes the operator call that callback. */
  source: () => Observable<Chunk>;
}

interface Row {
  /** The export of operators/index.ts this row covers. */
  name: string;
  label: string;
  make: () => AnyOperator;
  /**
   * Source values `take(1)` downstream may pull: 1 for operators that emit as values arrive,
   * `'all'` for those that emit once at completion (they need the whole source).
   */
  takeOnePulls: 1 | 'all';
  /** It arms a timer while a subscription is open (checked to be gone after unsubscribe). */
  armsTimer?: boolean;
  /** A row for the timer check only (its operator waits before it pulls anything). */
  timerOnly?: boolean;
  /** The values of the endless source (default: text chunks). */
  value?: (i: number) => Chunk;
  /** Puts a running subscription in its interesting state (default: one chunk). */
  drive?: (source: Subject<Chunk>) => void;
  /** Cold source for the per-subscription check (default: three text chunks, a finish and usage). */
  perSubscriptionSource?: () => Observable<Chunk>;
  /** User callbacks that must error the stream when they throw; `[]` only when the operator takes none. */
  throwing: ThrowingCase[];
}

const textChunk = (i: number) => text(`t${i}`);
const story = () => from([textChunk(0), textChunk(1), textChunk(2), finish('stop')]);
const retryable = () => new ServerError({ status: 500 });

const TABLE: Row[] = [
  {
    name: 'textDeltas',
    label: 'textDeltas()',
    make: () => operators.textDeltas(),
    takeOnePulls: 1,
    throwing: [],
  },
  {
    name: 'reasoningDeltas',
    label: 'reasoningDeltas()',
    make: () => operators.reasoningDeltas(),
    takeOnePulls: 1,
    value: (i) => chunk({ reasoning: `r${i}` }),
    perSubscriptionSource: () => from([chunk({ reasoning: 'a' }), chunk({ reasoning: 'b' }), finish('stop')]),
    throwing: [],
  },
  {
    name: 'collectText',
    label: 'collectText()',
    make: () => operators.collectText(),
    takeOnePulls: 'all',
    throwing: [],
  },
  { name: 'usage', label: 'usage()', make: () => operators.usage(), takeOnePulls: 'all', throwing: [] },
  {
    name: 'accumulateChunks',
    label: "accumulateChunks({ emit: 'snapshots' })",
    make: () => operators.accumulateChunks({ emit: 'snapshots' }),
    takeOnePulls: 1,
    throwing: [],
  },
  {
    name: 'accumulateChunks',
    label: 'accumulateChunks()',
    make: () => operators.accumulateChunks(),
    takeOnePulls: 'all',
    throwing: [],
  },
  {
    name: 'finishReasonWarn',
    label: 'finishReasonWarn()',
    make: () => operators.finishReasonWarn({ onWarn: () => undefined }),
    takeOnePulls: 1,
    throwing: [
      {
        label: 'onWarn on a length finish',
        op: (boom) =>
          operators.finishReasonWarn({
            onWarn: () => {
              throw boom;
            },
          }),
        source: () => from([textChunk(0), finish('length'), textChunk(1)]),
      },
      {
        label: 'onWarn at completion without a finish reason',
        op: (boom) =>
          operators.finishReasonWarn({
            onWarn: () => {
              throw boom;
            },
          }),
        source: () => from([textChunk(0)]),
      },
      {
        label: 'logger.warn',
        op: (boom) =>
          operators.finishReasonWarn({
            logger: {
              warn: () => {
                throw boom;
              },
              error: () => undefined,
            },
          }),
        source: () => from([textChunk(0), finish('content_filter')]),
      },
    ],
  },
  {
    name: 'partialToolCallGuard',
    label: 'partialToolCallGuard()',
    make: () => operators.partialToolCallGuard({ schemas: { f: z.object({}) } }),
    takeOnePulls: 1,
    throwing: [
      {
        label: 'a schema whose transform throws',
        op: (boom) =>
          operators.partialToolCallGuard({
            schemas: {
              f: z.object({ a: z.number() }).transform(() => {
                throw boom;
              }),
            },
          }),
        source: () => from([tools(call(0, 'c1', 'f', '{"a":1}')), finish('tool_calls')]),
      },
      {
        label: 'a schema whose refine throws, at completion',
        op: (boom) =>
          operators.partialToolCallGuard({
            schemas: {
              f: z.object({}).refine(() => {
                throw boom;
              }),
            },
            unknownTool: 'invalid',
          }),
        // Never finished: released (as cut) at completion, without a schema call; then a whole one.
        source: () =>
          from([tools(call(0, 'c1', 'f', '{}')), tools(call(1, 'c2', 'f', '{}')), finish('stop')]),
      },
    ],
  },
  {
    name: 'retryBackoff',
    label: 'retryBackoff()',
    make: () => operators.retryBackoff({ initialDelayMs: 1, jitter: 0 }),
    takeOnePulls: 1,
    armsTimer: true,
    // Fails before the first chunk: a wait is armed.
    drive: (s) => s.error(retryable()),
    perSubscriptionSource: () => {
      // Every subscription fails its first attempt; with maxRetries 1 shared counters would fail the second.
      let attempts = 0;
      return defer(() => (attempts++ % 2 === 0 ? throwError(retryable) : story()));
    },
    throwing: [
      {
        label: 'shouldRetry',
        op: (boom) =>
          operators.retryBackoff({
            shouldRetry: () => {
              throw boom;
            },
          }),
        source: () => throwError(retryable),
      },
      {
        label: 'onRetry',
        op: (boom) =>
          operators.retryBackoff({
            onRetry: () => {
              throw boom;
            },
          }),
        source: () => throwError(retryable),
      },
      {
        label: 'random (the injected jitter source)',
        op: (boom) =>
          operators.retryBackoff({
            random: () => {
              throw boom;
            },
          }),
        source: () => throwError(retryable),
      },
    ],
  },
  {
    name: 'timeouts',
    label: 'timeouts()',
    make: () => operators.timeouts({ firstChunk: 1000, idle: 1000, total: 5000 }),
    takeOnePulls: 1,
    armsTimer: true,
    throwing: [],
  },
  {
    name: 'mapConcurrent',
    label: 'mapConcurrent(of, 2)',
    make: () => operators.mapConcurrent((c: Chunk) => of(c), 2),
    takeOnePulls: 1,
    throwing: [
      {
        label: 'project (fail fast)',
        op: (boom) =>
          operators.mapConcurrent(() => {
            throw boom;
          }),
        source: story,
      },
      {
        label: 'onProgress',
        op: (boom) =>
          operators.mapConcurrent((c: Chunk) => of(c), {
            onProgress: () => {
              throw boom;
            },
          }),
        source: story,
      },
      {
        label: 'onProgress in settle mode, on a failure',
        op: (boom) =>
          operators.mapConcurrent(() => throwError(retryable), {
            settle: true,
            onProgress: (p) => {
              if (p.failed > 0) throw boom;
            },
          }),
        source: story,
      },
    ],
  },
  {
    name: 'mapConcurrent',
    label: 'mapConcurrent(of, { ordered, settle })',
    make: () => operators.mapConcurrent((c: Chunk) => of(c), { concurrency: 3, ordered: true, settle: true }),
    takeOnePulls: 1,
    throwing: [],
  },
  {
    name: 'rateLimit',
    label: 'rateLimit(limiter)',
    make: () => operators.rateLimit(createRateLimiter({ requestsPerMinute: 600_000 })),
    takeOnePulls: 1,
    throwing: [
      {
        label: 'estimateTokens',
        op: (boom) =>
          operators.rateLimit(createRateLimiter({ requestsPerMinute: 600_000 }), {
            estimateTokens: () => {
              throw boom;
            },
          }),
        source: story,
      },
    ],
  },
  {
    name: 'rateLimit',
    label: 'rateLimit(limiter) waiting for a permit',
    make: () => {
      const limiter = createRateLimiter({ requestsPerMinute: 1 });
      // The only permit is taken: the operator's subscription waits on a timer.
      limiter.acquire().subscribe();
      return operators.rateLimit(limiter);
    },
    takeOnePulls: 'all',
    armsTimer: true,
    timerOnly: true,
    throwing: [],
  },
];

/** Exported functions that are not operators. */
const NOT_OPERATORS: Record<string, string> = {
  mergeChunks: 'merges an array of saved chunks, not a stream',
  backoffDelay: 'computes one delay',
};

/** An endless synchronous source that counts its pulls (capped, so a broken operator fails instead of hanging). */
function endless(value: (i: number) => Chunk = textChunk, onPull?: (n: number) => void) {
  const state = { pulls: 0 };
  const source = new Observable<Chunk>((s) => {
    while (!s.closed && state.pulls < 10_000) {
      state.pulls++;
      onPull?.(state.pulls);
      if (!s.closed) s.next(value(state.pulls));
    }
  });
  return { source, state };
}

const macrotask = () => new Promise((r) => setImmediate(r));

describe('operator contract', () => {
  it('has a row for every operator exported from rxllm/operators', () => {
    const exported = Object.entries(operators)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    const covered = new Set(TABLE.map((r) => r.name));
    expect(exported.filter((n) => !covered.has(n) && !(n in NOT_OPERATORS))).toEqual([]);
    // And the table names only real exports.
    expect([...covered].filter((n) => !exported.includes(n))).toEqual([]);
  });

  describe.each(TABLE.map((r) => [r.label, r] as const))('%s', (_label, row) => {
    const test = (name: string, fn: () => Promise<void>) => {
      if (!row.timerOnly) it(name, fn);
    };
    test('stops a synchronous source when downstream unsubscribes during its emission', async () => {
      const sink = new Subscriber<unknown>({
        next: () => undefined,
        error: () => undefined,
        complete: () => undefined,
      });
      const { source, state } = endless(row.value, (n) => {
        if (n === 3) sink.unsubscribe();
      });
      source.pipe(row.make()).subscribe(sink);
      await macrotask();
      expect(state.pulls).toBeLessThanOrEqual(3);
      expect(sink.closed).toBe(true);
    });

    if (row.takeOnePulls === 1 && !row.timerOnly) {
      it('pulls one value from a synchronous source for take(1)', async () => {
        const { source, state } = endless(row.value);
        const out = await lastValueFrom(source.pipe(row.make(), take(1), toArray()));
        expect(out).toHaveLength(1);
        expect(state.pulls).toBe(1);
      });
    }

    it('leaves no timer and no subscription to the source after an unsubscribe mid-stream', () => {
      jest.useFakeTimers();
      try {
        const source = new Subject<Chunk>();
        const sub = source.pipe(row.make()).subscribe({ error: () => undefined });
        (row.drive ?? ((s) => s.next(textChunk(0))))(source);
        if (row.armsTimer) expect(jest.getTimerCount()).toBeGreaterThan(0);
        sub.unsubscribe();
        expect(source.observed).toBe(false);
        expect(jest.getTimerCount()).toBe(0);
      } finally {
        jest.useRealTimers();
      }
    });

    test('keeps its state per subscription', async () => {
      const piped = (row.perSubscriptionSource ?? story)().pipe(row.make());
      const first = await lastValueFrom(piped.pipe(toArray()));
      const second = await lastValueFrom(piped.pipe(toArray()));
      expect(second).toEqual(first);
      expect(first.length).toBeGreaterThan(0);
    });

    for (const c of row.throwing) {
      it(`errors the stream when ${c.label} throws`, async () => {
        const boom = new Error(`${row.name}: ${c.label} failed`);
        await expect(lastValueFrom(c.source().pipe(c.op(boom), toArray()))).rejects.toBe(boom);
      });
    }
  });
});
