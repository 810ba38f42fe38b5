/**
 * `BudgetStore` on Redis: one float per budget key and window, added to with INCRBYFLOAT in a Lua
 * script that also sets its expiry (atomic).
 */
import type { BudgetStore } from '../cost/budgetStore';
import {
  LuaScript,
  resolveOptions,
  withRetry,
  type RedisScriptClient,
  type RedisStoreOptions,
} from './client';

// KEYS: spend. ARGV: amount, ttl ms.
const ADD = new LuaScript(`
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return total
`);
const GET = new LuaScript(`return redis.call('GET', KEYS[1])`);

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
  return {
    spent: (key, windowStart) =>
      withRetry('budget', 'reading the spend', retryMs, async () =>
        Number((await GET.run(client, [keyOf(key, windowStart)], [])) ?? 0),
      ),
    add: (key, windowStart, amount, ttlMs) =>
      withRetry('budget', 'recording a cost', retryMs, async () =>
        Number(
          await ADD.run(client, [keyOf(key, windowStart)], [String(amount), Math.max(1, Math.ceil(ttlMs))]),
        ),
      ),
  };
}
