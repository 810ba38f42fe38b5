/**
 * The NestJS recipe of docs/fleet.md, run in a real Nest application (its own process: node with
 * tsx's loader, as an app would run it) against a real redis-server and the mock server: the module
 * enqueues through its service, its WorkerHost processor runs every job through rxllm's pipeline,
 * and each result is recorded once. The docs show the example file as it is.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';

const ROOT = resolve(__dirname, '..', '..');
const MODULE_FILE = join(ROOT, 'examples', 'nestjs-fleet', 'llmBatch.module.ts');
const run = redisAvailable() ? describe : describe.skip;

function runApp(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'examples', 'nestjs-fleet', 'main.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((ok) => child.once('close', (code) => ok({ code, out, err })));
}

describe('the NestJS recipe in docs/fleet.md', () => {
  it('is the example file, as it is', () => {
    const code = readFileSync(MODULE_FILE, 'utf8');
    const recipe = code.slice(code.indexOf('import { BullModule'));
    expect(readFileSync(join(ROOT, 'docs', 'fleet.md'), 'utf8')).toContain(recipe);
  });
});

run('the NestJS recipe with @nestjs/bullmq (real Nest app, real redis-server)', () => {
  jest.setTimeout(120_000);
  let redis: RedisProcess;
  let mock: MockServer;

  beforeAll(async () => {
    redis = await startRedis();
    mock = await createMockServer();
    mock.setDefault((req) => {
      const text = String((req.body as MockChatBody).messages[0].content);
      return text === 'refuse' ? { status: 400 } : { text: `answer to ${text}` };
    });
  });
  afterAll(async () => {
    await mock.close();
    await redis.destroy();
  });

  it('enqueues through the service and records one result per line through the WorkerHost', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => ({
      custom_id: `n-${i}`,
      body: {
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: i === 5 ? 'refuse' : `q${i}` }],
      },
    }));
    const { code, out, err } = await runApp([String(redis.port), mock.url, JSON.stringify(lines)]);
    expect({ code, err: err.slice(-2000) }).toEqual({ code: 0, err: '' });
    const { enqueued, results, status } = JSON.parse(out);
    expect(enqueued).toEqual({ total: 8, added: 8, bad: [] });
    expect(results.map((r: { custom_id: string }) => r.custom_id).sort()).toEqual(
      lines.map((l) => l.custom_id).sort(),
    );
    const ok = results.find((r: { custom_id: string }) => r.custom_id === 'n-2');
    expect(ok.response.body.choices[0].message.content).toBe('answer to q2');
    expect(ok.cost).toBeGreaterThan(0);
    const refused = results.find((r: { custom_id: string }) => r.custom_id === 'n-5');
    expect(refused.error).toEqual(expect.objectContaining({ type: 'BadRequestError', status: 400 }));
    expect(status).toEqual(expect.objectContaining({ total: 8, done: 7, failed: 1, remaining: 0, sent: 8 }));
    expect(mock.stats.requests).toBe(8);
  });
});
