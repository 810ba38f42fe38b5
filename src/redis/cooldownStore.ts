/**
 * The router's `CooldownStore` on Redis: failures in a sorted set per deployment, the cooldown end
 * in a string, both updated by Lua scripts (atomic), so a cooldown set by one process is honoured
 * by every other.
 */
import { randomUUID } from 'node:crypto';
import { StoreError } from '../errors';
import { consoleLogger, type Logger } from '../logger';
import type { CooldownStore } from '../router/cooldown';
import {
  LuaScript,
  REDIS_STORE_DEFAULTS,
  resolveOptions,
  withRetry,
  type RedisScriptClient,
  type RedisStoreOptions,
} from './client';

// KEYS: fails zset, until string. ARGV: now, allowedFails, windowMs, cooldownMs, member.
const RECORD = new LuaScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(window)))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  local finish = now + tonumber(ARGV[4])
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
  if finish > cur then
    redis.call('SET', KEYS[2], string.format('%d', finish), 'PX', math.max(1, math.ceil(tonumber(ARGV[4]))))
  end
  return string.format('%d', finish)
end
return '0'
`);

// KEYS: until string. ARGV: until, ttl ms.
const COOL = new LuaScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, math.ceil(tonumber(ARGV[2]))))
end
return 1
`);

const GET = new LuaScript(`return redis.call('GET', KEYS[1])`);

/** Options of {@link createRedisCooldownStore}. */
export interface RedisCooldownStoreOptions extends RedisStoreOptions {
  /**
   * After a read found Redis unavailable (no answer within `timeoutMs`), how long reads answer from
   * the last known cooldowns without asking Redis, in ms of the router's clock; then one read asks
   * again while the others keep answering from memory. `0` asks Redis on every read. While Redis
   * answers, every read asks it (nothing is cached). @defaultValue 5000
   */
  cacheMs?: number;
  /** Where an unavailable Redis is reported, once per cache period. @defaultValue consoleLogger */
  logger?: Logger;
}

/** Defaults of {@link createRedisCooldownStore}. */
export const REDIS_COOLDOWN_STORE_DEFAULTS = { ...REDIS_STORE_DEFAULTS, cacheMs: 5000 } as const;

/**
 * A `CooldownStore` on Redis for `createRouter({ cooldownStore })`. Times are the routers' clocks
 * (`Date.now()` by default), so the processes sharing it must have synchronised clocks (NTP).
 *
 * It fails open, since cooldowns only steer calls away from a failing deployment: a read Redis does not
 * answer within `timeoutMs` resolves to the last cooldowns this store knew (read from Redis or set by
 * this process) and is logged, and for `cacheMs` after it reads answer from them without asking
 * Redis, so an outage costs one read one time limit per period instead of every routed call. A write
 * (`recordFailure`, `coolUntil`) fails with a `StoreError` within `timeoutMs`, which the router logs;
 * a cooldown this process sets is kept in memory all the same.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Redis } from 'ioredis';
 * import { createRouter } from 'rxllm';
 * import { createRedisCooldownStore } from 'rxllm/redis';
 * const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
 * const router = createRouter({
 *   groups: { fast: [{ model: 'openai/gpt-4o-mini' }, { model: 'groq/llama-3.1-8b-instant' }] },
 *   cooldownStore: createRedisCooldownStore(redis, { timeoutMs: 500, cacheMs: 5000 }),
 * });
 */
export function createRedisCooldownStore(
  client: RedisScriptClient,
  options: RedisCooldownStoreOptions = {},
): CooldownStore {
  const { prefix, timeoutMs } = resolveOptions('createRedisCooldownStore', client, options);
  const { cacheMs = REDIS_COOLDOWN_STORE_DEFAULTS.cacheMs, logger = consoleLogger } = options;
  if (typeof cacheMs !== 'number' || !(cacheMs >= 0))
    throw new TypeError(
      `createRedisCooldownStore: cacheMs must be a number of ms >= 0, got ${String(cacheMs)}.`,
    );
  // `{id}`: a deployment's two keys hash to one Redis Cluster slot, as a script's keys must (CROSSSLOT).
  const fails = (id: string) => `${prefix}cooldown:{${id}}:fails`;
  const until = (id: string) => `${prefix}cooldown:{${id}}:until`;
  const int = (n: number) => String(Math.ceil(n));

  // The last cooldown end seen per deployment: the answer while Redis is unavailable.
  const known = new Map<string, number>();
  const remember = (id: string, end: number) => {
    if (end > (known.get(id) ?? 0)) known.set(id, end);
  };
  const fromKnown = (ids: readonly string[], now: number) => {
    const out: Record<string, number> = {};
    for (const id of ids) {
      const end = known.get(id);
      if (end !== undefined && end > now) out[id] = end;
      else known.delete(id);
    }
    return out;
  };
  let down = false;
  let downUntil = -Infinity;
  let probing = false;

  return {
    recordFailure: (id, now, { allowedFails, windowMs, cooldownMs }) => {
      // One member per failure, fixed before the retries: a retried ZADD whose reply was lost
      // re-adds the same member instead of counting the failure twice.
      const member = `${now}:${randomUUID()}`;
      return withRetry('cooldown', 'recording a failure', timeoutMs, async () =>
        Number(
          await RECORD.run(
            client,
            [fails(id), until(id)],
            [int(now), allowedFails, windowMs, cooldownMs, member],
          ),
        ),
      ).then((end) => {
        if (end > 0) remember(id, end);
        return end;
      });
    },
    coolUntil: (id, end) => {
      remember(id, end);
      return withRetry('cooldown', 'setting a cooldown', timeoutMs, async () => {
        // Kept a day: the end is compared with the router's clock, which need not be Redis's.
        await COOL.run(client, [until(id)], [int(end), 86_400_000]);
      });
    },
    coolingUntil: async (ids, now) => {
      if (ids.length === 0) return {};
      // Redis was unavailable: within the period, or while one read asks again, answer from memory.
      if (down && cacheMs > 0 && (probing || now < downUntil)) return fromKnown(ids, now);
      const probe = down;
      if (probe) probing = true;
      try {
        // One read per deployment, not one MGET: on a Cluster the deployments' keys are in different slots.
        const values = await withRetry('cooldown', 'reading cooldowns', timeoutMs, () =>
          Promise.all(ids.map((id) => GET.run(client, [until(id)], []))),
        );
        down = false;
        const out: Record<string, number> = {};
        ids.forEach((id, i) => {
          const end = Number(values[i]);
          if (values[i] == null || !(end > now)) return void known.delete(id);
          known.set(id, end);
          out[id] = end;
        });
        return out;
      } catch (error) {
        // A reply error is a bug, not an outage: it reaches the router, which logs it.
        if (!(error instanceof StoreError) || !error.retryable) throw error;
        const first = !(down && now < downUntil); // concurrent failures log once
        down = true;
        downUntil = now + cacheMs;
        if (first)
          logger.warn(
            `${error.message} Answering from the last known cooldowns${cacheMs > 0 ? ` for ${cacheMs} ms` : ''}.`,
          );
        return fromKnown(ids, now);
      } finally {
        if (probe) probing = false;
      }
    },
  };
}
