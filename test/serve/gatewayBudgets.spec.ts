/**
 * Budgets of `rxllm serve --config` under concurrency: each request's estimated cost is reserved on
 * its key's, its group's and the gateway's budget before the upstream call, so 40 parallel requests
 * on a budget that fits 2.5 calls overspend by at most one call's estimate — in memory, on a real
 * redis-server, and across two gateway processes sharing it. A refused request never reaches the
 * upstream (counted on the mock server).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import WebSocket from 'ws';
import { bearerProtocol, fromWebSocket } from '../../src/browser';
import { clearPrices, parseGatewayConfig, startConfiguredGateway, type Gateway } from '../../src';
import { estimatePromptTokens } from '../../src/cost/estimate';
import { createMockServer, type MockServer } from '../../src/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { serveProcess } from '../helpers/serveProcess';

const PRICE = 0.001; // USD per token, input and output
const MAX_TOKENS = 100;
const MESSAGES = [{ role: 'user' as const, content: 'Tell me about budgets, briefly.' }];
const PROMPT = estimatePromptTokens({ model: 'chat', messages: MESSAGES });
/** One call's estimate: its prompt estimate plus max_tokens, at the price. */
const ESTIMATE = (PROMPT + MAX_TOKENS) * PRICE;

let upstream: MockServer;

beforeAll(async () => {
  upstream = await createMockServer();
});
afterAll(async () => {
  await upstream.close();
  clearPrices();
});
/** Empties the mock's log; each call reports exactly what was reserved for it (its cost is its
 * estimate), so the number of calls a budget lets through is exact. */
function resetUpstream(): void {
  upstream.reset();
  upstream.setDefault({
    text: 'Budgets cap spend.',
    usage: { prompt_tokens: PROMPT, completion_tokens: MAX_TOKENS, total_tokens: PROMPT + MAX_TOKENS },
  });
}
beforeEach(resetUpstream);

function configObject(extra: Record<string, unknown> = {}) {
  return {
    model_list: [
      {
        model_name: 'chat',
        params: {
          model: 'compat/budget-test',
          api_base: upstream.url,
          api_key: 'sk-upstream',
          input_cost_per_token: PRICE,
          output_cost_per_token: PRICE,
        },
      },
    ],
    general_settings: { master_key: 'sk-master' },
    ...extra,
  };
}

type Answer = { status: number; code?: string; shouldRetry: string | null };
const chat = (url: string, token: string, stream = false): Promise<Answer> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS, stream }),
  }).then(async (res) => {
    const text = await res.text();
    const code =
      res.status === 200 ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code;
    return { status: res.status, code, shouldRetry: res.headers.get('x-should-retry') };
  });

/** Every 200 went upstream once; every other answer is the budget's 429, and was not sent. */
function expectOnlyBudgetRefusals(answers: Answer[]): number {
  const served = answers.filter((a) => a.status === 200).length;
  for (const a of answers.filter((x) => x.status !== 200))
    expect(a).toEqual({ status: 429, code: 'insufficient_quota', shouldRetry: 'false' });
  expect(upstream.stats.requests).toBe(served);
  return served;
}

const parallel = (n: number, call: (i: number) => Promise<Answer>) =>
  Promise.all(Array.from({ length: n }, (_, i) => call(i)));

