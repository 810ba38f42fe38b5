/**
 * rxllm/bullmq in one process against a real redis-server and the mock server: one job per line,
 * enqueuing twice adds nothing, results recorded once per custom_id with usage and cost, failures
 * are results, a job whose result is recorded makes no call, and the status counts.
 */
import { Queue, type Worker } from 'bullmq';
import Redis from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  batchJobId,
  batchStatus,
  createBatchWorker,
  enqueueBatch,
  readBatchResults,
  type BatchLine,
  type BatchRecord,
} from 'rxllm/bullmq';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';

const run = redisAvailable() ? describe : describe.skip;

const line = (id: string, content: string) => ({
  custom_id: id,
  body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user' as const, content }], max_tokens: 5 },
});

async function allResults(queue: Queue, batchId: string): Promise<BatchRecord[]> {
  const out: BatchRecord[] = [];
  let after = '-';
  for (;;) {
    const { records, next } = await readBatchResults(queue, batchId, { after, count: 7 });
    if (records.length === 0) return out;
    out.push(...records);
    after = next;
  }
}

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

run('rxllm/bullmq (real redis-server, mock upstream)', () => {
  jest.setTimeout(60_000);
  let redisServer: RedisProcess;
  let mock: MockServer;
  let connection: Redis;
  let queue: Queue;
  let worker: Worker | undefined;
  let n = 0;

  beforeAll(async () => {
    redisServer = await startRedis();
    mock = await createMockServer();
    connection = new Redis({ host: '127.0.0.1', port: redisServer.port, maxRetriesPerRequest: null });
  });
  beforeEach(() => {
    mock.reset();
    queue = new Queue(`q${++n}`, { connection });
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await queue.close();
  });
  afterAll(async () => {
    connection.disconnect();
    await mock.close();
    await redisServer.destroy();
  });

  const options = () => ({ options: { baseURL: mock.url, apiKey: 'sk-test-fleet' }, retries: 1 });

  it('adds one job per line with ids from the batch id and custom_id; the same lines again add nothing', async () => {
    const lines = [line('a', 'one'), line('b:2', 'two'), line('c', 'three')];
    expect(await enqueueBatch(queue, lines, { batchId: 'b1' })).toEqual({ total: 3, added: 3, bad: [] });
    expect(await enqueueBatch(queue, lines, { batchId: 'b1' })).toEqual({ total: 3, added: 0, bad: [] });
    expect(await queue.getJobCountByTypes('waiting')).toBe(3);
    const job = await queue.getJob(batchJobId('b1', 'b:2'));
    expect(job?.data).toEqual({ batchId: 'b1', customId: 'b:2', request: lines[1].body });
    // Another batch id is another batch, even with the same custom_ids.
    expect((await enqueueBatch(queue, lines, { batchId: 'b2' })).added).toBe(3);
  });

  it('reads a JSONL file (BOM, blank lines), reporting bad lines by number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxllm-fleet-'));
    try {
      const file = join(dir, 'in.jsonl');
      writeFileSync(
        file,
        '\uFEFF' +
          [
            JSON.stringify(line('a', 'x')),
            '',
            '{oops',
            JSON.stringify({ custom_id: 'b' }),
            JSON.stringify(line('a', 'y')),
          ].join('\n'),
      );
      const r = await enqueueBatch(queue, file, { batchId: 'f' });
      expect(r).toEqual({
        total: 1,
        added: 1,
        bad: [
          { line: 3, reason: 'not valid JSON' },
          { line: 4, reason: 'body must be an object' },
          { line: 5, reason: 'custom_id "a" is repeated' },
        ],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads lines as rxllm batch does: bare model names are openai/, method/url accepted; --routed keeps groups', async () => {
    const bare = (id: string, extra: object = {}) => ({
      custom_id: id,
      ...extra,
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'x' }] },
    });
    const lines = [
      bare('p1'),
      bare('p2', { method: 'POST', url: '/v1/chat/completions' }),
      bare('p3', { method: 'GET' }),
    ] as unknown as BatchLine[];
    const r = await enqueueBatch(queue, lines, { batchId: 'plain' });
    expect(r.added).toBe(2);
    expect(r.bad).toEqual([{ line: 3, reason: expect.stringMatching(/method must be "POST"/) }]);
    for (const id of ['p1', 'p2'])
      expect((await queue.getJob(batchJobId('plain', id)))?.data.request.model).toBe('openai/gpt-4o-mini');
    // A group of the workers' router is taken as it is.
    await enqueueBatch(queue, [bare('g1')] as unknown as BatchLine[], { batchId: 'grouped', routed: true });
    expect((await queue.getJob(batchJobId('grouped', 'g1')))?.data.request.model).toBe('gpt-4o-mini');
  });

  it('refuses a batch id BullMQ or the key scheme cannot hold', async () => {
    await expect(enqueueBatch(queue, [], { batchId: 'a/b' })).rejects.toThrow(TypeError);
    await expect(enqueueBatch(queue, [], { batchId: '' })).rejects.toThrow(/batchId/);
    expect(() => createBatchWorker(queue, { concurrency: 0 })).toThrow(TypeError);
  });

  it('runs every job once, records each result once with usage and cost, failures included', async () => {
    mock.setDefault((req) => {
      const text = String((req.body as MockChatBody).messages[0].content);
      return text === 'bad' ? { status: 400 } : { text: `re: ${text}` };
    });
    const lines = Array.from({ length: 30 }, (_, i) => line(`t-${i}`, i === 7 ? 'bad' : `q${i}`));
    await enqueueBatch(queue, lines, { batchId: 'run' });
    worker = createBatchWorker(queue, { ...options(), concurrency: 5 });
    await until(async () => (await batchStatus(queue, 'run')).remaining === 0);
    const results = await allResults(queue, 'run');
    expect(results.map((r) => r.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    const ok = results.find((r) => r.custom_id === 't-3')!;
    expect(ok.response?.status_code).toBe(200);
    expect(
      (ok.response?.body as { choices: { message: { content: string } }[] }).choices[0].message.content,
    ).toBe('re: q3');
    expect(ok.usage).toEqual(expect.objectContaining({ total_tokens: expect.any(Number) }));
    expect(ok.cost).toBeGreaterThan(0);
    const bad = results.find((r) => r.custom_id === 't-7')!;
    expect(bad.error).toEqual(expect.objectContaining({ type: 'BadRequestError', status: 400 }));
    const status = await batchStatus(queue, 'run');
    expect(status).toEqual(
      expect.objectContaining({ total: 30, done: 29, failed: 1, remaining: 0, sent: 30, resent: 0 }),
    );
    expect(status.cost).toBeCloseTo(
      results.reduce((s, r) => s + (r.cost ?? 0), 0),
      10,
    );
    expect(mock.stats.requests).toBe(30);
    // The job's return value is its record.
    const job = await queue.getJob(batchJobId('run', 't-3'));
    expect(job?.returnvalue).toEqual(ok);
  });

  it('a job whose result is recorded (its job removed and added again) makes no call and records nothing new', async () => {
    await enqueueBatch(queue, [line('x', 'hi')], { batchId: 'again' });
    worker = createBatchWorker(queue, options());
    await until(async () => (await batchStatus(queue, 'again')).remaining === 0);
    await (await queue.getJob(batchJobId('again', 'x')))!.remove();
    expect((await enqueueBatch(queue, [line('x', 'hi')], { batchId: 'again' })).added).toBe(0);
    await queue.add(
      'chat',
      { batchId: 'again', customId: 'x', request: line('x', 'hi').body },
      { jobId: batchJobId('again', 'x') },
    );
    await until(async () => (await queue.getJobCountByTypes('completed')) === 1);
    expect(mock.stats.requests).toBe(1);
    expect((await allResults(queue, 'again')).length).toBe(1);
  });

  it('a budget the workers share refuses calls past it: each refused request is a failed result, never sent', async () => {
    const lines = Array.from({ length: 4 }, (_, i) => line(`b-${i}`, 'x'));
    await enqueueBatch(queue, lines, { batchId: 'budget' });
    worker = createBatchWorker(queue, {
      ...options(),
      retries: false,
      budget: { maxCost: 0, key: `b-${n}` },
    });
    await until(async () => (await batchStatus(queue, 'budget')).remaining === 0);
    const results = await allResults(queue, 'budget');
    expect(results.map((r) => r.error?.type)).toEqual(Array(4).fill('BudgetExceededError'));
    expect(mock.stats.requests).toBe(0);
  });

  it('shares one rate limit across workers through Redis', async () => {
    const lines = Array.from({ length: 6 }, (_, i) => line(`r-${i}`, 'x'));
    await enqueueBatch(queue, lines, { batchId: 'rl' });
    const limited = { ...options(), rateLimit: { requestsPerMinute: 3, key: `rl-${n}` } };
    worker = createBatchWorker(queue, limited);
    const second = createBatchWorker(queue, limited);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      // 3 permits in the bucket, refilling at one per 20 s: two workers together get 3, not 6.
      expect(mock.stats.requests).toBe(3);
    } finally {
      await second.close(true);
      await worker.close(true);
      worker = undefined;
    }
  });
});
