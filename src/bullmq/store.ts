/**
 * Where a fleet's batch lives in Redis beside BullMQ's own keys: the set of ids (the batch's size),
 * the results (a hash keyed by `custom_id`, first write wins, and a stream in the order they were
 * recorded, which `collect` follows) and the counters `status` reads. All keys of a batch share one
 * Redis Cluster hash slot (`{batchId}`), so each Lua script touches one slot.
 */
import type { Queue } from 'bullmq';
import { LuaScript, type RedisScriptClient } from '../redis/client';

/** What the batch keys need from a Redis client (ioredis, as BullMQ's `queue.client` is). */
export interface BatchRedis extends RedisScriptClient {
  sadd(key: string, ...members: string[]): Promise<number>;
  scard(key: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hsetnx(key: string, field: string, value: string | number): Promise<number>;
  hincrby(key: string, field: string, increment: number): Promise<number>;
  xrange(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[string, string[]][]>;
}

/** The Redis keys of one batch. `prefix` is the queue's BullMQ prefix, so one `FLUSHDB`-free cleanup finds both. */
export function batchKeys(prefix: string, queueName: string, batchId: string) {
  const base = `${prefix}:${queueName}:rxllm-batch:{${batchId}}`;
  return {
    ids: `${base}:ids`,
    results: `${base}:results`,
    stream: `${base}:stream`,
    stats: `${base}:stats`,
  };
}

/** The batch keys of `batchId` on `queue`'s Redis. */
export function keysOf(queue: Pick<Queue, 'name' | 'opts'>, batchId: string) {
  return batchKeys(queue.opts.prefix ?? 'bull', queue.name, batchId);
}

// KEYS: results, stream, stats. ARGV: custom_id, record JSON, 'done' | 'failed', cost, attempts.
// First write wins: a job run twice (a worker's lock expired while it was still running, or a
// stalled job rerun whose first run got this far) records nothing the second time, and the counters
// move once. Returns 1 when this call recorded, else 0.
const RECORD = new LuaScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'r', ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[3], 'attempts', ARGV[5])
if tonumber(ARGV[4]) ~= 0 then redis.call('HINCRBYFLOAT', KEYS[3], 'cost', ARGV[4]) end
redis.call('HSET', KEYS[3], 'lastAt', ARGV[6])
return 1
`);

/** A result line: the `rxllm batch` output shape (OpenAI batch-output plus usage, cost, attempts). */
export interface BatchRecord {
  custom_id: string;
  response: { status_code: number; body: unknown } | null;
  error: { type: string; message: string; status?: number } | null;
  usage: unknown;
  /** USD of every attempt of this job in the worker that recorded it; `null` when none was priced. */
  cost: number | null;
  deployment?: string;
  attempts: number;
}

/** Records `record` unless its id already has one; resolves to whether this call recorded it. */
export async function recordResult(
  redis: BatchRedis,
  keys: ReturnType<typeof batchKeys>,
  record: BatchRecord,
  now: number,
): Promise<boolean> {
  const outcome = record.error ? 'failed' : 'done';
  const args = [record.custom_id, JSON.stringify(record), outcome, record.cost ?? 0, record.attempts, now];
  return (await RECORD.run(redis, [keys.results, keys.stream, keys.stats], args)) === 1;
}

/** Counters of a batch as stored (see {@link BatchStatus} for their meaning). */
export async function readStats(redis: BatchRedis, keys: ReturnType<typeof batchKeys>) {
  const [total, stats] = await Promise.all([redis.scard(keys.ids), redis.hgetall(keys.stats)]);
  const n = (field: string) => Number(stats[field] ?? 0);
  return {
    total,
    done: n('done'),
    failed: n('failed'),
    sent: n('sent'),
    attempts: n('attempts'),
    cost: n('cost'),
    startedAt: stats.startedAt === undefined ? undefined : n('startedAt'),
    lastAt: stats.lastAt === undefined ? undefined : n('lastAt'),
  };
}

/**
 * Results recorded after stream id `after` (exclusive; `'-'` for all), at most `count`, and the id
 * to read from next. Stream ids only grow, so a reader that keeps `next` misses nothing and reads
 * nothing twice.
 */
export async function readResults(
  redis: BatchRedis,
  keys: ReturnType<typeof batchKeys>,
  after: string,
  count: number,
): Promise<{ records: BatchRecord[]; next: string }> {
  const start = after === '-' ? '-' : `(${after}`;
  const entries = await redis.xrange(keys.stream, start, '+', 'COUNT', count);
  const records = entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('r') + 1]) as BatchRecord);
  return { records, next: entries.length ? entries[entries.length - 1][0] : after };
}

/** The queue's Redis client: `queue.getBackend().client` in BullMQ 6, `queue.client` in BullMQ 5. */
export function redisOf(queue: Queue): Promise<BatchRedis> {
  const q = queue as unknown as {
    getBackend?: () => { client: Promise<unknown> };
    client?: Promise<unknown>;
  };
  return (q.getBackend ? q.getBackend().client : q.client) as Promise<BatchRedis>;
}
