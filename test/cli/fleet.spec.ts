/**
 * `rxllm batch … --queue`, `rxllm worker`, `rxllm batch status|collect` in one process against a
 * real redis-server and the mock server: enqueue (twice: nothing added), a worker runs the jobs,
 * status counts them, collect writes each result once and a second collect appends only what is
 * missing (a torn last line cut, a last line without newline completed).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/run';
import { createMockServer, type MockServer } from '../../src/testing';
import { freePort, redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { cliIO as io } from '../helpers/cliIO';
import { getEventListeners } from 'node:events';

const run = redisAvailable() ? describe : describe.skip;

const ids = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l).custom_id as string);

run('rxllm batch --queue / worker / status / collect (real redis-server)', () => {
  jest.setTimeout(60_000);
  let redis: RedisProcess;
  let mock: MockServer;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    redis = await startRedis();
    mock = await createMockServer();
    url = `redis://127.0.0.1:${redis.port}`;
    process.env.OPENAI_API_KEY = 'sk-test-fleet-cli';
    dir = mkdtempSync(join(tmpdir(), 'rxllm-fleet-cli-'));
  });
  afterAll(async () => {
    delete process.env.OPENAI_API_KEY;
    rmSync(dir, { recursive: true, force: true });
    await mock.close();
    await redis.destroy();
  });

  it('enqueues, works, reports and collects every result once, resumably', async () => {
    const input = join(dir, 'tickets.jsonl');
    const lines = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({
        custom_id: `t-${i}`,
        body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `q${i}` }] },
      }),
    );
    writeFileSync(input, lines.join('\n') + '\n{not json\n');
    const first = io();
    expect(await runCli(['batch', input, '--queue', url], first.io)).toBe(1); // one bad line
    const batchId = first.out().trim();
    expect(batchId).toMatch(/^tickets-[0-9a-f]{8}$/);
    expect(first.err()).toMatch(/line 13: not valid JSON/);
    expect(first.err()).toMatch(/12 jobs added, 12 in the batch/);
    const again = io();
    await runCli(['batch', input, '--queue', url], again.io);
    expect(again.out().trim()).toBe(batchId);
    expect(again.err()).toMatch(/0 jobs added, 12 in the batch/);

    const before = io();
    expect(await runCli(['batch', 'status', '--queue', url, '--batch', batchId, '--json'], before.io)).toBe(
      0,
    );
    expect(JSON.parse(before.out())).toEqual(
      expect.objectContaining({ total: 12, done: 0, remaining: 12, waiting: 12 }),
    );

    const stop = new AbortController();
    const w = io(stop.signal);
    const worker = runCli(['worker', '--queue', url, '--base-url', mock.url, '--concurrency', '4'], w.io);
    const out = join(dir, 'out.jsonl');
    const c = io();
    expect(await runCli(['batch', 'collect', '--queue', url, '--batch', batchId, '--out', out], c.io)).toBe(
      0,
    );
    stop.abort();
    expect(await worker).toBe(0);
    expect(w.err()).toMatch(/ready on queue "rxllm-batch"/);
    expect(w.err()).toMatch(/12 results recorded/);
    expect(ids(out).sort()).toEqual(lines.map((l) => JSON.parse(l).custom_id).sort());
    const record = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]);
    expect(record).toEqual(
      expect.objectContaining({
        error: null,
        attempts: 1,
        cost: expect.any(Number),
        usage: expect.any(Object),
      }),
    );
    expect(record.response.status_code).toBe(200);

    const status = io();
    await runCli(['batch', 'status', '--queue', url, '--batch', batchId], status.io);
    expect(status.out()).toMatch(
      new RegExp(`^${batchId}: 12/12 \\| 12 ok, 0 failed .* done \\| cost \\$0\\.\\d+ \\| 12 calls sent\\n$`),
    );

    // Resume: the last line torn (a crash mid-write) and another line lost: both written again, once.
    const text = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    writeFileSync(out, text.slice(0, 9).join('\n') + '\n' + text[10].slice(0, 20));
    const resumed = io();
    await runCli(['batch', 'collect', '--queue', url, '--batch', batchId, '--out', out], resumed.io);
    expect(resumed.err()).toMatch(/last line of .* was cut/);
    expect(resumed.err()).toMatch(/3 results written/);
    expect(ids(out).sort()).toEqual(
      ids(out)
        .filter((x, i, a) => a.indexOf(x) === i)
        .sort(),
    );
    expect(ids(out)).toHaveLength(12);
    // A whole last line without its newline (edited by hand) gets one before anything is appended.
    writeFileSync(out, text.slice(0, 11).join('\n'));
    await runCli(
      ['batch', 'collect', '--queue', url, '--batch', batchId, '--out', out, '--no-follow'],
      io().io,
    );
    expect(ids(out)).toHaveLength(12);
    appendFileSync(out, ''); // still valid JSONL
    expect(readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
  });

  it('collect follows a batch nobody works on, one abort listener at a time, and stops on Ctrl-C (130)', async () => {
    const input = join(dir, 'idle.jsonl');
    writeFileSync(
      input,
      JSON.stringify({
        custom_id: 'i-0',
        body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'q' }] },
      }),
    );
    const queued = io();
    await runCli(['batch', input, '--queue', url, '--queue-name', 'idle'], queued.io);
    const batchId = queued.out().trim();
    const stop = new AbortController();
    const c = io(stop.signal);
    const collecting = runCli(
      [
        'batch',
        'collect',
        '--queue',
        url,
        '--queue-name',
        'idle',
        '--batch',
        batchId,
        '--out',
        join(dir, 'idle-out.jsonl'),
      ],
      c.io,
    );
    // Several polls (500 ms apart) go by: each one's listener is gone when its wait ends.
    let listeners: number;
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      listeners = getEventListeners(stop.signal, 'abort').length;
    } finally {
      stop.abort(); // also when the wait throws: a follow left running would keep the suite open
    }
    expect(await collecting).toBe(130);
    expect(listeners).toBeLessThanOrEqual(1);
    expect(c.err()).toMatch(/0 results written; stopped \(re-run to resume\)/);
  });

  it('rxllm worker (its own process) stops on SIGTERM, exit 0, saying what it recorded', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, '..', '..', 'src', 'cli', 'main.ts'),
        'worker',
        '--queue',
        url,
        '--queue-name',
        'sigterm',
      ],
      { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sent && /ready on queue "sigterm"/.test(err)) sent = child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(err).toMatch(/stopping after the jobs in flight[\s\S]*0 results recorded/);
  });

  it('says what is wrong with the flags, and which batch is unknown', async () => {
    const a = io();
    expect(await runCli(['batch', 'status', '--queue', url], a.io)).toBe(2);
    expect(a.err()).toMatch(/status needs --batch ID/);
    const b = io();
    expect(await runCli(['worker'], b.io)).toBe(2);
    expect(b.err()).toMatch(/--queue redis:\/\//);
    const c = io();
    expect(await runCli(['worker', '--queue', url, '--concurrency', '0'], c.io)).toBe(2);
    expect(c.err()).toMatch(/--concurrency must be a whole number/);
    const d = io();
    expect(await runCli(['batch', 'collect', '--queue', url, '--batch', 'nope', '--no-follow'], d.io)).toBe(
      1,
    );
    expect(d.err()).toMatch(/no batch "nope"/);
    const e = io();
    expect(await runCli(['batch', 'status', '--queue', 'http://x', '--batch', 'b'], e.io)).toBe(2);
    expect(e.err()).toMatch(/--queue must be a redis:\/\/ or rediss:\/\/ URL/);
    // Nobody listens there: said at once (not every command waiting for a reconnect), password unsaid.
    const nobody = `redis://:secret-pw@127.0.0.1:${await freePort()}`;
    for (const argv of [
      ['batch', 'status', '--queue', nobody, '--batch', 'b'],
      ['worker', '--queue', nobody],
    ]) {
      const f = io();
      expect(await runCli(argv, f.io)).toBe(1);
      expect(f.err()).toMatch(/cannot reach Redis at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      expect(f.err()).not.toMatch(/secret-pw/);
    }
  });
});

describe('rxllm batch --help', () => {
  it('points to the fleet: --queue, status and collect, and --routed for router groups', async () => {
    const plain = io();
    expect(await runCli(['batch', '--help'], plain.io)).toBe(0);
    expect(plain.out()).toMatch(/--queue URL/);
    expect(plain.out()).toMatch(/rxllm batch status\|collect --queue URL --batch ID/);
    const queued = io();
    expect(await runCli(['batch', '--queue', 'redis://127.0.0.1:1', '--help'], queued.io)).toBe(0);
    expect(queued.out()).toMatch(/--routed/);
    expect(queued.out()).toMatch(/bare model name is taken as openai\//);
  });
});
