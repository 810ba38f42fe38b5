/**
 * `RateLimitStore` on Redis: one string per limiter key, compare-and-set in a Lua script, so a fleet
 * of workers shares one provider quota.
 */
import { randomUUID } from 'node:crypto';
import type { RateLimitState, RateLimitStore } from '../rateLimit/store';
import {
  LuaScript,
  resolveOptions,
  withRetry,
  type RedisScriptClient,
  type RedisStoreOptions,
} from './client';

export interface RedisRateLimitStoreOptions extends RedisStoreOptions {
  /** How long an untouched limiter state is kept, in ms. @defaultValue 86_400_000 (a day) */
  ttlMs?: number;
}

// Stored value: "<state>|<write id>". The write id makes a retried write idempotent: when the reply
// to a write is lost (Redis restarted) and the write is sent again, finding its own id means it was
// applied, so the permit is not taken twice.
const CAS = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local state = cur
  if sep then
    state = string.sub(cur, 1, sep - 1)
    if string.sub(cur, sep + 1) == ARGV[3] then return 1 end
  end
  if state ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
return 1
`);

const GET = new LuaScript(`return redis.call('GET', KEYS[1])`);

const num = (n: number): string => (n === Infinity ? 'inf' : n === -Infinity ? '-inf' : String(n));
const parseNum = (s: string): number => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

/** The state as stored (without the write id). Field order is fixed: it is compared as a string. */
export function encodeRateLimitState(s: RateLimitState): string {
  return `${num(s.requests)},${num(s.tokens)},${num(s.updatedAt)},${num(s.pausedUntil)}`;
}

function decode(value: unknown): RateLimitState | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const state = value.split('|')[0];
  const [requests, tokens, updatedAt, pausedUntil] = state.split(',').map(parseNum);
  if ([requests, tokens, updatedAt, pausedUntil].some((n) => Number.isNaN(n))) return undefined;
  return { requests, tokens, updatedAt, pausedUntil };
}

/**
 * A {@link RateLimitStore} on Redis for `createRateLimiter({ store })`: every process using the same
 * Redis and limiter `key` shares one budget. Compare-and-set is one Lua script (atomic). It fails
 * closed: when Redis does not answer within `timeoutMs` (down, stalled), the limiter's `acquire` fails
 * with a retryable `StoreError` and grants nothing, since workers each granting on their own would
 * overrun the shared quota together. The state is Redis's, so it survives a restart as far as Redis
 * persists it (use `appendonly yes` for a restart to lose no permits).
 *
 * @example
 * // doc-test: typecheck-only
 * import { Redis } from 'ioredis';
 * import { createRateLimiter } from 'rxllm';
 * import { createRedisRateLimitStore } from 'rxllm/redis';
 * const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
 * const limiter = createRateLimiter({ requestsPerMinute: 500, store: createRedisRateLimitStore(redis), key: 'openai' });
 */
export function createRedisRateLimitStore(
  client: RedisScriptClient,
  options: RedisRateLimitStoreOptions = {},
): RateLimitStore {
  const { prefix, timeoutMs } = resolveOptions('createRedisRateLimitStore', client, options);
  const { ttlMs = 86_400_000 } = options;
  if (typeof ttlMs !== 'number' || !(ttlMs > 0))
    throw new TypeError('createRedisRateLimitStore: ttlMs must be > 0.');
  const keyOf = (key: string) => `${prefix}ratelimit:${key}`;
  return {
    get: (key) =>
      withRetry('rate-limit', 'reading the limiter state', timeoutMs, async () =>
        decode(await GET.run(client, [keyOf(key)], [])),
      ),
    compareAndSet: (key, expected, next) => {
      const writeId = randomUUID();
      const args = [
        expected ? encodeRateLimitState(expected) : '',
        encodeRateLimitState(next),
        writeId,
        Math.ceil(ttlMs),
      ];
      return withRetry(
        'rate-limit',
        'taking a permit',
        timeoutMs,
        async () => (await CAS.run(client, [keyOf(key)], args)) === 1,
      );
    },
  };
}
