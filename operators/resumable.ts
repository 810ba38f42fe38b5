import {
  asyncScheduler,
  Observable,
  Subscriber,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { onAbort } from '../src/abortListeners';
import type { Chunk } from '../src/chunk';
import { ResumableStreamError, StoreError } from '../src/errors';
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
  /**
   * Called once when the answer goes on unstored (it can no longer be resumed): the store could not be
   * reached (`StoreError`), or was full when the stream was created (`ResumableStreamError` `full`).
   * A server logs it. @defaultValue none
   */
  onUnstored?: (error: StoreError | ResumableStreamError, streamId: string) => void;
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
 * subscriber leaves, for `keepAliveMs` (default `ttlMs`) at most. A store limit (`ResumableStreamError`
 * `too-large`, `exists`) or failure stops the upstream and errors the stream with it, except a store
 * out of reach (`StoreError`: Redis down or stalled past its time limit) or full (`maxStreams` streams
 * kept: `ResumableStreamError` `full`): that costs the answer its resumability, not the answer. The
 * subscriber reading it live keeps getting it (ending it would lose what the provider bills, and a
 * retry would pay again); nothing more is written, `onUnstored` is told, and once that subscriber
 * leaves, the generation, which nobody could resume, is stopped.
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
  const { onUnstored } = config;
  const settings: GenerationSettings = {
    ttlMs,
    keepAlive,
    keepAliveMs,
    scheduler,
    onStored,
    onUnstored,
    signal,
  };
  return (source) =>
    new Observable<Chunk>((subscriber) => {
      const store = config.store ?? defaultResumeStore();
      const streamId = typeof id === 'function' ? id() : id;
      const generation = new Generation(subscriber, store, streamId, settings);
      // Added before subscribing: a synchronous source must see an unsubscribe made during its emission.
      subscriber.add(() => generation.detach());
      generation.start();
      if (!generation.closed) source.subscribe(generation);
    });
}

interface GenerationSettings {
  ttlMs: number;
  keepAlive: boolean;
  keepAliveMs: number;
  scheduler: SchedulerLike;
  onStored: ((streamId: string) => void) | undefined;
  onUnstored: ((error: StoreError | ResumableStreamError, streamId: string) => void) | undefined;
  signal: AbortSignal | undefined;
}

/**
 * One subscription's generation: the upstream's subscriber (not linked to the downstream one: with
 * keepAlive the upstream outlives it), a class rather than closures since a gateway holds one per
 * open stream for as long as it runs.
 */
class Generation extends Subscriber<Chunk> {
  private attached = true;
  /** The upstream ended, failed, was stopped, or the store failed: nothing more is written but the end. */
  private over = false;
  private seq = 0;
  private pending: ResumeEvent[] = [];
  private endState: ResumeEnd | undefined;
  private endWritten = false;
  private created = false;
  private writing = false;
  /** The store could not be reached (`StoreError`) or was full: the answer goes on live, unstored. */
  private unstored = false;
  private offStop: (() => void) | undefined;
  private offSignal: (() => void) | undefined;
  private expiry: Subscription | undefined;
  /** Given to the store and the signal. */
  private readonly stopListener = () => this.onStop();

  constructor(
    private readonly downstream: Subscriber<Chunk>,
    private readonly store: ResumeStore,
    private readonly streamId: string,
    private readonly settings: GenerationSettings,
  ) {
    super();
  }

  /** Creates the stream in the store and listens to the signal (stopped at once when aborted). */
  start(): void {
    this.flush();
    const { signal } = this.settings;
    if (signal?.aborted) return this.onStop();
    if (signal) this.offSignal = onAbort(signal, this.stopListener);
  }

