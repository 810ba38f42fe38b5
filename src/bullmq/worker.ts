/**
 * `createBatchWorker`: a BullMQ worker that runs each batch job through `batch()` (the pipeline of
 * `rxllm batch`: retries, per-attempt timeouts, the rate limiter, exactly one result) with the Redis
 * stores, so every worker of a fleet draws on one provider quota, one set of cooldowns and one
 * budget, and records each job's result once.
 */
import { Worker, type Job, type Queue, type WorkerOptions } from 'bullmq';
import { defer, from, lastValueFrom, mergeMap, type Observable } from 'rxjs';
import { budget } from '../../operators/budget';
import type { RetryBackoffConfig } from '../../operators/retryBackoff';
import type { TimeoutsConfig } from '../../operators/timeouts';
import { trackUsage } from '../../operators/trackUsage';
import { batch } from '../batch';
import type { ChatCompletion } from '../chunk';
import { complete } from '../client';
import { errorClassName } from '../errorName';
import { ApiError } from '../errors';
import type { CallOptions } from '../options';
import { createRateLimiter, type RateLimiter } from '../rateLimit/limiter';
import { redactSecrets } from '../redact';
import type { ChatRequest } from '../request';
import type { RouterConfig } from '../router/config';
import { createRouter } from '../router/router';
import { createRedisBudgetStore } from '../redis/budgetStore';
import { createRedisCooldownStore } from '../redis/cooldownStore';
import { createRedisRateLimitStore } from '../redis/rateLimitStore';
import type { BatchJobData } from './enqueue';
import { keysOf, recordResult, redisOf, type BatchRecord, type BatchRedis } from './store';

/** What makes the calls: `rxllm`'s `complete`, a `createClient` client, or anything with `complete`. */
export interface BatchCaller {
  complete(request: ChatRequest, options?: CallOptions): Observable<ChatCompletion>;
}

/** How {@link createBatchProcessor} runs a job. */
export interface BatchProcessorOptions {
  /** Makes the calls (`client` and `router` exclude each other). @defaultValue rxllm's `complete` */
  client?: BatchCaller;
  /**
   * A router config: each job's `body.model` names a group. Its `rateLimitStore` and `cooldownStore`
   * default to Redis stores on the queue's Redis, so deployments' `rpm`/`tpm` and cooldowns hold
   * across the fleet. @defaultValue none
   */
  router?: RouterConfig;
  /** Retries per request before its first byte (`retryBackoff` config), `false` for none. @defaultValue 3 */
  retries?: number | Omit<RetryBackoffConfig, 'resume'> | false;
  /** Time limits per attempt (`timeouts` config), `false` for none. @defaultValue TIMEOUTS_DEFAULTS */
  timeout?: number | TimeoutsConfig | false;
  /**
   * A rate limit every worker shares (a limiter on a Redis store under `key`), for calls without a
   * router (a router's deployments have their own `rpm`/`tpm`). @defaultValue none
   */
  rateLimit?: { requestsPerMinute?: number; tokensPerMinute?: number; key?: string };
  /** A budget every worker shares (`budget` on a Redis store); a refused call is a failed result. @defaultValue none */
  budget?: { maxCost: number; window?: number; key?: string };
  /** Options of every call (`baseURL`, `apiKey`, ...). @defaultValue {} */
  options?: CallOptions;
  /** Prefix of the rate-limit, cooldown and budget keys (`RedisStoreOptions.prefix`). @defaultValue 'rxllm:' */
  storePrefix?: string;
}

/** {@link createBatchWorker}'s options: how jobs run, and the worker's own. */
export interface BatchWorkerOptions extends BatchProcessorOptions {
  /** Jobs in flight at once in this worker (BullMQ's `concurrency`). @defaultValue 20 */
  concurrency?: number;
  /**
   * More BullMQ worker options. `lockDuration` and `stalledInterval` (30 s each by default) set how
   * soon the job of a worker that died is run again elsewhere. `maxStalledCount` is raised to 5: a
   * job run again records nothing twice (first write wins), while BullMQ's default of 1 fails a job
   * for good the second time a busy worker misses its lock renewal.
   * @defaultValue { maxStalledCount: 5 }
   */
  worker?: Partial<Omit<WorkerOptions, 'concurrency'>>;
}

