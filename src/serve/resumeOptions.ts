/** What the OpenAI-compatible handler, the resume routes and the gateway share about resumption. */
import type { ResumableStreamError, StoreError } from '../errors';
import { RESUME_DEFAULTS, type ResumeStore } from '../resume/store';

/** The response header that carries a resumable answer's stream id (docs/resume.md). */
export const STREAM_ID_HEADER = 'x-rxllm-stream-id';

/** Resumption settings of `chatCompletionsHandler`, `resumeHandler` and the gateway. */
export interface ResumeServeOptions {
  /** Where streamed answers are kept. @defaultValue defaultResumeStore() (this process's memory) */
  store?: ResumeStore;
  /**
   * How long a stream is kept after its last write, in ms; a generation whose client left runs this
   * long at most. @defaultValue 600_000 (10 minutes)
   */
  ttlMs?: number;
  /**
   * How long a generation whose client left goes on at most, in ms (a client may come back for it).
   * @defaultValue the larger of `ttlMs` and 60_000
   */
  keepAliveMs?: number;
  /**
   * Aborting it stops every generation still running (the gateway aborts it when it closes, so the
   * generations its clients left do not keep the process alive). @defaultValue none
   */
  signal?: AbortSignal;
  /**
   * Called when an answer goes on unstored (it can no longer be resumed): the store could not be
   * reached, or was full. The gateway logs it. @defaultValue none
   */
  onUnstored?: (error: StoreError | ResumableStreamError, streamId: string) => void;
}

/** The `resumable` settings of a served answer. */
export function servedResumable(options: ResumeServeOptions) {
  const ttlMs = options.ttlMs ?? RESUME_DEFAULTS.ttlMs;
  return {
    store: options.store,
    ttlMs,
    keepAliveMs: options.keepAliveMs ?? Math.max(ttlMs, 60_000),
    signal: options.signal,
    onUnstored: options.onUnstored,
  };
}
