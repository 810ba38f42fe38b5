/**
 * The record of the provider batches a run submitted (`<out>.batch.json`), kept beside the results so
 * a re-run, even after `kill -9`, resumes polling them instead of submitting their requests again.
 * Read and written under the results file's lock (`claim.ts`): two runs reading an empty record would
 * both submit.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** What the record holds: the provider and, per submitted batch, its id and its requests' ids. */
export interface BatchIdsRecord {
  provider: string;
  batches: { batchId: string; customIds: string[] }[];
}

/** The record file is not one of ours: nothing in it was changed. */
export class NotABatchRecordError extends Error {
  override readonly name = 'NotABatchRecordError';
  constructor(readonly path: string) {
    super(`${path} is not a batch record of rxllm; move it away to submit anew`);
  }
}

/** The record at `path`, or an empty one for `provider` when there is none yet. */
export function readBatchIds(path: string, provider: string): BatchIdsRecord {
  if (!existsSync(path)) return { provider, batches: [] };
  let record: Partial<BatchIdsRecord>;
  try {
    record = JSON.parse(readFileSync(path, 'utf8')) as Partial<BatchIdsRecord>;
  } catch {
    throw new NotABatchRecordError(path);
  }
  if (typeof record?.provider !== 'string' || !Array.isArray(record.batches))
    throw new NotABatchRecordError(path);
  return record as BatchIdsRecord;
}

/** Writes the record whole or not at all (aside, then renamed), even if the process is killed meanwhile. */
export function saveBatchIds(path: string, record: BatchIdsRecord): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

/**
 * Which recorded batches still owe an answer to one of `todo` (to poll again), and which of `todo` no
 * batch holds (to submit): a request is submitted once, whatever happened to the run since.
 */
export function resumePlan<Job extends { customId: string }>(
  record: BatchIdsRecord,
  todo: readonly Job[],
): { toResume: BatchIdsRecord['batches']; toSubmit: Job[] } {
  const pending = new Set(todo.map((j) => j.customId));
  const submitted = new Set(record.batches.flatMap((b) => b.customIds));
  return {
    toResume: record.batches.filter((b) => b.customIds.some((id) => pending.has(id))),
    toSubmit: todo.filter((j) => !submitted.has(j.customId)),
  };
}
