import {
  asyncScheduler,
  Observable,
  Subscriber,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Chunk } from '../src/chunk';
import { errorFrame } from '../src/serve/errorFrame';
import { defaultResumeStore, stoppedError } from '../src/resume/replay';
import { RESUME_DEFAULTS, type ResumeEnd, type ResumeEvent, type ResumeStore } from '../src/resume/store';

export interface ResumableConfig {
  /** Where the chunks are written. @defaultValue defaultResumeStore() (this process's memory) */
  store?: ResumeStore;
  /**
   * The stream id (unique per generation; clients resume with it), or a function called once per
   * subscription for a new one.
   */
  id: string | (() => string);
  /**
   * How long the stream is kept after its last write, in ms; a generation whose subscriber left runs
   * at most this long before it is stopped. @defaultValue 600_000 (10 minutes)
   */
  ttlMs?: number;
  /**
   * How long a generation whose subscriber left runs at most, in ms (then it is stopped).
   * @defaultValue ttlMs
   */
  keepAliveMs?: number;
  /**
   * Whether the generation goes on when the subscriber unsubscribes (a client that dropped resumes
   * it with `resume`). `false` aborts it then, as any other operator does. @defaultValue true
   */
  keepAlive?: boolean;
  /** Called once the stream's first write succeeded (it can be resumed from then on). @defaultValue none */
  onStored?: (streamId: string) => void;
  /** Schedules the `ttlMs` limit of a generation left running. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
  /**
   * Aborting it stops the generation as `stop` does (a server shutting down stops the generations its
   * clients left). @defaultValue none
   */
  signal?: AbortSignal;
}

/** Defaults of {@link resumable}. */
export const RESUMABLE_DEFAULTS = { ttlMs: RESUME_DEFAULTS.ttlMs, keepAlive: true } as const;

/**
 * Writes every chunk of a generation to a store under a stream id while passing it on live, so a
 * client that loses the connection (or reloads the page) picks the answer up with
 * `resume(store, id, { fromEventId })`, exactly once and in order, from this process or another one
 * sharing the store. The stream ends in the store with its final state: complete, error (its class),
 * or stopped (`stop(store, id)`, which aborts the upstream wherever it runs: the subscriber then
 * gets a `RequestAbortedError`). With `keepAlive` (the default) the upstream keeps running when the
 * subscriber leaves, for `keepAliveMs` (default `ttlMs`) at most. A store failure or limit (`ResumableStreamError`
 * `too-large`, `exists`, `full`) stops the upstream and errors the stream with it.
 *
 * ```
 * source:  --a--b--c--|
 * result:  --a--b--c--|      store: a(1) b(2) c(3) complete
 * result:  --a--b!           (unsubscribed) source keeps running; store: a b c complete
 * ```
 *
 * @example
 * import { createMemoryResumeStore, stream } from 'rxllm';
 * import { resumable } from 'rxllm/operators';
 * const store = createMemoryResumeStore();
 * stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(resumable({ store, id: 'answer-1' }))
 *   .subscribe({ complete: () => console.log('stored') }); // stored
 */
