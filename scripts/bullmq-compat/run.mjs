// Run by scripts/bullmq-compat/check.sh in a scratch app holding the packed rxllm and one bullmq of the
// peer range (with ioredis and rxjs), against a redis-server it starts on a free port and a mock
// upstream on 127.0.0.1. What a user of docs/fleet.md does:
//   1. from code: enqueueBatch (twice: nothing added the second time), createBatchWorker with a shared
//      rate limit and budget (the Redis stores on the queue's own client), batchStatus,
//      readBatchResults page by page, a job's return value, and createBatchProcessor under the app's
//      own `new Worker`;
//   2. the CLI fleet: `rxllm batch in.jsonl --queue`, an `rxllm worker` SIGKILLed with calls in flight,
//      a second worker that picks its jobs up (BullMQ's stalled-job check), `rxllm batch collect` until
//      every request has its one result, `rxllm batch status --json`, and SIGTERM stopping a worker.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  batchJobId,
  batchStatus,
  createBatchProcessor,
  createBatchWorker,
  enqueueBatch,
  readBatchResults,
} from 'rxllm/bullmq';
import { createMockServer } from 'rxllm/testing';
import { REDIS_SERVER, redisAvailable, startRedis } from './redis.mjs';

const app = process.cwd();
const version = JSON.parse(readFileSync(join(app, 'node_modules/bullmq/package.json'), 'utf8')).version;
const label = `bullmq ${version}`;
const fail = (message) => {
  throw new Error(`${label}: ${message}`);
};
const check = (ok, message) => ok || fail(message);
const LATENCY_MS = 300;
const env = { ...process.env, OPENAI_API_KEY: 'sk-test-bullmq-compat' };

/** Polls `read` until `done(value)`; fails saying what it waited for after `ms`. */
async function until(read, done, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) fail(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Each id once, every id there, each answer the upstream's answer to its own request. */
function checkRecords(records, lines, what) {
  const ids = records.map((r) => r.custom_id);
  check(new Set(ids).size === ids.length, `${what}: a custom_id recorded twice`);
  check(ids.length === lines.length, `${what}: ${ids.length} results for ${lines.length} requests`);
  const byId = new Map(records.map((r) => [r.custom_id, r]));
  for (const line of lines) {
    const r = byId.get(line.custom_id) ?? fail(`${what}: no result for ${line.custom_id}`);
    const content = line.body.messages[0].content;
    if (content.startsWith('refuse')) {
      check(r.error?.status === 400 && r.response === null, `${what}: ${r.custom_id} should fail with 400`);
      continue;
    }
    const text = r.response?.body?.choices?.[0]?.message?.content;
    check(text === `echo ${content}`, `${what}: ${r.custom_id} answered ${JSON.stringify(text)}`);
  }
}

const lineOf = (id, content, model = 'openai/gpt-4o-mini') => ({
  custom_id: id,
  body: { model, messages: [{ role: 'user', content }] },
});

async function fromCode(port, mockUrl) {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queue = new Queue('compat-code', { connection });
  const options = { baseURL: mockUrl, apiKey: 'sk-test-bullmq-compat' };
  const lines = Array.from({ length: 12 }, (_, i) => lineOf(`c${i}`, i === 11 ? 'refuse c11' : `code c${i}`));
  const first = await enqueueBatch(queue, lines, { batchId: 'code' });
  check(first.added === 12 && first.total === 12, `enqueueBatch: ${JSON.stringify(first)}`);
  const again = await enqueueBatch(queue, lines, { batchId: 'code' });
  check(again.added === 0 && again.total === 12, `enqueueBatch again: ${JSON.stringify(again)}`);
  const worker = createBatchWorker(queue, {
    concurrency: 4,
    retries: 1,
    rateLimit: { requestsPerMinute: 60_000, key: 'compat' },
    budget: { maxCost: 10, key: 'compat' },
    options,
  });
  const s = await until(
    () => batchStatus(queue, 'code'),
    (st) => st.remaining === 0,
    'batch "code"',
  );
  await worker.close();
  check(s.done === 11 && s.failed === 1 && s.sent === 12, `batchStatus: ${JSON.stringify(s)}`);
  check(s.cost > 0, `batchStatus: no cost recorded (${s.cost})`);
  const records = [];
  for (let after = '-'; ;) {
    const page = await readBatchResults(queue, 'code', { after, count: 5 });
    if (page.records.length === 0) break;
    check(page.records.length <= 5, 'readBatchResults: a page larger than count');
    records.push(...page.records);
    after = page.next;
  }
  checkRecords(records, lines, 'readBatchResults');
  const job = await queue.getJob(batchJobId('code', 'c3'));
  check(job?.returnvalue?.custom_id === 'c3', `job c3's return value: ${JSON.stringify(job?.returnvalue)}`);

  // The job function under a Worker the app makes itself (as a @nestjs/bullmq WorkerHost does).
  const own = lines.slice(0, 4).map((l, i) => lineOf(`o${i}`, `own o${i}`));
  await enqueueBatch(queue, own, { batchId: 'own' });
  const ownWorker = new Worker('compat-code', createBatchProcessor(queue, { options }), {
    connection,
    concurrency: 2,
  });
  await until(
    () => batchStatus(queue, 'own'),
    (st) => st.remaining === 0,
    'batch "own"',
  );
  await ownWorker.close();
  checkRecords((await readBatchResults(queue, 'own')).records, own, 'createBatchProcessor');
  await queue.close();
  console.log(`${label}: from code ok (12 + 4 jobs, 1 refused, cost $${s.cost.toFixed(6)})`);
}

const CLI = join(app, 'node_modules/rxllm/dist/src/cli/main.js');
const children = [];
/** The installed CLI in its own process (node itself, so a SIGKILL reaches the worker). */
function spawnCli(args) {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => (child.out += d));
  child.stderr.on('data', (d) => (child.err += d));
  child.exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  return child;
}
async function cli(args, ms = 30_000) {
  const child = spawnCli(args);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.out, stderr: child.err };
}
async function startWorker(args) {
  const child = spawnCli(['worker', ...args]);
  await until(
    () => child.err,
    (e) => /ready on queue/.test(e) || child.exitCode !== null,
    'a worker',
  );
  check(child.exitCode === null, `rxllm worker exited: ${child.err.slice(-400)}`);
  return child;
}

