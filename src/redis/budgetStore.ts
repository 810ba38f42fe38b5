/**
 * `BudgetStore` on Redis: one float per budget key and window, added to with INCRBYFLOAT in a Lua
 * script that also sets its expiry (atomic). Each add has a write id, so an add whose reply was lost
 * and that `withRetry` sends again is not counted twice. A reservation checks the spend and adds the
 * call's estimate in one script, so processes sharing the budget cannot all pass the check first.
 */
import { randomUUID } from 'node:crypto';
import type { BudgetStore } from '../cost/budgetStore';
import {
  LuaScript,
  resolveOptions,
  withRetry,
  type RedisScriptClient,
  type RedisStoreOptions,
} from './client';

// KEYS: spend, write marker. ARGV: amount, ttl ms, marker ttl ms. A marker already there means this
// write was applied and its reply lost: the retry returns the total without adding again.
const ADD = new LuaScript(`
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  return redis.call('GET', KEYS[1]) or '0'
end
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return total
`);
const GET = new LuaScript(`return redis.call('GET', KEYS[1])`);
// KEYS: spend, write marker. ARGV: amount, maxCost, ttl ms, marker ttl ms. Returns {granted, total}
// (the total as a string: Lua numbers in a reply are truncated to integers). A marker already there
// means this reservation was granted and its reply lost: granted again without adding.
const RESERVE = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {1, redis.call('GET', KEYS[1]) or '0'}
end
local spent = redis.call('GET', KEYS[1]) or '0'
if tonumber(spent) >= tonumber(ARGV[2]) then
  return {0, spent}
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, total}
`);

/**
 * A `BudgetStore` on Redis for `budget({ store })`: every process using the same Redis and budget
 * `key` shares one spend. A failed read refuses the call with a `StoreError` (the budget cannot be
 * checked); a failed write is logged by `budget` (the call already happened).
 *
 * @example
 * // doc-test: typecheck-only
 * import { Redis } from 'ioredis';
 * import { stream } from 'rxllm';
 * import { budget } from 'rxllm/operators';
 * import { createRedisBudgetStore } from 'rxllm/redis';
 * const store = createRedisBudgetStore(new Redis('redis://127.0.0.1:6379'));
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(budget({ maxCost: 20, window: 86_400_000, store, key: 'team-a' }))
 *   .subscribe();
 */
export function createRedisBudgetStore(
  client: RedisScriptClient,
  options: RedisStoreOptions = {},
): BudgetStore {
  const { prefix, retryMs } = resolveOptions('createRedisBudgetStore', client, options);
  const keyOf = (key: string, windowStart: number) => `${prefix}budget:${key}:${windowStart}`;
  // In the spend key's Redis Cluster slot: `{spend}` hashes like `spend` when `spend` has no braces.
  const markerOf = (spend: string, writeId: string) =>
    spend.includes('{') ? `${spend}:w:${writeId}` : `{${spend}}:w:${writeId}`;
  // A marker only has to outlive the retries of its write.
  const markerTtl = Math.ceil(retryMs) + 60_000;
  return {
    spent: (key, windowStart) =>
      withRetry('budget', 'reading the spend', retryMs, async () =>
        Number((await GET.run(client, [keyOf(key, windowStart)], [])) ?? 0),
      ),
    add: (key, windowStart, amount, ttlMs) => {
      const spend = keyOf(key, windowStart);
      const keys = [spend, markerOf(spend, randomUUID())];
      const args = [String(amount), Math.max(1, Math.ceil(ttlMs)), markerTtl];
      return withRetry('budget', 'recording a cost', retryMs, async () =>
        Number(await ADD.run(client, keys, args)),
      );
    },
    reserve: (key, windowStart, amount, maxCost, ttlMs) => {
      const spend = keyOf(key, windowStart);
      const keys = [spend, markerOf(spend, randomUUID())];
      const args = [String(amount), String(maxCost), Math.max(1, Math.ceil(ttlMs)), markerTtl];
      return withRetry('budget', 'reserving a call', retryMs, async () => {
        const [granted, total] = (await RESERVE.run(client, keys, args)) as [number, string];
        return { granted: Number(granted) === 1, spent: Number(total) };
      });
    },
  };
}