export function resumable(config: ResumableConfig): MonoTypeOperatorFunction<Chunk> {
  const { ttlMs, keepAlive } = { ...RESUMABLE_DEFAULTS, ...config };
  const { id, onStored, scheduler = asyncScheduler, signal, keepAliveMs = ttlMs } = config;
  if (typeof id !== 'string' && typeof id !== 'function')
    throw new TypeError('resumable: id must be a string or a function that returns one');
  if (typeof id === 'string' && id === '') throw new TypeError('resumable: id must not be empty');
  if (!(typeof ttlMs === 'number' && ttlMs > 0)) throw new TypeError('resumable: ttlMs must be > 0');
  if (!(typeof keepAliveMs === 'number' && keepAliveMs > 0))
    throw new TypeError('resumable: keepAliveMs must be > 0');
  if (config.store !== undefined && typeof config.store?.append !== 'function')
    throw new TypeError('resumable: store must be a ResumeStore');
  return (source) =>
    new Observable<Chunk>((subscriber) => {
      const store = config.store ?? defaultResumeStore();
      const streamId = typeof id === 'function' ? id() : id;
      let attached = true;
      /** The upstream ended, failed, was stopped, or the store failed: nothing more is written but the end. */
      let over = false;
      let seq = 0;
      let pending: ResumeEvent[] = [];
      let endState: ResumeEnd | undefined;
      let endWritten = false;
      let created = false;
      let writing = false;
      let offStop: (() => void) | undefined;
      let expiry: Subscription | undefined;

      const release = () => {
        inner.unsubscribe();
        expiry?.unsubscribe();
        offStop?.();
        signal?.removeEventListener('abort', onStop);
      };
      /** Ends the generation (if still running) with `end` written after what is queued. */
      const finish = (end: ResumeEnd) => {
        if (over) return;
        over = true;
        endState = end;
        release();
        const failed = flush();
        if (failed) storeFailed(failed.error);
      };
      const storeFailed = (error: unknown) => {
        const wasOver = over;
        over = true;
        release();
        // A limit: readers learn why the stream ends there (best effort: the store may be down).
        if (created && !endWritten) {
          endWritten = true;
          store.end(streamId, { state: 'error', error: errorFrame(error) }).catch(() => undefined);
        }
        if (attached && !wasOver) subscriber.error(error);
      };
      // Writes are queued and sent one call at a time, in order (a call may carry many chunks).
      const drain = async () => {
        try {
          if (!created) {
            await store.create(streamId, ttlMs);
            created = true;
            onStored?.(streamId);
            if (!over) offStop = store.onStop(streamId, onStop);
          }
          for (;;) {
            if (pending.length > 0) {
              const batch = pending;
              pending = [];
              await store.append(streamId, batch);
            } else if (endState && !endWritten) {
              endWritten = true;
              await store.end(streamId, endState);
            } else break;
          }
          writing = false;
        } catch (error) {
          writing = false;
          storeFailed(error);
        }
      };
      /**
       * Writes what is queued. An in-process store (`appendNow`) with no write in flight takes the
       * chunks at once (no promise per chunk); its failure is returned, for the caller to report after
       * the chunk went out (as a failed `append` would be, a turn later). Else the queue is drained.
       */
      function flush(): { error: unknown } | undefined {
        if (writing) return undefined;
        if (created && store.appendNow && pending.length > 0) {
          const batch = pending;
          pending = [];
          try {
            store.appendNow(streamId, batch);
          } catch (error) {
            return { error };
          }
          if (!endState || endWritten) return undefined;
        }
        writing = true;
        void drain();
        return undefined;
      }
      function onStop() {
        if (over) return;
        finish({ state: 'stopped' });
        if (attached) subscriber.error(stoppedError(streamId));
      }

      // Not linked to `subscriber`: with keepAlive the upstream outlives it.
      const inner = new Subscriber<Chunk>({
        next: (chunk) => {
          if (over) return;
          pending.push({ seq: ++seq, chunk });
          const failed = flush();
          if (attached) subscriber.next(chunk);
          if (failed) storeFailed(failed.error);
        },
        error: (error: unknown) => {
          if (over) return;
          finish({ state: 'error', error: errorFrame(error) });
          if (attached) subscriber.error(error);
        },
        complete: () => {
          if (over) return;
          finish({ state: 'complete' });
          if (attached) subscriber.complete();
        },
      });
      // Added before subscribing: a synchronous source must see an unsubscribe made during its emission.
      subscriber.add(() => {
        if (!attached) return;
        attached = false;
        if (over) return;
        if (!keepAlive) return finish({ state: 'stopped' });
        // Left running for a client that comes back; stopped after keepAliveMs.
        expiry = scheduler.schedule(() => finish({ state: 'stopped' }), keepAliveMs);
      });
      flush();
      if (signal?.aborted) return onStop();
      signal?.addEventListener('abort', onStop, { once: true });
      source.subscribe(inner);
    });
}
