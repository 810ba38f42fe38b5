/**
 * What a routed call costs when the router went on to another deployment: an attempt it left before
 * passing anything on (a refusal in a 200 answer, a stream cut after its opening role chunk) was
 * billed all the same, and so was the first part of an answer continued elsewhere. `trackUsage` (so
 * `budget` and the gateway's spend) counts every attempt, each priced at its own model. Real mock
 * servers on 127.0.0.1, OpenAI-compatible and Anthropic wires.
 */
import { lastValueFrom, Subscription, type Observable } from 'rxjs';
import {
  clearPrices,
  complete,
  createAgent,
  StreamCutError,
  createRouter,
  LlmError,
  parseGatewayConfig,
  ServerError,
  setPrice,
  startConfiguredGateway,
  type RoutedChunk,
  type BudgetStore,
  type RouterConfig,
  type Usage,
  type ChatCompletion,
  type Chunk,
} from 'rxllm';
import { budget, retryBackoff, trackUsage, type UsageReport } from 'rxllm/operators';
import type { MockServer } from 'rxllm/testing';
import { mockServers } from '../helpers/mockServers';
import { trackedCall } from '../helpers/trackedCall';

const agent = createAgent();
const server = mockServers();
afterAll(() => agent.close());
beforeAll(() => {
  // Per million tokens: the two deployments' prices differ tenfold.
  setPrice('compat/strict', { input: 10, output: 20 });
  setPrice('compat/lenient', { input: 1, output: 2 });
  setPrice('anthropic/claude-first', { input: 3, output: 15 });
});
afterAll(() => clearPrices());

const on = (s: MockServer) => ({ baseURL: s.url, apiKey: 'sk-test-billing', dispatcher: agent });
const request = { model: 'main', messages: [{ role: 'user' as const, content: 'tell me something' }] };
const LENIENT: Usage = { prompt_tokens: 40, completion_tokens: 10, total_tokens: 50 };
/** Per million tokens, as the price table. */
const usd = (tokens: number, perMillion: number) => (tokens * perMillion) / 1e6;
const lenientCost = usd(40, 1) + usd(10, 2);

function router(strict: MockServer, lenient: MockServer, extra: Partial<RouterConfig> = {}) {
  return createRouter({
    groups: {
      main: [{ model: 'compat/strict', id: 'strict', options: on(strict) }],
      lenient: [{ model: 'compat/lenient', id: 'lenient', options: on(lenient) }],
    },
    contentPolicyFallbacks: { main: ['lenient'] },
    fallbacks: { main: ['lenient'] },
    ...extra,
  });
}

const tracked = <T extends Chunk | ChatCompletion>(calls: Observable<T>) => trackedCall(calls, request);

