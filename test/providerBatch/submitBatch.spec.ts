/**
 * submitBatch against the mock server's batch APIs, for each provider: the seed's 100 tickets
 * matched by custom_id at half the synchronous price, and the faults (partial failures, expiry,
 * missing and repeated ids, slow validation, 5xx on polling), splitting, cancel on unsubscribe.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { batch, BatchResultError, complete, submitBatch, resumeBatch, type BatchEvent } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { classify, ticketRequests, TICKET_COUNT } from '../helpers/tickets';

const MODELS = {
  openai: 'openai/gpt-4o-mini',
  anthropic: 'anthropic/claude-haiku-4-5',
  gemini: 'gemini/gemini-2.5-flash',
} as const;
type Provider = keyof typeof MODELS;
const PROVIDERS = Object.keys(MODELS) as Provider[];

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-pbatch';
  process.env.ANTHROPIC_API_KEY = 'sk-ant-test-pbatch';
  process.env.GEMINI_API_KEY = 'gm-test-pbatch';
});
beforeEach(() => {
  server.reset();
  server.setDefault((req) => classify(req.body));
});
afterAll(async () => {
  delete process.env.OPENAI_API_KEY;
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.GEMINI_API_KEY;
  await server.close();
});

const run = (provider: Provider, count = TICKET_COUNT, extra: object = {}) =>
  lastValueFrom(
    submitBatch(ticketRequests(MODELS[provider], count), { baseURL: server.url, pollMs: 5, ...extra }).pipe(
      toArray(),
    ),
  );
const results = (events: BatchEvent[]) =>
  events.filter((e) => e.type === 'result') as Extract<BatchEvent, { type: 'result' }>[];
const errors = (events: BatchEvent[]) =>
  events.filter((e) => e.type === 'error') as Extract<BatchEvent, { type: 'error' }>[];

describe.each(PROVIDERS)('submitBatch (%s)', (provider) => {
  it('answers the 100 tickets matched by custom_id, at exactly half the synchronous cost', async () => {
    const events = await run(provider);
    expect(events[0]).toMatchObject({ type: 'submitted', provider });
    expect(server.batches.submissions).toBe(1);
    const got = results(events);
    expect(got).toHaveLength(TICKET_COUNT);
    expect(new Set(got.map((r) => r.custom_id)).size).toBe(TICKET_COUNT);
    for (const r of got) {
      const i = Number(r.custom_id.split('-')[1]);
      expect(r.completion.choices[0].message.content).toBe(i % 3 === 0 ? 'billing' : 'technical');
      expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    }
    const batchTotal = got.reduce((sum, r) => sum + r.cost!, 0);

    // The same 100 tickets through the synchronous API of the same mock.
    const sync = await lastValueFrom(
      batch(
        ticketRequests(MODELS[provider]).map(({ custom_id: _id, ...request }) => request),
        {
          options: { baseURL: server.url },
          call: (request, _i, options) => complete(request, options),
        },
      ).pipe(toArray()),
    );
    const { cost } = await import('../../src');
    const syncTotal = sync.reduce(
      (sum, r) => sum + (r.ok ? cost(r.value.usage, MODELS[provider])!.total : NaN),
      0,
    );
    expect(syncTotal).toBeGreaterThan(0);
    expect(batchTotal * 2).toBe(syncTotal);
    expect(got.reduce((sum, r) => sum + r.syncCost!, 0)).toBe(syncTotal);
  });

  it('reports partial failures, a missing and a repeated id as typed errors; the rest still arrive', async () => {
    server.batches.faults = { failIds: ['ticket-1'], dropIds: ['ticket-2'], duplicateIds: ['ticket-3'] };
    const events = await run(provider, 5);
    expect(
      results(events)
        .map((r) => r.custom_id)
        .sort(),
    ).toEqual(['ticket-0', 'ticket-3', 'ticket-4']);
    const errs = errors(events).map((e) => [e.custom_id, e.error.reason]);
    expect(errs).toEqual(
      expect.arrayContaining([
        ['ticket-1', 'errored'],
        ['ticket-2', 'missing'],
        ['ticket-3', 'duplicate'],
      ]),
    );
    expect(errs).toHaveLength(3);
    for (const e of errors(events)) expect(e.error).toBeInstanceOf(BatchResultError);
  });

  it('an expired batch: what ran is answered, the rest are expired errors', async () => {
    server.batches.faults = { expire: true, expireAfter: 2 };
    const events = await run(provider, 4);
    expect(
      results(events)
        .map((r) => r.custom_id)
        .sort(),
    ).toEqual(['ticket-0', 'ticket-1']);
    expect(errors(events).map((e) => [e.custom_id, e.error.reason, e.error.retryable])).toEqual([
      ['ticket-2', 'expired', true],
      ['ticket-3', 'expired', true],
    ]);
  });

  it('waits through a slow validation and retries 5xx on polling', async () => {
    server.batches.faults = { validatingPolls: 3, pollErrors: 2 };
    const events = await run(provider, 3, { pollBackoffMs: 1 });
    const states = events.filter((e) => e.type === 'status').map((e) => (e as { state: string }).state);
    // Anthropic has no validation state: a batch is in_progress from its creation.
    const first = provider === 'anthropic' ? 'in_progress' : 'validating';
    expect(states.slice(0, 3)).toEqual([first, first, first]);
    expect(states[states.length - 1]).toBe('ended');
    expect(results(events)).toHaveLength(3);
  });

  it('splits requests over the per-batch limit and merges the answers back', async () => {
    const events = await run(provider, 10, { maxRequestsPerBatch: 4 });
    expect(events.filter((e) => e.type === 'submitted')).toHaveLength(3);
    expect(server.batches.submissions).toBe(3);
    expect(
      results(events)
        .map((r) => r.custom_id)
        .sort(),
    ).toEqual(
      ticketRequests('x/y', 10)
        .map((t) => t.custom_id)
        .sort(),
    );
  });

  it('unsubscribing cancels the provider batch; resumeBatch picks a detached one up without submitting', async () => {
    server.batches.faults = { validatingPolls: 1_000_000 };
    const seen: BatchEvent[] = [];
    const sub = submitBatch(ticketRequests(MODELS[provider], 3), {
      baseURL: server.url,
      pollMs: 5,
    }).subscribe((e) => seen.push(e));
    await waitFor(() => seen.some((e) => e.type === 'status'));
    const batchId = (seen[0] as { batchId: string }).batchId;
    sub.unsubscribe();
    await waitFor(() => server.batches.cancelled.length > 0);
    expect(server.batches.cancelled).toEqual([batchId]);

    const detached: BatchEvent[] = [];
    const sub2 = submitBatch(ticketRequests(MODELS[provider], 3), {
      baseURL: server.url,
      pollMs: 5,
      cancelOnUnsubscribe: false,
    }).subscribe((e) => detached.push(e));
    await waitFor(() => detached.some((e) => e.type === 'status'));
    sub2.unsubscribe();
    const second = detached[0] as { batchId: string; customIds: string[] };
    server.batches.faults = {};
    const resumed = await lastValueFrom(
      resumeBatch(second.batchId, {
        provider,
        baseURL: server.url,
        pollMs: 5,
        customIds: second.customIds,
      }).pipe(toArray()),
    );
    expect(results(resumed)).toHaveLength(3);
    expect(server.batches.submissions).toBe(2);
    expect(server.batches.cancelled).toEqual([batchId]);
  });
});

describe('submitBatch config', () => {
  it('throws a TypeError at creation for repeated ids, mixed providers and a bad pollMs', () => {
    const [a, b] = ticketRequests(MODELS.openai, 2);
    expect(() => submitBatch([a, { ...b, custom_id: a.custom_id }])).toThrow(/repeated/);
    expect(() => submitBatch([a, { ...b, model: MODELS.anthropic }])).toThrow(TypeError);
    expect(() => submitBatch([a], { pollMs: 0 })).toThrow(/pollMs/);
    expect(() => submitBatch([{ ...a, model: 'ollama/llama3' }])).toThrow(/No batch API/);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}
