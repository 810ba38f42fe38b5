/**
 * rxllm/redis when Redis is not answering: stopped, stalled (`CLIENT PAUSE`) or restarted under load,
 * with the client settings BullMQ requires (`maxRetriesPerRequest: null`: ioredis queues a command
 * until Redis is back, forever) and with ioredis's defaults (20 reconnect attempts, ~10 s). Every
 * store call ends within its `timeoutMs`; the cooldown store answers from the last known cooldowns.
 */
import Redis, { type RedisOptions } from 'ioredis';
import { EMPTY, lastValueFrom, toArray } from 'rxjs';
import { createRateLimiter, createRouter, StoreError, type RoutedCompletion } from 'rxllm';
import { budget as budgetOperator } from 'rxllm/operators';
import {
  createRedisBudgetStore,
  createRedisCooldownStore,
  createRedisRateLimitStore,
  type RedisScriptClient,
} from 'rxllm/redis';
import { createMockServer } from 'rxllm/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { BOUND_MS, capture, counting, LIMIT_MS, sleep, timed, type Outcome } from '../helpers/storeTiming';

const run = redisAvailable() ? describe : describe.skip;

run('rxllm/redis when Redis stops, stalls or restarts (real redis-server)', () => {
  jest.setTimeout(60_000);
  let server: RedisProcess;
  let up = true;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(async () => {
    if (!up) {
      await server.start();
      up = true;
    }
  });
  const stop = async () => {
    up = false;
    await server.stop();
  };
  const start = async () => {
    await server.start();
    up = true;
  };

  async function connect(options: RedisOptions): Promise<Redis> {
    const client = new Redis({ host: '127.0.0.1', port: server.port, ...options });
    client.on('error', () => undefined); // reconnect noise while the server is down
    await client.ping();
    return client;
  }
  async function close(client: Redis): Promise<void> {
    if (client.status === 'end') return;
    // Between reconnect attempts the socket is already closed: disconnect() clears the retry timer
    // and emits no 'end' (ioredis Redis.disconnect), so there is nothing to wait for.
    const waiting = client.status === 'reconnecting';
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.disconnect();
    if (!waiting) await ended;
  }
  async function ready(client: Redis): Promise<void> {
    for (let i = 0; i < 200 && client.status !== 'ready'; i++) await sleep(50);
    expect(client.status).toBe('ready');
  }

  /** One of every store call, each a fresh promise, with the store it must name when it fails. */
  function everyCall(client: RedisScriptClient, prefix: string) {
    const options = { prefix, timeoutMs: LIMIT_MS };
    const rateLimit = createRedisRateLimitStore(client, options);
    const budget = createRedisBudgetStore(client, options);
    const { lines, logger } = capture();
    // cacheMs 0: every read asks Redis, so each one is held to the limit.
    const cooldown = createRedisCooldownStore(client, { ...options, cacheMs: 0, logger });
    const state = { requests: 1, tokens: 1, updatedAt: 1, pausedUntil: 0 };
    const policy = { allowedFails: 3, windowMs: 60_000, cooldownMs: 1000 };
    const limiter = createRateLimiter({ requestsPerMinute: 6000, store: rateLimit, key: 'acquire' });
    return {
      lines,
      calls: [
        ['rate-limit', () => rateLimit.get('k')],
        ['rate-limit', () => rateLimit.compareAndSet('k', undefined, state)],
        ['budget', () => budget.spent('team', 0)],
        ['budget', () => budget.add('team', 0, 0.01, 60_000)],
        ['cooldown', () => cooldown.recordFailure('d', 1000, policy)],
        ['cooldown', () => cooldown.coolUntil('d', 2000)],
        ['cooldown-read', () => cooldown.coolingUntil(['d', 'e'], 1000)],
        // What users call: a limiter's permit and a budget check before a call.
        ['rate-limit', () => lastValueFrom(limiter.acquire(), { defaultValue: undefined })],
        [
          'budget',
          () =>
            lastValueFrom(EMPTY.pipe(budgetOperator({ maxCost: 1, store: budget })), {
              defaultValue: undefined,
            }),
        ],
      ] as [string, () => unknown][],
    };
  }

  /** Every outcome settled within the bound; failures are StoreErrors naming their store. */
  function expectBounded(results: { store: string; out: Outcome }[]) {
    for (const { store, out } of results) {
      expect({ store, pending: out.pending, late: out.ms >= BOUND_MS }).toEqual({
        store,
        pending: false,
        late: false,
      });
      if (out.error === undefined) continue;
      expect(out.error).toBeInstanceOf(StoreError);
      expect({ store, named: (out.error as StoreError).store }).toEqual({ store, named: store });
    }
  }

  const CONFIGS: [string, RedisOptions][] = [
    ['maxRetriesPerRequest: null (as BullMQ requires)', { maxRetriesPerRequest: null }],
    ['ioredis defaults', {}],
  ];

  describe.each(CONFIGS)('with %s', (_name, options) => {
    it('Redis stopped: every store call ends within its limit with a StoreError naming the store; calls recover after a restart', async () => {
      const client = await connect(options);
      try {
        const { calls, lines } = everyCall(client, 'stopped:');
        await stop();
        const results = await Promise.all(
          calls.map(async ([store, call]) => ({ store, out: await timed(call()) })),
        );
        expectBounded(results.filter((r) => r.store !== 'cooldown-read'));
        for (const { out } of results.filter((r) => r.store !== 'cooldown-read')) {
          expect(out.error).toBeInstanceOf(StoreError); // nothing answered while Redis was down
        }
        // The cooldown read fails open (documented policy): within the limit, nothing cooling, logged.
        const read = results.find((r) => r.store === 'cooldown-read')!.out;
        expect(read).toMatchObject({ pending: false, value: {} });
        expect(read.ms).toBeLessThan(BOUND_MS);
        expect(lines.join('\n')).toMatch(/^Redis cooldown store: reading cooldowns failed/);

        await start();
        await ready(client);
        const after = await Promise.all(
          calls.map(async ([store, call]) => ({ store, out: await timed(call()) })),
        );
        for (const { store, out } of after)
          expect({ store, error: out.error }).toEqual({ store, error: undefined });
      } finally {
        await close(client);
      }
    });

    it('Redis stalled by CLIENT PAUSE: every store call ends within its limit, and answers again after the pause', async () => {
      const client = await connect(options);
      const admin = await connect({});
      try {
        const { calls } = everyCall(client, 'paused:');
        const pauseMs = 4000;
        await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
        const pausedAt = Date.now();
        const results = await Promise.all(
          calls.map(async ([store, call]) => ({ store, out: await timed(call()) })),
        );
        expectBounded(results);
        for (const { store, out } of results.filter((r) => r.store !== 'cooldown-read')) {
          expect({ store, error: (out.error as Error)?.message }).toEqual({
            store,
            error: expect.stringMatching(/no answer within 300 ms/),
          });
        }
        await sleep(Math.max(0, pausedAt + pauseMs + 100 - Date.now()));
        const after = await Promise.all(
          calls.map(async ([store, call]) => ({ store, out: await timed(call()) })),
        );
        for (const { store, out } of after)
          expect({ store, error: out.error }).toEqual({ store, error: undefined });
      } finally {
        await close(admin);
        await close(client);
      }
    });

    it('Redis restarted under load: nothing hangs, failures are StoreErrors naming the store, calls succeed after', async () => {
      const client = await connect(options);
      try {
        const { calls } = everyCall(client, 'load:');
        const pending: Promise<{ store: string; at: number; out: Outcome }>[] = [];
        const began = Date.now();
        let i = 0;
        // A call every 20 ms for 3.5 s; Redis is stopped from 0.5 s to 2 s.
        const load = (async () => {
          while (Date.now() - began < 3500) {
            const [store, call] = calls[i++ % calls.length];
            const at = Date.now() - began;
            pending.push(timed(call()).then((out) => ({ store, at, out })));
            await sleep(20);
          }
        })();
        await sleep(500);
        await stop();
        await sleep(1500);
        await start();
        await load;
        const results = await Promise.all(pending);
        expect(results.length).toBeGreaterThan(30);
        expectBounded(results.map(({ store, out }) => ({ store: store.replace('-read', ''), out })));
        expect(results.some((r) => r.out.error instanceof StoreError)).toBe(true); // the outage was seen
        await ready(client);
        const after = await Promise.all(
          calls.map(async ([store, call]) => ({ store, out: await timed(call()) })),
        );
        for (const { store, out } of after)
          expect({ store, error: out.error }).toEqual({ store, error: undefined });
      } finally {
        await close(client);
      }
    });
  });

  it('a write that timed out while Redis was down is applied once when Redis is back, never twice', async () => {
    const client = await connect({ maxRetriesPerRequest: null });
    try {
      const store = createRedisBudgetStore(client, { prefix: 'late:', timeoutMs: LIMIT_MS });
      await stop();
      const error = await Promise.resolve(store.add('team', 0, 0.25, 60_000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(/may still be applied once, never twice/);
      await start();
      await ready(client); // ioredis sends the command it held on reconnecting
      expect(await store.spent('team', 0)).toBeCloseTo(0.25, 10);
      expect(await store.add('team', 0, 0.5, 60_000)).toBeCloseTo(0.75, 10);
    } finally {
      await close(client);
    }
  });

  it('with Redis down, cooldown reads cost at most one round trip per cache period and answer the last known cooldowns', async () => {
    const redis = await connect({ maxRetriesPerRequest: null });
    try {
      const { counter, client } = counting(redis);
      const { lines, logger } = capture();
      const store = createRedisCooldownStore(client, {
        prefix: 'cache:',
        timeoutMs: LIMIT_MS,
        cacheMs: 5000,
        logger,
      });
      const ids = ['a', 'b'];
      await store.coolUntil('a', 100_000);
      expect(await store.coolingUntil(ids, 1000)).toEqual({ a: 100_000 });
      await stop();

      counter.sent = 0;
      const first = await timed(store.coolingUntil(ids, 1000));
      expect(first).toMatchObject({ pending: false, value: { a: 100_000 } });
      expect(first.ms).toBeLessThan(BOUND_MS);
      expect(counter.sent).toBe(ids.length); // one read per deployment: one probe
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^Redis cooldown store: reading cooldowns failed.*no answer within 300 ms.*last known cooldowns for 5000 ms/,
      );

      // Within the cache period: no round trip at all, sequential or concurrent.
      for (let now = 1000; now < 6000; now += 250)
        expect(await store.coolingUntil(ids, now)).toEqual({ a: 100_000 });
      const burst = await Promise.all(Array.from({ length: 20 }, () => store.coolingUntil(ids, 5999)));
      expect(burst).toEqual(Array.from({ length: 20 }, () => ({ a: 100_000 })));
      expect(counter.sent).toBe(ids.length);
      expect(lines).toHaveLength(1);

      // The period is over: one new probe for a burst of concurrent reads (the others answer at once).
      const second = await Promise.all(
        Array.from({ length: 20 }, () => timed(store.coolingUntil(ids, 6000))),
      );
      expect(second.every((o) => !o.pending && (o.value as Record<string, number>).a === 100_000)).toBe(true);
      expect(counter.sent).toBe(2 * ids.length);
      expect(lines).toHaveLength(2);

      // A known cooldown still ends on time, and one this process sets while Redis is down is kept.
      expect(await store.coolingUntil(ids, 100_001)).toEqual({});
      const write = await Promise.resolve(store.coolUntil('b', 200_000)).catch((e: unknown) => e);
      expect(write).toBeInstanceOf(StoreError);
      expect(await store.coolingUntil(ids, 150_000)).toEqual({ b: 200_000 });

      // Back up: after the period, reads ask Redis again and see what it holds.
      await start();
      await ready(redis);
      await redis.set('cache:cooldown:{a}:until', '900000');
      counter.sent = 0;
      expect(await store.coolingUntil(ids, 400_000)).toEqual({ a: 900_000 });
      expect(counter.sent).toBe(ids.length);
      expect(await store.coolingUntil(ids, 400_001)).toEqual({ a: 900_000 });
      expect(counter.sent).toBe(2 * ids.length); // healthy: every read asks Redis (no caching)
    } finally {
      await close(redis);
    }
  });

  it('with Redis down, routed calls do not wait on rate-limit reads to order deployments; reads resume when it is back', async () => {
    const redis = await connect({ maxRetriesPerRequest: null });
    try {
      const { counter, client } = counting(redis);
      const { lines, logger } = capture();
      const router = createRouter({
        groups: {
          main: {
            strategy: 'least-busy',
            deployments: [
              { model: 'mock/open', id: 'open' },
              { model: 'mock/limited', id: 'limited', rpm: 1000 },
            ],
          },
        },
        rateLimitStore: createRedisRateLimitStore(client, { prefix: 'order:', timeoutMs: LIMIT_MS }),
        logger,
      });
      const ask = {
        model: 'main',
        messages: [{ role: 'user' as const, content: 'hi' }],
        mock_response: 'ok',
      };
      const call = () => lastValueFrom(router.complete(ask));
      /** A call's deployment if it answered synchronously (the mock provider does), i.e. waited on nothing. */
      const now = () => {
        let result: RoutedCompletion | undefined;
        router
          .complete(ask)
          .subscribe((r) => (result = r))
          .unsubscribe();
        return result?.route.deployment;
      };
      await stop();
      counter.sent = 0;
      expect((await call()).route.deployment).toBe('open'); // finds Redis down: one read, at the limit
      expect(counter.sent).toBe(1);
      expect(Array.from({ length: 10 }, now)).toEqual(Array.from({ length: 10 }, () => 'open'));
      expect(counter.sent).toBe(2); // one background read for ten calls
      expect(lines).toHaveLength(1);

      await start();
      await ready(redis);
      // A background read finds Redis back; then calls wait for the limiter state before they route
      // again (none answers synchronously).
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i++) {
        await sleep(20);
        healthy = now() === undefined;
      }
      expect(healthy).toBe(true);
      expect((await call()).route.deployment).toBe('open');
      expect(lines).toHaveLength(1);
    } finally {
      await close(redis);
    }
  });

  it('with Redis down, routed calls go through and only the first pays a cooldown read (one limit per cache period)', async () => {
    const redis = await connect({ maxRetriesPerRequest: null });
    const mock = await createMockServer({ defaultScript: 'fine' });
    try {
      const { counter, client } = counting(redis);
      const { logger } = capture();
      const router = createRouter({
        groups: {
          main: [
            { model: 'compat/a', id: 'a', options: { baseURL: mock.url, apiKey: 'sk-test' } },
            { model: 'compat/b', id: 'b', options: { baseURL: mock.url, apiKey: 'sk-test' } },
          ],
        },
        cooldownStore: createRedisCooldownStore(client, {
          prefix: 'routed:',
          timeoutMs: LIMIT_MS,
          cacheMs: 60_000,
          logger,
        }),
        logger,
      });
      await stop();
      counter.sent = 0;
      const served: Outcome[] = [];
      for (let i = 0; i < 10; i++) {
        served.push(
          await timed(
            lastValueFrom(
              router.stream({ model: 'main', messages: [{ role: 'user', content: 'hi' }] }).pipe(toArray()),
            ),
          ),
        );
      }
      for (const out of served) {
        expect(out.pending).toBe(false);
        expect(out.error).toBeUndefined();
        expect((out.value as unknown[]).length).toBeGreaterThan(0);
      }
      expect(counter.sent).toBe(2); // one probe (two deployments) for ten routed calls
    } finally {
      await mock.close();
      await close(redis);
    }
  });
});
