/**
 * A fleet batch's progress and results, read from Redis by anyone (the CLI's `status` and
 * `collect`, a dashboard): counts, rate, ETA, cost so far, and the results in the order recorded.
 */
import type { Queue } from 'bullmq';
import { keysOf, readResults, readStats, redisOf, type BatchRecord } from './store';

/** Where a batch stands. */
export interface BatchStatus {
  batchId: string;
  /** Requests in the batch (ids enqueued). */
  total: number;
  /** Results recorded: succeeded, and failed after their retries. */
  done: number;
  failed: number;
  /** `total - done - failed`. */
  remaining: number;
  /** Jobs of the whole queue (every batch on it) waiting (delayed included) and being run now. */
  waiting: number;
  active: number;
  /** Provider calls sent by every worker, retries and re-sent calls included. */
  sent: number;
  /**
   * Calls sent beyond the attempts of the recorded results: the calls of jobs being run now, and the
   * calls of workers that died mid-job, whose jobs BullMQ ran again elsewhere (the provider call is
   * at-least-once; the provider bills those too). Final once `remaining` is 0. An upper bound: a call
   * is counted as it starts, and with a router that is before the router's own rate-limit wait, so a
   * dead worker's calls still waiting for a permit count too (in the fleet proof: 20 counted, 2 had
   * reached the provider).
   */
  resent: number;
  /** USD of the recorded results' attempts (`null`-cost results count 0). */
  cost: number;
  /** `resent` priced at the average cost of a recorded call: an estimate, since their usage never came back. */
  resentCostEstimate: number;
  /** Epoch ms of the first job started, if any. */
  startedAt: number | undefined;
  /** Results per second since `startedAt` (until the last result when none remain). */
  rate: number;
  /** Seconds until `remaining` is 0 at `rate`; `undefined` before the first result. */
  etaSeconds: number | undefined;
}

/**
 * Reads where batch `batchId` on `queue` stands.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Queue } from 'bullmq';
 * import { batchStatus } from 'rxllm/bullmq';
 * const queue = new Queue('llm', { connection: { host: '127.0.0.1', port: 6379 } });
 * const s = await batchStatus(queue, 'tickets-2026-12-07');
 * console.log(`${s.done + s.failed}/${s.total}, ${s.rate.toFixed(1)}/s, $${s.cost.toFixed(4)}`);
 */
export async function batchStatus(queue: Queue, batchId: string, now = Date.now()): Promise<BatchStatus> {
  const redis = await redisOf(queue);
  const [stats, counts] = await Promise.all([
    readStats(redis, keysOf(queue, batchId)),
    queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active'),
  ]);
  const finished = stats.done + stats.failed;
  const remaining = Math.max(0, stats.total - finished);
  const end = remaining === 0 && stats.lastAt !== undefined ? stats.lastAt : now;
  const seconds = stats.startedAt === undefined ? 0 : Math.max(0.001, (end - stats.startedAt) / 1000);
  const rate = seconds > 0 ? finished / seconds : 0;
  const resent = Math.max(0, stats.sent - stats.attempts);
  return {
    batchId,
    total: stats.total,
    done: stats.done,
    failed: stats.failed,
    remaining,
    waiting: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    sent: stats.sent,
    resent,
    cost: stats.cost,
    resentCostEstimate: stats.attempts > 0 ? (stats.cost / stats.attempts) * resent : 0,
    startedAt: stats.startedAt,
    rate,
    etaSeconds: rate > 0 ? Math.ceil(remaining / rate) : undefined,
  };
}

export interface ReadBatchResultsOptions {
  /** Read after this position (a `next` from an earlier read); `'-'` from the start. @defaultValue '-' */
  after?: string;
  /** Most results per read. @defaultValue 1000 */
  count?: number;
}

/**
 * Results of batch `batchId` in the order they were recorded, one page at a time, and the position
 * to read the next page from: keep `next` to follow a batch as it runs, missing nothing and reading
 * nothing twice. Each `custom_id` appears once.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Queue } from 'bullmq';
 * import { readBatchResults } from 'rxllm/bullmq';
 * const queue = new Queue('llm', { connection: { host: '127.0.0.1', port: 6379 } });
 * let after = '-';
 * for (;;) {
 *   const { records, next } = await readBatchResults(queue, 'tickets-2026-12-07', { after });
 *   if (records.length === 0) break;
 *   for (const r of records) console.log(r.custom_id, r.error ? r.error.type : r.cost);
 *   after = next;
 * }
 */
export async function readBatchResults(
  queue: Queue,
  batchId: string,
  options: ReadBatchResultsOptions = {},
): Promise<{ records: BatchRecord[]; next: string }> {
  const { after = '-', count = 1000 } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new TypeError(`readBatchResults: count must be an integer >= 1, got ${String(count)}.`);
  return readResults(await redisOf(queue), keysOf(queue, batchId), after, count);
}
