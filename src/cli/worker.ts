/**
 * `rxllm worker --queue redis://…`: one worker of a fleet running the jobs `rxllm batch in.jsonl
 * --queue …` enqueued, a thin shell over `createBatchWorker` (rxllm/bullmq). bullmq and ioredis are
 * loaded only when this command runs.
 */
import { readFileSync } from 'node:fs';
import type { RouterConfig } from '../router/config';
import { redactSecrets } from '../redact';
import { type CliIO, integerFlag, parseCommandArgs, usageError } from './io';

/** Defaults of `rxllm worker`. */
export const CLI_WORKER_DEFAULTS = {
  queueName: 'rxllm-batch',
  concurrency: 20,
  retries: 3,
  lockMs: 30_000,
} as const;

const HELP = `Usage: rxllm worker --queue redis://host:6379 [--queue-name ${CLI_WORKER_DEFAULTS.queueName}] [--router config.json | --base-url URL] [--concurrency ${CLI_WORKER_DEFAULTS.concurrency}] [--retries ${CLI_WORKER_DEFAULTS.retries}] [--tpm N] [--rpm N] [--budget USD] [--lock-ms ${CLI_WORKER_DEFAULTS.lockMs}]

Runs the jobs of \`rxllm batch in.jsonl --queue …\` until Ctrl-C or SIGTERM (the jobs in flight finish first).
Start as many as you like, on as many machines: they share the queue, one rate limit and one budget in Redis.
  --queue         Redis URL of the BullMQ queue (required)
  --queue-name    the queue's name (default ${CLI_WORKER_DEFAULTS.queueName})
  --router        a JSON router config (createRouter): body.model names a group; deployments' rpm/tpm
                  and cooldowns are shared through Redis
  --base-url, -u  base URL of an OpenAI-compatible server (without --router)
  --concurrency   jobs in flight in this worker (default ${CLI_WORKER_DEFAULTS.concurrency})
  --retries       retries per request before the first byte (default ${CLI_WORKER_DEFAULTS.retries})
  --tpm, --rpm    tokens / requests per minute for the whole fleet (without --router)
  --budget        most USD the fleet spends per day
  --lock-ms       a job of a worker that died is run again elsewhere after about this long (default ${CLI_WORKER_DEFAULTS.lockMs})
The provider call is at-least-once: a job whose worker died mid-call is sent again; \`rxllm batch status\` counts those.`;

/** Runs `rxllm worker`; resolves to the exit code once `signal` fired and the jobs in flight finished. */
export async function runWorker(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    'rxllm worker',
    HELP,
    io,
    {
      args: argv,
      options: {
        queue: { type: 'string' },
        'queue-name': { type: 'string' },
        router: { type: 'string' },
        'base-url': { type: 'string', short: 'u' },
        concurrency: { type: 'string' },
        retries: { type: 'string' },
        tpm: { type: 'string' },
        rpm: { type: 'string' },
        budget: { type: 'string' },
        'lock-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    ['concurrency', 'retries', 'tpm', 'rpm', 'budget', 'lock-ms'],
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const usage = (message: string) => usageError(io, 'rxllm worker', HELP, message);
  if (!values.queue) return usage('give the queue: --queue redis://host:6379');
  if (values.router && values['base-url']) return usage('--router and --base-url exclude each other');
  if (values.router && (values.tpm || values.rpm))
    return usage('with --router, set rpm/tpm on the deployments in its config');
  const int = (
    name: 'concurrency' | 'retries' | 'tpm' | 'rpm' | 'lock-ms',
    min: number,
    fallback?: number,
  ) => {
    const raw = values[name];
    return raw === undefined ? fallback : (integerFlag(raw, min) ?? NaN);
  };
  const concurrency = int('concurrency', 1, CLI_WORKER_DEFAULTS.concurrency)!;
  const retries = int('retries', 0, CLI_WORKER_DEFAULTS.retries)!;
  const tpm = int('tpm', 1);
  const rpm = int('rpm', 1);
  const lockMs = int('lock-ms', 1000, CLI_WORKER_DEFAULTS.lockMs)!;
  const budget = values.budget === undefined ? undefined : Number(values.budget);
  for (const [name, value] of Object.entries({ concurrency, retries, tpm, rpm, 'lock-ms': lockMs }))
    if (Number.isNaN(value)) return usage(`--${name} must be a whole number, got "${values[name as 'tpm']}"`);
  if (budget !== undefined && !(budget >= 0))
    return usage(`--budget must be a number of USD >= 0, got "${values.budget}"`);

  let router: RouterConfig | undefined;
  let fleet: typeof import('../bullmq/connect') & typeof import('../bullmq/worker');
  try {
    if (values.router) router = JSON.parse(readFileSync(values.router, 'utf8')) as RouterConfig;
    fleet = { ...(await import('../bullmq/connect')), ...(await import('../bullmq/worker')) };
  } catch (error) {
    io.stderr.write(`rxllm worker: ${redactSecrets((error as Error).message)}\n`);
    return 2;
  }
  const queueName = values['queue-name'] ?? CLI_WORKER_DEFAULTS.queueName;
  let opened: Awaited<ReturnType<typeof fleet.openQueue>>;
  try {
    opened = await fleet.openQueue(values.queue, queueName);
  } catch (error) {
    if (error instanceof TypeError) return usage(error.message);
    io.stderr.write(`rxllm worker: ${redactSecrets((error as Error).message)}\n`);
    return 1;
  }
  let worker: ReturnType<typeof fleet.createBatchWorker>;
  try {
    worker = fleet.createBatchWorker(opened.queue, {
      router,
      concurrency,
      retries,
      options: values['base-url'] ? { baseURL: values['base-url'] } : {},
      rateLimit: tpm || rpm ? { tokensPerMinute: tpm, requestsPerMinute: rpm, key: queueName } : undefined,
      budget: budget === undefined ? undefined : { maxCost: budget, key: queueName },
      // The stalled-job check runs as often as a lock lasts: a dead worker's jobs go back within ~2 locks.
      worker: { lockDuration: lockMs, stalledInterval: lockMs },
    });
  } catch (error) {
    io.stderr.write(`rxllm worker: ${redactSecrets((error as Error).message)}\n`);
    await opened.close().catch(() => {});
    return 2;
  }
  let completed = 0;
  let failed = 0;
  worker.on('completed', (job) => ((job.returnvalue as { error?: unknown })?.error ? failed++ : completed++));
  // A job that threw (Redis gone while recording, a bug) is BullMQ's to retry or fail; say why.
  worker.on('failed', (job, error) =>
    io.stderr.write(`rxllm worker: job ${job?.id ?? '?'}: ${redactSecrets(error.message)}\n`),
  );
  worker.on('error', (error) => io.stderr.write(`rxllm worker: ${redactSecrets(error.message)}\n`));
  try {
    await worker.waitUntilReady();
  } catch (error) {
    io.stderr.write(`rxllm worker: cannot reach the queue: ${redactSecrets((error as Error).message)}\n`);
    await opened.close().catch(() => {});
    return 1;
  }
  io.stderr.write(
    `rxllm worker: ready on queue "${queueName}" (concurrency ${concurrency}); Ctrl-C to stop\n`,
  );
  await new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  io.stderr.write('rxllm worker: stopping after the jobs in flight (Ctrl-C again to kill)\n');
  await worker.close();
  await opened.close();
  io.stderr.write(
    `rxllm worker: ${completed + failed} results recorded, ${failed} of them failed requests\n`,
  );
  return 0;
}
