/**
 * The resume stores, one suite for both: the memory store and the Redis Streams store against a
 * real redis-server (two store instances on two clients stand for two gateway processes).
 */
import Redis from 'ioredis';
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { createMemoryResumeStore, resume, stop, type Chunk, type ResumeStore } from 'rxllm';
import { resumable } from 'rxllm/operators';
import { createRedisResumeStore, type RedisResumeStore } from 'rxllm/redis';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { text } from '../quirks/toolCallQuirks';

const run = redisAvailable() ? describe : describe.skip;
const chunk = (i: number) => text(`c${i} é€😀`);
const settle = () => new Promise((r) => setImmediate(r));

interface Pair {
  /** Two stores on the same data (two processes). */
  a: ResumeStore;
  b: ResumeStore;
}

function suite(name: string, make: (limits?: { maxChunks?: number; maxBytes?: number }) => Promise<Pair>) {
  describe(name, () => {
    it('numbers events from 1, returns each after the asked seq once, in order, then the end', async () => {
      const { a, b } = await make();
      await a.create('s', 60_000);
      await expect(b.create('s', 60_000)).rejects.toMatchObject({ reason: 'exists' });
      await a.append(
        's',
        [1, 2, 3].map((seq) => ({ seq, chunk: chunk(seq) })),
      );
      await a.append(
        's',
        [3, 4].map((seq) => ({ seq, chunk: chunk(seq) })),
      ); // 3 again: a retried write
      expect((await b.read('s', 1, { waitMs: 10 }))?.events).toEqual(
        [2, 3, 4].map((seq) => ({ seq, chunk: chunk(seq) })),
      );
      expect(await b.read('s', 4, { waitMs: 10 })).toEqual({ events: [] });
      await a.end('s', { state: 'complete' });
      await expect(a.append('s', [{ seq: 5, chunk: chunk(5) }])).resolves.toBeUndefined();
      expect(await b.read('s', 2, { waitMs: 10 })).toEqual({
        events: [3, 4].map((seq) => ({ seq, chunk: chunk(seq) })),
        end: { state: 'complete' },
      });
      expect(await b.read('unknown', 0, { waitMs: 10 })).toBeUndefined();
      await expect(a.append('unknown', [{ seq: 1, chunk: chunk(1) }])).rejects.toMatchObject({
        reason: 'not-found',
      });
    });

    it('a waiting read returns as soon as another instance appends', async () => {
      const { a, b } = await make();
      await a.create('w', 60_000);
      const t0 = Date.now();
      const waiting = b.read('w', 0, { waitMs: 10_000 });
      await new Promise((r) => setTimeout(r, 50));
      await a.append('w', [{ seq: 1, chunk: chunk(1) }]);
      expect((await waiting)?.events.map((e) => e.seq)).toEqual([1]);
      expect(Date.now() - t0).toBeLessThan(9_000);
      const aborted = new AbortController();
      const read = b.read('w', 1, { waitMs: 10_000, signal: aborted.signal });
      aborted.abort();
      expect(await read).toEqual({ events: [] });
    });

    it('stops past maxChunks / maxBytes with too-large, keeping what fit', async () => {
      const { a } = await make({ maxChunks: 2, maxBytes: 1000 });
      await a.create('L', 60_000);
      await expect(
        a.append(
          'L',
          [1, 2, 3].map((seq) => ({ seq, chunk: chunk(seq) })),
        ),
      ).rejects.toMatchObject({
        reason: 'too-large',
      });
      expect((await a.read('L', 0, { waitMs: 10 }))?.events.map((e) => e.seq)).toEqual([1, 2]);
      await a.create('B', 60_000);
      await expect(a.append('B', [{ seq: 1, chunk: text('x'.repeat(2000)) }])).rejects.toMatchObject({
        reason: 'too-large',
      });
    });

    it('deletes a stream ttlMs after its last write', async () => {
      const { a } = await make();
      await a.create('t', 150);
      await a.append('t', [{ seq: 1, chunk: chunk(1) }]);
      expect(await a.read('t', 0, { waitMs: 10 })).toBeDefined();
      await new Promise((r) => setTimeout(r, 600));
      expect(await a.read('t', 0, { waitMs: 10 })).toBeUndefined();
    });

    it('stop on one instance aborts the generation running on the other; readers see it stopped', async () => {
      const { a, b } = await make();
      const upstream = new Subject<Chunk>();
      let liveError: unknown;
      upstream.pipe(resumable({ store: a, id: 'g' })).subscribe({ error: (e) => (liveError = e) });
      upstream.next(chunk(1));
      for (let i = 0; i < 50 && !(await b.read('g', 0, { waitMs: 1 }))?.events.length; i++) await settle();
      const reader = lastValueFrom(resume(b, 'g').pipe(toArray())).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100)); // the producer's subscription is active
      await stop(b, 'g');
      for (let i = 0; i < 200 && upstream.observed; i++) await new Promise((r) => setTimeout(r, 10));
      expect(upstream.observed).toBe(false);
      expect(liveError).toMatchObject({ name: 'RequestAbortedError' });
      expect(await reader).toMatchObject({ name: 'RequestAbortedError' });
      await expect(stop(b, 'unknown')).rejects.toMatchObject({ reason: 'not-found' });
    });
  });
}

suite('memory resume store', async (limits) => {
  const store = createMemoryResumeStore(limits);
  return { a: store, b: store };
});

run('Redis resume store', () => {
  let redis: RedisProcess;
  const clients: Redis[] = [];
  const stores: RedisResumeStore[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  let n = 0;
  suite('shared by two instances', async (limits) => {
    const prefix = `t${++n}:`;
    const make = () => {
      const client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: false });
      clients.push(client);
      const store = createRedisResumeStore(client, { prefix, ...limits });
      stores.push(store);
      return store;
    };
    return { a: make(), b: make() };
  });

  it('rejects a client without duplicate() when created', () => {
    expect(() => createRedisResumeStore({ eval: async () => 0, evalsha: async () => 0 } as never)).toThrow(
      TypeError,
    );
  });
});
