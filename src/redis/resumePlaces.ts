/**
 * How many streams the Redis resume store holds (`maxStreams`), counted across every instance sharing
 * one Redis: a sorted set of stream ids (the live set), each scored by a bound of its expiry, in ms of
 * Redis's own clock (`TIME`, so instances with skewed clocks agree). The bound is never before its
 * stream expires: `create` sets it to now + ttl + slack, and the producer raises it before its writes
 * could move the expiry (last write + ttl) past it. So an id whose bound passed belongs to an expired
 * stream, and `create` trims those, counts and adds in one script: two instances racing for the last
 * place cannot both take it. A finished stream's bound is a whole number of ms plus one half (its
 * producer marks it with its last raise): when the set is full, `create` takes the place of the
 * finished stream nearest its expiry (the one that ended first), in the same script, and then deletes
 * that stream's keys, as the memory store drops its oldest finished stream. Separate scripts from the
 * stream's own: the set and a stream's keys sit in different Redis Cluster slots (a script's keys must
 * share one, else CROSSSLOT).
 * https://redis.io/docs/latest/commands/zadd/ (XX, GT: Redis 6.2), https://redis.io/docs/latest/commands/time/
 */
import { LuaScript, type RedisScriptClient } from './client';

// KEYS: live set. ARGV: id, ttl + slack ms, maxStreams, how many of the lowest bounds to look through
// for a finished stream when full. Returns 1 placed, 0 placed already, -3 full (every stream looked at
// still runs), or the id of the finished stream whose place it took (its keys are the caller's to delete).
const RESERVE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local taken = 1
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  taken = -3
  local lowest = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1, 'WITHSCORES')
  for i = 1, #lowest, 2 do
    local score = tonumber(lowest[i + 1])
    if score ~= math.floor(score) then
      redis.call('ZREM', KEYS[1], lowest[i])
      taken = lowest[i]
      break
    end
  end
  if taken == -3 then return -3 end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return taken
