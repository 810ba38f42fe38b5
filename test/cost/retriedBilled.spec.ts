/**
 * A billed failure that `retryBackoff` retries anyway (a `shouldRetry` of the user's says so) is
 * billed all the same: `trackUsage` below it (so `budget`, and the gateway's spend) counts it, however
 * the call then ends. And no `retryPolicy` entry sends a billed answer twice. Real mock servers on
 * 127.0.0.1 where a provider bills; synthetic sources only where no server can fail that way.
 */
import { defer, lastValueFrom, map, Observable, Subject, throwError, toArray } from 'rxjs';
import {
  clearPrices,
  complete,
  createAgent,
  createRouter,
  LlmError,
  setPrice,
  stream,
  StreamCutError,
  type ChatCompletion,
  type Chunk,
  type Usage,
} from 'rxllm';
import {
  accumulateChunks,
  budget,
  retryBackoff,
  trackUsage,
  type RetryBackoffConfig,
  type UsageReport,
} from 'rxllm/operators';
import { batch, createMemoryBudgetStore } from 'rxllm';
import { resultRecord } from '../../src/batchFile/resultRecord';
import { errorCarrying, retriedOf } from '../../src/cost/retriedBilled';
import type { MockServer } from 'rxllm/testing';
import { mockServers } from '../helpers/mockServers';
import { trackedCall } from '../helpers/trackedCall';

const agent = createAgent();
const server = mockServers();
afterAll(() => agent.close());
beforeAll(() => {
  setPrice('compat/strict', { input: 10, output: 20 });
  setPrice('compat/lenient', { input: 1, output: 2 });
});
afterAll(() => clearPrices());

const on = (s: MockServer) => ({ baseURL: s.url, apiKey: 'sk-test-retried', dispatcher: agent });
const request = {
  model: 'compat/strict' as const,
  messages: [{ role: 'user' as const, content: 'tell me something' }],
};
const ANSWER: Usage = { prompt_tokens: 40, completion_tokens: 10, total_tokens: 50 };
const usd = (tokens: number, perMillion: number) => (tokens * perMillion) / 1e6;
const answerCost = usd(40, 10) + usd(10, 20);
const retryAll = { shouldRetry: () => true, initialDelayMs: 1, jitter: 0 };

const tracked = <T extends Chunk | ChatCompletion>(calls: Observable<T>) => trackedCall(calls, request);

/** The prompt estimate of `request` alone, as trackUsage makes it for an unread answer. */
async function promptEstimate(s: MockServer): Promise<number> {
  s.enqueue({ text: 'an answer', cutAfterChunks: 1 });
  const { report } = await tracked(complete(request, on(s)));
  expect(report.usage!.completion_tokens).toBe(0);
  return report.usage!.prompt_tokens;
}

