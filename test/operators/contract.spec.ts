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
  concat,
  defer,
  from,
  lastValueFrom,
  NEVER,
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
import type { TelemetrySpan, TelemetryTracer } from 'rxllm/operators';
import {
  createMemoryBudgetStore,
  createMemoryResumeStore,
  createRateLimiter,
  ServerError,
  type Chunk,
} from 'rxllm';
import { scriptToChunks } from 'rxllm/testing';
import { chunk, finish, text, tools, call, usageChunk } from '../quirks/toolCallQuirks';

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
   * Source values `take(takeCount)` downstream may pull: 1 for operators that emit as values arrive,
   * more for one that must see the next value to know a piece is whole (say why in the row), `'all'`
   * for those that emit once at completion (they need the whole source).
   */
  takeOnePulls: number | 'all';
  /** How many values downstream takes in the pull check (more than 1 when the operator emits its own first). @defaultValue 1 */
  takeCount?: number;
  /** Values the user callbacks of `make()` saw: each of two subscriptions must see the same (checked with the per-subscription test). */
  reports?: () => unknown[];
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

/** A span that does nothing but what `over` says. */
const stubSpan = (over: Partial<TelemetrySpan> = {}): TelemetrySpan => ({
  setAttribute: () => undefined,
  addEvent: () => undefined,
  recordException: () => undefined,
  setStatus: () => undefined,
  end: () => undefined,
  ...over,
});
const stubTracer = (span: TelemetrySpan): TelemetryTracer => ({ startSpan: () => span });
const telemetryRequest = {
  model: 'openai/gpt-4o-mini' as const,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

/** `toolLoop` takes a request, not a stream: this adapter makes the model stream be the piped source. */
const loopOver =
  (config: Omit<operators.ToolLoopConfig, 'client'> = { tools: {} }): AnyOperator =>
  (source) =>
    operators.toolLoop(
      { model: 'mock/x', messages: [{ role: 'user', content: 'hi' }] },
      {
        ...config,
        client: { stream: () => source },
      },
    );
/** A model answer that calls tool `t` with `{}`. */
const callsT = () => from(scriptToChunks({ toolCalls: [{ name: 't', arguments: {} }] }));
const toolT = { t: operators.tool({ schema: z.object({}), execute: () => 'ok' }) };

const usageReports: operators.UsageReport[] = [];
/**
 * Spans as a tracer records them. A stub, not the SDK's in-memory tracer: the SDK's span processor
 * arms its own export timer on `span.end()`, which the timer check would blame on the operator.
 */
const spans: { name: string; attributes: Record<string, unknown>; ended: boolean }[] = [];
const recordingTracer: TelemetryTracer = {
  startSpan: (name, options) => {
    const span = { name, attributes: { ...options?.attributes } as Record<string, unknown>, ended: false };
    spans.push(span);
    return stubSpan({
      setAttribute: (key, value) => {
        span.attributes[key] = value;
      },
      end: () => {
        span.ended = true;
      },
    });
  },
};
/** What must not differ between two subscriptions (the time to the first chunk may). */
const spanSummaries = () =>
  spans.map(({ name, attributes, ended }) => ({
    name,
    ended,
    chunks: attributes['rxllm.chunk_count'],
    finish: attributes['gen_ai.response.finish_reasons'],
    output: attributes['gen_ai.output.messages'],
  }));

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
  {
    name: 'partialObject',
    label: 'partialObject()',
    make: () => operators.partialObject(),
    takeOnePulls: 1,
    // One string that keeps growing: every chunk makes a new partial value.
    value: (i) => text(i === 1 ? '{"a":"x' : 'x'),
    drive: (s) => s.next(text('{')),
    perSubscriptionSource: () => from([text('{"a":'), text('1,"b":"x'), text('y"}'), finish('stop')]),
    throwing: [
      {
        label: 'a schema whose transform throws, at completion',
        op: (boom) =>
          operators.partialObject(
            z.object({ a: z.number() }).transform(() => {
              throw boom;
            }),
          ),
        source: () => from([text('{"a":1}'), finish('stop')]),
      },
    ],
  },
  {
    name: 'partialObject',
    label: "partialObject({ schema, from: { toolCall: 'f' } })",
    make: () => operators.partialObject({ schema: z.object({ a: z.string() }), from: { toolCall: 'f' } }),
    takeOnePulls: 1,
    value: (i) => tools(i === 1 ? call(0, 'c1', 'f', '{"a":"x') : call(0, undefined, undefined, 'x')),
    drive: (s) => s.next(tools(call(0, 'c1', 'f', '{'))),
    perSubscriptionSource: () =>
      from([
        tools(call(0, 'c1', 'f', '{"a":')),
        tools(call(0, undefined, undefined, '"x"}')),
        finish('tool_calls'),
      ]),
    throwing: [],
  },
  {
    name: 'arrayElements',
    label: 'arrayElements()',
    make: () => operators.arrayElements(),
    takeOnePulls: 1,
    // A number is whole at the comma after it: every chunk completes one element.
    value: (i) => text(i === 1 ? '[1,' : `${i},`),
    drive: (s) => s.next(text('[')),
    perSubscriptionSource: () => from([text('[1,'), text('2,3]'), finish('stop')]),
    throwing: [
      {
        label: 'an element schema whose transform throws, at the first complete element',
        op: (boom) =>
          operators.arrayElements(
            z.number().transform(() => {
              throw boom;
            }),
          ),
        source: () => from([text('[1,'), text('2,3]'), finish('stop')]),
      },
    ],
  },
  {
    name: 'toolLoop',
    label: 'toolLoop (the model stream is the source)',
    make: () => loopOver(),
    // It emits its step-start event before it calls the model: take(2) is the first model chunk.
    takeOnePulls: 1,
    takeCount: 2,
    throwing: [
      {
        label: 'approve',
        op: (boom) =>
          loopOver({
            tools: toolT,
            approve: () => {
              throw boom;
            },
          }),
        source: callsT,
      },
      {
        label: 'approve (rejecting)',
        op: (boom) => loopOver({ tools: toolT, approve: () => Promise.reject(boom) }),
        source: callsT,
      },
      {
        label: 'stopWhen',
        op: (boom) =>
          loopOver({
            tools: toolT,
            stopWhen: () => {
              throw boom;
            },
          }),
        source: callsT,
      },
      {
        label: 'prepareStep',
        op: (boom) =>
          loopOver({
            tools: toolT,
            prepareStep: () => {
              throw boom;
            },
          }),
        source: callsT,
      },
      {
        label: 'prepareStep (rejecting)',
        op: (boom) => loopOver({ tools: toolT, prepareStep: () => Promise.reject(boom) }),
        source: callsT,
      },
    ],
  },
  {
    name: 'toolLoop',
    label: 'toolLoop({ toolTimeoutMs }) with a tool running',
    // A tool that never ends: its timeout timer must go with the subscription.
    make: () =>
      loopOver({
        tools: {
          t: operators.tool({ schema: z.object({}), execute: () => new Promise<never>(() => undefined) }),
        },
        toolTimeoutMs: 1_000,
      }),
    takeOnePulls: 1,
    armsTimer: true,
    timerOnly: true,
    drive: (s) => {
      for (const c of scriptToChunks({ toolCalls: [{ name: 't', arguments: {} }] })) s.next(c);
      s.complete();
    },
    throwing: [],
  },
  {
    name: 'smoothText',
    label: "smoothText({ delayMs: 0, chunking: 'line' })",
    make: () => operators.smoothText({ delayMs: 0, chunking: 'line' }),
    takeOnePulls: 1,
    value: (i) => text(`l${i}\n`),
    perSubscriptionSource: () => from([text('a\nb'), text('c\nd'), finish('stop')]),
    throwing: [],
  },
  {
    name: 'smoothText',
    label: 'smoothText({ delayMs: 0 })',
    make: () => operators.smoothText({ delayMs: 0 }),
    // A word is whole only when the next one starts: the first piece needs the second chunk.
    takeOnePulls: 2,
    value: (i) => text(`w${i} `),
    perSubscriptionSource: () => from([text('one tw'), text('o three'), finish('stop')]),
    throwing: [],
  },
  {
    name: 'smoothText',
    label: 'smoothText({ delayMs: 10 })',
    make: () => operators.smoothText({ delayMs: 10 }),
    takeOnePulls: 2,
    armsTimer: true,
    value: (i) => text(`w${i} `),
    // The first piece goes out at once, the second waits on a timer.
    drive: (s) => s.next(text('a b c ')),
    perSubscriptionSource: () => from([text('one tw'), text('o three'), finish('stop')]),
    throwing: [],
  },
  {
    name: 'withTelemetry',
    label: 'withTelemetry({ tracer, request, captureContent })',
    make: () => {
      spans.length = 0;
      return operators.withTelemetry({
        tracer: recordingTracer,
        request: telemetryRequest,
        captureContent: true,
      });
    },
    takeOnePulls: 1,
    reports: spanSummaries,
    throwing: [
      {
        label: 'tracer.startSpan',
        op: (boom) =>
          operators.withTelemetry({
            tracer: {
              startSpan: () => {
                throw boom;
              },
            },
          }),
        source: story,
      },
      {
        label: 'span.setAttribute, at the first chunk',
        op: (boom) =>
          operators.withTelemetry({
            tracer: stubTracer(
              stubSpan({
                setAttribute: () => {
                  throw boom;
                },
              }),
            ),
          }),
        source: story,
      },
      {
        label: 'span.end, at completion',
        op: (boom) =>
          operators.withTelemetry({
            tracer: stubTracer(
              stubSpan({
                end: () => {
                  throw boom;
                },
              }),
            ),
          }),
        source: story,
      },
      {
        label: 'span.recordException, on a source error',
        op: (boom) =>
          operators.withTelemetry({
            tracer: stubTracer(
              stubSpan({
                recordException: () => {
                  throw boom;
                },
              }),
            ),
          }),
        source: () => throwError(retryable),
      },
      {
        label: 'activate',
        op: (boom) =>
          operators.withTelemetry({
            tracer: recordingTracer,
            activate: () => {
              throw boom;
            },
          }),
        source: story,
      },
      {
        label: 'retry.onRetry',
        op: (boom) =>
          operators.withTelemetry({
            tracer: recordingTracer,
            retry: {
              initialDelayMs: 1,
              onRetry: () => {
                throw boom;
              },
            },
          }),
        source: () => throwError(retryable),
      },
    ],
  },
  {
    name: 'withTelemetry',
    label: 'withTelemetry({ tracer, retry }) waiting to retry',
    make: () => operators.withTelemetry({ tracer: recordingTracer, retry: { initialDelayMs: 1, jitter: 0 } }),
    takeOnePulls: 1,
    armsTimer: true,
    drive: (s) => s.error(retryable()),
    perSubscriptionSource: () => {
      let attempts = 0;
      return defer(() => (attempts++ % 2 === 0 ? throwError(retryable) : story()));
    },
    throwing: [],
  },
  {
    name: 'trackUsage',
    label: 'trackUsage({ onUsage, model })',
    make: () => {
      usageReports.length = 0;
      return operators.trackUsage<Chunk>({
        model: 'openai/gpt-4o-mini',
        onUsage: (r) => usageReports.push(r),
      });
    },
    takeOnePulls: 1,
    perSubscriptionSource: () => from([textChunk(0), textChunk(1), finish('stop'), usageChunk(10, 5)]),
    reports: () => usageReports,
    throwing: [
      {
        label: 'onUsage, at completion',
        op: (boom) =>
          operators.trackUsage<Chunk>({
            onUsage: () => {
              throw boom;
            },
          }),
        source: story,
      },
      {
        label: 'onUsage, on a source error',
        op: (boom) =>
          operators.trackUsage<Chunk>({
            onUsage: () => {
              throw boom;
            },
          }),
        source: () => concat(of(textChunk(0)), throwError(retryable)),
      },
    ],
  },
  {
    name: 'budget',
    label: 'budget({ maxCost, window, store })',
    make: () =>
      operators.budget<Chunk>({
        maxCost: 1000,
        window: 60_000,
        store: createMemoryBudgetStore(),
        model: 'openai/gpt-4o-mini',
      }),
    takeOnePulls: 1,
    perSubscriptionSource: () => from([textChunk(0), finish('stop'), usageChunk(1000, 500)]),
    throwing: [
      {
        label: 'store.spent',
        op: (boom) =>
          operators.budget<Chunk>({
            maxCost: 1,
            store: {
              spent: () => {
                throw boom;
              },
              add: () => 0,
            },
          }),
        source: story,
      },
      {
        label: 'store.spent (rejecting)',
        op: (boom) =>
          operators.budget<Chunk>({ maxCost: 1, store: { spent: () => Promise.reject(boom), add: () => 0 } }),
        source: story,
      },
      {
        label: 'logger.error, reporting a failed store.add',
        op: (boom) =>
          operators.budget<Chunk>({
            maxCost: 1,
            model: 'openai/gpt-4o-mini',
            store: {
              spent: () => 0,
              add: () => {
                throw new Error('store down');
              },
            },
            logger: {
              warn: () => undefined,
              error: () => {
                throw boom;
              },
            },
          }),
        source: () => from([textChunk(0), finish('stop'), usageChunk(1000, 500)]),
      },
    ],
  },
  {
    name: 'resumable',
    // keepAlive: false is the contract's "unsubscribe stops the source"; the default (the generation
    // outlives its subscriber) is tested in resumable.spec.ts.
    label: 'resumable({ store, id, keepAlive: false })',
    make: () => {
      let n = 0;
      return operators.resumable({ store: createMemoryResumeStore(), id: () => `c${++n}`, keepAlive: false });
    },
    takeOnePulls: 1,
    throwing: [
      {
        label: 'onStored',
        op: (boom) =>
          operators.resumable({
            store: createMemoryResumeStore(),
            id: 'x',
            onStored: () => {
              throw boom;
            },
          }),
        source: () => concat(story(), NEVER),
      },
    ],
  },
];

/** Exported functions that are not operators. */
const NOT_OPERATORS: Record<string, string> = {
  mergeChunks: 'merges an array of saved chunks, not a stream',
  backoffDelay: 'computes one delay',
  tool: 'an identity function that types a tool definition for toolLoop',
  isToolLoopEvent: 'a type guard on one chunk',
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

    const pulls = row.takeOnePulls;
    if (pulls !== 'all' && !row.timerOnly) {
      const count = row.takeCount ?? 1;
      it(`pulls ${pulls} value(s) from a synchronous source for take(${count})`, async () => {
        const { source, state } = endless(row.value);
        const out = await lastValueFrom(source.pipe(row.make(), take(count), toArray()));
        expect(out).toHaveLength(count);
        expect(state.pulls).toBe(pulls);
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
      if (row.reports) {
        const seen = row.reports();
        expect(seen).toHaveLength(2);
        expect(seen[1]).toEqual(seen[0]);
      }
    });

    for (const c of row.throwing) {
      it(`errors the stream when ${c.label} throws`, async () => {
        const boom = new Error(`${row.name}: ${c.label} failed`);
        await expect(lastValueFrom(c.source().pipe(c.op(boom), toArray()))).rejects.toBe(boom);
      });
    }
  });
});
