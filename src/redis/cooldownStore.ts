/**
 * The router's `CooldownStore` on Redis: failures in a sorted set per deployment, the cooldown end
 * in a string, both updated by Lua scripts (atomic), so a cooldown set by one process is honoured
 * by every other.
 */
import { randomUUID } from 'node:crypto';
import type { CooldownStore } from '../router/cooldown';
import {
  LuaScript,
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

/**
 * A `CooldownStore` on Redis for `createRouter({ cooldownStore })`. Times are the routers' clocks
 * (`Date.now()` by default), so the processes sharing it must have synchronised clocks (NTP).
 * Reads and writes retry for `retryMs` while Redis is unreachable, then fail with a `StoreError`;
 * the router then logs it and routes as if nothing were cooling.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Redis } from 'ioredis';
 * import { createRouter } from 'rxllm';
 * import { createRedisCooldownStore } from 'rxllm/redis';
 * const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
 * const router = createRouter({
 *   groups: { fast: [{ model: 'openai/gpt-4o-mini' }, { model: 'groq/llama-3.1-8b-instant' }] },
 *   cooldownStore: createRedisCooldownStore(redis),
 * });
 */
export function createRedisCooldownStore(
  client: RedisScriptClient,
  options: RedisStoreOptions = {},
): CooldownStore {
  const { prefix, retryMs } = resolveOptions('createRedisCooldownStore', client, options);
  // `{id}`: a deployment's two keys hash to one Redis Cluster slot, as a script's keys must (CROSSSLOT).
  const fails = (id: string) => `${prefix}cooldown:{${id}}:fails`;
  const until = (id: string) => `${prefix}cooldown:{${id}}:until`;
  const int = (n: number) => String(Math.ceil(n));
  return {
    recordFailure: (id, now, { allowedFails, windowMs, cooldownMs }) => {
      // One member per failure, fixed before the retries: a retried ZADD whose reply was lost
      // re-adds the same member instead of counting the failure twice.
      const member = `${now}:${randomUUID()}`;
      return withRetry('cooldown', 'recording a failure', retryMs, async () =>
        Number(
          await RECORD.run(
            client,
            [fails(id), until(id)],
            [int(now), allowedFails, windowMs, cooldownMs, member],
          ),
        ),
      );
    },
    coolUntil: (id, end) =>
      withRetry('cooldown', 'setting a cooldown', retryMs, async () => {
        // Kept a day: the end is compared with the router's clock, which need not be Redis's.
        await COOL.run(client, [until(id)], [int(end), 86_400_000]);
      }),
    coolingUntil: (ids, now) =>
      withRetry('cooldown', 'reading cooldowns', retryMs, async () => {
        if (ids.length === 0) return {};
        // One read per deployment, not one MGET: on a Cluster the deployments' keys are in different slots.
        const values = (await Promise.all(ids.map((id) => GET.run(client, [until(id)], [])))) as (
          string | null
        )[];
        const out: Record<string, number> = {};
        ids.forEach((id, i) => {
          const end = Number(values[i]);
          if (values[i] != null && end > now) out[id] = end;
        });
        return out;
      }),
  };
}