/** Defaults of {@link createBatchWorker}. */
export const BATCH_WORKER_DEFAULTS = {
  concurrency: 20,
  retries: 3,
  storePrefix: 'rxllm:',
  maxStalledCount: 5,
} as const;

function errorRecord(error: unknown): NonNullable<BatchRecord['error']> {
  const record: NonNullable<BatchRecord['error']> = {
    type: error instanceof Error ? errorClassName(error.constructor) : 'Error',
    message: redactSecrets(error instanceof Error ? error.message : String(error)),
  };
  if (error instanceof ApiError) record.status = error.status;
  return record;
}

/**
 * The job function of a batch worker on `queue`, for jobs added by {@link enqueueBatch}: what
 * {@link createBatchWorker} runs, and what a `@nestjs/bullmq` `WorkerHost` calls from its `process`
 * (docs/fleet.md). Each job is one `batch()` of one request: retried (`retries`), timed out per attempt (`timeout`), rate-limited and
 * budgeted through Redis stores shared by every worker, its usage and cost (every attempt's, via
 * `trackUsage`) recorded with the result. A request that still fails is a result too (`error` set):
 * the job completes, and BullMQ does not run it again.
 *
 * Results are recorded once per `custom_id`, first write wins, in Redis (read them with
 * `batchStatus` / `readBatchResults`, or `rxllm batch collect`) and returned as the job's value.
 * When a worker dies mid-job, BullMQ's stalled-job check gives the job to another worker once its lock
 * expires (`worker.lockDuration`): the provider call is at-least-once, and the calls a dead worker
 * sent are counted (`BatchStatus.resent`). A job whose result is already recorded makes no call.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Queue, Worker } from 'bullmq';
 * import { createBatchProcessor } from 'rxllm/bullmq';
 * const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
 * const queue = new Queue('llm', { connection });
 * const worker = new Worker('llm', createBatchProcessor(queue, { retries: 3 }), { connection, concurrency: 10 });
 */