describe('gateway budgets, in memory', () => {
  let gateway: Gateway;
  let lines: string[];
  const start = async (extra: Record<string, unknown>, webSocket = false) => {
    lines = [];
    gateway = await startConfiguredGateway(parseGatewayConfig(configObject(extra)), {
      port: 0,
      webSocket,
      log: (l) => lines.push(l),
    });
  };
  afterEach(() => gateway?.close());

  it('40 parallel requests on a key whose budget fits 2.5 calls: 3 go upstream, 37 are refused unsent', async () => {
    await start({ keys: [{ key: 'sk-a', key_alias: 'a', max_budget: 2.5 * ESTIMATE }] });
    const answers = await parallel(40, (i) => chat(gateway.url, 'sk-a', i % 2 === 0));
    // Granted while the spend (reservations included) is below the budget: at 0, 1 and 2 estimates.
    expect(expectOnlyBudgetRefusals(answers)).toBe(3);
    // Settled: the key's spend after the last call is 3 calls, within one estimate of the budget.
    await waitFor(() => lines.filter((l) => l.includes('key=a spend=')).length === 40);
    const spends = lines.map((l) => Number(/ spend=\$([\d.e-]+)\//.exec(l)?.[1] ?? NaN));
    expect(Math.max(...spends)).toBeCloseTo(3 * ESTIMATE, 6);
    expect(Math.max(...spends)).toBeLessThanOrEqual(2.5 * ESTIMATE + ESTIMATE + 1e-9);
  });

  it('a group budget and the gateway budget hold the master key too, refusing before the upstream call', async () => {
    await start({
      router_settings: {
        model_group_budgets: { chat: { max_budget: 1.5 * ESTIMATE, budget_duration: '1d' } },
      },
    });
    expect(expectOnlyBudgetRefusals(await parallel(10, () => chat(gateway.url, 'sk-master')))).toBe(2);
    await gateway.close();
    resetUpstream();
    await start({ litellm_settings: { max_budget: 0.5 * ESTIMATE, budget_duration: '30d' } });
    expect(expectOnlyBudgetRefusals(await parallel(10, () => chat(gateway.url, 'sk-master')))).toBe(1);
    await waitFor(() => lines.some((l) => l.includes('refused:insufficient_quota')));
    expect(lines.join('\n')).not.toContain('sk-master');
  });

  it('a refused request gives back what it reserved on the budgets it passed', async () => {
    // The key's budget is large; the gateway's fits one call: a request refused by the gateway's
    // budget must not keep its reservation on the key's.
    await start({
      litellm_settings: { max_budget: 0.5 * ESTIMATE },
      keys: [{ key: 'sk-a', key_alias: 'a', max_budget: 100 }],
    });
    const answers = await parallel(6, () => chat(gateway.url, 'sk-a'));
    expect(expectOnlyBudgetRefusals(answers)).toBe(1);
    await waitFor(() => lines.length === 6);
    const spends = lines.map((l) => Number(/ spend=\$([\d.e-]+)\//.exec(l)![1]));
    // Only the one call is on the key once everything settled.
    expect(spends[spends.length - 1]).toBeCloseTo(ESTIMATE, 6);
  });

  it('a stream cut before its usage came settles to its estimated cost, not to the reservation or $0', async () => {
    await start({ keys: [{ key: 'sk-a', key_alias: 'a', max_budget: 100 }] });
    upstream.setDefault({ text: 'one two three four five six seven eight nine ten', cutAfterChunks: 3 });
    expect((await chat(gateway.url, 'sk-a', true)).status).toBe(200);
    await waitFor(() => lines.some((l) => l.includes('key=a spend=')));
    const line = lines.find((l) => l.includes('key=a spend='))!;
    const cost = Number(/ cost=~\$([\d.e-]+) /.exec(line)![1]);
    const spend = Number(/ spend=\$([\d.e-]+)\//.exec(line)![1]);
    // The prompt's estimate plus the few tokens received: more than the prompt, far less than reserved.
    expect(cost).toBeGreaterThan(PROMPT * PRICE);
    expect(cost).toBeLessThan(ESTIMATE / 2);
    expect(spend).toBeCloseTo(cost, 6);
  });

  it.each(['http', 'ws'])(
    'a client that leaves a resumable answer (%s): the generation goes on and the key pays its whole cost when it ends',
    async (transport) => {
      await start({ keys: [{ key: 'sk-l', key_alias: 'l', max_budget: 100 }] }, transport === 'ws');
      upstream.setDefault({
        text: 'one two three four five six seven eight nine ten eleven twelve',
        chunkSize: 4,
        chunkDelayMs: 30,
        usage: { prompt_tokens: PROMPT, completion_tokens: MAX_TOKENS, total_tokens: PROMPT + MAX_TOKENS },
      });
      const body = { model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS, stream: true };
      if (transport === 'http') {
        const left = new AbortController();
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-l' },
          body: JSON.stringify(body),
          signal: left.signal,
        });
        const reader = res.body!.getReader();
        await reader.read(); // the first bytes, then the client is gone
        left.abort();
        await reader.cancel().catch(() => undefined);
      } else {
        await new Promise<void>((resolve, reject) => {
          const sub = fromWebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, body, {
            protocols: bearerProtocol('sk-l'),
            WebSocket: WebSocket as never,
            // The socket drops (as on a lost connection); unsubscribing would be Stop.
            stopOnUnsubscribe: false,
          }).subscribe({
            next: () => {
              sub?.unsubscribe();
              resolve();
            },
            error: reject,
          });
        });
      }
      await waitFor(() => lines.some((l) => l.includes('key=l spend=')));
      const spend = Number(/ spend=\$([\d.e-]+)\//.exec(lines.find((l) => l.includes('key=l spend='))!)![1]);
      // The whole call as the provider reported it at the end, not $0 and not an estimate at the drop.
      expect(spend).toBeCloseTo((PROMPT + MAX_TOKENS) * PRICE, 6);
      expect(upstream.stats.requests).toBe(1);
      expect(upstream.stats.abortedRequests).toBe(0);
    },
  );

  it('a WebSocket request reserves and settles like an HTTP one', async () => {
    await start({ keys: [{ key: 'sk-w', key_alias: 'w', max_budget: 1.5 * ESTIMATE }] }, true);
    upstream.setDefault({
      text: 'short',
      usage: { prompt_tokens: PROMPT, completion_tokens: 10, total_tokens: PROMPT + 10 },
    });
    const overSocket = () =>
      lastValueFrom(
        fromWebSocket(
          `${gateway.url.replace('http', 'ws')}/v1/chat/ws`,
          { model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS },
          { protocols: bearerProtocol('sk-w'), WebSocket: WebSocket as never },
        ).pipe(toArray()),
      );
    await overSocket();
    await waitFor(() => lines.some((l) => l.includes('key=w spend=')));
    // Settled to what the call cost (10 output tokens), not left at the reserved 100.
    const spend = Number(/ spend=\$([\d.e-]+)\//.exec(lines.find((l) => l.includes('key=w spend='))!)![1]);
    expect(spend).toBeCloseTo((PROMPT + 10) * PRICE, 6);
  });

  it('tpm_limit counts each request by its token estimate: too large is final, over the rate waits', async () => {
    const tokens = PROMPT + MAX_TOKENS;
    await start({ keys: [{ key: 'sk-t', key_alias: 't', tpm_limit: 2.5 * tokens }] });
    const answers = await parallel(5, () => chat(gateway.url, 'sk-t'));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 429 && a.code === 'rate_limit_exceeded')).toHaveLength(3);
    expect(upstream.stats.requests).toBe(2);
    await gateway.close();
    await start({ keys: [{ key: 'sk-t', key_alias: 't', tpm_limit: tokens - 1 }] });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-t' },
      body: JSON.stringify({ model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Request too large/);
  });
});

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
}

const run = redisAvailable() ? describe : describe.skip;

run('gateway budgets on a real redis-server', () => {
  jest.setTimeout(60_000);
  let redis: RedisProcess;
  let client: Redis;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    dir = mkdtempSync(path.join(tmpdir(), 'rxllm-budgets-'));
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The settled spend of a budget id, over every window (a run may straddle a boundary). */
  async function spentOf(id: string): Promise<number> {
    const keys = (await client.keys(`rxllm:budget:${id}:*`)).filter((k) => !k.includes(':w:'));
    const values = await Promise.all(keys.map((k) => client.get(k)));
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }
  async function settled(id: string, calls: number): Promise<number> {
    for (let i = 0; i < 500; i++) {
      const spent = await spentOf(id);
      if (Math.abs(spent - calls * ESTIMATE) < 1e-9) return spent;
      await new Promise((r) => setTimeout(r, 10));
    }
    return spentOf(id);
  }

  it('one process: 40 parallel requests on a key, 3 go upstream', async () => {
    const gateway = await startConfiguredGateway(
      parseGatewayConfig(
        configObject({ keys: [{ key: 'sk-r', key_alias: 'r1', max_budget: 2.5 * ESTIMATE }] }),
      ),
      { port: 0, webSocket: false, log: () => {}, redis: `redis://127.0.0.1:${redis.port}` },
    );
    try {
      const served = expectOnlyBudgetRefusals(await parallel(40, () => chat(gateway.url, 'sk-r')));
      expect(served).toBe(3);
      expect(await settled('vkey:r1', served)).toBeLessThanOrEqual(3.5 * ESTIMATE + 1e-9);
    } finally {
      await gateway.close();
    }
  });

  it('two gateway processes on one Redis: 40 requests split over both, one budget, 3 go upstream', async () => {
    const file = path.join(dir, 'rxllm.config.json');
    writeFileSync(
      file,
      JSON.stringify(
        configObject({
          keys: [{ key: 'sk-fleet', key_alias: 'fleet', max_budget: 2.5 * ESTIMATE, budget_duration: '1d' }],
          litellm_settings: { max_budget: 1000 },
        }),
      ),
    );
    const [a, b] = await Promise.all([serveProcess(file, redis.port), serveProcess(file, redis.port)]);
    try {
      const answers = await parallel(40, (i) => chat((i % 2 ? a : b).url, 'sk-fleet'));
      const served = expectOnlyBudgetRefusals(answers);
      expect(served).toBe(3);
      expect(await settled('vkey:fleet', served)).toBeLessThanOrEqual(3.5 * ESTIMATE + 1e-9);
      // The gateway-wide budget got the same reservations and settlements.
      expect(await settled('gateway', served)).toBeCloseTo(3 * ESTIMATE, 6);
    } finally {
      for (const s of [a, b]) s.child.kill('SIGINT');
      await Promise.all([a.exited, b.exited]);
    }
  });
});