`);
// KEYS: live set. ARGV: id, ttl + slack ms. Raises a placed id's bound, never adds one (XX): an id
// trimmed had expired, so the write that follows fails with not-found anyway.
const KEEP = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'GT', now + tonumber(ARGV[2]), ARGV[1])
`);
// KEYS: live set. ARGV: id, ttl + slack ms. Once the end is stored, a last raise: the bound (never lowered)
// plus one half marks the stream finished, so a full set may give its place to a new stream. Sent as
// text: Redis's Lua turns a number argument into one of 14 significant digits, the half's last.
const FINISH = new LuaScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bound = math.max(math.floor(tonumber(score)), now + tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], string.format('%.1f', bound + 0.5), ARGV[1])
return 1
`);

// KEYS: live set. ARGV: id. A place taken for a stream whose creation failed.
const RELEASE = new LuaScript(`return redis.call('ZREM', KEYS[1], ARGV[1])`);

/** How many of the lowest bounds a full `create` looks through for a finished stream. */
export const FINISHED_LOOKUP = 256;

/**
 * How long past its expiry a stream may hold its place: a tenth of its TTL, at least 1 s (the memory
 * store sweeps at most once a second). Its producer raises the bound every half of it.
 */
export const slackOf = (ttlMs: number): number => Math.max(1000, Math.ceil(ttlMs / 10));

/** A stream placed by this instance: its TTL and slack, when (local ms) its bound was last raised. */
export interface Place {
  ttlMs: number;
  slackMs: number;
  raisedAt: number;
  /** Its id had a place already (a stream of the same id that expired, its bound not passed yet). */
  reused: boolean;
  /** The finished stream whose place this one took (the set was full). */
  evicted?: string;
}

/** Runs a store call within the store's time limit (`withRetry`). */
type Run = (what: string, op: () => Promise<unknown>) => Promise<unknown>;

/** The live set as one store instance uses it. */
export interface StreamPlaces {
  /**
   * Takes a place for `id`; resolves to `undefined` when all `maxStreams` are taken by running
   * streams. When full, the place of a finished stream is taken: its id is `place.evicted`, for the
   * caller to delete its keys.
   */
  take(id: string, ttlMs: number): Promise<Place | undefined>;
  /**
   * The stream could not be created (Redis failed or did not answer in time): its place is given
   * back, unless it was the place of a stream of the same id already. Not awaited by the caller: a
   * stalled Redis runs it after the creation it was sent behind, so a late creation leaves an empty
   * stream that expires, not a place held until its bound passes.
   */
  release(id: string, place: Place): void;
  /** The stream was created: its place is kept by this instance's writes from now on. */
  created(id: string, place: Place): Promise<void>;
  /**
   * Before a write that moves the expiry (an append, the end): the raise to wait for beside it, when
   * one is due. Between raises the bound stays at least half the slack past the write's expiry.
   */
  beforeWrite(id: string): Promise<void> | undefined;
  /**
   * Once the end is written: marks its place finished, raising its bound past the end's expiry (a
   * full set may give the place to a new stream, which deletes the stream's keys: so only after the
   * end is stored). The stream is forgotten here.
   */
  finished(id: string): Promise<void>;
  /** The stream is gone (not-found). */
  forget(id: string): void;
}

/** The live set `liveSet` of `client`, bounded to `maxStreams` ids. */
export function streamPlaces(
  client: RedisScriptClient,
  liveSet: string,
  maxStreams: number,
  run: Run,
): StreamPlaces {
  // The streams this instance writes. One raise per stream every max(0.5 s, ttl / 20), none per chunk;
  // it is sent before the write, on the same connection, and awaited beside it (no extra round trip).
  const places = new Map<string, Place>();
  const raise = (id: string, place: Place): Promise<void> => {
    place.raisedAt = performance.now();
    return run('keep', () => KEEP.run(client, [liveSet], [id, place.ttlMs + place.slackMs])).then(
      () => undefined,
      () => {
        place.raisedAt = -Infinity; // Redis failed: the next write raises it again
      },
    );
  };
  // A producer that never ended its stream (its process carried on without it) leaves a place here:
  // dropped once the stream must have expired, looked for when the map reaches the limit.
  const forgetExpired = () => {
    if (places.size < maxStreams) return;
    const now = performance.now();
    for (const [id, p] of places) if (now - p.raisedAt > p.ttlMs + p.slackMs) places.delete(id);
  };

  return {
    async take(id, ttlMs) {
      const place: Place = {
        ttlMs: Math.ceil(ttlMs),
        slackMs: slackOf(ttlMs),
        raisedAt: performance.now(),
        reused: false,
      };
      const placed = await run('create', () =>
        RESERVE.run(client, [liveSet], [id, place.ttlMs + place.slackMs, maxStreams, FINISHED_LOOKUP]),
      );
      if (typeof placed === 'string') place.evicted = placed;
      else if (Number(placed) === -3) return undefined;
      else place.reused = Number(placed) === 0;
      return place;
    },
    release(id, place) {
      if (place.reused) return;
      run('release', () => RELEASE.run(client, [liveSet], [id])).catch(() => undefined);
    },
    async created(id, place) {
      // A reused place's bound may be near: this stream's own starts now.
      if (place.reused) await raise(id, place);
      forgetExpired();
      places.set(id, place);
    },
    beforeWrite(id) {
      const place = places.get(id);
      if (!place || performance.now() - place.raisedAt < place.slackMs / 2) return undefined;
      return raise(id, place);
    },
    async finished(id) {
      const place = places.get(id);
      places.delete(id);
      if (!place) return;
      await run('finish', () => FINISH.run(client, [liveSet], [id, place.ttlMs + place.slackMs])).catch(
        () => undefined, // Redis failed: the stream keeps its place (as running) until its bound passes
      );
    },
    forget(id) {
      places.delete(id);
    },
  };
}
