/**
 * `mockStream`: a script's chunks on an rxjs scheduler, so marble tests control the time.
 */
import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import type { Chunk } from '../../chunk';
import type { MockScript } from '../../mockRequest';
import { finishOf, normalize, scriptToChunks } from './script';

/** Options of {@link mockStream}. */
export interface MockStreamOptions {
  /** Scheduler that times the chunks. @defaultValue none: synchronous when both delays are 0, else asyncScheduler */
  scheduler?: SchedulerLike;
  /** Time between two chunks. @defaultValue 0 */
  delayMs?: number;
  /** Time from subscribe to the first chunk. @defaultValue delayMs */
  firstChunkDelayMs?: number;
}

/** @internal shared with the mock provider */
export function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new TypeError(`mockStream ${name} must be a finite number >= 0, got ${value}.`);
  }
  return value;
}

/**
 * Streams a script as a cold observable. Chunk `i` arrives at `firstChunkDelayMs + i * delayMs`;
 * completion arrives with the last chunk; `errorAfter` errors where chunk `k + 1` would have been;
 * `finishReason: null` never completes. Unsubscribing cancels the pending scheduler action.
 *
 * ```
 * mockStream('Hi', { delayMs: 3 }):   ---r--c--f--(u|)    r = role chunk, c = 'Hi', f = finish, u = usage
 * ```
 *
 * @example
 * import { mockStream } from 'rxllm/testing';
 * mockStream({ text: 'Hello', chunkSize: 2 }, { delayMs: 20 }).subscribe((c) => console.log(c.choices[0]?.delta));
 */
export function mockStream(script: MockScript | string, options: MockStreamOptions = {}): Observable<Chunk> {
  const delayMs = nonNegative(options.delayMs, 'delayMs') ?? 0;
  const firstDelay = nonNegative(options.firstChunkDelayMs, 'firstChunkDelayMs') ?? delayMs;
  const s = normalize(script);
  const chunks = scriptToChunks(s);
  return streamChunks(chunks, s, options.scheduler, delayMs, firstDelay);
}

/** @internal shared with the mock provider */
export function streamChunks(
  chunks: Chunk[],
  s: MockScript,
  scheduler: SchedulerLike | undefined,
  delayMs: number,
  firstDelay: number,
): Observable<Chunk> {
  const errorAt = s.errorAfter
    ? Math.min(chunks.length, Math.max(0, Math.floor(s.errorAfter.chunks)))
    : Infinity;
  const finishes = finishOf(s) !== null;
  return new Observable<Chunk>((subscriber) => {
    // Returns false when the stream has ended (error or completion).
    const step = (i: number): boolean => {
      if (i >= errorAt) {
        subscriber.error(s.errorAfter!.error);
        return false;
      }
      if (i < chunks.length) subscriber.next(chunks[i]);
      // With `errorAfter` past the last chunk, the error takes the slot after it.
      if (i + 1 >= chunks.length && errorAt === Infinity) {
        if (finishes) subscriber.complete();
        return false;
      }
      return true;
    };
    if (chunks.length === 0 && errorAt === Infinity) {
      if (finishes) subscriber.complete();
      return;
    }
    if (!scheduler && delayMs === 0 && firstDelay === 0) {
      for (let i = 0; !subscriber.closed && step(i); i++);
      return;
    }
    return (scheduler ?? asyncScheduler).schedule<number>(
      function (i) {
        if (step(i!)) this.schedule(i! + 1, delayMs);
      },
      firstDelay,
      0,
    );
  });
}
