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
// Numbers as the limiter writes them ('inf' for an unlimited bucket). The take script writes with
// %.17g, which reads back as the same double, while JavaScript prints the shortest form: states are
// therefore compared field by field as numbers, not as strings.
const LUA_NUM = `
local function num(s)
  if s == 'inf' then return math.huge elseif s == '-inf' then return -math.huge end
  return tonumber(s)
end
local function str(n)
  if n == math.huge then return 'inf' elseif n == -math.huge then return '-inf' end
  return string.format('%.17g', n)
end
local function fields(state)
  local t = {}
  for f in string.gmatch(state, '[^,]+') do t[#t + 1] = num(f) end
  return t
end
-- The stored value is "<state>|<write id>[|<reply>]": returns the state, the write id, the reply.
local function split(cur)
  local sep = string.find(cur, '|', 1, true)
  if not sep then return cur, nil, nil end
  local rest = string.sub(cur, sep + 1)
  local sep2 = string.find(rest, '|', 1, true)
  if not sep2 then return string.sub(cur, 1, sep - 1), rest, nil end
  return string.sub(cur, 1, sep - 1), string.sub(rest, 1, sep2 - 1), string.sub(rest, sep2 + 1)
end
`;

// Stored value: "<state>|<write id>". The write id makes a retried write idempotent: when the reply
// to a write is lost (Redis restarted) and the write is sent again, finding its own id means it was
// applied, so the permit is not taken twice.
const CAS = new LuaScript(`${LUA_NUM}
local cur = redis.call('GET', KEYS[1])
if cur then
  local state, id = split(cur)
  if id == ARGV[3] then return 1 end
  if ARGV[1] == '' then return 0 end
  local a, b = fields(state), fields(ARGV[1])
  if #a ~= 4 or #b ~= 4 then return 0 end
  for i = 1, 4 do if a[i] ~= b[i] then return 0 end end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
return 1
`);

// The limiter's refill and take (src/rateLimit/limiter.ts) for a queue of waiters, in one atomic
// step: one round trip grants a process's whole queue. ARGV: rpm, tpm, request capacity, now, write
// id, ttl ms, then one token cost per waiter. Replies "<granted>,<wait ms>" (a string: Redis would
// truncate a Lua number). The reply is stored beside the write id, so a retried call is not applied
// twice and gets the same reply.
const TAKE = new LuaScript(`${LUA_NUM}
local rpm, tpm, cap, now = num(ARGV[1]), num(ARGV[2]), num(ARGV[3]), tonumber(ARGV[4])
local cur = redis.call('GET', KEYS[1])
local s
if cur then
  local state, id, reply = split(cur)
  if id == ARGV[5] and reply then return reply end
  s = fields(state)
  if #s ~= 4 then s = nil end
end
local req, tok, paused
if not s then
  req, tok, paused = cap, tpm, 0
else
  -- The bucket's clock never goes back (see refill in src/rateLimit/limiter.ts): a caller's time
  -- earlier than the stored one refills nothing and leaves the stored time as it is.
  now = math.max(now, s[3])
  local elapsed = now - s[3]
  req, tok, paused = s[1], s[2], s[4]
  if rpm ~= math.huge then req = math.min(cap, req + elapsed * rpm / 60000) else req = math.huge end
  if tpm ~= math.huge then tok = math.min(tpm, tok + elapsed * tpm / 60000) else tok = math.huge end
end
local granted, wait = 0, 0
for i = 7, #ARGV do
  local cost = tonumber(ARGV[i])
  if now < paused then
    wait = paused - now
  elseif req < 1 or tok < cost then
    local needR, needT = 0, 0
    if req < 1 then needR = (1 - req) * 60000 / rpm end
    if tok < cost then needT = (cost - tok) * 60000 / tpm end
    wait = math.max(needR, needT)
  end
  if wait > 0 then break end
  req, tok, granted = req - 1, tok - cost, granted + 1
end
if wait > 0 then wait = math.max(1, math.ceil(wait)) end
local reply = granted .. ',' .. string.format('%d', wait)
if granted > 0 then
  local state = str(req) .. ',' .. str(tok) .. ',' .. str(now) .. ',' .. str(paused)
  redis.call('SET', KEYS[1], state .. '|' .. ARGV[5] .. '|' .. reply, 'PX', ARGV[6])
end
return reply
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
  // Written by the take script with %.17g: read back as the same doubles.
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
    takeInOrder: (key, costs, limits, now) => {
      const args = [
        num(limits.requestsPerMinute),
        num(limits.tokensPerMinute),
        num(limits.requestCapacity),
        num(now),
        randomUUID(),
        Math.ceil(ttlMs),
        ...costs.map(num),
      ];
      return withRetry('rate-limit', 'taking a permit', timeoutMs, async () => {
        const [granted, wait] = String(await TAKE.run(client, [keyOf(key)], args))
          .split(',')
          .map(Number);
        return { granted, wait };
      });
    },
  };
}
