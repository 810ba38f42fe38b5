/**
 * `startConfiguredGateway` over real sockets: groups, fallbacks, virtual keys (models, rpm, budget),
 * `/v1/models`, `/healthz`, `/readyz` and `/metrics`.
 */
import OpenAI from 'openai';
import { lastValueFrom, toArray } from 'rxjs';
import WebSocket from 'ws';
import { bearerProtocol, fromWebSocket } from '../../src/browser';
import {
  clearPrices,
  parseGatewayConfig,
  QuotaExceededError,
  startConfiguredGateway,
  type Gateway,
} from '../../src';
import { freePort } from '../helpers/redisServer';
import { parseMetrics } from '../helpers/prometheus';

let gateway: Gateway;
let lines: string[] = [];
let deadPort: number;

const MASTER = 'sk-master-test';
const chat = (token: string | undefined, body: Record<string, unknown>) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hi there' }], ...body }),
  });

beforeAll(async () => {
  deadPort = await freePort(); // nothing listens there: connections are refused
  const config = parseGatewayConfig(
    {
      model_list: [
        {
          model_name: 'fast',
          params: {
            model: 'compat/llama',
            // Under team-b's budget (all groups): a budgeted model needs a price.
            input_cost_per_token: 0.001,
            output_cost_per_token: 0.001,
            api_base: `http://127.0.0.1:${deadPort}/v1`,
            api_key: 'os.environ/DEAD_KEY',
          },
        },
        {
          model_name: 'backup',
          params: { model: 'mock/echo', input_cost_per_token: 0.001, output_cost_per_token: 0.001 },
        },
      ],
      router_settings: { fallbacks: [{ fast: ['backup'] }] },
      general_settings: { master_key: MASTER },
      keys: [
        { key: 'sk-team-a', key_alias: 'team-a', models: ['backup'], rpm_limit: 2 },
        { key: 'sk-team-b', key_alias: 'team-b', max_budget: 0.001, budget_duration: '1d' },
        { key: 'sk-team-c', key_alias: 'team-c', models: ['backup'] },
      ],
    },
    { env: { DEAD_KEY: 'sk-upstream-secret' } },
  );
  gateway = await startConfiguredGateway(config, { port: 0, metrics: true, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await gateway.close();
  clearPrices();
});
beforeEach(() => {
  lines = [];
});

/** One chat request over the gateway's WebSocket, with `token`. */
const overSocket = (token: string, model: string) =>
  lastValueFrom(
    fromWebSocket(
      `${gateway.url.replace('http', 'ws')}/v1/chat/ws`,
      { model, messages: [{ role: 'user', content: 'Hi' }] },
      { protocols: bearerProtocol(token), WebSocket: WebSocket as never },
    ).pipe(toArray()),
  );

/** The access-log lines written so far that contain `text` (key lines are written after the charge). */
async function logged(text: string, count = 1): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const found = lines.filter((l) => l.includes(text));
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  return lines.filter((l) => l.includes(text));
}

describe('a gateway from a configuration file', () => {
  it('lists the groups on /v1/models, and serves a group through its fallback', async () => {
    const models = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: `Bearer ${MASTER}` },
    });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      'fast',
      'backup',
    ]);
    // `fast`'s only deployment refuses connections: the router falls back to `backup` before any chunk.
    const res = await chat(MASTER, { model: 'fast' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; choices: { message: { content: string } }[] };
    expect(body.model).toBe('fast');
    expect(body.choices[0].message.content).toContain('Hi there');
    expect(JSON.stringify(lines)).not.toContain('sk-upstream-secret');
  });

  it('lists to a key only the groups it may call', async () => {
    const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer sk-team-c' } });
    expect(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['backup']);
  });

  it('holds a key to its groups over the WebSocket too, and logs the key', async () => {
    const ws = (model: string) => overSocket('sk-team-c', model);
    const chunks = await ws('backup');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('Hi');
    await expect(ws('fast')).rejects.toMatchObject({ status: 403 });
    expect(await logged('complete key=team-c')).toHaveLength(1);
  });

  it('refuses a token that is neither the master key nor a virtual key', async () => {
    expect((await chat('sk-nobody', { model: 'backup' })).status).toBe(401);
    expect((await chat(undefined, { model: 'backup' })).status).toBe(401);
  });

  it('a key gets 403 for a group it may not call, and 429 with Retry-After past its rpm', async () => {
    const denied = await chat('sk-team-a', { model: 'fast' });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('model_not_allowed');
    // The 403 took one of the two requests of the minute (the rate counts requests, as OpenAI's).
    expect((await chat('sk-team-a', { model: 'backup' })).status).toBe(200);
    const limited = await chat('sk-team-a', { model: 'backup' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    expect(await logged('refused:rate_limit_exceeded key=team-a')).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('sk-team-a');
  });

  it('a key over its budget gets 429 insufficient_quota, which the openai SDK does not retry', async () => {
    const first = await chat('sk-team-b', { model: 'backup' });
    expect(first.status).toBe(200);
    await first.json();
    // The echo's tokens at $0.001 each cost more than the key's $0.001: the access log says its spend.
    const [line] = await logged('key=team-b spend=$');
    expect(line).toMatch(/ 200 model=backup .* key=team-b spend=\$[\d.e-]+\/\$0\.001$/);
    const sdk = new OpenAI({ apiKey: 'sk-team-b', baseURL: `${gateway.url}/v1`, maxRetries: 2 });
    const error = await sdk.chat.completions
      .create({ model: 'backup', messages: [{ role: 'user', content: 'again' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota');
    // x-should-retry: false — one refusal, not three.
    expect(await logged('refused:insufficient_quota key=team-b')).toHaveLength(1);
    // The same refusal over the WebSocket, as the error class its status and code make.
    await expect(overSocket('sk-team-b', 'backup')).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('streams for a key, and names the key in the access log', async () => {
    const res = await chat('sk-team-c', { model: 'backup', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toContain('data: [DONE]');
    const [line] = await logged('key=team-c');
    expect(line).toMatch(/^POST \/v1\/chat\/completions 200 model=backup .* complete key=team-c$/);
  });

  it('/healthz and /readyz need no token; /readyz is 503 naming the unreachable upstream', async () => {
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as {
      ready: boolean;
      groups: Record<
        string,
        { ready: boolean; deployments: Record<string, { ok: boolean; error?: string }> }
      >;
    };
    expect(body.ready).toBe(false);
    expect(body.groups.backup.ready).toBe(true);
    expect(body.groups.fast.ready).toBe(false);
    expect(body.groups.fast.deployments['compat/llama'].error).toBe(`127.0.0.1:${deadPort}: ECONNREFUSED`);
  });

  it('/metrics needs the token, and counts requests, latency, tokens and cost by model and key', async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    expect((await chat('sk-team-b', { model: 'backup' })).status).toBe(429);
    const res = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(await res.text());
    expect(
      m.value('rxllm_gateway_requests_total', { model: 'backup', status: '200' }),
    ).toBeGreaterThanOrEqual(2);
    expect(m.value('rxllm_gateway_requests_total', { model: 'fast', status: '200' })).toBe(1);
    // Over the rate: refused before the body, model unknown; over the budget: refused once the body
    // named its group, before the upstream call.
    expect(m.value('rxllm_gateway_requests_total', { model: '-', status: '429' })).toBeGreaterThanOrEqual(1);
    expect(
      m.value('rxllm_gateway_requests_total', { model: 'backup', status: '429' }),
    ).toBeGreaterThanOrEqual(2);
    expect(m.value('rxllm_gateway_requests_total', { model: '-', status: '403' })).toBe(1);
    expect(
      m.value('rxllm_gateway_request_duration_seconds_count', { model: 'backup' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      m.value('rxllm_gateway_time_to_first_chunk_seconds_bucket', { model: 'backup', le: '+Inf' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      m.value('rxllm_gateway_tokens_total', { model: 'backup', key: 'team-b', kind: 'prompt' }),
    ).toBeGreaterThan(0);
    expect(m.value('rxllm_gateway_cost_usd_total', { model: 'backup', key: 'team-b' })).toBeGreaterThan(
      0.001,
    );
    expect(m.value('rxllm_gateway_open_streams', {})).toBe(0);
    expect(m.types.get('rxllm_gateway_time_to_first_chunk_seconds')).toBe('histogram');
  });
});