describe('retryBackoff hands on what a retried billed failure cost', () => {
  it('a complete() answer billed but never read, retried by shouldRetry: both answers are costed', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    s.enqueue({ text: 'read this time', usage: ANSWER });
    const { report, out } = await tracked(complete(request, on(s)).pipe(retryBackoff(retryAll)));
    expect((out as ChatCompletion[])[0].choices[0].message.content).toBe('read this time');
    expect(s.stats.requests).toBe(3);
    expect(report.ending).toBe('completed');
    expect(report.estimated).toBe(true);
    expect(report.usage).toMatchObject({ prompt_tokens: prompt + 40, completion_tokens: 10 });
    expect(report.cost!.total).toBeCloseTo(usd(prompt, 10) + answerCost, 12);
  });

  it('no retryPolicy entry sends a billed answer again (only shouldRetry decides)', async () => {
    const s = await server();
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    s.enqueue({ text: 'never asked', usage: ANSWER });
    const { report, out } = await tracked(
      complete(request, on(s)).pipe(
        retryBackoff({ retryPolicy: { StreamCutError: 3, LlmError: 3 }, initialDelayMs: 1 }),
      ),
    );
    expect(out).toBeInstanceOf(StreamCutError);
    expect(s.stats.requests).toBe(1);
    expect(report.ending).toBe('failed');
    expect(report.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it('a router’s billed attempts on its final error, retried: counted with the answer that followed', async () => {
    const [strict, lenient] = [await server(), await server()];
    const refused: Usage = { prompt_tokens: 30, completion_tokens: 2, total_tokens: 32 };
    strict.enqueue({ text: '', finishReason: 'content_filter', usage: refused });
    lenient.enqueue({ status: 500 });
    strict.enqueue({ text: 'allowed now', usage: ANSWER });
    const router = createRouter({
      groups: {
        main: [{ model: 'compat/strict', id: 'strict', options: on(strict) }],
        lenient: [{ model: 'compat/lenient', id: 'lenient', options: on(lenient) }],
      },
      contentPolicyFallbacks: { main: ['lenient'] },
    });
    const { report } = await tracked(
      router.complete({ ...request, model: 'main' }).pipe(retryBackoff({ ...retryAll, maxRetries: 1 })),
    );
    expect([strict.stats.requests, lenient.stats.requests]).toEqual([2, 1]);
    expect(report.ending).toBe('completed');
    expect(report.usage).toMatchObject({ prompt_tokens: 70, completion_tokens: 12 });
    expect(report.cost!.total).toBeCloseTo(usd(30, 10) + usd(2, 20) + answerCost, 12);
  });

  it('chunks an operator above received (error.partial), retried: their usage is counted', async () => {
    const s = await server();
    s.enqueue({ text: 'first part of an answer', cutAfterChunks: 3 });
    s.enqueue({ text: 'second', usage: ANSWER });
    const { report } = await tracked(stream(request, on(s)).pipe(accumulateChunks(), retryBackoff(retryAll)));
    expect(s.stats.requests).toBe(2);
    expect(report.estimated).toBe(true);
    // The cut attempt: the request's prompt estimate plus the output it sent, beside the answer.
    expect(report.usage!.prompt_tokens).toBeGreaterThan(40);
    expect(report.usage!.completion_tokens).toBeGreaterThan(10);
    expect(report.cost!.total).toBeGreaterThan(answerCost);
  });

  it('retries that end in an error: every billed attempt is on the final report', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    for (let i = 0; i < 3; i++) s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const { report, out } = await tracked(
      complete(request, on(s)).pipe(retryBackoff({ ...retryAll, maxRetries: 2 })),
    );
    expect(out).toBeInstanceOf(StreamCutError);
    expect(s.stats.requests).toBe(4);
    expect(report.ending).toBe('failed');
    expect(report.usage).toMatchObject({ prompt_tokens: 3 * prompt, completion_tokens: 0 });
  });

  it('a caller that leaves during the wait still pays for the retried attempt', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const reports: UsageReport[] = [];
    const retried = new Subject<void>();
    const sub = complete(request, on(s))
      .pipe(
        retryBackoff({ shouldRetry: () => true, initialDelayMs: 60_000, onRetry: () => retried.next() }),
        trackUsage({ request, onUsage: (r) => reports.push(r) }),
      )
      .subscribe();
    await new Promise<void>((resolve) => retried.subscribe(() => resolve()));
    sub.unsubscribe();
    expect(s.stats.requests).toBe(2);
    expect(reports).toHaveLength(1);
    expect(reports[0].ending).toBe('unsubscribed');
    expect(reports[0].usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 0 });
  });

  it('an abort during the wait: the abort error carries what the retried attempt cost', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const abort = new AbortController();
    const retried = new Subject<void>();
    retried.subscribe(() => abort.abort());
    const { report } = await tracked(
      complete(request, on(s)).pipe(
        retryBackoff({
          shouldRetry: () => true,
          initialDelayMs: 60_000,
          signal: abort.signal,
          onRetry: () => queueMicrotask(() => retried.next()),
        }),
      ),
    );
    expect(report.ending).toBe('failed');
    expect(report.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 0 });
  });

  const throwing = (name: string) => (): boolean => {
    throw new Error(`${name} failed`);
  };
  it.each<[string, RetryBackoffConfig & { resume?: 'never' }]>([
    ['onRetry', { shouldRetry: () => true, onRetry: throwing('onRetry') }],
    ['shouldRetry', { shouldRetry: throwing('shouldRetry') }],
  ])('a throwing %s: its error carries the billed failure it was deciding on', async (name, config) => {
    const s = await server();
    const prompt = await promptEstimate(s);
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const { report, out } = await tracked(complete(request, on(s)).pipe(retryBackoff(config)));
    expect((out as Error).message).toBe(`${name} failed`);
    expect(report.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 0 });
  });
});

describe('rxllm batch', () => {
  it('a line retried past a billed answer (a shouldRetry of yours) records both in its cost', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    s.enqueue({ text: 'read this time', usage: ANSWER });
    const [result] = await lastValueFrom(
      batch([request], { retry: retryAll, options: on(s) }).pipe(toArray()),
    );
    const record = resultRecord('line-1', result);
    expect(record.response!.body.choices[0].message.content).toBe('read this time');
    expect(record.attempts).toBe(2);
    expect(record.cost).toBeCloseTo(usd(prompt, 10) + answerCost, 12);
    expect(record.cost_estimated).toBe(true);
  });

  it('a line whose retries all failed on billed answers records every one', async () => {
    const s = await server();
    const prompt = await promptEstimate(s);
    for (let i = 0; i < 2; i++) s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const [result] = await lastValueFrom(
      batch([request], { retry: { ...retryAll, maxRetries: 1 }, options: on(s) }).pipe(toArray()),
    );
    const record = resultRecord('line-1', result);
    expect(record.error!.type).toBe('StreamCutError');
    expect(record.cost).toBeCloseTo(usd(2 * prompt, 10), 12);
  });
});

