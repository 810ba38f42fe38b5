/**
 * The resume store on Redis Streams, so any gateway instance sharing one Redis can resume (and stop)
 * a generation another one runs. Per stream: a stream key whose entry ids are `0-<seq>` (XADD with
 * an explicit id, so the SSE event number is the Redis id and a retried write cannot land twice),
 * and a hash with the count, the bytes and the TTL. Readers replay with XRANGE and follow with
 * `XREAD BLOCK` on connections of their own (a blocked connection serves nobody else). `stop` sets a
 * flag and PUBLISHes the id; each store listens on one subscriber connection. The streams are
 * counted (`maxStreams`) in one sorted set of all of them, `src/redis/resumePlaces.ts`.
 * https://redis.io/docs/latest/develop/data-types/streams/ — XADD, XRANGE (exclusive `(` start
 * since Redis 6.2), XREAD BLOCK.
 */
import { scrubError } from '../redact';
import { onAbort } from '../abortListeners';
import { ResumableStreamError, StoreError } from '../errors';
import {
  RESUME_DEFAULTS,
  type ResumeBatch,
  type ResumeEnd,
  type ResumeEvent,
  type ResumeStore,
} from '../resume/store';
import type { Chunk } from '../chunk';
import { chunkJson } from '../resume/chunkJson';
import {
  LuaScript,
  resolveOptions,
  withRetry,
  type RedisScriptClient,
  type RedisStoreOptions,
} from './client';
import { streamPlaces } from './resumePlaces';

/** A connection the store opens for itself (ioredis `Redis`, from `duplicate()`). */
export interface RedisResumeConnection {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  disconnect(): void;
}

/** What the resume store needs: scripts, and `duplicate()` for its blocking and subscriber connections. */
export interface RedisResumeClient extends RedisScriptClient {
  duplicate(): RedisResumeConnection;
}

/** Options of {@link createRedisResumeStore}. */
export interface RedisResumeStoreOptions extends RedisStoreOptions {
  /** Most chunks one stream holds. @defaultValue 50_000 */
  maxChunks?: number;
  /** Most bytes (UTF-8 JSON of its chunks) one stream holds. @defaultValue 16_777_216 (16 MiB) */
  maxBytes?: number;
  /**
   * Most connections blocked in `XREAD` at once (one per reader waiting for the next chunk); more
   * readers wait for one to be free, and one whose `signal` aborts meanwhile returns at once without
   * taking one. @defaultValue 64
   */
  maxBlockingConnections?: number;
  /**
   * Most streams kept at once, counted across every instance sharing the Redis (and `prefix`);
   * past it, `create` makes room by deleting the finished stream nearest its expiry (the one that
   * ended first, among the 256 streams nearest theirs), and rejects with `ResumableStreamError` `full`
   * when those all still run. An expired stream's place is free within `max(1 s, ttlMs / 10)` after
   * its expiry. Appends cost no extra command: the producer refreshes its stream's place at most every
   * half that time, and marks it finished with its end.
   * @defaultValue 10_000
   */
  maxStreams?: number;
}

/** Defaults of {@link createRedisResumeStore}. */
export const REDIS_RESUME_STORE_DEFAULTS = {
  maxChunks: RESUME_DEFAULTS.maxChunks,
  maxBytes: RESUME_DEFAULTS.maxBytes,
  maxBlockingConnections: 64,
  maxStreams: 10_000,
} as const;

/**
 * A resume store on Redis; `close()` disconnects the connections it opened (not yours), and a read
 * waiting for a connection then, or made after it, fails with a `StoreError` (not retryable).
 */
export interface RedisResumeStore extends ResumeStore {
  close(): Promise<void>;
}

// KEYS: meta. ARGV: ttl ms.
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'n', 0, 'b', 0, 't', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`);
// KEYS: meta, stream. ARGV: maxChunks, maxBytes, then seq, json pairs. A seq stored already is
// skipped (a retried write). Returns the last seq, -1 unknown, -2 over a limit.
const APPEND = new LuaScript(`
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '-1')
if n < 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'e') == 1 then return n end
local b = tonumber(redis.call('HGET', KEYS[1], 'b'))
local over = false
for i = 3, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > n then
    if n + 1 > tonumber(ARGV[1]) or b + #ARGV[i + 1] > tonumber(ARGV[2]) then over = true break end
    redis.call('XADD', KEYS[2], '0-' .. seq, 'c', ARGV[i + 1])
    n = seq
    b = b + #ARGV[i + 1]
  end
end
redis.call('HSET', KEYS[1], 'n', n, 'b', b)
local ttl = redis.call('HGET', KEYS[1], 't')
redis.call('PEXPIRE', KEYS[1], ttl)
if n > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
if over then return -2 end
return n
`);
// KEYS: meta, stream. ARGV: end json. Writes the end once, numbered after the last chunk.
const END = new LuaScript(`
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '-1')
if n < 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'e') == 0 then
  redis.call('XADD', KEYS[2], '0-' .. (n + 1), 'e', ARGV[1])
  redis.call('HSET', KEYS[1], 'e', 1)
