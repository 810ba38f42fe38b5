/**
 * submitBatch's edges: splitting by bytes and by model, the caller's AbortSignal, a create that
 * fails (nothing retried, the batches already made are reported), Retry-After on polling, and
 * per-subscription state (two subscriptions submit two batches).
 */
import { getEventListeners } from 'node:events';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { BadRequestError, RequestAbortedError, ServerError, submitBatch, type BatchEvent } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { ticketRequests } from '../helpers/tickets';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-edges';
  process.env.ANTHROPIC_API_KEY = 'sk-ant-test-edges';
});
beforeEach(() => server.reset());
afterAll(async () => {
  delete process.env.OPENAI_API_KEY;
  delete process.env.ANTHROPIC_API_KEY;
  await server.close();
});

const collect = (o: ReturnType<typeof submitBatch>) => lastValueFrom(o.pipe(toArray()));
const submitted = (events: BatchEvent[]) =>
  events.filter((e) => e.type === 'submitted').map((e) => (e as { customIds: string[] }).customIds);

describe('submitBatch edges', () => {
  it('splits by bytes: no batch passes maxBytesPerBatch, every request is answered once', async () => {
    const requests = ticketRequests('anthropic/claude-haiku-4-5', 9);
    const events = await collect(
      submitBatch(requests, { baseURL: server.url, pollMs: 5, maxBytesPerBatch: 1_000 }),
    );
    const batches = submitted(events);
    expect(batches.length).toBeGreaterThan(1);
    for (const create of server.requests.filter((r) => r.method === 'POST')) {
      const entries = (create.body as { requests: unknown[] }).requests;
      const bytes = entries.reduce<number>((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
      expect(bytes).toBeLessThanOrEqual(1_000);
    }
    expect(batches.flat().sort()).toEqual(requests.map((r) => r.custom_id).sort());
    expect(events.filter((e) => e.type === 'result')).toHaveLength(9);
  });

  it('OpenAI: two models go to two batches (one model per input file)', async () => {
    const requests = [
      ...ticketRequests('openai/gpt-4o-mini', 2),
      ...ticketRequests('openai/gpt-4.1-mini', 2).map((r) => ({ ...r, custom_id: `x-${r.custom_id}` })),
    ];
    const events = await collect(submitBatch(requests, { baseURL: server.url, pollMs: 5 }));
    expect(submitted(events)).toEqual([
      ['ticket-0', 'ticket-1'],
      ['x-ticket-0', 'x-ticket-1'],
    ]);
    expect(events.filter((e) => e.type === 'result')).toHaveLength(4);
  });

  it('the caller’s signal ends the stream with RequestAbortedError and cancels the running batch', async () => {
    server.batches.faults = { validatingPolls: 1_000_000 };
    const stop = new AbortController();
    const events: BatchEvent[] = [];
    const done = new Promise<unknown>((resolve) =>
      submitBatch(ticketRequests('openai/gpt-4o-mini', 2), {
        baseURL: server.url,
        pollMs: 5,
        signal: stop.signal,
      }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'status') stop.abort();
        },
        error: resolve,
      }),
    );
    expect(await done).toBeInstanceOf(RequestAbortedError);
    await waitFor(() => server.batches.cancelled.length === 1);
    expect(server.batches.cancelled).toEqual([(events[0] as { batchId: string }).batchId]);
  });

  it('many batch calls sharing one signal put one listener on it, removed when they end', async () => {
    // An app's shutdown signal handed to many calls: one listener each would make Node warn past 10.
    server.batches.faults = { validatingPolls: 3 };
    const shared = new AbortController();
    let most = 0;
    const calls = Array.from({ length: 12 }, (_, i) =>
      lastValueFrom(
        submitBatch(
          ticketRequests('openai/gpt-4o-mini', 1).map((r) => ({ ...r, custom_id: `c${i}` })),
          {
            baseURL: server.url,
            pollMs: 5,
            signal: shared.signal,
          },
        ).pipe(
          tap(() => (most = Math.max(most, getEventListeners(shared.signal, 'abort').length))),
          toArray(),
        ),
      ),
    );
    const results = await Promise.all(calls);
    expect(results.map((events) => events.filter((e) => e.type === 'result').length)).toEqual(
      Array(12).fill(1),
    );
    expect(most).toBe(1);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('a create refused by the provider is not retried; the batches made before it were reported', async () => {
    const requests = ticketRequests('anthropic/claude-haiku-4-5', 4);
    requests[3] = { ...requests[3], custom_id: 'bad id!' };
    const events: BatchEvent[] = [];
    const error = await new Promise<unknown>((resolve) =>
      submitBatch(requests, { baseURL: server.url, pollMs: 5, maxRequestsPerBatch: 2 }).subscribe({
        next: (e) => events.push(e),
        error: resolve,
      }),
    );
    expect(error).toBeInstanceOf(BadRequestError);
    expect(submitted(events)).toEqual([['ticket-0', 'ticket-1']]);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('a 5xx on polling with Retry-After waits what the server asks, not the backoff', async () => {
    // A 60 s backoff would outlast the test's timeout: only the server's 1 ms lets it finish.
    server.batches.faults = { pollErrors: 2, pollRetryAfterMs: 1 };
    const events = await collect(
      submitBatch(ticketRequests('openai/gpt-4o-mini', 1), {
        baseURL: server.url,
        pollMs: 5,
        pollBackoffMs: 60_000,
      }),
    );
    expect(events.filter((e) => e.type === 'result')).toHaveLength(1);
    expect(
      server.requests.filter((r) => r.method === 'GET' && /\/batches\//.test(r.path)).length,
    ).toBeGreaterThanOrEqual(4);
  });

  it('gives up on a poll after pollRetries retryable failures, with the typed error', async () => {
    server.batches.faults = { pollErrors: 10, pollRetryAfterMs: 1 };
    const error = await collect(
      submitBatch(ticketRequests('openai/gpt-4o-mini', 1), {
        baseURL: server.url,
        pollMs: 5,
        pollRetries: 2,
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(server.batches.faults.pollErrors).toBe(7);
  });

  it('each subscription submits its own batch', async () => {
    const o = submitBatch(ticketRequests('openai/gpt-4o-mini', 1), { baseURL: server.url, pollMs: 5 });
    const [a, b] = await Promise.all([collect(o), collect(o)]);
    expect((a[0] as { batchId: string }).batchId).not.toBe((b[0] as { batchId: string }).batchId);
    expect(server.batches.submissions).toBe(2);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}
