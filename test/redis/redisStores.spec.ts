/**
 * rxllm/redis against a real redis-server started by the tests on a free port: two worker
 * PROCESSES sharing one 60 rpm limit never exceed it together; a cooldown set by one process is
 * honoured by another; the stores survive a Redis restart mid-run with a clear error and no lost
 * permits; the Lua scripts are atomic under concurrent callers; two processes racing for the resume
 * store's last stream places admit exactly as many as there are.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { inspect } from 'node:util';
import Redis from 'ioredis';
import { lastValueFrom, VirtualTimeScheduler } from 'rxjs';
import { createRateLimiter, StoreError } from 'rxllm';
import {
  createRedisBudgetStore,
  createRedisCooldownStore,
  createRedisRateLimitStore,
  createRedisResumeStore,
  REDIS_STORE_DEFAULTS,
} from 'rxllm/redis';
import { createMockServer } from 'rxllm/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { text } from '../quirks/toolCallQuirks';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

interface Worker {
  /** Resolves when the worker has loaded and waits for its start line (modes that read one). */
  ready: Promise<void>;
  /** Sends the worker one line on stdin. */
  send(line: string): void;
  /** The last JSON line it printed, once it exited 0. */
  result: Promise<any>;
}

function spawnWorker(args: string[]): Worker {
  const child = spawn(TSX, [join(__dirname, 'worker.ts'), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d) => {
    out += d;
    if (/^ready$/m.test(out)) onReady();
  });
  child.stderr.on('data', (d) => (err += d));
  const result = new Promise<any>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker ${args[0]} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`worker ${args[0]} printed no JSON: ${out} ${err}`));
      }
    });
  });
  // A worker that dies before it is ready fails the test through `result`, not a hang on `ready`
  // (nor an EPIPE from writing its start line).
  result.catch(() => onReady());
  child.stdin.on('error', () => undefined);
  return { ready, result, send: (line) => child.stdin.write(line + '\n') };
}

function worker(args: string[]): Promise<any> {
  return spawnWorker(args).result;
}

/** Redis Cluster's key slot: CRC16 (XMODEM) of the key's `{hash tag}` if it has one, mod 16384. */
function clusterKeySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Resolves when the client is connected (at once if it is), not after a fixed number of polls. */
function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => client.once('ready', () => resolve()));
}

const run = redisAvailable() ? describe : describe.skip;

