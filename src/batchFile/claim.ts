/**
 * What every run that appends to a results file does first, in this order: take its lock (so no
 * other run reads the same "done" ids and sends the rest again), then read and repair it. Shared by
 * both modes of `rxllm batch`, so a synchronous run and a provider-batch run on one `--out` keep each
 * other out and resume each other's files alike.
 */
import { lockResultsFile, type ResultsFileLock } from './lock';
import { readResultsFile } from './resultsFile';

/** A results file taken for a run. */
export interface ClaimedResultsFile {
  /** Held until `release()`; `undefined` when nothing was locked. */
  lock: ResultsFileLock | undefined;
  /** `custom_id` -> whether its recorded result succeeded; empty without a results file. */
  done: Map<string, boolean>;
  /** What the user should be told (a lock taken over, a repaired end), one sentence each. */
  notices: string[];
}

/**
 * Locks `lockTarget` (its `.lock` file; the results file itself by default), then reads `out` (see
 * `readResultsFile`). Throws `ResultsFileLockedError` or `NotAResultsFileError` with nothing held:
 * a lock taken before the read failed is released.
 */
export function claimResultsFile(
  out: string | undefined,
  lockTarget: string | undefined = out,
): ClaimedResultsFile {
  const notices: string[] = [];
  const lock = lockTarget === undefined ? undefined : lockResultsFile(lockTarget);
  if (lock?.tookOver)
    notices.push(`took over the lock of pid ${lock.tookOver.pid}, which is no longer running.`);
  if (out === undefined) return { lock, done: new Map(), notices };
  try {
    const { done, repaired } = readResultsFile(out);
    if (repaired === 'cut')
      notices.push(`the last line of ${out} was cut (a crash?); it is removed and redone.`);
    if (repaired === 'newline') notices.push(`the last line of ${out} had no line break; one was added.`);
    return { lock, done, notices };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

/** What is left of a batch file given its results file (see {@link pendingJobs}). */
export interface PendingJobs<Job extends { customId: string }> {
  /** The jobs without a result yet, in file order. */
  todo: Job[];
  /** How many have one (failed ones included: a run never retries them by itself). */
  skipped: number;
  /** How many of those failed: still failures of this job, for its summary and exit code. */
  failedBefore: number;
}

/** Splits `jobs` by what `done` (a claimed results file) already holds. */
export function pendingJobs<Job extends { customId: string }>(
  jobs: readonly Job[],
  done: ReadonlyMap<string, boolean>,
): PendingJobs<Job> {
  const todo = jobs.filter((j) => !done.has(j.customId));
  const failedBefore = jobs.filter((j) => done.get(j.customId) === false).length;
  return { todo, skipped: jobs.length - todo.length, failedBefore };
}
