/**
 * The batch fleet on BullMQ (rxllm/bullmq): throughput of 1, 2 and 4 `rxllm worker` processes (no
 * rate limit) against a mock upstream with 200 ms latency, next to the ideal (concurrency × workers /
 * latency); then the queue's cost per request: the same requests with 0 ms latency through one worker
 * and through the in-process `rxllm batch` at the same concurrency. A real redis-server on a free port
 * (REDIS_SERVER, default /usr/bin/redis-server); workers are `node --import tsx src/cli/main.ts worker`.
 *
 *   npx tsx bench/fleet.ts [--requests 2000] [--concurrency 20] [--rounds 1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../src/cli/run';
import { createMockServer } from '../src/testing';
import { startRedis } from '../test/helpers/redisServer';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg('requests', 2000);
const CONCURRENCY = arg('concurrency', 20);
const ROUNDS = arg('rounds', 1);
const LATENCY_MS = 200;
const ROOT = resolve(__dirname, '..');
const quiet = { stdout: { write: () => true }, stderr: { write: () => true } };

function startWorker(url: string, baseURL: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'worker',
      '--queue',
      url,
      '--base-url',
      baseURL,
      '--concurrency',
      String(CONCURRENCY),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: 'sk-test-bench' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Promise((ok, fail) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/ready on queue/.test(err)) ok(child);
    });
    child.once('exit', (code) => fail(new Error(`worker exited (${code}): ${err}`)));
  });
}

async function stopAll(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map((w) => new Promise<void>((r) => (w.once('exit', () => r()), w.kill('SIGTERM')))),
  );
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const url = `redis://127.0.0.1:${redis.port}`;
  const slow = await createMockServer({ defaultScript: { text: 'ok', latencyMs: LATENCY_MS } });
  const fast = await createMockServer({ defaultScript: { text: 'ok' } });
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-bench-fleet-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(
    input,
    Array.from({ length: REQUESTS }, (_, i) =>
      JSON.stringify({
        custom_id: `r${i}`,
        body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `t${i}` }], max_tokens: 5 },
      }),
    ).join('\n'),
  );
  let batchNo = 0;
  /** Seconds from the workers being ready (jobs already queued) to the last result recorded. */
  const fleetRun = async (workers: number, baseURL: string): Promise<number> => {
    const batchId = `b${++batchNo}`;
    await runCli(['batch', input, '--queue', url, '--batch', batchId], quiet);
    const started = await Promise.all(Array.from({ length: workers }, () => startWorker(url, baseURL)));
    const t0 = performance.now();
    // collect follows the batch to its end: the time includes reading every result back.
    await runCli(
      ['batch', 'collect', '--queue', url, '--batch', batchId, '--out', join(dir, `${batchId}.jsonl`)],
      quiet,
    );
    const seconds = (performance.now() - t0) / 1000;
    await stopAll(started);
    return seconds;
  };
  const rows: string[] = [];
  const load = () =>
    loadavg()
      .map((n) => n.toFixed(1))
      .join(' ');
  try {
    console.log(`load before: ${load()}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of [1, 2, 4]) {
        const s = await fleetRun(workers, slow.url);
        const ideal = (CONCURRENCY * workers) / (LATENCY_MS / 1000);
        const rate = REQUESTS / s;
        rows.push(
          `| ${workers} | ${CONCURRENCY} | ${s.toFixed(2)} s | ${rate.toFixed(0)} req/s | ${ideal} req/s | ${((rate / ideal) * 100).toFixed(0)} % |`,
        );
        console.log(rows[rows.length - 1]);
      }
      // The queue's own cost: no latency upstream, one worker vs the in-process batch, same concurrency.
      const queued = await fleetRun(1, fast.url);
      const t0 = performance.now();
      await runCli(
        [
          'batch',
          input,
          '--base-url',
          fast.url,
          '-m',
          'openai/gpt-4o-mini',
          '--concurrency',
          String(CONCURRENCY),
          '--out',
          join(dir, `local${round}.jsonl`),
        ],
        { ...quiet, env: process.env },
      );
      const local = (performance.now() - t0) / 1000;
      const line = `0 ms upstream, concurrency ${CONCURRENCY}: 1 worker ${queued.toFixed(2)} s (${((queued / REQUESTS) * 1000).toFixed(2)} ms/request), in-process rxllm batch ${local.toFixed(2)} s (${((local / REQUESTS) * 1000).toFixed(2)} ms/request): the queue adds ${(((queued - local) / REQUESTS) * 1000).toFixed(2)} ms of wall per request`;
      rows.push(line);
      console.log(line);
    }
    console.log(`load after: ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await slow.close();
    await fast.close();
    await redis.destroy();
  }
}

process.env.OPENAI_API_KEY ??= 'sk-test-bench';
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