end
local ttl = redis.call('HGET', KEYS[1], 't')
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`);
// KEYS: meta, stream. ARGV: after seq, count. nil when the stream is unknown.
const RANGE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('XRANGE', KEYS[2], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])
`);
// KEYS: meta. ARGV: channel, id.
const STOP = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 's', 1)
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`);
const STOPPED = new LuaScript(`return redis.call('HGET', KEYS[1], 's')`);
// KEYS: meta, stream. A finished stream whose place a new one took: deleted, if it has ended indeed.
const DROP = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], 'e') == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`);

/** Entries per read: a long answer replays in a few round trips, not one giant reply. */
const READ_COUNT = 1000;

type Entry = [id: string, fields: string[]];

function toBatch(entries: Entry[]): ResumeBatch {
  const events: ResumeEvent[] = [];
  for (const [id, fields] of entries) {
    const seq = Number(id.slice(id.indexOf('-') + 1));
    if (fields[0] === 'e') return { events, end: JSON.parse(fields[1]) as ResumeEnd };
    events.push({ seq, chunk: JSON.parse(fields[1]) as Chunk });
  }
  return { events };
}

function positive(name: string, value: number): number {
  if (!(typeof value === 'number' && value > 0))
    throw new TypeError(`createRedisResumeStore: ${name} must be > 0`);
  return value;
}

/**
 * A {@link ResumeStore} on Redis Streams, shared by every process using the same Redis: one instance
 * resumes (and stops) what another generates. `client` is an ioredis `Redis` (it needs
 * `duplicate()`: readers block on connections of their own, stop messages come on a subscriber).
 *
 * @example
 * // doc-test: typecheck-only
 * import { Redis } from 'ioredis';
 * import { startGateway } from 'rxllm';
 * import { createRedisResumeStore } from 'rxllm/redis';
 * const store = createRedisResumeStore(new Redis('redis://127.0.0.1:6379'));
 * void startGateway({ resume: { store } });
 */