describe('router billing: attempts left before anything was passed on', () => {
  it('a stream refused in its 200 answer is costed at its own price, beside the fallback that answered', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: '', finishReason: 'content_filter' });
    lenient.enqueue({ text: 'allowed', usage: LENIENT });
    const { report, out } = await tracked(router(strict, lenient).stream(request));
    const chunks = out as RoutedChunk[];
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('allowed');
    // The first value of the answering attempt tells the billed one, once.
    const billed = chunks[0].route.billed!;
    expect(billed).toHaveLength(1);
    expect(billed[0]).toMatchObject({ deployment: 'strict', model: 'compat/strict', estimated: true });
    expect(chunks.slice(1).every((c) => c.route.billed === undefined)).toBe(true);
    // The refused stream was left before its usage came: its prompt is the request's estimate.
    const strictPrompt = billed[0].usage!.prompt_tokens;
    expect(strictPrompt).toBeGreaterThan(0);
    expect(report.usage!.prompt_tokens).toBe(strictPrompt + LENIENT.prompt_tokens);
    expect(report.estimated).toBe(true);
    expect(report.model).toBe('compat/lenient');
    expect(report.cost!.total).toBeCloseTo(usd(strictPrompt, 10) + lenientCost, 12);
  });

  it('a complete() refusal carries its usage: the call is costed exactly, both attempts', async () => {
    const [strict, lenient] = [await server(), await server()];
    const refused: Usage = { prompt_tokens: 30, completion_tokens: 2, total_tokens: 32 };
    strict.enqueue({ text: '', finishReason: 'content_filter', usage: refused });
    lenient.enqueue({ text: 'allowed', usage: LENIENT });
    const { report, out } = await tracked(router(strict, lenient).complete(request));
    const [result] = out as { route: { billed?: unknown } }[];
    expect(result.route.billed).toEqual([
      { deployment: 'strict', model: 'compat/strict', usage: refused, estimated: false },
    ]);
    expect(report.estimated).toBe(false);
    expect(report.usage).toMatchObject({ prompt_tokens: 70, completion_tokens: 12, total_tokens: 82 });
    expect(report.cost!.total).toBeCloseTo(usd(30, 10) + usd(2, 20) + lenientCost, 12);
  });

  it('a stream cut after its opening role chunk was billed for its prompt', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: 'never seen', cutAfterChunks: 1 });
    lenient.enqueue({ text: 'allowed', usage: LENIENT });
    const { report, out } = await tracked(router(strict, lenient).stream(request));
    expect((out as RoutedChunk[])[0].route.billed).toMatchObject([
      { deployment: 'strict', estimated: true, usage: { completion_tokens: 0 } },
    ]);
    const strictPrompt = report.usage!.prompt_tokens - LENIENT.prompt_tokens;
    expect(strictPrompt).toBeGreaterThan(0);
    expect(report.cost!.total).toBeCloseTo(usd(strictPrompt, 10) + lenientCost, 12);
  });

  it('a call that fails in the end carries error.billed, which trackUsage costs; retryBackoff does not send it again', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: '', finishReason: 'content_filter' });
    lenient.enqueue({ status: 500 });
    const { report, out } = await tracked(
      router(strict, lenient)
        .stream(request)
        .pipe(retryBackoff({ maxRetries: 3, initialDelayMs: 1 })),
    );
    expect(out).toBeInstanceOf(LlmError);
    expect((out as LlmError).billed).toMatchObject([{ deployment: 'strict', model: 'compat/strict' }]);
    expect(report.ending).toBe('failed');
    expect(report.cost!.total).toBeCloseTo(usd(report.usage!.prompt_tokens, 10), 12);
    expect(report.cost!.total).toBeGreaterThan(0);
    // The refusal was billed: a retry would pay for it again.
    expect([strict.stats.requests, lenient.stats.requests]).toEqual([1, 1]);
  });

  it('nothing was received: an HTTP error before the answer adds no billed attempt', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ status: 500 });
    lenient.enqueue({ text: 'allowed', usage: LENIENT });
    const { report, out } = await tracked(router(strict, lenient).stream(request));
    expect((out as RoutedChunk[]).every((c) => c.route.billed === undefined)).toBe(true);
    expect(report.usage).toEqual(LENIENT);
    expect(report.estimated).toBe(false);
    expect(report.cost!.total).toBeCloseTo(lenientCost, 12);
  });

  it('without a fallback the refusal reaches the caller and is costed once', async () => {
    const strict = await server();
    strict.enqueue({ text: '', finishReason: 'content_filter', usage: LENIENT });
    const only = createRouter({ groups: { main: [{ model: 'compat/strict', options: on(strict) }] } });
    const { report, out } = await tracked(only.stream(request));
    expect((out as RoutedChunk[]).every((c) => c.route.billed === undefined)).toBe(true);
    expect(report.usage).toEqual(LENIENT);
    expect(report.cost!.total).toBeCloseTo(usd(40, 10) + usd(10, 20), 12);
  });
});

