/**
 * The Redis rate-limit store grants a process's waiting permits together: one script call (one round
 * trip) serves the whole queue, in order, instead of a read and a compare-and-set per permit one after
 * the other. Judged by counting the calls the store makes, not by the clock; and across two processes
 * firing their permits all at once, the shared limit still holds.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { VirtualTimeScheduler } from 'rxjs';
import { createRateLimiter } from 'rxllm';
import { createRedisRateLimitStore, type RedisScriptClient } from 'rxllm/redis';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';

const TSX = join(__dirname, '../../node_modules/.bin/tsx');
const run = redisAvailable() ? describe : describe.skip;

run('concurrent permits from the Redis rate-limit store', () => {
  jest.setTimeout(60_000);
  let server: RedisProcess;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.destroy();
  });

  it('300 waiters in one process take the 200 permits there are in a few round trips, not 2 per permit', async () => {
    let calls = 0;
    const counting: RedisScriptClient = {
      evalsha: (...args) => (calls++, redis.evalsha(...args)),
      eval: (...args) => (calls++, redis.eval(...args)),
    };
    // 20,000 tokens per minute, 100 per request: 200 permits in the bucket. Virtual time that never
    // advances: nothing refills and no wait timer fires, so the bucket is all there is to grant.
    const limiter = createRateLimiter({
      tokensPerMinute: 20_000,
      store: createRedisRateLimitStore(counting, { prefix: 'conc:' }),
      key: 'one',
      scheduler: new VirtualTimeScheduler(),
    });
    let granted = 0;
    const subs = Array.from({ length: 300 }, () => limiter.acquire(100).subscribe(() => granted++));
    while (granted < 200) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100)); // anything more would be over the limit
    expect(granted).toBe(200);
    // One call for the first waiter, one for the 299 queued behind it, one that finds the bucket
    // empty (plus a NOSCRIPT reload): a read and a compare-and-set per permit would be 400+.
    expect(calls).toBeLessThanOrEqual(6);
    const state = await createRedisRateLimitStore(redis, { prefix: 'conc:' }).get('one');
    expect(state?.tokens).toBeCloseTo(0, 6);
    subs.forEach((sub) => sub.unsubscribe());
    expect(granted).toBe(200);
  });

  it('a caller whose clock is behind the stored time refills nothing and leaves the time as it is (no double refill)', async () => {
    const store = createRedisRateLimitStore(redis, { prefix: 'conc:' });
    const limits = { requestsPerMinute: Infinity, tokensPerMinute: 60_000, requestCapacity: Infinity }; // 1/ms
    expect(await store.takeInOrder!('behind', [60_000], limits, 0)).toEqual({ granted: 1, wait: 0 });
    expect(await store.takeInOrder!('behind', [40], limits, 50)).toEqual({ granted: 1, wait: 0 }); // 10 left
    // A worker that read its clock at 30 and reached Redis after the write of 50: takes the 10 left.
    expect(await store.takeInOrder!('behind', [10], limits, 30)).toEqual({ granted: 1, wait: 0 });
    expect(await store.get('behind')).toEqual(expect.objectContaining({ tokens: 0, updatedAt: 50 }));
    // At 60, 10 tokens: 20 waits 10 ms. With the time moved back to 30, 30 would be refilled and granted.
    expect(await store.takeInOrder!('behind', [20], limits, 60)).toEqual({ granted: 0, wait: 10 });
  });

  it('the script takes in order and stops at the first waiter that does not fit, with its wait', async () => {
    const store = createRedisRateLimitStore(redis, { prefix: 'conc:' });
    const limits = { requestsPerMinute: Infinity, tokensPerMinute: 6000, requestCapacity: Infinity };
    // 6,000 tokens: 5,000 fit, the next 2,000 do not (1,000 left), so the 10 behind it wait too.
    expect(await store.takeInOrder!('order', [5000, 2000, 10], limits, 1_000_000)).toEqual({
      granted: 1,
      wait: 10_000, // 1,000 tokens missing at 100 a second
    });
    expect(await store.get('order')).toEqual({
      requests: Infinity,
      tokens: 1000,
      updatedAt: 1_000_000,
      pausedUntil: 0,
    });
    // 20 s later the bucket has refilled by 2,000 (3,000): the 2,000 and the 10 fit.
    expect(await store.takeInOrder!('order', [2000, 10], limits, 1_020_000)).toEqual({ granted: 2, wait: 0 });
    expect((await store.get('order'))?.tokens).toBe(990);
  });

  it('two processes firing 150 permits each at once never exceed the shared tpm limit together', async () => {
    // 6,000 tokens per minute at 100 a request: a burst of 60, then one permit a second.
    const startAt = Date.now() + 3000;
    const args = ['burst', String(server.port), 'two', '6000', '100', '150', String(startAt), '2500'];
    const outputs = await Promise.all(
      [0, 1].map(() =>
        promisify(execFile)(TSX, [join(__dirname, 'worker.ts'), ...args], { timeout: 40_000 }),
      ),
    );
    const grants = outputs.flatMap(
      ({ stdout }) => JSON.parse(stdout.trim().split('\n').pop()!).grants as number[],
    );
    const span = (Math.max(...grants) - Math.min(...grants)) / 1000;
    // The whole burst was taken (the limit bound), and no more than the burst plus what refilled
    // while granting (one a second; +2 for a refill begun before the first grant and rounding).
    expect(grants.length).toBeGreaterThanOrEqual(60);
    expect(grants.length).toBeLessThanOrEqual(60 + Math.ceil(span) + 2);
  });
});
