/**
 * `enqueueBatch`: an OpenAI batch file (or its lines as objects) onto a BullMQ queue, one job per
 * line, with a job id made of the batch id and the line's `custom_id`, so the same file enqueued
 * twice (a retried deploy script, a second machine) adds nothing.
 */
import { readFileSync } from 'node:fs';
import type { Queue } from 'bullmq';
import { parseBatchFile } from '../batchFile/inputLines';
import type { ChatRequest } from '../request';
import { keysOf, redisOf } from './store';

/** A request of a batch: `model` is `provider/model`, or a group name for a worker with a router. */
export type BatchRequest = Omit<ChatRequest, 'model'> & { model: string };

/** One request of a batch: a line of an OpenAI batch file (`method` must be POST and `url` a chat-completions one when given). */
export interface BatchLine {
  custom_id: string;
  body: BatchRequest;
  method?: 'POST';
  url?: string;
}

/** What a batch job carries. */
export interface BatchJobData {
  batchId: string;
  customId: string;
  request: BatchRequest;
}

export interface EnqueueBatchOptions {
  /** Names the batch: job ids, `status` and `collect` use it. Letters, digits, `_`, `.`, `-`. */
  batchId: string;
  /** Sends every line to this model (`provider/model`, or a router group) instead of its `body.model`. @defaultValue undefined */
  model?: string;
  /**
   * `body.model` (or `model`) names a group of the workers' router (`rxllm worker --router`), taken as
   * it is. Otherwise a bare model name is taken as `openai/…`, as `rxllm batch` does, so OpenAI's own
   * batch files run as they are. @defaultValue false
   */
  routed?: boolean;
  /** Jobs added per `addBulk` call. @defaultValue 500 */
  chunkSize?: number;
}

/** What {@link enqueueBatch} did. */
export interface EnqueueBatchResult {
  /** Ids of the batch now (this call's and earlier calls'). */
  total: number;
  /** Ids this call added (0 when the same lines were enqueued before). */
  added: number;
  /** Lines skipped as bad, with their 1-based line number (files only) and why. */
  bad: { line: number; reason: string }[];
}

/** Defaults of {@link enqueueBatch}. */
export const ENQUEUE_BATCH_DEFAULTS = { chunkSize: 500 } as const;

// A request that fails is a recorded result, not a thrown job: BullMQ's attempts only cover a job
// that threw (Redis unreachable while recording), retried after 1 s, 2 s, 4 s, 8 s.
const JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential', delay: 1000 } } as const;

const BATCH_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * The BullMQ job id of a line. BullMQ refuses ids with `:` (its key separator) and integer ids; the
 * batch id has no `/`, so the first `/` splits the two parts and no two (batch, custom_id) pairs share
 * an id.
 */
export function batchJobId(batchId: string, customId: string): string {
  return `${batchId}/${customId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
}

/**
 * Adds one job per request to `queue` (job name `'chat'`, data {@link BatchJobData}); resolves to
 * how many ids the batch has and how many this call added. `requests` is a list of batch lines or
 * the path of a JSONL file of them, read as `rxllm batch` reads one: lines without a non-empty
 * string `custom_id` or a valid `body`, and repeated ids, are reported in `bad` and skipped; a bare
 * model name is taken as `openai/…` unless `routed`. Enqueuing the same lines again adds no job:
 * BullMQ ignores a job id it holds, and a job added again after its completed job was removed finds
 * its result recorded and makes no call (see {@link createBatchWorker}).
 *
 * @example
 * // doc-test: typecheck-only
 * import { Queue } from 'bullmq';
 * import { enqueueBatch } from 'rxllm/bullmq';
 * const queue = new Queue('llm', { connection: { host: '127.0.0.1', port: 6379 } });
 * const { added, total } = await enqueueBatch(queue, 'tickets.jsonl', { batchId: 'tickets-2026-12-07' });
 * console.log(`${added} new of ${total}`);
 */
export async function enqueueBatch(
  queue: Queue,
  requests: readonly BatchLine[] | string,
  options: EnqueueBatchOptions,
): Promise<EnqueueBatchResult> {
  const {
    batchId,
    model,
    routed = false,
    chunkSize = ENQUEUE_BATCH_DEFAULTS.chunkSize,
  } = options ?? ({} as EnqueueBatchOptions);
  if (typeof batchId !== 'string' || !BATCH_ID.test(batchId))
    throw new TypeError(
      `enqueueBatch: batchId must be 1-100 letters, digits, "_", "." or "-", got ${JSON.stringify(batchId)}.`,
    );
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new TypeError(`enqueueBatch: chunkSize must be an integer >= 1, got ${String(chunkSize)}.`);
  if (typeof requests !== 'string' && !Array.isArray(requests))
    throw new TypeError('enqueueBatch: requests must be an array or a file path.');
  // The reader `rxllm batch` uses, so a file is read alike both ways (byte-order marks, bare model
  // names, method/url, repeated ids); objects are read as the lines they stand for.
  const text =
    typeof requests === 'string'
      ? readFileSync(requests, 'utf8')
      : requests.map((l) => (l === undefined ? 'null' : JSON.stringify(l))).join('\n');
  const { jobs: lines, bad } = parseBatchFile(text, { model: routed ? undefined : model, routed });
  const jobs: BatchJobData[] = lines.map((l) => ({
    batchId,
    customId: l.customId,
    request: (routed && model !== undefined ? { ...l.request, model } : l.request) as BatchRequest,
  }));
  bad.sort((a, b) => a.line - b.line);

  const redis = await redisOf(queue);
  const keys = keysOf(queue, batchId);
  let added = 0;
  for (let i = 0; i < jobs.length; i += chunkSize) {
    const chunk = jobs.slice(i, i + chunkSize);
    // Jobs first, ids second: a crash in between leaves jobs whose ids a re-run adds (BullMQ ignores
    // a job id it holds), never ids without a job.
    await queue.addBulk(
      chunk.map((data) => ({
        name: 'chat',
        data,
        opts: { jobId: batchJobId(batchId, data.customId), ...JOB_OPTIONS },
      })),
    );
    // SADD answers per member whether it was new: one command per id, pipelined by ioredis.
    const fresh = await Promise.all(chunk.map((j) => redis.sadd(keys.ids, j.customId)));
    added += fresh.filter((n) => n === 1).length;
  }
  return { total: await redis.scard(keys.ids), added, bad };
}