describe('router billing: a caller that leaves before the router told it', () => {
  /** Resolves once `check()` holds, polling every 5 ms. */
  const until = (check: () => boolean) =>
    new Promise<void>((resolve) => {
      const poll = () => (check() ? resolve() : setTimeout(poll, 5));
      poll();
    });

  /** Subscribes `calls` through trackUsage and unsubscribes once `ready()` holds; resolves with the report. */
  async function leftWhen<T>(calls: import('rxjs').Observable<T>, ready: () => boolean) {
    const reports: UsageReport[] = [];
    const values: T[] = [];
    const sub = calls
      .pipe(trackUsage<any>({ request, onUsage: (r) => reports.push(r) }))
      .subscribe({ next: (v) => values.push(v) });
    await until(ready);
    sub.unsubscribe();
    expect(reports).toHaveLength(1);
    return { report: reports[0], values };
  }

  it('left while the fallback was starting: the refused attempt is still costed (unsubscribed report)', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: '', finishReason: 'content_filter' });
    // The fallback is slow to answer: the caller leaves before its first value.
    lenient.enqueue({ text: 'allowed', usage: LENIENT, latencyMs: 10_000 });
    const { report, values } = await leftWhen(
      router(strict, lenient).stream(request),
      () => lenient.stats.requests === 1,
    );
    expect(values).toEqual([]);
    expect(report.ending).toBe('unsubscribed');
    // The refused stream's prompt (the request's estimate) at the strict deployment's price.
    expect(report.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(report.estimated).toBe(true);
    expect(report.cost!.total).toBeCloseTo(usd(report.usage!.prompt_tokens, 10), 12);
    await until(() => lenient.stats.abortedRequests === 1);
  });

  it('left while only the opening role chunk had come (held by the router): billed for the prompt', async () => {
    const strict = await server();
    strict.enqueue({ text: 'never seen', stall: { afterChunks: 1 } });
    let headers = false;
    const only = createRouter({
      groups: {
        main: [
          { model: 'compat/strict', options: { ...on(strict), onResponse: () => void (headers = true) } },
        ],
      },
    });
    let headersAt = Infinity;
    const { report, values } = await leftWhen(
      // No value reaches the caller: the role chunk is held.
      only.stream(request),
      // The mock writes the role chunk right after the headers; the margin (far above a read's delay, even
      // on a loaded machine) lets the router read it.
      () => {
        if (headers && headersAt === Infinity) headersAt = Date.now();
        return Date.now() - headersAt > 500;
      },
    );
    expect(values).toEqual([]);
    expect(report.ending).toBe('unsubscribed');
    expect(report.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(report.usage!.completion_tokens).toBe(0);
    expect(report.cost!.total).toBeCloseTo(usd(report.usage!.prompt_tokens, 10), 12);
  });

  it('budget settles the refused attempt of a call left while the fallback was starting', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: '', finishReason: 'content_filter' });
    lenient.enqueue({ text: 'allowed', usage: LENIENT, latencyMs: 10_000 });
    const added: number[] = [];
    const store: BudgetStore = { spent: () => 0, add: (_k, _w, amount) => (added.push(amount), amount) };
    const { report } = await leftWhen(
      router(strict, lenient)
        .stream(request)
        .pipe(budget({ maxCost: 1, store })),
      () => lenient.stats.requests === 1,
    );
    expect(added).toHaveLength(1);
    expect(added[0]).toBeGreaterThan(0);
    expect(added[0]).toBeCloseTo(report.cost!.total, 12);
  });

  it('two counting operators on one call both count the attempt; one on another call left in the same teardown does not', async () => {
    const [strict, lenient, other] = [await server(), await server(), await server()];
    strict.enqueue({ text: '', finishReason: 'content_filter' });
    lenient.enqueue({ text: 'allowed', usage: LENIENT, latencyMs: 10_000 });
    other.enqueue({ text: 'unrelated', usage: LENIENT, latencyMs: 10_000 });
    const outer: UsageReport[] = [];
    const inner: UsageReport[] = [];
    const bystander: UsageReport[] = [];
    const unrelated = createRouter({
      groups: { main: [{ model: 'compat/lenient', id: 'other', options: on(other) }] },
    });
    // One teardown for both calls: the unrelated one first, then the routed one.
    const both = new Subscription();
    both.add(
      unrelated
        .stream(request)
        .pipe(trackUsage<any>({ request, onUsage: (r) => bystander.push(r) }))
        .subscribe(),
    );
    both.add(
      router(strict, lenient)
        .stream(request)
        .pipe(
          trackUsage<any>({ request, onUsage: (r) => inner.push(r) }),
          trackUsage<any>({ request, onUsage: (r) => outer.push(r) }),
        )
        .subscribe(),
    );
    await until(() => lenient.stats.requests === 1 && other.stats.requests === 1);
    both.unsubscribe();
    expect(inner[0].cost!.total).toBeGreaterThan(0);
    expect(outer[0].cost!.total).toBeCloseTo(inner[0].cost!.total, 12);
    // The other call received nothing and was billed nothing: not the refused attempt of the first.
    expect(bystander[0].usage).toBeNull();
    // Nobody is left listening once the teardown is over.
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('rxllm.unsubscribedBilled')]).toEqual([]);
  });
});

