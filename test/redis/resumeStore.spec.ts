/**
 * The resume stores, one suite for both: the memory store and the Redis Streams store against a
 * real redis-server (two store instances on two clients stand for two gateway processes), and the
 * Redis store's stream count (`maxStreams`) raced for by two clients.
 */
import { getEventListeners } from 'node:events';
import Redis from 'ioredis';
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { createMemoryResumeStore, resume, stop, StoreError, type Chunk, type ResumeStore } from 'rxllm';
import { resumable } from 'rxllm/operators';
import { createRedisResumeStore, type RedisResumeStore, type RedisResumeStoreOptions } from 'rxllm/redis';
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

type Limits = { maxChunks?: number; maxBytes?: number; maxStreams?: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How `create` settled: 'created' or the error's reason. */
const created = (p: Promise<void>) =>
  p.then(
    () => 'created',
    (e: { reason?: string }) => e.reason ?? String(e),
  );

function suite(name: string, make: (limits?: Limits) => Promise<Pair>) {
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

    it('twelve waiting reads on one signal add one abort listener to it; aborting it returns them all', async () => {
      const { a, b } = await make();
      await a.create('shared', 60_000);
      const controller = new AbortController();
      const reads = Array.from({ length: 12 }, () =>
        b.read('shared', 0, { waitMs: 30_000, signal: controller.signal }),
      );
      await sleep(50);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      controller.abort();
      expect(await Promise.all(reads)).toEqual(Array(12).fill({ events: [] }));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // Reads that an append woke leave nothing on a signal that lives on.
      const kept = new AbortController();
      const woken = Array.from({ length: 12 }, () =>
        b.read('shared', 0, { waitMs: 30_000, signal: kept.signal }),
      );
      await sleep(50);
      await a.append('shared', [{ seq: 1, chunk: chunk(1) }]);
      expect((await Promise.all(woken)).map((r) => r?.events.length)).toEqual(Array(12).fill(1));
      expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0);
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

    it('holds at most maxStreams streams: one more is refused with full, on either instance', async () => {
      const { a, b } = await make({ maxStreams: 3 });
      for (const id of ['m1', 'm2', 'm3']) await a.create(id, 60_000);
      await expect(b.create('m4', 60_000)).rejects.toMatchObject({
        name: 'ResumableStreamError',
        reason: 'full',
      });
      await expect(a.create('m4', 60_000)).rejects.toMatchObject({ reason: 'full' });
      // The refused stream does not exist; the others still work.
      expect(await b.read('m4', 0, { waitMs: 1 })).toBeUndefined();
      await a.append('m1', [{ seq: 1, chunk: chunk(1) }]);
      expect((await b.read('m1', 0, { waitMs: 1 }))?.events).toHaveLength(1);
    });

    it('when full, takes the place of the finished stream that ended first, and refuses once all run', async () => {
      const { a, b } = await make({ maxStreams: 3 });
      for (const id of ['f1', 'f2', 'r3']) await a.create(id, 60_000);
      for (const id of ['f1', 'f2']) await a.append(id, [{ seq: 1, chunk: chunk(1) }]);
      await a.end('f1', { state: 'complete' });
      await sleep(5); // f2 ends after f1, on every clock
      await a.end('f2', { state: 'stopped' });
      await b.create('n4', 60_000);
      // f1 went with its chunks; f2 is still whole.
      expect(await b.read('f1', 0, { waitMs: 1 })).toBeUndefined();
      expect(await b.read('f2', 0, { waitMs: 1 })).toEqual({
        events: [{ seq: 1, chunk: chunk(1) }],
        end: { state: 'stopped' },
      });
      await a.create('n5', 60_000);
      expect(await b.read('f2', 0, { waitMs: 1 })).toBeUndefined();
      // r3, n4, n5 all run: nothing to drop.
      expect(await created(b.create('n6', 60_000))).toBe('full');
      expect(await created(a.create('n6', 60_000))).toBe('full');
      await b.append('n4', [{ seq: 1, chunk: chunk(1) }]);
      expect((await a.read('n4', 0, { waitMs: 1 }))?.events).toHaveLength(1);
      // An id that ended and was dropped can be created again.
      await b.end('n4', { state: 'complete' });
      await a.create('f1', 60_000);
      expect(await a.read('n4', 0, { waitMs: 1 })).toBeUndefined();
    });

    it('an expired stream frees its place; one kept alive by its writes keeps it past its first TTL', async () => {
      const { a, b } = await make({ maxStreams: 2 });
      // TTLs of seconds: a busy machine's stalls must not expire a stream before it is looked at.
      await a.create('short', 1_500);
      const longCreated = Date.now();
      await a.create('long', 2_000);
      // 'long' is written every 50 ms until 5 s after its creation: past its TTL plus any slack the
      // stream count gives (the Redis store's 1 s), so only its writes can keep its place.
      let writing = true;
      const writer = (async () => {
        for (let seq = 1; writing; seq++) {
          await a.append('long', [{ seq, chunk: chunk(seq) }]);
          await sleep(50);
        }
      })();
      expect(await created(b.create('next', 60_000))).toBe('full');
      // 'short' expires (nothing writes it); its place is free within a second or so of that.
      let outcome = 'full';
      while (outcome === 'full' && Date.now() - longCreated < 15_000) {
        await sleep(50);
        outcome = await created(b.create('next', 60_000));
      }
      expect(outcome).toBe('created');
      expect(await b.read('short', 0, { waitMs: 1 })).toBeUndefined();
      await sleep(Math.max(0, 5_000 - (Date.now() - longCreated)));
      expect(await created(b.create('third', 60_000))).toBe('full'); // 'long' still holds its place
      writing = false;
      await writer;
      expect((await b.read('long', 0, { waitMs: 1 }))?.events.length).toBeGreaterThan(10);
    }, 30_000);

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
  /** A store on a client of its own (a process of its own), closed after the test. */
  const connect = () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    clients.push(client);
    return client;
  };
  const openStore = (options: RedisResumeStoreOptions, client = connect()) => {
    const store = createRedisResumeStore(client, options);
    stores.push(store);
    return store;
  };
  let n = 0;
  suite('shared by two instances', async (limits) => {
    const prefix = `t${++n}:`;
    return { a: openStore({ prefix, ...limits }), b: openStore({ prefix, ...limits }) };
  });

  it('two instances racing for the last place admit exactly one, round after round', async () => {
    const open = (prefix: string) => openStore({ prefix, maxStreams: 4 });
    for (let round = 0; round < 20; round++) {
      const [a, b] = [open(`race${round}:`), open(`race${round}:`)];
      for (let i = 0; i < 3; i++) await a.create(`held${i}`, 60_000);
      const outcomes = await Promise.all([
        created(a.create('fromA', 60_000)),
        created(b.create('fromB', 60_000)),
      ]);
      expect(outcomes.sort()).toEqual(['created', 'full']);
    }
    // A burst: 10 creates from each instance at once for 4 places.
    const [a, b] = [open('burst:'), open('burst:')];
    const burst = await Promise.all(
      [a, b].flatMap((store, s) =>
        Array.from({ length: 10 }, (_, i) => created(store.create(`${s}-${i}`, 60_000))),
      ),
    );
    expect(burst.filter((o) => o === 'created')).toHaveLength(4);
    expect(burst.filter((o) => o === 'full')).toHaveLength(16);
  });

  it('a burst on a set full of finished streams takes each of their places once', async () => {
    const open = () => {
      const client = connect();
      return { client, store: openStore({ prefix: 'evict:', maxStreams: 4 }, client) };
    };
    const [a, b] = [open(), open()];
    for (let i = 0; i < 4; i++) {
      await a.store.create(`done${i}`, 60_000);
      await a.store.end(`done${i}`, { state: 'complete' });
    }
    const burst = await Promise.all(
      [a, b].flatMap(({ store }, s) =>
        Array.from({ length: 10 }, (_, i) => created(store.create(`${s}-${i}`, 60_000))),
      ),
    );
    expect(burst.filter((o) => o === 'created')).toHaveLength(4);
    expect(burst.filter((o) => o === 'full')).toHaveLength(16);
    expect(await a.client.zcard('evict:resume:live')).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(await b.store.read(`done${i}`, 0, { waitMs: 1 })).toBeUndefined();
      expect(await a.client.exists(`evict:resume:{done${i}}:m`, `evict:resume:{done${i}}:s`)).toBe(0);
    }
  });

  it('looks for a finished stream among the 256 places nearest their expiry only', async () => {
    const client = connect();
    const store = openStore({ prefix: 'window:', maxStreams: 257 }, client);
    // 256 running streams, their bounds all below the finished one's (it ended after they began).
    for (let i = 0; i < 256; i++) await store.create(`run${i}`, 60_000);
    await sleep(5);
    await store.create('done', 60_000);
    await store.end('done', { state: 'complete' });
    expect(await created(store.create('next', 60_000))).toBe('full');
    // The lowest running place given to a newer stream (its bound above the finished one's): the
    // finished stream is within reach now, and goes.
    await client.zrem('window:resume:live', 'run0');
    await store.create('run256', 60_000);
    expect(await created(store.create('next', 60_000))).toBe('created');
    expect(await store.read('done', 0, { waitMs: 1 })).toBeUndefined();
  });

  it('a create whose stream Redis never made gives its place back', async () => {
    const client = connect();
    let hang = true;
    // The stream's own script (one key, its meta) gets no answer once: a reply lost in a stall.
    const stalled =
      (call: (...a: any[]) => Promise<unknown>) =>
      (script: string, n: number, ...args: any[]) =>
        hang && n === 1 && String(args[0]).endsWith(':m')
          ? ((hang = false), new Promise<unknown>(() => undefined))
          : call(script, n, ...args);
    const store = createRedisResumeStore(
      {
        eval: stalled((...a) => (client.eval as any)(...a)),
        evalsha: stalled((...a) => (client.evalsha as any)(...a)),
        duplicate: () => client.duplicate(),
      } as never,
      { prefix: 'lost:', maxStreams: 1, timeoutMs: 300 },
    );
    stores.push(store);
    await expect(store.create('lost', 60_000)).rejects.toMatchObject({ name: 'StoreError' });
    for (let i = 0; i < 100 && (await client.zcard('lost:resume:live')) > 0; i++) await sleep(20);
    expect(await client.zcard('lost:resume:live')).toBe(0);
    // The one place is free: the next stream is created (it was full before the place came back).
    await store.create('next', 60_000);
    expect(await client.zrange('lost:resume:live', 0, -1)).toEqual(['next']);
  });

  /** One store on its own client, with at most one connection blocked in XREAD. */
  const oneBlocking = (prefix: string) => openStore({ prefix, maxBlockingConnections: 1 });
  const late = (ms: number) => sleep(ms).then(() => 'late' as const);

  it('a reader that aborts while waiting for a blocking connection leaves the queue and never takes one', async () => {
    const store = oneBlocking('q1:');
    await store.create('busy', 60_000);
    await store.create('quiet', 60_000);
    await store.create('next', 60_000);
    // A holds the only connection; B waits for it, on a stream nothing is written to.
    const a = store.read('busy', 0, { waitMs: 20_000 });
    await sleep(50);
    const left = new AbortController();
    const b = store.read('quiet', 0, { waitMs: 20_000, signal: left.signal });
    await sleep(50);
    left.abort();
    // B returns now, not when A's connection frees.
    expect(await Promise.race([b, late(5_000)])).toEqual({ events: [] });
    await store.append('busy', [{ seq: 1, chunk: chunk(1) }]);
    expect((await a)?.events.map((e) => e.seq)).toEqual([1]);
    // The connection A freed goes to C, not to a 20 s XREAD for B that nobody waits for.
    const c = store.read('next', 0, { waitMs: 20_000 });
    await sleep(50);
    await store.append('next', [{ seq: 1, chunk: chunk(1) }]);
    const got = await Promise.race([c, late(5_000)]);
    expect(got === 'late' ? got : got?.events.map((e) => e.seq)).toEqual([1]);
  });

  it('close() fails the readers waiting for a connection, and any read after it, with a StoreError', async () => {
    const store = oneBlocking('q2:');
    await store.create('s', 60_000);
    const blocked = store.read('s', 0, { waitMs: 20_000 });
    await sleep(50);
    const queued = store.read('s', 0, { waitMs: 20_000 });
    await sleep(50);
    await store.close();
    const outcomes = await Promise.race([Promise.allSettled([blocked, queued]), late(5_000)]);
    expect(outcomes).not.toBe('late');
    for (const outcome of outcomes as PromiseSettledResult<unknown>[]) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
    }
    expect((outcomes as PromiseRejectedResult[])[1].reason.message).toMatch(/closed/);
    await expect(store.read('s', 0, { waitMs: 1_000 })).rejects.toMatchObject({
      name: 'StoreError',
      retryable: false,
      message: expect.stringMatching(/closed/),
    });
  });

  it('rejects a bad maxStreams when created', () => {
    const client = { eval: async () => 0, evalsha: async () => 0, duplicate: () => ({}) } as never;
    expect(() => createRedisResumeStore(client, { maxStreams: 0 })).toThrow(TypeError);
    expect(() => createRedisResumeStore(client, { maxStreams: NaN })).toThrow(/maxStreams must be > 0/);
  });

  it('rejects a client without duplicate() when created', () => {
    expect(() => createRedisResumeStore({ eval: async () => 0, evalsha: async () => 0 } as never)).toThrow(
      TypeError,
    );
  });
});