run('rxllm/redis stores on a real redis-server', () => {
  jest.setTimeout(60_000);
  let server: RedisProcess;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined); // reconnect noise while the restart test stops the server
    await redis.ping();
  });
  afterAll(async () => {
    if (redis) {
      const ended = new Promise((resolve) => redis.once('end', resolve));
      await redis.quit();
      await ended; // the socket is closed, not just asked to close
    }
    await server?.destroy();
  });

  it('a wrong Redis password fails the store with a StoreError whose cause does not carry it', async () => {
    const password = 'pa55w0rd-XYZ-123456';
    await redis.config('SET', 'requirepass', 'the-right-one');
    const wrong = new Redis({
      host: '127.0.0.1',
      port: server.port,
      username: 'default',
      password,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    wrong.on('error', () => undefined);
    try {
      const error = await Promise.resolve(
        createRedisBudgetStore(wrong, { timeoutMs: 2_000 }).spent('k', 0),
      ).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect(inspect(error, { depth: 10 })).not.toContain(password);
    } finally {
      wrong.disconnect();
      await redis.auth('the-right-one');
      await redis.config('SET', 'requirepass', '');
    }
  });

  it('documents its defaults and rejects a missing client', () => {
    expect(REDIS_STORE_DEFAULTS).toEqual({ prefix: 'rxllm:', timeoutMs: 2000 });
    expect(() => createRedisRateLimitStore({} as never)).toThrow(TypeError);
  });

  it('two worker processes sharing a 60 rpm limit never exceed it together', async () => {
    const durationMs = 3000;
    const args = ['acquire', String(server.port), 'shared-60', '60', String(durationMs)];
    const workers = [spawnWorker(args), spawnWorker(args)];
    // The start line is set once both processes have loaded (which can take seconds on a busy
    // machine), so both race for the bucket from the same moment.
    await Promise.all(workers.map((w) => w.ready));
    const startAt = Date.now() + 100;
    workers.forEach((w) => w.send(String(startAt)));
    const [a, b] = await Promise.all(workers.map((w) => w.result));
    const grants: number[] = [...a.grants, ...b.grants].sort((x, y) => x - y);
    // A token bucket of one minute's budget (60) refilled at 1 per second: by time t after the
    // start at most 60 + t/1000 permits, for every t. Without sharing it would be 120+ at once.
    grants.forEach((at, i) => {
      const allowed = 60 + Math.max(0, at - startAt) / 1000 + 1; // +1: the fractional permit in the bucket
      expect(i + 1).toBeLessThanOrEqual(allowed);
    });
    // Each worker ran until it saw the shared bucket empty, so together they took the whole burst
    // (the bound above, at the last grant, caps the total: 60 + refill + 1).
    expect(grants.length).toBeGreaterThanOrEqual(60);
    // Each process alone would take its own 60 at once: the combined bound proves they shared one
    // bucket. (Which process wins a permit is a race, so neither share is asserted.)
  });

  it('two processes racing for the last places of one resume store admit exactly as many as there are', async () => {
    const prefix = `places${Date.now()}:`;
    const held = createRedisResumeStore(redis as never, { prefix, maxStreams: 10 });
    for (let i = 0; i < 7; i++) await held.create(`held${i}`, 60_000);
    await held.close();
    // 3 places left; each process asks for 5 at the same moment.
    const args = ['create-streams', String(server.port), prefix, '10', '5'];
    const workers = [spawnWorker(args), spawnWorker(args)];
    await Promise.all(workers.map((w) => w.ready));
    const startAt = Date.now() + 100;
    workers.forEach((w) => w.send(String(startAt)));
    const results = await Promise.all(workers.map((w) => w.result));
    expect(results.flatMap((r) => r.other)).toEqual([]);
    expect(results.reduce((n, r) => n + r.created, 0)).toBe(3);
    expect(results.reduce((n, r) => n + r.full, 0)).toBe(7);
    expect(await redis.zcard(`${prefix}resume:live`)).toBe(10);
  });

  it('a cooldown set by one process is honoured by the other', async () => {
    const failing = await createMockServer({
      defaultScript: { status: 429, headers: { 'retry-after': '30' } },
    });
    const healthy = await createMockServer({ defaultScript: 'fine' });
    try {
      // The 429 comes between these two clock readings, so its cooldown ends between them + 30 s
      // (a bracket, not closeness to now: spawning the workers can take seconds on a busy machine).
      const beforeFirst = Date.now();
      const first = await worker(['route', String(server.port), failing.url, healthy.url]);
      const afterFirst = Date.now();
      expect(first.attempts.map((x: any) => [x.deployment, x.outcome, x.errorClass ?? null])).toEqual([
        ['primary', 'error', 'RateLimitError'],
        ['backup', 'success', null],
      ]);
      const second = await worker(['route', String(server.port), failing.url, healthy.url]);
      expect(second.served).toBe('backup');
      expect(second.attempts.map((x: any) => x.deployment)).toEqual(['backup']);
      expect(failing.stats.requests).toBe(1);
      const until = Number(await redis.get('rxllm:cooldown:{primary}:until'));
      expect(until).toBeGreaterThanOrEqual(beforeFirst + 30_000);
      expect(until).toBeLessThanOrEqual(afterFirst + 30_000);
    } finally {
      await failing.close();
      await healthy.close();
    }
  });

  it('cooldown failures are counted atomically across concurrent callers', async () => {
    const store = createRedisCooldownStore(redis, { prefix: 'atomic:' });
    const policy = { allowedFails: 5, windowMs: 60_000, cooldownMs: 1000 };
    const ends = await Promise.all(Array.from({ length: 5 }, () => store.recordFailure('d', 1_000, policy)));
    // Exactly one of the five concurrent failures started the cooldown.
    expect(ends.filter((e) => e > 0)).toEqual([2_000]);
    expect(await store.coolingUntil(['d', 'other'], 1_500)).toEqual({ d: 2_000 });
    await store.coolUntil('d', 5_000);
    await store.coolUntil('d', 3_000); // an earlier end never shortens a cooldown
    expect(await store.coolingUntil(['d'], 1_500)).toEqual({ d: 5_000 });
  });

  it('the budget store adds atomically and keeps windows apart', async () => {
    const store = createRedisBudgetStore(redis, { prefix: 'budget-test:' });
    await Promise.all(Array.from({ length: 20 }, () => store.add('team', 0, 0.05, 60_000)));
    expect(await store.spent('team', 0)).toBeCloseTo(1, 10);
    expect(await store.spent('team', 60_000)).toBe(0);
  });

  it('concurrent limiters in one process never take the same permit twice (compare-and-set)', async () => {
    // Counts the store operations in flight, to know when the limiters have all settled.
    const real = createRedisRateLimitStore(redis, { prefix: 'cas:' });
    let pending = 0;
    const track = <T>(p: Promise<T>) => {
      pending++;
      return p.finally(() => pending--);
    };
    const store: typeof real = {
      get: (key) => track(Promise.resolve(real.get(key))),
      compareAndSet: (key, expected, next) => track(Promise.resolve(real.compareAndSet(key, expected, next))),
    };
    // Virtual time that never advances: no refill and no retry timer fires, whatever the machine's
    // speed, so the bucket's 10 are all there is to grant (the store is real Redis).
    const limiters = Array.from({ length: 4 }, () =>
      createRateLimiter({ requestsPerMinute: 10, store, key: 'k', scheduler: new VirtualTimeScheduler() }),
    );
    let granted = 0;
    const subs = limiters.flatMap((l) =>
      Array.from({ length: 5 }, () => l.acquire().subscribe(() => granted++)),
    );
    // Settled: the bucket is spent and no limiter is still talking to Redis (the waiting ones sit on
    // timers of their frozen scheduler).
    while (granted < 10 || pending > 0) await new Promise((r) => setTimeout(r, 5));
    expect(granted).toBe(10);
    expect((await real.get('k'))?.requests).toBe(0);
    subs.forEach((sub) => sub.unsubscribe()); // the 10 still waiting give up, taking nothing
    expect(granted).toBe(10);
  });

  it('a write whose reply was lost is retried without taking a second permit', async () => {
    let drop = 1;
    // Runs every command on the real server, but loses the first reply of a write, as a restart would.
    const lossy = {
      evalsha: async (sha: string, n: number, ...args: (string | number)[]) => {
        const reply = await redis.evalsha(sha, n, ...args);
        if (args.length > 2 && drop-- > 0) throw new Error('Connection is closed.');
        return reply;
      },
      eval: (script: string, n: number, ...args: (string | number)[]) => redis.eval(script, n, ...args),
    };
    const limiter = createRateLimiter({
      requestsPerMinute: 60,
      store: createRedisRateLimitStore(lossy, { prefix: 'lossy:' }),
      key: 'k',
    });
    await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
    expect(drop).toBe(-1); // the reply was dropped once, the write retried once
    const state = await lastValueFrom(limiter.state());
    expect(Math.floor(state.requests)).toBe(59);
  });

  /** Runs every command on the real server but loses the first reply of a script with arguments. */
  const lossyClient = () => {
    const state = { drop: 1 };
    const client = {
      evalsha: async (sha: string, n: number, ...args: (string | number)[]) => {
        const reply = await redis.evalsha(sha, n, ...args);
        if (args.length > n && state.drop-- > 0) throw new Error('Connection is closed.');
        return reply;
      },
      eval: async (script: string, n: number, ...args: (string | number)[]) => {
        const reply = await redis.eval(script, n, ...args);
        if (args.length > n && state.drop-- > 0) throw new Error('Connection is closed.');
        return reply;
      },
    };
    return { state, client };
  };

  it('a budget add whose reply was lost is retried without counting the cost twice', async () => {
    const { state, client } = lossyClient();
    const store = createRedisBudgetStore(client, { prefix: 'lossy-budget:' });
    expect(await store.add('team', 0, 0.25, 60_000)).toBeCloseTo(0.25, 10);
    expect(state.drop).toBe(-1); // the reply was dropped once, the add retried once
    expect(await store.spent('team', 0)).toBeCloseTo(0.25, 10);
    expect(await store.add('team', 0, 0.5, 60_000)).toBeCloseTo(0.75, 10); // a new add still counts
  });

  it('a cooldown failure whose reply was lost is retried without counting the failure twice', async () => {
    const { state, client } = lossyClient();
    const store = createRedisCooldownStore(client, { prefix: 'lossy-cooldown:' });
    const policy = { allowedFails: 2, windowMs: 60_000, cooldownMs: 5_000 };
    expect(await store.recordFailure('d', 1_000, policy)).toBe(0);
    expect(state.drop).toBe(-1);
    expect(await store.coolingUntil(['d'], 1_000)).toEqual({}); // one failure, not two
    expect(await store.recordFailure('d', 1_001, policy)).toBe(6_001); // the second one cools it
  });

  it('every script keeps its keys in one Redis Cluster slot (the README says the stores work on a Cluster)', async () => {
    // Redis Cluster refuses a script whose keys hash to different slots (CROSSSLOT); this client
    // runs on the real server and applies that rule with ioredis's own slot function.
    const calls: string[][] = [];
    const check = (n: number, args: (string | number)[]) => {
      const keys = args.slice(0, n).map(String);
      calls.push(keys);
      if (new Set(keys.map((k) => clusterKeySlot(k))).size > 1) {
        throw Object.assign(new Error("CROSSSLOT Keys in request don't hash to the same slot"), {
          name: 'ReplyError',
        });
      }
    };
    const cluster = {
      evalsha: (sha: string, n: number, ...args: (string | number)[]) => {
        check(n, args);
        return redis.evalsha(sha, n, ...args);
      },
      eval: (script: string, n: number, ...args: (string | number)[]) => {
        check(n, args);
        return redis.eval(script, n, ...args);
      },
    };
    expect(clusterKeySlot('123456789')).toBe(0x31c3 % 16384); // CRC16/XMODEM check value (Redis spec)
    expect(clusterKeySlot('{user1000}.following')).toBe(clusterKeySlot('user1000'));
    const cooldown = createRedisCooldownStore(cluster, { prefix: 'slots:' });
    const policy = { allowedFails: 2, windowMs: 60_000, cooldownMs: 1_000 };
    expect(await cooldown.recordFailure('openai/gpt-4o-mini', 1_000, policy)).toBe(0);
    expect(await cooldown.recordFailure('openai/gpt-4o-mini', 1_001, policy)).toBe(2_001);
    await cooldown.coolUntil('groq/llama', 9_000);
    expect(await cooldown.coolingUntil(['openai/gpt-4o-mini', 'groq/llama', 'other'], 1_500)).toEqual({
      'openai/gpt-4o-mini': 2_001,
      'groq/llama': 9_000,
    });
    const budgetStore = createRedisBudgetStore(cluster, { prefix: 'slots:' });
    expect(await budgetStore.add('team', 0, 0.25, 60_000)).toBeCloseTo(0.25, 10);
    expect(await budgetStore.spent('team', 0)).toBeCloseTo(0.25, 10);
    const limiter = createRateLimiter({
      requestsPerMinute: 60,
      store: createRedisRateLimitStore(cluster, { prefix: 'slots:' }),
      key: 'k',
    });
    await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
    expect(Math.floor((await lastValueFrom(limiter.state())).requests)).toBe(59);
    // The resume store: each stream's keys share its `{id}` slot; its count (the live set) has its own.
    const resumeStore = createRedisResumeStore(
      { ...cluster, duplicate: () => redis.duplicate() },
      { prefix: 'slots:', maxStreams: 1 },
    );
    await resumeStore.create('r1', 60_000);
    await resumeStore.append('r1', [{ seq: 1, chunk: text('hi') }]);
    await resumeStore.end('r1', { state: 'complete' });
    expect(await resumeStore.read('r1', 0, { waitMs: 1 })).toEqual({
      events: [{ seq: 1, chunk: text('hi') }],
      end: { state: 'complete' },
    });
    // Full: r2 takes the finished r1's place, and r1's keys are deleted in their own slot.
    await resumeStore.create('r2', 60_000);
    expect(await resumeStore.read('r1', 0, { waitMs: 1 })).toBeUndefined();
    await resumeStore.close();
    expect(calls.some((keys) => keys.length > 1)).toBe(true); // multi-key scripts were checked
  });

  it('survives a Redis restart mid-run: a clear error while down, no permit lost or granted twice', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port: server.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    client.on('error', () => undefined); // reconnect noise while the server is down
    await new Promise((resolve) => client.once('ready', resolve));
    try {
      // `retryMs`, the old name of `timeoutMs`, still sets the time limit.
      const store = createRedisRateLimitStore(client, { prefix: 'restart:', retryMs: 300 });
      // Frozen virtual time: no refill however long the restart takes, so the state after it must
      // equal the state before it exactly.
      const limiter = createRateLimiter({
        requestsPerMinute: 60,
        store,
        key: 'k',
        scheduler: new VirtualTimeScheduler(),
      });
      for (let i = 0; i < 10; i++) await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
      const before = await lastValueFrom(limiter.state());
      expect(before.requests).toBe(50);

      await server.stop();
      const error = await lastValueFrom(limiter.acquire(), { defaultValue: undefined }).catch((e) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error.retryable).toBe(true);
      expect(error.store).toBe('rate-limit');
      expect(error.message).toMatch(/no answer within 300 ms \(last error: .*\)\. Retry when Redis is back/);

      await server.start();
      await whenReady(client);
      const after = await lastValueFrom(limiter.state());
      // The 10 permits taken before the restart are still taken (the AOF kept the state), and the
      // failed call took none.
      expect(after).toEqual(before);
      await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
      expect((await lastValueFrom(limiter.state())).requests).toBe(49);
    } finally {
      const ended = new Promise((resolve) => client.once('end', resolve));
      client.disconnect();
      await ended;
    }
    // The shared client of the other tests reconnects too.
    await whenReady(redis);
  });
});