describe('router billing: attempts that passed chunks on', () => {
  it("'restart': each attempt is priced at its own model, not the last one's", async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: 'One two three', chunkSize: 4, cutAfterChunks: 3 });
    lenient.enqueue({ text: 'allowed', usage: LENIENT });
    const { report } = await tracked(router(strict, lenient, { afterFirstChunk: 'restart' }).stream(request));
    const first = report.usage!.prompt_tokens - LENIENT.prompt_tokens;
    const firstOut = report.usage!.completion_tokens - LENIENT.completion_tokens;
    expect(first).toBeGreaterThan(0);
    expect(firstOut).toBeGreaterThan(0);
    expect(report.estimated).toBe(true);
    // Before, the sum of both usages was priced at the lenient deployment's price.
    expect(report.cost!.total).toBeCloseTo(usd(first, 10) + usd(firstOut, 20) + lenientCost, 12);
  });

  it("'continue': the part streamed before the cut is billed too (no reset chunk between the attempts)", async () => {
    const first = await server();
    const next = await server();
    // Anthropic reports the prompt at message_start: the first attempt's prompt is known, not estimated.
    first.enqueue({
      text: 'One two three four.',
      chunkSize: 4,
      cutAfterChunks: 4,
      usage: { prompt_tokens: 25, completion_tokens: 6, total_tokens: 31 },
    });
    next.enqueue({ text: 'three four.', usage: LENIENT });
    const r = createRouter({
      groups: {
        main: [{ model: 'anthropic/claude-first', id: 'first', options: on(first) }],
        next: [{ model: 'compat/lenient', id: 'next', options: on(next), continuation: 'vllm' }],
      },
      fallbacks: { main: ['next'] },
      afterFirstChunk: 'continue',
    });
    const { report, out } = await tracked(r.stream(request));
    const chunks = out as RoutedChunk[];
    expect(chunks.map((c) => c.route.attempt)).toContain(2);
    const firstOut = report.usage!.completion_tokens - LENIENT.completion_tokens;
    expect(firstOut).toBeGreaterThan(0);
    expect(report.usage!.prompt_tokens).toBeGreaterThan(LENIENT.prompt_tokens);
    const firstPrompt = report.usage!.prompt_tokens - LENIENT.prompt_tokens;
    expect(report.cost!.total).toBeCloseTo(usd(firstPrompt, 3) + usd(firstOut, 15) + lenientCost, 12);
  });
});

describe('router billing through the gateway', () => {
  const params = (model: string, s: MockServer, perToken: number) => ({
    model,
    api_base: s.url,
    api_key: 'sk-upstream',
    input_cost_per_token: perToken,
    output_cost_per_token: perToken,
  });
  /** A gateway whose `main` refuses (priced 1e-3 per token) and falls back to `lenient` (1e-6). */
  const gatewayOver = (strict: MockServer, lenient: MockServer, lines: string[], resume?: false) =>
    startConfiguredGateway(
      parseGatewayConfig({
        model_list: [
          { model_name: 'main', params: params('compat/strict-gw', strict, 1e-3) },
          { model_name: 'lenient', params: params('compat/lenient-gw', lenient, 1e-6) },
        ],
        router_settings: { content_policy_fallbacks: [{ main: ['lenient'] }] },
        general_settings: { master_key: 'sk-master' },
      }),
      { port: 0, webSocket: false, log: (l) => lines.push(l), ...(resume === false ? { resume } : {}) },
    );
  const post = (url: string, body: object, signal?: AbortSignal) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-master' },
      body: JSON.stringify(body),
      signal,
    });
  /** The cost on the access log's line of the call, once it is written. */
  const loggedCost = async (lines: string[]) => {
    await new Promise<void>((resolve) => {
      const poll = () =>
        lines.some((l) => l.includes('/v1/chat/completions')) ? resolve() : setTimeout(poll, 5);
      poll();
    });
    const line = lines.find((l) => l.includes('/v1/chat/completions'))!;
    return Number(/ cost=~?\$([\d.e-]+) /.exec(line)![1]);
  };

  it("the access log's cost counts the refused attempt beside the fallback that answered", async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.setDefault({ text: '', finishReason: 'content_filter' });
    lenient.setDefault({ text: 'allowed', usage: LENIENT });
    const lines: string[] = [];
    const gateway = await gatewayOver(strict, lenient, lines);
    try {
      for (const stream of [true, false]) {
        lines.length = 0;
        const res = await post(gateway.url, { ...request, stream });
        expect(res.status).toBe(200);
        // Streamed, the text comes in pieces ('allo', 'wed').
        expect(await res.text()).toContain('allo');
        // The lenient answer alone costs 50 x 1e-6; the refused prompt at 1e-3 per token is far more.
        expect(await loggedCost(lines)).toBeGreaterThan(50 * 1e-6 + 1e-3);
      }
    } finally {
      await gateway.close();
    }
  });

  it('--no-resume: a client that leaves while the fallback starts still pays for the refused attempt', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.setDefault({ text: '', finishReason: 'content_filter' });
    lenient.setDefault({ text: 'allowed', usage: LENIENT, latencyMs: 10_000 });
    const lines: string[] = [];
    const gateway = await gatewayOver(strict, lenient, lines, false);
    try {
      const left = new AbortController();
      const answer = post(gateway.url, { ...request, stream: true }, left.signal).catch((e: unknown) => e);
      await new Promise<void>((resolve) => {
        const poll = () => (lenient.stats.requests === 1 ? resolve() : setTimeout(poll, 5));
        poll();
      });
      left.abort();
      await answer;
      // Nothing was answered; the refused prompt at 1e-3 per token was billed.
      expect(await loggedCost(lines)).toBeGreaterThan(1e-3);
    } finally {
      await gateway.close();
    }
  });
});

