/**
 * The reading side of resumable streams: `resume` replays what a store holds after an event and
 * then follows the generation live; `stop` asks the producer to abort, wherever it runs.
 */
import { map, Observable } from 'rxjs';
import type { Chunk } from '../chunk';
import { RequestAbortedError, ResumableStreamError, type LlmError } from '../errors';
import { errorFromFrame } from '../serve/errorFrame';
import { createMemoryResumeStore } from './memoryStore';
import { whenStored } from './newStream';
import { RESUME_DEFAULTS, seqOf, type ResumeEnd, type ResumeEvent, type ResumeStore } from './store';

export interface ResumeOptions {
  /**
   * The last event the reader has: `"<streamId>:<seq>"` (an SSE `Last-Event-ID`) or the `seq`.
   * Everything after it is sent. @defaultValue none (from the first event)
   */
  fromEventId?: string | number;
  /** How long one store read waits for a new event before asking again, in ms. @defaultValue 15_000 */
  waitMs?: number;
  /**
   * How long an id the store does not have yet is asked for again before it is `not-found`, in ms:
   * a client may use an id the moment it got it, before the store write of the answer has landed.
   * @defaultValue 1000
   */
  newStreamWaitMs?: number;
}

let shared: ResumeStore | undefined;

/**
 * The process-wide memory store `resumable`, `resume` and the gateway use when given none (created
 * on first use with `createMemoryResumeStore`'s defaults).
 */
export function defaultResumeStore(): ResumeStore {
  return (shared ??= createMemoryResumeStore());
}

/** The error a reader gets for a generation that was stopped. */
export function stoppedError(streamId: string): LlmError {
  const error = new RequestAbortedError();
  error.message = `The stream ${JSON.stringify(streamId.slice(0, 100))} was stopped (stop) before it ended.`;
  return error;
}

/** The rebuilt end of a stored stream: nothing for `complete`, else the error to raise. */
export function endError(streamId: string, end: ResumeEnd): LlmError | undefined {
  if (end.state === 'complete') return undefined;
  return end.state === 'error' ? errorFromFrame(end.error) : stoppedError(streamId);
}

/**
 * {@link resume} with each chunk's `seq` (what a server writes as the SSE event id).
 *
 * @example
 * import { createMemoryResumeStore, resumeEvents } from 'rxllm';
 * resumeEvents(createMemoryResumeStore(), 'nope').subscribe({ error: (e) => console.log(e.reason) }); // not-found
 */
export function resumeEvents(
  store: ResumeStore,
  streamId: string,
  options: ResumeOptions = {},
): Observable<ResumeEvent> {
  const first = seqOf(streamId, options.fromEventId);
  const waitMs = options.waitMs ?? RESUME_DEFAULTS.waitMs;
  if (!(waitMs > 0)) throw new TypeError('resume: waitMs must be > 0');
  return new Observable<ResumeEvent>((subscriber) => {
    const controller = new AbortController();
    let after = first;
    const newStreamWaitMs = options.newStreamWaitMs ?? RESUME_DEFAULTS.newStreamWaitMs;
    const read = () => store.read(streamId, after, { waitMs, signal: controller.signal });
    const run = async () => {
      let known = false;
      for (;;) {
        const batch = known
          ? await read()
          : await whenStored(read, newStreamWaitMs, () => controller.signal.aborted);
        known = true;
        if (controller.signal.aborted) return;
        if (!batch) throw new ResumableStreamError('not-found', streamId);
        for (const event of batch.events) {
          // A store returns each seq once; skipping what is behind keeps that true for any store.
          if (event.seq <= after) continue;
          after = event.seq;
          subscriber.next(event);
          if (subscriber.closed) return;
        }
        if (batch.end) {
          const error = endError(streamId, batch.end);
          if (error) subscriber.error(error);
          else subscriber.complete();
          return;
        }
      }
    };
    run().catch((error: unknown) => subscriber.error(error));
    return () => controller.abort();
  });
}

/**
 * Replays a resumable stream after `fromEventId`, then follows it live until it ends: every chunk
 * once, in order. A finished stream replays and completes (or errors as it did: the same class; a
 * stopped one with `RequestAbortedError`). An unknown or expired id errors with
 * `ResumableStreamError` (`reason: 'not-found'`), once the store was asked again for
 * `newStreamWaitMs` (an id used the moment it was sent may not be stored yet).
 *
 * ```
 * stored:  a b c d|        resume(store, id, { fromEventId: 2 }):  --c-d|
 * ```
 *
 * @example
 * import { lastValueFrom, toArray } from 'rxjs';
 * import { createMemoryResumeStore, resume, stream } from 'rxllm';
 * import { resumable, textDeltas } from 'rxllm/operators';
 * const store = createMemoryResumeStore();
 * stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'one two three' }] })
 *   .pipe(resumable({ store, id: 'answer-1' }))
 *   .subscribe({
 *     complete: () =>
 *       lastValueFrom(resume(store, 'answer-1', { fromEventId: 'answer-1:1' }).pipe(textDeltas(), toArray())).then(
 *         (rest) => console.log(rest.join('')), // Mock reply to: one two three
 *       ),
 *   });
 */
export function resume(store: ResumeStore, streamId: string, options: ResumeOptions = {}): Observable<Chunk> {
  return resumeEvents(store, streamId, options).pipe(map((event) => event.chunk));
}

/**
 * Stops a resumable generation wherever it runs (this process or, through a shared store, another
 * one): its upstream call is aborted and the stream ends `stopped`. Rejects with
 * `ResumableStreamError` (`not-found`) for an unknown or expired id, once the store was asked again
 * for `newStreamWaitMs` (default 1000 ms: an id used the moment it was sent, a Stop button, may not be
 * stored yet).
 *
 * @example
 * import { createMemoryResumeStore, stop } from 'rxllm';
 * stop(createMemoryResumeStore(), 'nope').catch((e) => console.log(e.reason)); // not-found
 */
export async function stop(
  store: ResumeStore,
  streamId: string,
  options: Pick<ResumeOptions, 'newStreamWaitMs'> = {},
): Promise<void> {
  const waitMs = options.newStreamWaitMs ?? RESUME_DEFAULTS.newStreamWaitMs;
  if (!(await whenStored(() => store.stop(streamId), waitMs)))
    throw new ResumableStreamError('not-found', streamId);
}
