// Type-checked (tsc --strict, skipLibCheck false) by scripts/bullmq-compat/check.sh in the scratch
// app of each bullmq of the peer range: rxllm/bullmq's declarations name bullmq's `Queue`, `Worker`,
// `Job` and `WorkerOptions`, which resolve to the app's bullmq. docs/fleet.md's "From code", and
// createBatchProcessor under a Worker the app makes itself. Each `@ts-expect-error` fails to compile
// when the type it checks degrades to `any`.
import { Queue, Worker, type Job } from 'bullmq';
import {
  batchJobId,
  batchStatus,
  createBatchProcessor,
  createBatchWorker,
  enqueueBatch,
  readBatchResults,
  type BatchJobData,
  type BatchRecord,
  type BatchStatus,
} from 'rxllm/bullmq';

const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const queue = new Queue('rxllm-batch', { connection });

export async function fromDocs(): Promise<BatchStatus> {
  const { added, total } = await enqueueBatch(queue, 'tickets.jsonl', { batchId: 'tickets-2026-12-07' });
  console.log(`${added} jobs added, ${total} in the batch`);
  const worker: Worker<BatchJobData> = createBatchWorker(queue, {
    concurrency: 20,
    retries: 3,
    rateLimit: { tokensPerMinute: 2_000_000, key: 'openai' },
    budget: { maxCost: 100 },
    worker: { lockDuration: 30_000, stalledInterval: 30_000 },
  });
  process.once('SIGTERM', () => void worker.close());
  // @ts-expect-error lockDuration is a number of ms (bullmq's WorkerOptions)
  createBatchWorker(queue, { worker: { lockDuration: '30s' } });
  const s = await batchStatus(queue, 'tickets-2026-12-07');
  // @ts-expect-error done is a number
  const wrong: string = s.done;
  void wrong;
  const { records, next } = await readBatchResults(queue, 'tickets-2026-12-07', { after: '-' });
  const first: BatchRecord | undefined = records[0];
  console.log(first?.custom_id, next);
  const job = await queue.getJob(batchJobId('tickets-2026-12-07', 'line-1'));
  console.log(job?.id);
  return s;
}

// The job function alone, under the app's own Worker (a @nestjs/bullmq WorkerHost calls it alike).
const run: (job: Job<BatchJobData>) => Promise<BatchRecord> = createBatchProcessor(queue, { retries: 3 });
export const own = new Worker<BatchJobData, BatchRecord>('rxllm-batch', run, { connection, concurrency: 10 });