  /** The downstream subscriber left. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    if (this.over) return;
    const { keepAlive, keepAliveMs, scheduler } = this.settings;
    // Unstored, it cannot be resumed: nobody is left to serve.
    if (!keepAlive || this.unstored) return this.finish({ state: 'stopped' });
    // Left running for a client that comes back; stopped after keepAliveMs.
    this.expiry = scheduler.schedule(() => this.finish({ state: 'stopped' }), keepAliveMs);
  }

  // The hooks run only while subscribed: every way to end (`over`) unsubscribes first (`release`).
  protected override _next(chunk: Chunk): void {
    if (this.unstored) {
      if (this.attached) this.downstream.next(chunk);
      return;
    }
    this.pending.push({ seq: ++this.seq, chunk });
    const failed = this.flush();
    if (this.attached) this.downstream.next(chunk);
    if (failed) this.storeFailed(failed.error);
  }

  protected override _error(error: unknown): void {
    this.finish({ state: 'error', error: errorFrame(error) });
    if (this.attached) this.downstream.error(error);
  }

  protected override _complete(): void {
    this.finish({ state: 'complete' });
    if (this.attached) this.downstream.complete();
  }

  private release(): void {
    this.unsubscribe();
    this.expiry?.unsubscribe();
    this.offStop?.();
    this.offSignal?.();
  }

  /** Ends the generation (if still running) with `end` written after what is queued. */
  private finish(end: ResumeEnd): void {
    if (this.over) return;
    this.over = true;
    this.endState = end;
    this.release();
    const failed = this.flush();
    if (failed) this.storeFailed(failed.error);
  }

  private storeFailed(error: unknown): void {
    if (error instanceof StoreError || (error instanceof ResumableStreamError && error.reason === 'full')) {
      // Out of reach, or no room for one more stream: resumability is lost, the answer is not (see the
      // operator's doc).
      if (this.unstored) return;
      this.unstored = true;
      this.pending.length = 0;
      if (!this.attached) this.finish({ state: 'stopped' });
      this.settings.onUnstored?.(error, this.streamId);
      return;
    }
    const wasOver = this.over;
    this.over = true;
    this.release();
    // A limit: readers learn why the stream ends there (best effort: the store may be down).
    if (this.created && !this.endWritten) {
      this.endWritten = true;
      this.store.end(this.streamId, { state: 'error', error: errorFrame(error) }).catch(() => undefined);
    }
    if (this.attached && !wasOver) this.downstream.error(error);
  }

  /** Writes are queued and sent one call at a time, in order (a call may carry many chunks). */
  private async drain(): Promise<void> {
    const { store, streamId } = this;
    try {
      if (!this.created) {
        await store.create(streamId, this.settings.ttlMs);
        this.created = true;
        this.settings.onStored?.(streamId);
        if (!this.over) this.offStop = store.onStop(streamId, this.stopListener);
      }
      for (;;) {
        if (this.pending.length > 0) {
          const batch = this.pending;
          this.pending = [];
          await store.append(streamId, batch);
        } else if (this.endState && !this.endWritten) {
          this.endWritten = true;
          await store.end(streamId, this.endState);
        } else break;
      }
      this.writing = false;
    } catch (error) {
      this.writing = false;
      this.storeFailed(error);
    }
  }

  /**
   * Writes what is queued. An in-process store (`appendNow`) with no write in flight takes the
   * chunks at once (no promise per chunk); its failure is returned, for the caller to report after
   * the chunk went out (as a failed `append` would be, a turn later). Else the queue is drained.
   */
  private flush(): { error: unknown } | undefined {
    if (this.unstored) {
      this.pending.length = 0;
      return undefined;
    }
    if (this.writing) return undefined;
    if (this.created && this.store.appendNow && this.pending.length > 0) {
      try {
        this.store.appendNow(this.streamId, this.pending);
      } catch (error) {
        return { error };
      }
      // `appendNow` reads the events during the call only: the array is kept for the next chunk.
      this.pending.length = 0;
      if (!this.endState || this.endWritten) return undefined;
    }
    this.writing = true;
    void this.drain();
    return undefined;
  }

  private onStop(): void {
    if (this.over) return;
    this.finish({ state: 'stopped' });
    if (this.attached) this.downstream.error(stoppedError(this.streamId));
  }
}