async function cliFleet(port, mockUrl, arrivals, dir) {
  const url = `redis://127.0.0.1:${port}`;
  const N = 40;
  // Bare model names, as OpenAI's own batch files have them (taken as openai/…).
  const lines = Array.from({ length: N }, (_, i) => lineOf(`f${i}`, `fleet f${i}`, 'gpt-4o-mini'));
  const input = join(dir, 'fleet.jsonl');
  writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const enqueued = await cli(['batch', input, '--queue', url, '--batch', 'fleet']);
  check(enqueued.code === 0 && /40 jobs added, 40 in the batch/.test(enqueued.stderr), enqueued.stderr);

  const flags = ['--queue', url, '--base-url', mockUrl, '--lock-ms', '1000', '--retries', '0'];
  const a = await startWorker([...flags, '--concurrency', '4']);
  const redis = new Redis({ host: '127.0.0.1', port });
  const key = (k) => `bull:rxllm-batch:rxllm-batch:{fleet}:${k}`;
  // Alone on the queue, so every call in flight is the first worker's: kill it once it has recorded
  // some results and has calls the upstream is still answering.
  const inFlight = () => arrivals.filter((x) => performance.now() - x.t < LATENCY_MS * 0.75).length;
  await until(
    async () => ({ done: Number((await redis.hget(key('stats'), 'done')) ?? 0), inFlight: inFlight() }),
    (st) => st.done >= 8 && st.inFlight >= 2,
    'the first worker to be mid-run',
  );
  a.kill('SIGKILL');
  await a.exited;
  const recorded = new Set(await redis.hkeys(key('results')));
  const lost = [...new Set(arrivals.map((x) => x.content))].filter((c) => !recorded.has(c.split(' ')[1]));
  check(lost.length >= 1, 'no call was in flight when the worker was killed');

  const b = await startWorker([...flags, '--concurrency', '8']);
  const out = join(dir, 'out.jsonl');
  const collected = await cli(['batch', 'collect', '--queue', url, '--batch', 'fleet', '--out', out]);
  check(collected.code === 0, `rxllm batch collect: exit ${collected.code}: ${collected.stderr.slice(-400)}`);
  const records = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  checkRecords(records, lines, 'rxllm batch collect');
  for (const content of lost) {
    const sent = arrivals.filter((x) => x.content === content).length;
    check(sent >= 2, `"${content}" was in flight in the killed worker, sent ${sent} time(s) in all`);
  }
  const status = await cli(['batch', 'status', '--queue', url, '--batch', 'fleet', '--json']);
  const s = JSON.parse(status.stdout);
  // The killed worker counted each call before sending it: its unrecorded calls are `resent`, at
  // least those the upstream saw, at most its concurrency (plus any call sent twice because a busy
  // machine let a live worker's 1 s lock lapse: the upstream saw those twice too).
  check(s.done === N && s.remaining === 0, `status: ${status.stdout}`);
  const twice = arrivals.length - N - lost.length;
  check(
    s.resent >= lost.length && s.resent <= 4 + twice,
    `status: resent ${s.resent}, ${lost.length} calls lost in the kill, ${twice} more sent twice`,
  );
  b.kill('SIGTERM');
  const code = await b.exited;
  check(
    code === 0 && /results recorded/.test(b.err),
    `rxllm worker on SIGTERM: exit ${code}: ${b.err.slice(-400)}`,
  );
  redis.disconnect();
  console.log(
    `${label}: CLI fleet ok (${N} jobs, a worker SIGKILLed with ${lost.length} calls in flight, re-sent by the other; ${s.resent} resent)`,
  );
}

if (!redisAvailable()) {
  console.log(`${label}: not checked: ${REDIS_SERVER} not found (apt-get install redis-server)`);
  process.exit(0);
}
const started = performance.now();
const redis = await startRedis();
const mock = await createMockServer();
const arrivals = [];
mock.setDefault((req) => {
  const content = String(req.body.messages[0].content);
  if (content.startsWith('fleet')) arrivals.push({ content, t: performance.now() });
  if (content.startsWith('refuse')) return { status: 400 };
  const usage = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 };
  return { text: `echo ${content}`, latencyMs: LATENCY_MS, usage };
});
const dir = mkdtempSync(join(tmpdir(), 'rxllm-bullmq-compat-'));
let failed = false;
try {
  await fromCode(redis.port, mock.url);
  await cliFleet(redis.port, mock.url, arrivals, dir);
  console.log(`${label}: ok in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await mock.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
// BullMQ's and ioredis' timers may outlive a failed run: exit rather than wait for them.
process.exit(failed ? 1 : 0);