describe('an answer billed but never read (a complete() body cut after its 200)', () => {
  it('trackUsage estimates it at the request’s prompt, not null', async () => {
    const s = await server();
    s.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const direct = { ...request, model: 'compat/strict' as const };
    const reports: UsageReport[] = [];
    const out = await lastValueFrom(
      complete(direct, on(s)).pipe(trackUsage({ request: direct, onUsage: (r) => reports.push(r) })),
    ).catch((e: unknown) => e);
    expect(out).toBeInstanceOf(StreamCutError);
    expect((out as StreamCutError).billedAnswer).toBe(true);
    const [report] = reports;
    expect(report.ending).toBe('failed');
    expect(report.estimated).toBe(true);
    expect(report.usage).toMatchObject({ completion_tokens: 0 });
    expect(report.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(report.cost!.total).toBeCloseTo(usd(report.usage!.prompt_tokens, 10), 12);
  });

  it('through a router: priced once, at the deployment that billed it (error.billed)', async () => {
    const [strict, lenient] = [await server(), await server()];
    strict.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    lenient.enqueue({ text: 'never asked', usage: LENIENT });
    const { report, out } = await tracked(router(strict, lenient).complete(request));
    // Final: the answer was billed, a fallback would pay again.
    expect([strict.stats.requests, lenient.stats.requests]).toEqual([1, 0]);
    expect((out as LlmError).billed).toMatchObject([{ deployment: 'strict', estimated: true }]);
    // Once: the error still says its answer was billed (billedAnswer), but with error.billed set that
    // attempt is counted there only, at the deployment's price.
    expect((out as LlmError).billedAnswer).toBe(true);
    const [billed] = (out as LlmError).billed!;
    expect(report.usage).toEqual(billed.usage);
    expect(report.cost!.total).toBeCloseTo(usd(report.usage!.prompt_tokens, 10), 12);
    expect(report.cost!.total).toBeGreaterThan(0);
  });
});

describe('error.billed on an error that cannot hold it', () => {
  it('a frozen final error is wrapped in an LlmError carrying billed, its cause the error', async () => {
    const frozen = Object.freeze(new ServerError({ status: 500, message: 'down, frozen' }));
    const r = createRouter({
      groups: { main: [{ model: 'mock/strict', id: 'strict' }], lenient: [{ model: 'mock/lenient' }] },
      contentPolicyFallbacks: { main: ['lenient'] },
    });
    const out = await lastValueFrom(
      r.stream({
        ...request,
        mock_response: [
          { text: '', finishReason: 'content_filter' },
          { errorAfter: { chunks: 0, error: frozen } },
        ],
      } as never),
    ).catch((e: unknown) => e);
    expect(out).not.toBe(frozen);
    expect(out).toBeInstanceOf(LlmError);
    expect((out as LlmError).cause).toBe(frozen);
    expect((out as LlmError).billed).toMatchObject([{ deployment: 'strict', model: 'mock/strict' }]);
  });
});