export function createRedisResumeStore(
  client: RedisResumeClient,
  options: RedisResumeStoreOptions = {},
): RedisResumeStore {
  const { prefix, timeoutMs } = resolveOptions('createRedisResumeStore', client, options);
  if (typeof client.duplicate !== 'function')
    throw new TypeError('createRedisResumeStore: the client needs duplicate() (an ioredis Redis).');
  const maxChunks = positive('maxChunks', options.maxChunks ?? REDIS_RESUME_STORE_DEFAULTS.maxChunks);
  const maxBytes = positive('maxBytes', options.maxBytes ?? REDIS_RESUME_STORE_DEFAULTS.maxBytes);
  const maxStreams = positive('maxStreams', options.maxStreams ?? REDIS_RESUME_STORE_DEFAULTS.maxStreams);
  const maxBlocking = positive(
    'maxBlockingConnections',
    options.maxBlockingConnections ?? REDIS_RESUME_STORE_DEFAULTS.maxBlockingConnections,
  );
  const meta = (id: string) => `${prefix}resume:{${id}}:m`;
  const key = (id: string) => `${prefix}resume:{${id}}:s`;
  const channel = `${prefix}resume:stop`;
  const run = (what: string, op: () => Promise<unknown>) => withRetry('resume', what, timeoutMs, op);
  const places = streamPlaces(client, `${prefix}resume:live`, maxStreams, run);

  // Blocking connections: opened on demand, kept for the next reader.
  const idle: RedisResumeConnection[] = [];
  const opened: RedisResumeConnection[] = [];
  /** Readers waiting for a connection: given one by `release`, failed by `close`. */
  const waiting: { take(conn: RedisResumeConnection): void; fail(error: StoreError): void }[] = [];
  let closed = false;
  const closedError = () =>
    new StoreError('resume', 'Redis resume store: closed (close() was called); no read can wait on it.', {
      retryable: false,
    });
  /**
   * A blocking connection, or `undefined` when `signal` aborts first: a reader that left while every
   * connection was busy leaves the queue then, rather than taking a connection later only to block
   * it for `waitMs` on a read nobody waits for. Rejects with a `StoreError` once the store is closed.
   */
  const acquire = (signal: AbortSignal | undefined): Promise<RedisResumeConnection | undefined> => {
    if (closed) return Promise.reject(closedError());
    const free = idle.pop();
    if (free) return Promise.resolve(free);
    if (opened.length < maxBlocking) {
      const conn = client.duplicate();
      opened.push(conn);
      return Promise.resolve(conn);
    }
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const waiter = {
        take(conn: RedisResumeConnection) {
          off?.();
          resolve(conn);
        },
        fail(error: StoreError) {
          off?.();
          reject(error);
        },
      };
      waiting.push(waiter);
      const off =
        signal &&
        onAbort(signal, () => {
          const at = waiting.indexOf(waiter);
          if (at >= 0) waiting.splice(at, 1);
          resolve(undefined);
        });
    });
  };
  const release = (conn: RedisResumeConnection) => {
    const next = waiting.shift();
    if (next) next.take(conn);
    else if (!closed) idle.push(conn);
  };

  // Stop messages: one subscriber connection for the store, opened by the first onStop.
  const listeners = new Map<string, Set<() => void>>();
  let subscriber: RedisResumeConnection | undefined;
  let subscribed: Promise<unknown> | undefined;
  const fire = (id: string) => {
    const set = listeners.get(id);
    if (!set) return;
    listeners.delete(id);
    for (const listener of set) listener();
  };
  const subscribe = () => {
    if (subscribed) return subscribed;
    subscriber = client.duplicate();
    subscriber.on('message', (from, id) => {
      if (from === channel) fire(id);
    });
    subscribed = subscriber.subscribe(channel);
    return subscribed;
  };

  const fail = (id: string, code: unknown) => {
    if (code === -1) {
      places.forget(id);
      throw new ResumableStreamError('not-found', id);
    }
    if (code === -2) throw new ResumableStreamError('too-large', id);
  };

  return {
    async create(id, ttlMs) {
      // The place first: a stream that exists is always counted, even for a moment.
      const place = await places.take(id, ttlMs);
      if (!place) throw new ResumableStreamError('full', id);
      // Full: this stream took the place of the finished one nearest its expiry, which goes now (its
      // readers then find it gone, as the memory store's do). If that fails, it expires by its TTL.
      const { evicted } = place;
      if (evicted !== undefined)
        await run('drop', () => DROP.run(client, [meta(evicted), key(evicted)], [])).catch(() => undefined);
      let made: unknown;
      try {
        made = await run('create', () => CREATE.run(client, [meta(id)], [place.ttlMs]));
      } catch (error) {
        places.release(id, place);
        throw error;
      }
      if (Number(made) !== 1) throw new ResumableStreamError('exists', id);
      await places.created(id, place);
    },
    async append(id, events) {
      const args: (string | number)[] = [maxChunks, maxBytes];
      for (const e of events) args.push(e.seq, chunkJson(e.chunk));
      const keeping = places.beforeWrite(id);
      const code = Number(await run('append', () => APPEND.run(client, [meta(id), key(id)], args)));
      await keeping;
      fail(id, code);
    },
    async end(id, end) {
      const keeping = places.beforeWrite(id);
      const code = Number(
        await run('end', () => END.run(client, [meta(id), key(id)], [JSON.stringify(end)])),
      );
      await keeping;
      fail(id, code);
      await places.finished(id);
    },
    async read(id, afterSeq, { waitMs, signal }) {
      const range = (await run('read', () =>
        RANGE.run(client, [meta(id), key(id)], [afterSeq, READ_COUNT]),
      )) as Entry[] | null;
      if (range === null) return undefined;
      if (range.length > 0 || signal?.aborted) return toBatch(range);
      // Nothing yet: wait on a connection of our own. An entry added since the XRANGE is returned at
      // once (XREAD from an explicit id, not `$`).
      const conn = await acquire(signal);
      // Aborted while waiting for a connection (or as it was given one): no read to block on.
      if (!conn) return toBatch([]);
      if (signal?.aborted) {
        release(conn);
        return toBatch([]);
      }
      const blocked = conn
        .call(
          'XREAD',
          'COUNT',
          READ_COUNT,
          'BLOCK',
          Math.max(1, Math.ceil(waitMs)),
          'STREAMS',
          key(id),
          `0-${afterSeq}`,
        )
        .finally(() => release(conn));
      // An aborted reader stops waiting now; the connection returns to the pool when XREAD does.
      // One listener on a signal shared by many readers (`onAbort`).
      let off: (() => void) | undefined;
      const aborted = new Promise<null>((resolve) => {
        off = signal && onAbort(signal, () => resolve(null));
      });
      let reply: unknown;
      try {
        reply = await Promise.race([blocked, aborted]);
      } catch (error) {
        throw new StoreError('resume', `Redis resume store: read failed: ${(error as Error)?.message}`, {
          cause: scrubError(error),
        });
      } finally {
        off?.();
      }
      blocked.catch(() => undefined);
      const entries = (reply as [string, Entry[]][] | null)?.[0]?.[1] ?? [];
      return toBatch(entries);
    },
    async stop(id) {
      return Number(await run('stop', () => STOP.run(client, [meta(id)], [channel, id]))) === 1;
    },
    onStop(id, listener) {
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      set.add(listener);
      // A stop sent before the subscription was active is seen through the flag.
      subscribe()
        .then(() => run('stop check', () => STOPPED.run(client, [meta(id)], [])))
        .then((flag) => {
          if (flag !== null && set.has(listener)) fire(id);
        })
        .catch(() => undefined);
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(id) === set) listeners.delete(id);
      };
    },
    async close() {
      closed = true;
      for (const waiter of waiting.splice(0)) waiter.fail(closedError());
      for (const conn of [...opened, ...(subscriber ? [subscriber] : [])]) conn.disconnect();
      opened.length = 0;
      idle.length = 0;
    },
  };
}
