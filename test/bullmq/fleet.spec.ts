/**
 * The fleet proof: a real redis-server, 4 worker PROCESSES (`rxllm worker`, the real CLI under tsx),
 * 10,000 requests against a mock upstream with 200 ms latency and one 60,000 tpm limit shared by the
 * fleet (a router deployment's `tpm`, on the Redis rate-limit store). One worker is SIGKILLed mid-run
 * and a fifth started: every custom_id gets exactly one result, the tpm bound holds across the fleet
 * (checked from the upstream's own arrival times and token counts), and the calls sent again after the
 * kill are counted.
 *
 * Size: 8 tokens per request (4 for the message + 1 of text + max_tokens 3), 80,000 tokens in all. The
 * shared bucket is emptied before the workers start, so the limit paces the whole run: 1,000 tokens/s
 * = 125 requests/s, ~80 s (+ ~10 s to start) on an idle 2-core machine. The fleet could go well above
 * that: 4 workers × 20 in flight / 200 ms = 400 requests/s ideal, ~260/s measured unlimited at load
 * 10 (BENCHMARKS.md), 2-3× the allowed rate. So the test fails both ways: the upstream's tokens,
 * replayed through a token bucket of the limit's size and rate starting empty, never go below its
 * margin (the bound held in every window), and the fleet used ≥ 80 % of what the limit allowed (the
 * limit was reached: a limiter that does not limit, or a fleet too slow to meet it, fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { estimateRequestTokens, type ChatRequest } from 'rxllm';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { runCli } from '../../src/cli/run';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';

const REQUESTS = 10_000;
const TPM = 60_000;
const LATENCY_MS = 200;
/** The run's own limit, before jest's, so a run that does not end says where it stood. */
const DEADLINE_MS = 540_000;
const ROOT = resolve(__dirname, '..', '..');
const run = redisAvailable() ? describe : describe.skip;

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

/** Starts `rxllm worker` in its own process; resolves once it says it is ready. */
function startWorker(args: string[]): Promise<ChildProcess> {
  // node itself with tsx's loader, not the tsx binary: that one runs the worker in a child process,
  // which a SIGKILL to it would leave running.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'worker', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: 'sk-test-fleet-proof' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Promise((ok, fail) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      if (/ready on queue/.test(err)) ok(child);
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      fail(new Error(`worker exited (${code}) before it was ready: ${err.slice(-500)}`)),
    );
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
  );

