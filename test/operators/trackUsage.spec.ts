/**
 * trackUsage: exactly one report per call in all three endings (completed, failed, unsubscribed),
 * usage or null with what was received, cost when the price is known; marbles for the edge cases,
 * and the router over real HTTP (deployment named, a failing primary's attempt not double-counted).
 */
import { lastValueFrom, NEVER, Observable, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  clearPrices,
  complete,
  createAgent,
  createRouter,
  setPrice,
  stream,
  type ChatRequest,
  type Chunk,
  type Usage,
} from 'rxllm';
import { trackUsage, type UsageReport } from 'rxllm/operators';
import { createMockServer, scriptToChunks } from 'rxllm/testing';

const USAGE: Usage = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 };
const chunks = scriptToChunks({ text: 'Hello there', chunkSize: 4, usage: USAGE }, { model: 'gpt-4o-mini' });
const values: Record<string, Chunk> = Object.fromEntries(
  chunks.map((c, i) => [String.fromCharCode(97 + i), c]),
);
const letters = Object.keys(values).join('');

describe('trackUsage', () => {
  let ts: TestScheduler;
  beforeEach(() => (ts = new TestScheduler((a, e) => expect(a).toEqual(e))));

  it('rejects a missing onUsage at creation', () => {
    expect(() => trackUsage({} as never)).toThrow(TypeError);
    expect(() => trackUsage({ onUsage: () => undefined, model: 3 as never })).toThrow(TypeError);
  });

  it('reports once on completion with the usage and its cost, values unchanged', () => {
    ts.run(({ cold, expectObservable }) => {
      const reports: UsageReport[] = [];
      const source = cold(`${letters}|`, values);
      expectObservable(source.pipe(trackUsage({ onUsage: (r) => reports.push(r) }))).toBe(
        `${letters}|`,
        values,
      );
      ts.flush();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ ending: 'completed', model: 'gpt-4o-mini', usage: USAGE });
      expect(reports[0].received).toEqual({ chars: 'Hello there'.length, chunks: chunks.length });
      // gpt-4o-mini: 1000 x 0.15 + 200 x 0.60 per million.
      expect(reports[0].cost?.total).toBeCloseTo(0.00027, 10);
    });
  });

  it('reports an empty source as completed with usage null (absent, not 0) and no cost', () => {
    ts.run(({ cold, expectObservable }) => {
      const reports: UsageReport[] = [];
      expectObservable(
        cold<Chunk>('|').pipe(trackUsage<Chunk>({ onUsage: (r) => reports.push(r), model: 'openai/gpt-4o' })),
      ).toBe('|');
      ts.flush();
      expect(reports).toEqual([
        {
          ending: 'completed',
          model: 'openai/gpt-4o',
          deployment: undefined,
          usage: null,
          estimated: false,
          received: { chars: 0, chunks: 0 },
          cost: null,
        },
      ]);
    });
  });

  it('reports a failure once, with the error and what was received', () => {
    ts.run(({ cold, expectObservable }) => {
      const reports: UsageReport[] = [];
      const error = new Error('cut');
      expectObservable(cold('ab#', values, error).pipe(trackUsage({ onUsage: (r) => reports.push(r) }))).toBe(
        'ab#',
        values,
        error,
      );
      ts.flush();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ ending: 'failed', usage: null, cost: null, error });
      expect(reports[0].received.chunks).toBe(2);
      expect(reports[0].received.chars).toBe(4); // role chunk '' + 'Hell'
    });
  });

  it('reports an unsubscribed call once (early unsubscribe, never-ending source)', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const reports: UsageReport[] = [];
      const source = cold('ab-----', values);
      expectObservable(source.pipe(trackUsage({ onUsage: (r) => reports.push(r) })), '^--!').toBe(
        'ab-',
        values,
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const never = NEVER as Observable<Chunk>;
      expectObservable(never.pipe(trackUsage({ onUsage: (r) => reports.push(r) })), '^-!').toBe('---');
      ts.flush();
      expect(reports.map((r) => r.ending)).toEqual(['unsubscribed', 'unsubscribed']);
      // NEVER was unsubscribed first (frame 2), the cold source at frame 3.
      expect(reports.map((r) => r.received.chunks)).toEqual([0, 2]);
    });
  });

  it('keeps state per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const reports: UsageReport[] = [];
      const piped = cold(`${letters}|`, values).pipe(trackUsage({ onUsage: (r) => reports.push(r) }));
      expectObservable(piped).toBe(`${letters}|`, values);
      expectObservable(piped).toBe(`${letters}|`, values);
      ts.flush();
      expect(reports.map((r) => r.received.chunks)).toEqual([chunks.length, chunks.length]);
      expect(reports.map((r) => r.usage?.total_tokens)).toEqual([1200, 1200]);
    });
  });

  it('sums the usage of attempts separated by reset chunks (money spent twice is counted twice)', async () => {
    const reset: Chunk = {
      id: '',
      object: 'chat.completion.chunk',
      created: 0,
      model: '',
      choices: [],
      reset: { attempt: 1, reason: 'x' },
    };
    const reports: UsageReport[] = [];
    const source = new Observable<Chunk>((s) => {
      for (const c of [...chunks, reset, ...chunks]) s.next(c);
      s.complete();
    });
    await lastValueFrom(source.pipe(trackUsage({ onUsage: (r) => reports.push(r) }), toArray()));
    expect(reports[0].usage).toMatchObject({
      prompt_tokens: 2000,
      completion_tokens: 400,
      total_tokens: 2400,
    });
  });

  it('turns a throwing onUsage into the stream error', async () => {
    const source = new Observable<Chunk>((s) => {
      s.next(chunks[0]);
      s.complete();
    });
    const piped = source.pipe(
      trackUsage({
        onUsage: () => {
          throw new Error('log sink down');
        },
      }),
    );
    await expect(lastValueFrom(piped)).rejects.toThrow('log sink down');
  });

  it('does not price a mock model as the billed model of the same name when given the request', async () => {
    const request: ChatRequest = {
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      mock_response: { text: 'Hello', usage: USAGE },
    };
    const reports: UsageReport[] = [];
    await lastValueFrom(
      stream(request).pipe(trackUsage({ request, onUsage: (r) => reports.push(r) }), toArray()),
    );
    // The chunks only say 'gpt-4o-mini'; the request says which provider served it.
    expect(reports[0]).toMatchObject({
      model: 'mock/gpt-4o-mini',
      usage: USAGE,
      estimated: false,
      cost: null,
    });
  });

  it('does not price a mock call as the billed model of the same name without the request either', async () => {
    const request: ChatRequest = {
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      mock_response: { text: 'Hello', usage: USAGE },
    };
    const reports: UsageReport[] = [];
    const got = await lastValueFrom(
      stream(request).pipe(trackUsage({ onUsage: (r) => reports.push(r) }), toArray()),
    );
    // Only the chunks speak here, and they say 'gpt-4o-mini': the mock provider's mark says whose.
    expect(got[0].model).toBe('gpt-4o-mini');
    expect(reports[0]).toMatchObject({
      model: 'mock/gpt-4o-mini',
      usage: USAGE,
      estimated: false,
      cost: null,
    });
    // Same for `complete`, and for a call stopped before its usage came (no prompt known: null).
    const done: UsageReport[] = [];
    await lastValueFrom(complete(request).pipe(trackUsage({ onUsage: (r) => done.push(r) })));
    expect(done[0]).toMatchObject({ model: 'mock/gpt-4o-mini', usage: USAGE, cost: null });
    const stopped: UsageReport[] = [];
    await lastValueFrom(stream(request).pipe(trackUsage({ onUsage: (r) => stopped.push(r) }), take(2)));
    expect(stopped[0]).toMatchObject({ ending: 'unsubscribed', model: 'mock/gpt-4o-mini', cost: null });
  });

  it('prices a mock call by a price set for the mock model, as cost() does', async () => {
    setPrice('mock/gpt-4o-mini', { input: 1, output: 2 });
    try {
      const reports: UsageReport[] = [];
      await lastValueFrom(
        stream({
          model: 'mock/gpt-4o-mini',
          messages: [{ role: 'user', content: 'Hi' }],
          mock_response: { text: 'Hello', usage: USAGE },
        }).pipe(trackUsage({ onUsage: (r) => reports.push(r) })),
      );
      // 1000 x 1 + 200 x 2 per million.
      expect(reports[0].cost?.total).toBeCloseTo(0.0014, 10);
      expect(reports[0].cost?.model).toBe('mock/gpt-4o-mini');
    } finally {
      clearPrices();
    }
  });

  it('estimates a stopped call from the partial usage the provider reported, marked estimated', () => {
    const partial: Usage = { prompt_tokens: 900, completion_tokens: 1, total_tokens: 901 };
    const first: Chunk = { ...values.a, partial_usage: partial };
    ts.run(({ cold, expectObservable }) => {
      const reports: UsageReport[] = [];
      const source = cold('ab-----', { a: first, b: values.b });
      expectObservable(source.pipe(trackUsage({ onUsage: (r) => reports.push(r) })), '^--!').toBe('ab-', {
        a: first,
        b: values.b,
      });
      ts.flush();
      // 'Hell' received: 1 token; the prompt as reported.
      expect(reports[0]).toMatchObject({
        ending: 'unsubscribed',
        estimated: true,
        usage: { prompt_tokens: 900, completion_tokens: 1, total_tokens: 901 },
      });
      expect(reports[0].cost?.total).toBeCloseTo((900 * 0.15 + 0.6) / 1e6, 12);
    });
  });

  it('counts an attempt cut before a reset at its estimate, plus the final attempt', async () => {
    const request: ChatRequest = {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
    };
    const reset: Chunk = { ...values.a, choices: [], reset: { attempt: 1, reason: 'cut' } };
    const reports: UsageReport[] = [];
    const source = new Observable<Chunk>((s) => {
      for (const c of [chunks[0], chunks[1], reset, ...chunks]) s.next(c);
      s.complete();
    });
    await lastValueFrom(source.pipe(trackUsage({ request, onUsage: (r) => reports.push(r) }), toArray()));
    // Attempt 1: 104 prompt tokens estimated + 'Hell' (1 token); attempt 2 as reported.
    expect(reports[0]).toMatchObject({
      estimated: true,
      usage: { prompt_tokens: 1104, completion_tokens: 201, total_tokens: 1305 },
    });
  });

  describe('through the router over HTTP', () => {
    it('fires once per call in all three endings, naming the deployment that served it', async () => {
      const failing = await createMockServer({ defaultScript: { status: 500 } });
      const healthy = await createMockServer();
      const agent = createAgent();
      try {
        const router = createRouter({
          groups: {
            main: [
              {
                model: 'openai/gpt-4o',
                options: { baseURL: failing.url, apiKey: 'sk-test', dispatcher: agent },
              },
            ],
            backup: [
              {
                model: 'openai/gpt-4o-mini',
                options: { baseURL: healthy.url, apiKey: 'sk-test', dispatcher: agent },
              },
            ],
          },
          fallbacks: { main: ['backup'] },
          cooldown: false,
        });
        const ask = { model: 'main', messages: [{ role: 'user' as const, content: 'count to ten' }] };
        const reports: UsageReport[] = [];
        const onUsage = (r: UsageReport) => reports.push(r);

        healthy.enqueue({ text: 'one two three', usage: USAGE });
        await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray()));
        healthy.enqueue({ text: 'one two', cutAfterChunks: 2 });
        await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray())).catch(
          () => undefined,
        );
        healthy.enqueue({ text: 'one two three four five', chunkSize: 1, chunkDelayMs: 20 });
        await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), take(2), toArray()));
        await healthy.waitForRequestClose(3);

        expect(reports.map((r) => r.ending)).toEqual(['completed', 'failed', 'unsubscribed']);
        expect(
          reports.every((r) => r.deployment === 'openai/gpt-4o-mini' && r.model === 'openai/gpt-4o-mini'),
        ).toBe(true);
        expect(reports[0].usage).toEqual(USAGE);
        expect(reports[0].cost?.total).toBeCloseTo(0.00027, 10);
        expect(reports[1]).toMatchObject({ usage: null, cost: null });
        expect(reports[1].received.chars).toBeGreaterThan(0);
        expect(reports[2]).toMatchObject({ usage: null, received: { chunks: 2 } });
      } finally {
        await agent.close();
        await failing.close();
        await healthy.close();
      }
    });
  });
});
