/** What the OpenAI-compatible handler, the resume routes and the gateway share about resumption. */
import type { ResumeStore } from '../resume/store';

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
   * Aborting it stops every generation still running (the gateway aborts it when it closes, so the
   * generations its clients left do not keep the process alive). @defaultValue none
   */
  signal?: AbortSignal;
}
