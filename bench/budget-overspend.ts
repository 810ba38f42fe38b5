/**
 * Budget under concurrency: 40 calls started at once under `budget({ maxCost: 0.10 })`, each
 * costing $0.075 (10,000 prompt + 5,000 output tokens of openai/gpt-4o, as the mock server on
 * 127.0.0.1 reports them after 200 ms). Measures the calls served, the spend and the overspend
 * past maxCost, with the check only (no `request`: how `budget` worked before reservations) and
 * with reservations (`request`), on the in-memory store and on a real redis-server (one process,
 * and two processes of 20 calls sharing the budget).
 *
 *   npx tsx bench/budget-overspend.ts [--rounds 5]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { lastValueFrom, merge, Observable } from 'rxjs';
import {
  BudgetExceededError,
  createAgent,
  createMemoryBudgetStore,
  stream,
  type BudgetStore,
  type ChatRequest,
} from '../src';
import { budget } from '../operators';
import { createRedisBudgetStore } from '../src/redis';
import { createMockServer } from '../src/testing';
import { startRedis } from '../test/helpers/redisServer';
import { CALL_COST, PARALLEL_REQUEST } from '../test/redis/budgetRequest';

const CALLS = 40;
const MAX_COST = 0.1;
const LATENCY_MS = 200;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;

interface Run {
  served: number;
  spent: number;
  ms: number;
}

async function parallel(
  store: BudgetStore,
  withRequest: boolean,
  url: string,
  agent: ReturnType<typeof createAgent>,
) {
  const request: ChatRequest = {
    model: 'openai/gpt-4o',
    messages: PARALLEL_REQUEST.messages,
    max_tokens: PARALLEL_REQUEST.max_tokens,
  };
  const guard = budget({
    maxCost: MAX_COST,
    store,
    key: 'bench',
    request: withRequest ? request : undefined,
  });
  let served = 0;
  const calls = Array.from(
    { length: CALLS },
    () =>
      new Observable<void>((s) =>
        stream(request, { baseURL: url, apiKey: 'sk-test-bench', dispatcher: agent })
          .pipe(guard)
          .subscribe({
            complete: () => (served++, s.complete()),
            error: (e) => (e instanceof BudgetExceededError ? s.complete() : s.error(e)),
          }),
      ),
  );
  await lastValueFrom(merge(...calls), { defaultValue: undefined });
  return served;
}

function twoProcesses(port: number, key: string): Promise<number> {
  const root = join(__dirname, '..');
  const startAt = Date.now() + 2500;
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(
        join(root, 'node_modules', '.bin', 'tsx'),
        [
          join(root, 'test', 'redis', 'budgetWorker.ts'),
          String(port),
          key,
          String(CALLS / 2),
          String(startAt),
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.once('exit', (code) =>
        code === 0 ? resolve(JSON.parse(out.trim()).served) : reject(new Error(out)),
      );
    });
  return Promise.all([one(), one()]).then(([a, b]) => a + b);
}

async function spentIn(redis: Redis, pattern: string): Promise<number> {
  const keys = (await redis.keys(pattern)).filter((k) => !k.includes(':w:'));
  const values = await Promise.all(keys.map((k) => redis.get(k)));
  return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
}

async function main(): Promise<void> {
  const server = await createMockServer();
  server.setDefault(() => ({
    text: 'done',
    usage: { prompt_tokens: 10_000, completion_tokens: 5000, total_tokens: 15_000 },
    latencyMs: LATENCY_MS,
  }));
  const agent = createAgent();
  const redisServer = await startRedis();
  const redis = new Redis({ host: '127.0.0.1', port: redisServer.port, maxRetriesPerRequest: 1 });
  const rows: [string, () => Promise<Run>][] = [];
  const timed = async (run: () => Promise<{ served: number; spent: number }>): Promise<Run> => {
    const t0 = performance.now();
    const r = await run();
    return { ...r, ms: performance.now() - t0 };
  };
  let n = 0;
  for (const withRequest of [false, true]) {
    const label = withRequest ? 'reserve (request given)' : 'check only (no request: before)';
    rows.push([
      `memory, ${label}`,
      () =>
        timed(async () => {
          const store = createMemoryBudgetStore();
          const served = await parallel(store, withRequest, server.url, agent);
          let spent = 0;
          for (let w = 0; w < 2; w++)
            spent += store.spent('bench', Math.floor(Date.now() / 86_400_000 - w) * 86_400_000);
          return { served, spent };
        }),
    ]);
    rows.push([
      `Redis, one process, ${label}`,
      () =>
        timed(async () => {
          const prefix = `bench${++n}:`;
          const served = await parallel(
            createRedisBudgetStore(redis, { prefix }),
            withRequest,
            server.url,
            agent,
          );
          await new Promise((r) => setTimeout(r, 50)); // settling writes are fire-and-forget
          return { served, spent: await spentIn(redis, `${prefix}budget:bench:*`) };
        }),
    ]);
  }
  rows.push([
    'Redis, two processes x 20 calls, reserve (mock provider, 5 ms)',
    () =>
      timed(async () => {
        const key = `bench-two-${++n}`;
        const served = await twoProcesses(redisServer.port, key);
        return { served, spent: await spentIn(redis, `two-processes:budget:${key}:*`) };
      }),
  ]);

  const results = rows.map(() => [] as Run[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, run]] of rows.entries()) results[i].push(await run());
  }
  process.stdout.write(
    `node ${process.version}, ${rounds} rounds, ${CALLS} calls at once, maxCost $${MAX_COST}, $${CALL_COST} per call (estimate = cost), ${LATENCY_MS} ms latency\n\n`,
  );
  process.stdout.write(
    '| setup | served (each round) | spent USD (max) | overspend past maxCost USD (max) | wall ms median |\n|---|---|---|---|---|\n',
  );
  for (const [i, [name]] of rows.entries()) {
    const runs = results[i];
    const spent = Math.max(...runs.map((r) => r.spent));
    const wall = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    process.stdout.write(
      `| ${name} | ${runs.map((r) => r.served).join(', ')} of ${CALLS} | ${spent.toFixed(4)} | ${Math.max(0, spent - MAX_COST).toFixed(4)} | ${wall.toFixed(0)} |\n`,
    );
  }
  await agent.close();
  await server.close();
  redis.disconnect();
  await redisServer.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