export function createBatchProcessor(
  queue: Queue,
  options: BatchProcessorOptions = {},
): (job: Job<BatchJobData>) => Promise<BatchRecord> {
  if (!queue || typeof queue.name !== 'string' || !queue.opts)
    throw new TypeError('createBatchProcessor: queue must be a BullMQ Queue.');
  const {
    client,
    router: routerConfig,
    retries = BATCH_WORKER_DEFAULTS.retries,
    timeout = {},
    rateLimit,
    budget: budgetConfig,
    options: callOptions = {},
    storePrefix: prefix = BATCH_WORKER_DEFAULTS.storePrefix,
  } = options;
  if (client && routerConfig)
    throw new TypeError('createBatchProcessor: client and router exclude each other.');
  if (budgetConfig && !(budgetConfig.maxCost >= 0))
    throw new TypeError('createBatchProcessor: budget.maxCost must be a number of USD >= 0.');

  // The stores need the queue's Redis client, which BullMQ gives as a promise: built on the first job.
  let ready: Promise<{ redis: BatchRedis; caller: BatchCaller; limiter?: RateLimiter }> | undefined;
  const setup = () =>
    (ready ??= redisOf(queue).then((redis) => {
      const caller: BatchCaller = routerConfig
        ? createRouter({
            rateLimitStore: createRedisRateLimitStore(redis, { prefix }),
            cooldownStore: createRedisCooldownStore(redis, { prefix }),
            ...routerConfig,
          })
        : (client ?? { complete });
      const limiter =
        rateLimit && createRateLimiter({ ...rateLimit, store: createRedisRateLimitStore(redis, { prefix }) });
      return { redis, caller, limiter };
    }));
  const budgetStore = async () => createRedisBudgetStore((await setup()).redis, { prefix });

  const started = new Set<string>();
  const run = async (job: Job<BatchJobData>): Promise<BatchRecord> => {
    const { batchId, customId, request } = job.data;
    const { redis, caller, limiter } = await setup();
    const keys = keysOf(queue, batchId);
    const stored = await redis.hget(keys.results, customId);
    if (stored !== null) return JSON.parse(stored) as BatchRecord; // recorded by an earlier run
    // When the batch started (for its rate): once per batch and worker, not a write per job.
    if (!started.has(batchId)) {
      await redis.hsetnx(keys.stats, 'startedAt', Date.now());
      started.add(batchId);
    }
    const store = budgetConfig && (await budgetStore());
    let spent = 0;
    let priced = false;
    const call = (req: ChatRequest, _i: number, opts: CallOptions): Observable<ChatCompletion> => {
      // Counted before it is sent: a worker killed right after still counts its call (at-least-once).
      let attempt = defer(() => from(redis.hincrby(keys.stats, 'sent', 1))).pipe(
        mergeMap(() => caller.complete(req, opts)),
        trackUsage<ChatCompletion>({
          request: req,
          onUsage: (r) => {
            if (!r.cost) return;
            spent += r.cost.total;
            priced = true;
          },
        }),
      );
      if (store) attempt = attempt.pipe(budget<ChatCompletion>({ ...budgetConfig, store, request: req }));
      return attempt;
    };
    const r = await lastValueFrom(
      batch([request as ChatRequest], {
        concurrency: 1,
        retry: retries,
        timeout,
        limiter,
        options: callOptions,
        call,
      }),
    );
    const record: BatchRecord = {
      custom_id: customId,
      response: null,
      error: null,
      usage: null,
      cost: null,
      attempts: r.attempts,
    };
    if (r.ok) {
      const { route, ...body } = r.value as ChatCompletion & { route?: { deployment: string } };
      record.response = { status_code: 200, body };
      record.usage = r.value.usage ?? null;
      if (route) record.deployment = route.deployment;
    } else record.error = errorRecord(r.error);
    record.cost = priced ? spent : null;
    if (await recordResult(redis, keys, record, Date.now())) return record;
    return JSON.parse((await redis.hget(keys.results, customId)) ?? 'null') as BatchRecord;
  };

  return run;
}

/**
 * Starts a BullMQ worker on `queue` for jobs added by {@link enqueueBatch}; each job runs as
 * {@link createBatchProcessor} says (see there what is recorded, and what happens when a worker dies).
 * `close()` it to stop: the jobs in flight finish first.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Queue } from 'bullmq';
 * import { createBatchWorker } from 'rxllm/bullmq';
 * const queue = new Queue('llm', { connection: { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null } });
 * const worker = createBatchWorker(queue, {
 *   concurrency: 20,
 *   rateLimit: { tokensPerMinute: 200_000, key: 'openai' },
 *   budget: { maxCost: 50 },
 * });
 * process.once('SIGTERM', () => void worker.close());
 */
export function createBatchWorker(queue: Queue, options: BatchWorkerOptions = {}): Worker<BatchJobData> {
  const {
    concurrency = BATCH_WORKER_DEFAULTS.concurrency,
    worker: workerOptions = {},
    ...processor
  } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new TypeError(
      `createBatchWorker: concurrency must be an integer >= 1, got ${String(concurrency)}.`,
    );
  const run = createBatchProcessor(queue, processor);
  return new Worker<BatchJobData>(queue.name, run, {
    connection: queue.opts.connection,
    prefix: queue.opts.prefix,
    maxStalledCount: BATCH_WORKER_DEFAULTS.maxStalledCount,
    ...workerOptions,
    concurrency,
  });
}