describe('where no server fails that way (synthetic sources)', () => {
  const billedError = () => new StreamCutError('cut after the 200', { billedAnswer: true });
  const prompt = () => {
    let estimate = 0;
    lastValueFrom(
      throwError(billedError).pipe(
        trackUsage({ request, onUsage: (r) => (estimate = r.usage!.prompt_tokens) }),
      ),
    ).catch(() => undefined);
    return estimate;
  };
  const chunk = (content: string, usage?: Usage): Chunk => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'compat/strict',
    choices: usage ? [] : [{ index: 0, delta: { content }, finish_reason: null }],
    ...(usage ? { usage } : {}),
  });

  it('the last attempt completes with no value: the retried attempt is still counted', async () => {
    let attempts = 0;
    const source = defer(() =>
      attempts++ === 0 ? throwError(billedError) : new Observable<Chunk>((s) => s.complete()),
    );
    const { report, out } = await tracked(source.pipe(retryBackoff(retryAll)));
    expect(out).toEqual([]);
    expect(report.ending).toBe('completed');
    expect(report.usage).toMatchObject({ prompt_tokens: prompt(), completion_tokens: 0 });
  });

  it('resume: restart after chunks, an error carrying a router’s billed attempt: the reset chunk carries it', async () => {
    const billedAttempt = { deployment: 'strict', model: 'compat/strict', usage: ANSWER, estimated: false };
    let attempts = 0;
    const source = defer(() => {
      if (attempts++ > 0) return new Observable<Chunk>((s) => (s.next(chunk('b')), s.complete()));
      return new Observable<Chunk>((s) => {
        s.next(chunk('a'));
        s.error(Object.assign(new LlmError('cut'), { billed: [billedAttempt] }));
      });
    });
    const { report, out } = await tracked(source.pipe(retryBackoff({ ...retryAll, resume: 'restart' })));
    expect((out as Chunk[]).map((c) => (c.reset ? 'reset' : c.choices[0].delta.content))).toEqual([
      'a',
      'reset',
      'b',
    ]);
    // The router's attempt at its reported usage, plus the estimate of each attempt that passed chunks.
    expect(report.usage!.prompt_tokens).toBeGreaterThanOrEqual(40 + 2 * prompt());
    expect(report.cost!.total).toBeGreaterThan(answerCost);
  });

  it('a chunk carrying it keeps it through a spread and leaves it out of its JSON', async () => {
    let attempts = 0;
    const source = defer(() =>
      attempts++ === 0
        ? throwError(billedError)
        : new Observable<Chunk>((s) => (s.next(chunk('hi')), s.complete())),
    );
    const seen: string[] = [];
    const { report } = await tracked(
      source.pipe(
        retryBackoff(retryAll),
        map((c) => {
          seen.push(JSON.stringify(c));
          return { ...c, model: 'renamed' };
        }),
      ),
    );
    expect(seen).toEqual([JSON.stringify(chunk('hi'))]);
    // The retried attempt's prompt estimate, and the answer's (it reported no usage).
    expect(report.usage!.prompt_tokens).toBe(2 * prompt());
  });

  it('budget settles the retried attempt too', async () => {
    const store = createMemoryBudgetStore();
    let attempts = 0;
    const source = defer(() =>
      attempts++ === 0
        ? throwError(billedError)
        : new Observable<Chunk>((s) => (s.next(chunk('hi')), s.next(chunk('', ANSWER)), s.complete())),
    );
    await lastValueFrom(
      source.pipe(
        retryBackoff(retryAll),
        budget({ store, key: 'k', maxCost: 1, window: 1e15, request }),
        toArray(),
      ),
    );
    const spent = store.spent('k', 0);
    expect(spent).toBeCloseTo(usd(prompt(), 10) + answerCost, 12);
  });
});

describe('errorCarrying', () => {
  const failure = { error: new StreamCutError('cut', { billedAnswer: true }), sawValues: false };

  it('an error that cannot hold the list (a string, a frozen error) is wrapped, its cause the error', () => {
    const fromString = errorCarrying('down', [failure]) as LlmError;
    expect(fromString).toBeInstanceOf(LlmError);
    expect(fromString.cause).toBe('down');
    expect(retriedOf(fromString)).toEqual([failure]);
    const frozen = Object.freeze(new LlmError('frozen'));
    const wrapped = errorCarrying(frozen, [failure]) as LlmError;
    expect(wrapped).not.toBe(frozen);
    expect(wrapped.cause).toBe(frozen);
    expect(retriedOf(wrapped)).toEqual([failure]);
  });

  it('an error that can hold it keeps its identity and adds to what it carried', () => {
    const error = new LlmError('down');
    const second = { error: new LlmError('again', { billedAnswer: true }), sawValues: false };
    expect(errorCarrying(errorCarrying(error, [failure]), [second])).toBe(error);
    expect(retriedOf(error)).toEqual([failure, second]);
    // Not enumerable: a log or a JSON of the error does not show it.
    const held = Object.getOwnPropertyDescriptor(error, Symbol.for('rxllm.retriedBilled'));
    expect(held?.enumerable).toBe(false);
    expect(Object.getOwnPropertySymbols({ ...error })).toEqual([]);
  });
});