run('a fleet of 4 worker processes on BullMQ (real redis-server, 10,000 requests)', () => {
  jest.setTimeout(600_000);
  let redis: RedisProcess;
  let mock: MockServer;
  let dir: string;
  const workers: ChildProcess[] = [];
  const arrivals: { t: number; tokens: number; id: string }[] = [];
  let drainedAt = 0;
  /** Arrival times per worker (each sends an x-fleet-worker header): who has calls in flight now. */
  const lastArrivals: Record<string, number[]> = {};
  const inFlight = (worker: string) =>
    (lastArrivals[worker] ?? []).filter((t) => performance.now() - t < LATENCY_MS * 0.75).length;

  beforeAll(async () => {
    redis = await startRedis();
    mock = await createMockServer();
    mock.setDefault((req) => {
      const body = req.body as MockChatBody;
      const tokens = estimateRequestTokens(body as unknown as ChatRequest);
      const t = performance.now();
      arrivals.push({ t, tokens, id: String(body.messages[0].content) });
      const worker = req.headers['x-fleet-worker'];
      if (worker) (lastArrivals[worker] ??= []).push(t);
      // Usage as the limiter estimates it: what a request is charged is what it used (no correction).
      const completion = Number(body.max_tokens);
      return {
        text: 'ok',
        latencyMs: LATENCY_MS,
        usage: { prompt_tokens: tokens - completion, completion_tokens: completion, total_tokens: tokens },
      };
    });
    dir = mkdtempSync(join(tmpdir(), 'rxllm-fleet-proof-'));
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await Promise.all(workers.map(exited));
    rmSync(dir, { recursive: true, force: true });
    await mock.close();
    await redis.destroy();
  });

  it('records 10,000 results exactly once through a SIGKILL, within one shared tpm limit', async () => {
    const url = `redis://127.0.0.1:${redis.port}`;
    const input = join(dir, 'in.jsonl');
    writeFileSync(
      input,
      Array.from({ length: REQUESTS }, (_, i) =>
        JSON.stringify({
          custom_id: `r${i}`,
          body: { model: 'classify', messages: [{ role: 'user', content: `t${i % 1000}` }], max_tokens: 3 },
        }),
      ).join('\n'),
    );
    // One router config per worker, alike but for a header naming the worker to the upstream.
    const routerFor = (worker: number) => {
      const file = join(dir, `router-${worker}.json`);
      const options = {
        baseURL: mock.url,
        apiKey: 'sk-test-fleet-proof',
        headers: { 'x-fleet-worker': String(worker) },
      };
      writeFileSync(
        file,
        JSON.stringify({
          groups: { classify: [{ model: 'openai/gpt-4o-mini', id: 'fleet', tpm: TPM, options }] },
        }),
      );
      return file;
    };
    const enqueue = io();
    expect(await runCli(['batch', input, '--queue', url, '--batch', 'proof', '--routed'], enqueue.io)).toBe(
      0,
    );
    expect(enqueue.err()).toMatch(new RegExp(`${REQUESTS} jobs added, ${REQUESTS} in the batch`));

    const args = (worker: number) => [
      '--queue',
      url,
      '--router',
      routerFor(worker),
      '--concurrency',
      '20',
      '--lock-ms',
      '10000',
    ];
    // The shared bucket starts empty (the Redis rate-limit store's record: requests, tokens, time,
    // paused-until), so the limit, not the first full bucket, paces the run from the first request.
    const drain = new Redis({ host: '127.0.0.1', port: redis.port });
    drainedAt = performance.now();
    await drain.set('rxllm:ratelimit:deployment:fleet', `inf,0,${Date.now()},0|drained`, 'PX', 3_600_000);
    drain.disconnect();
    workers.push(...(await Promise.all([0, 1, 2, 3].map((w) => startWorker(args(w))))));

    // Collect as it runs (the CLI, in this process), while one worker is killed mid-run.
    const out = join(dir, 'out.jsonl');
    const collecting = io();
    const collected = runCli(
      ['batch', 'collect', '--queue', url, '--batch', 'proof', '--out', out],
      collecting.io,
    );
    const client = new Redis({ host: '127.0.0.1', port: redis.port });
    const statsKey = 'bull:rxllm-batch:rxllm-batch:{proof}:stats';
    try {
      // Killed a fifth of the way in, while the upstream is answering calls of that worker: those
      // calls were sent and their results cannot be recorded by it.
      while (Number((await client.hget(statsKey, 'done')) ?? 0) < REQUESTS / 5 || inFlight('0') < 2)
        await new Promise((r) => setTimeout(r, 10));
      workers[0].kill('SIGKILL');
      await exited(workers[0]);
      workers.push(await startWorker(args(4)));
      // Progress every 5 s, printed if the run does not end in time (a busy machine: says where it stood).
      const seen: string[] = [];
      let ended = false;
      const watch = (async () => {
        while (!ended) {
          await new Promise((r) => setTimeout(r, 5000));
          const st = await client.hgetall(statsKey);
          const failedJobs = await client.zcard('bull:rxllm-batch:failed');
          seen.push(
            `${new Date().toISOString()} ${JSON.stringify(st)} bullmq-failed=${failedJobs} upstream=${arrivals.length}`,
          );
        }
      })();
      const code = await Promise.race([
        collected,
        new Promise<string>((r) => setTimeout(() => r('timeout'), DEADLINE_MS).unref()),
      ]);
      ended = true;
      await watch;
      if (code !== 0) {
        const failed = readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .filter((r) => r.error);
        console.log(
          seen.join('\n'),
          collecting.err().slice(-2000),
          failed.length,
          JSON.stringify(failed.slice(0, 3)),
        );
      }
      expect(code).toBe(0);

      // Exactly once: 10,000 lines, 10,000 distinct ids, every input id; Redis agrees.
      const ids = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).custom_id as string);
      expect(ids).toHaveLength(REQUESTS);
      expect(new Set(ids).size).toBe(REQUESTS);
      expect(await client.hlen('bull:rxllm-batch:rxllm-batch:{proof}:results')).toBe(REQUESTS);
      expect(await client.xlen('bull:rxllm-batch:rxllm-batch:{proof}:stream')).toBe(REQUESTS);
    } finally {
      client.disconnect();
    }

    const status = io();
    await runCli(['batch', 'status', '--queue', url, '--batch', 'proof', '--json'], status.io);
    const s = JSON.parse(status.out());
    expect(s).toEqual(expect.objectContaining({ total: REQUESTS, done: REQUESTS, failed: 0, remaining: 0 }));
    // The upstream saw every request at least once; what it saw beyond that is what the killed worker
    // had sent, which the fleet counted as they started (so it counts at least as many: also those still waiting for a permit).
    expect(arrivals.length).toBeGreaterThanOrEqual(REQUESTS);
    expect(new Set(arrivals.map((a) => a.id)).size).toBe(1000);
    const extra = arrivals.length - REQUESTS;
    expect(s.sent).toBe(REQUESTS + s.resent);
    expect(s.resent).toBeGreaterThanOrEqual(extra);
    expect(s.resent).toBeGreaterThan(0); // the killed worker had calls in flight
    expect(s.resentCostEstimate).toBeGreaterThan(0);

    // The tpm bound across the fleet, from the upstream's clock: the arrivals replayed through a
    // token bucket of the limit's size and rate, empty when the test emptied the shared one. A request
    // arrives after its permit, so the replay is never stricter than the limiter; it may go below 0
    // only by the margin (2 % of the limit: rounding of the waits, the clocks of 6 processes).
    arrivals.sort((a, b) => a.t - b.t);
    const rate = TPM / 60_000; // tokens per ms
    let level = 0;
    let lowest = 0;
    let prev = drainedAt;
    let sum = 0;
    for (const a of arrivals) {
      level = Math.min(TPM, level + rate * (a.t - prev)) - a.tokens;
      prev = a.t;
      sum += a.tokens;
      lowest = Math.min(lowest, level);
    }
    expect(lowest).toBeGreaterThanOrEqual(-0.02 * TPM);
    // The limit was reached: the fleet sent at least 80 % of what the limit allowed from the drain to
    // the last arrival (the time to start the workers counts against it).
    const seconds = (arrivals[arrivals.length - 1].t - drainedAt) / 1000;
    const allowed = (TPM / 60) * seconds;
    expect(sum / allowed).toBeGreaterThanOrEqual(0.8);
    // The busiest 60 s, for the log: about the limit (the bucket never held much).
    let busiest = 0;
    for (let i = 0, j = 0, inWindow = 0; j < arrivals.length; j++) {
      inWindow += arrivals[j].tokens;
      while (arrivals[j].t - arrivals[i].t > 60_000) inWindow -= arrivals[i++].tokens;
      busiest = Math.max(busiest, inWindow);
    }
    console.log(
      `fleet proof: ${REQUESTS} results once each; ${arrivals.length} upstream requests, ${s.resent} calls counted as re-sent after the SIGKILL (${extra} reached the upstream), ~$${s.resentCostEstimate.toFixed(6)} estimated for them; ${sum} tokens in ${seconds.toFixed(1)} s from the drain (the limit allowed ${Math.round(allowed)}: ${((sum / allowed) * 100).toFixed(1)} % used); replayed bucket lowest ${Math.round(lowest)} tokens; busiest 60 s: ${busiest} tokens`,
    );
  });
});
