/**
 * Budget reservations on a real redis-server: the reserve script is atomic (40 concurrent
 * reservations of $0.075 under $0.10: exactly 2 granted), idempotent when its reply is lost, and
 * 40 parallel calls — in one process, or split over two PROCESSES sharing the budget — overspend
 * by at most one call's estimate. Under CI=true these run (redisAvailable throws if the server is
 * missing), never skip.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { lastValueFrom, merge, Observable } from 'rxjs';
import { BudgetExceededError, stream } from 'rxllm';
import { budget } from 'rxllm/operators';
import { createRedisBudgetStore } from 'rxllm/redis';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { CALL_COST, PARALLEL_REQUEST } from './budgetRequest';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

function worker(args: string[]): Promise<{ served: number; refused: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(__dirname, 'budgetWorker.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`budget worker exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`budget worker printed no JSON: ${out} ${err}`));
      }
    });
  });
}

/** The spend of every window of `key` (a run may straddle a window boundary). */
async function spentOf(redis: Redis, prefix: string, key: string): Promise<number> {
  const keys = await redis.keys(`${prefix}budget:${key}:*`);
  const values = await Promise.all(keys.filter((k) => !k.includes(':w:')).map((k) => redis.get(k)));
  return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
}

const run = redisAvailable() ? describe : describe.skip;

run('budget reservations on a real redis-server', () => {
  jest.setTimeout(60_000);
  let server: RedisProcess;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  afterAll(async () => {
    if (redis) {
      const ended = new Promise((resolve) => redis.once('end', resolve));
      await redis.quit();
      await ended;
    }
    await server?.destroy();
  });

  it('reserves atomically: 40 concurrent reservations of $0.075 under $0.10 grant exactly 2', async () => {
    const store = createRedisBudgetStore(redis, { prefix: 'reserve:' });
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => store.reserve!('team', 0, CALL_COST, 0.1, 60_000)),
    );
    expect(answers.filter((a) => a.granted)).toHaveLength(2);
    expect(answers.filter((a) => !a.granted).every((a) => Math.abs(a.spent - 0.15) < 1e-9)).toBe(true);
    expect(await store.spent('team', 0)).toBeCloseTo(0.15, 10);
    // Settling gives the unused part back.
    expect(await store.add('team', 0, -0.1, 60_000)).toBeCloseTo(0.05, 10);
    expect((await store.reserve!('team', 0, 0.02, 0.1, 60_000)).granted).toBe(true);
  });

  it('a reservation whose reply was lost is retried without reserving twice', async () => {
    let drop = 1;
    const lossy = {
      evalsha: async (sha: string, n: number, ...args: (string | number)[]) => {
        const reply = await redis.evalsha(sha, n, ...args);
        if (args.length > n && drop-- > 0) throw new Error('Connection is closed.');
        return reply;
      },
      eval: async (script: string, n: number, ...args: (string | number)[]) => {
        const reply = await redis.eval(script, n, ...args);
        if (args.length > n && drop-- > 0) throw new Error('Connection is closed.');
        return reply;
      },
    };
    const store = createRedisBudgetStore(lossy, { prefix: 'lossy-reserve:' });
    expect(await store.reserve!('team', 0, 0.25, 1, 60_000)).toEqual({ granted: true, spent: 0.25 });
    expect(drop).toBe(-1); // the reply was dropped once, the reservation retried once
    expect(await store.spent('team', 0)).toBeCloseTo(0.25, 10);
  });

  it('40 parallel calls in one process overspend by at most one call estimate', async () => {
    const store = createRedisBudgetStore(redis, { prefix: 'one-process:' });
    const guard = budget({ maxCost: 0.1, store, request: PARALLEL_REQUEST, model: 'openai/gpt-4o' });
    let served = 0;
    let refused = 0;
    const calls = Array.from(
      { length: 40 },
      () =>
        new Observable<void>((s) =>
          stream(PARALLEL_REQUEST)
            .pipe(guard)
            .subscribe({
              complete: () => (served++, s.complete()),
              error: (e) => (e instanceof BudgetExceededError ? (refused++, s.complete()) : s.error(e)),
            }),
        ),
    );
    await lastValueFrom(merge(...calls), { defaultValue: undefined });
    // Settling writes are fire-and-forget: wait until they landed.
    for (
      let i = 0;
      i < 50 && Math.abs((await spentOf(redis, 'one-process:', 'default')) - served * CALL_COST) > 1e-9;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(served + refused).toBe(40);
    expect(served).toBe(2);
    const spent = await spentOf(redis, 'one-process:', 'default');
    expect(spent).toBeCloseTo(served * CALL_COST, 9);
    expect(spent).toBeLessThanOrEqual(0.1 + CALL_COST + 1e-9);
  });

  it('two processes sharing one budget, 20 parallel calls each, overspend by at most one call estimate', async () => {
    const startAt = Date.now() + 2500; // both processes loaded before the start line
    const args = [String(server.port), 'shared', '20', String(startAt)];
    const [a, b] = await Promise.all([worker(args), worker(args)]);
    expect(a.served + a.refused + b.served + b.refused).toBe(40);
    expect(a.served + b.served).toBe(2);
    const spent = await spentOf(redis, 'two-processes:', 'shared');
    expect(spent).toBeCloseTo((a.served + b.served) * CALL_COST, 9);
    expect(spent).toBeLessThanOrEqual(0.1 + CALL_COST + 1e-9);
  });
});
