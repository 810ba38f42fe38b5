// Barrel of rxllm/bullmq: batches across a fleet of workers on BullMQ. Loads bullmq only here.
export {
  batchJobId,
  enqueueBatch,
  ENQUEUE_BATCH_DEFAULTS,
  type BatchJobData,
  type BatchLine,
  type BatchRequest,
  type EnqueueBatchOptions,
  type EnqueueBatchResult,
} from './enqueue';
export {
  BATCH_WORKER_DEFAULTS,
  createBatchProcessor,
  createBatchWorker,
  type BatchCaller,
  type BatchProcessorOptions,
  type BatchWorkerOptions,
} from './worker';
export { batchStatus, readBatchResults, type BatchStatus, type ReadBatchResultsOptions } from './status';
export type { BatchRecord } from './store';
