/**
 * Two `rxllm serve --config --redis` processes on one real redis-server: a key's rpm limit and its
 * budget are one limit across both gateways, not one per process; and `--redis` keeps resumable answers
 * there, so an answer started on one gateway is resumed on the other.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { serveProcess, type ServeProcess } from '../helpers/serveProcess';

const run = redisAvailable() ? describe : describe.skip;

run('two gateways, one --config, one Redis', () => {
  let redis: RedisProcess;
  let dir: string;
  let a: ServeProcess;
  let b: ServeProcess;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(path.join(tmpdir(), 'rxllm-fleet-'));
    const config = path.join(dir, 'rxllm.config.yaml');
    writeFileSync(
      config,
      [
        'model_list:',
        '  - model_name: chat',
        '    params: { model: mock/echo, input_cost_per_token: 0.001, output_cost_per_token: 0.001 }',
        'keys:',
        // Two requests a minute: a refill takes 30 s, far longer than this test's requests.
        '  - { key: os.environ/FLEET_KEY, key_alias: fleet, rpm_limit: 2 }',
        '  - { key: sk-spender, key_alias: spender, max_budget: 0.001, budget_duration: 1d }',
        '  - { key: sk-resume, key_alias: resume }',
      ].join('\n'),
    );
    [a, b] = await Promise.all([
      serveProcess(config, redis.port, { FLEET_KEY: 'sk-fleet' }),
      serveProcess(config, redis.port, { FLEET_KEY: 'sk-fleet' }),
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const s of [a, b]) if (s && s.child.exitCode === null) s.child.kill('SIGINT');
    await Promise.all([a?.exited, b?.exited]);
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const chat = (s: ServeProcess, token: string) =>
    fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] }),
    }).then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    });

  it('both are ready with Redis reachable', async () => {
    for (const s of [a, b]) {
      const res = await fetch(`${s.url}/readyz`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { redis: unknown }).redis).toEqual({ ok: true });
    }
  });

  it('one rpm limit across both: 2 of 6 alternating requests pass, not 2 per gateway', async () => {
    const statuses: number[] = [];
    for (const s of [a, b, a, b, a, b]) statuses.push(await chat(s, 'sk-fleet'));
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
  });

  it('one budget across both: what one gateway charged refuses the key on the other', async () => {
    expect(await chat(a, 'sk-spender')).toBe(200);
    // The charge is written when the call ends; its access-log line says the key's spend after it.
    while (!/ key=spender spend=\$/.test(a.stderr())) await new Promise((r) => setTimeout(r, 20));
    expect(await chat(b, 'sk-spender')).toBe(429);
    while (!/refused:insufficient_quota key=spender/.test(b.stderr()))
      await new Promise((r) => setTimeout(r, 20));
    // b's log line shows the spend a charged: over the $0.001 budget.
    const spend = Number(/refused:insufficient_quota key=spender spend=\$([\d.e-]+)\//.exec(b.stderr())![1]);
    expect(spend).toBeGreaterThan(0.001);
  });

  it('an answer started on one gateway is resumed on the other, through Redis, whole and once', async () => {
    const prompt = 'word '.repeat(40).trim();
    const body = {
      model: 'chat',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
      mock_delay_ms: 20,
    };
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-resume' };
    const left = new AbortController();
    const res = await fetch(`${a.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: left.signal,
    });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-rxllm-stream-id')!;
    expect(id).toBeTruthy();
    const reader = res.body!.getReader();
    await reader.read(); // the first events, then the client is gone from A
    left.abort();
    await reader.cancel().catch(() => undefined);
    const rest = await fetch(`${b.url}/v1/chat/completions/${id}/stream`, { headers });
    expect(rest.status).toBe(200);
    const events = (await rest.text()).split('\n').filter((l) => l.startsWith('data: '));
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map(
        (l) => JSON.parse(l.slice(6)) as { error?: unknown; choices?: { delta?: { content?: string } }[] },
      );
    expect(chunks.filter((c) => c.error)).toEqual([]);
    const text = chunks
      .flatMap((c) => c.choices ?? [])
      .map((c) => c.delta?.content ?? '')
      .join('');
    expect(text).toBe(`Mock reply to: ${prompt}`);
  });

  it('with Redis down: /readyz is 503 naming Redis, and a key is refused (fail closed), not let through', async () => {
    await redis.stop();
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { ready: boolean; redis: { ok: boolean; error: string } };
    expect(body.redis.ok).toBe(false);
    expect(body.redis.error).not.toContain('redis://');
    const res = await fetch(`${b.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-spender' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('limit_store_unavailable');
  }, 20_000);

  it('a gateway stops on SIGINT and closes its Redis connection (exit 0)', async () => {
    a.child.kill('SIGINT');
    expect(await a.exited).toBe(0);
    expect(a.stderr()).toContain('rxllm serve: stopped');
  });
});
