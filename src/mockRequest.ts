/**
 * The mock provider's request fields (`mock_response`, `mock_delay_ms`, ...) and the script they
 * carry: types only. `ChatRequest` (`./request`) types these fields and the mock provider
 * (`./providers/mock/`) reads them; the types sit here, below both, so the request never imports a
 * provider (`npm run depcheck`).
 */
import type { FinishReason, Usage } from './chunk';

/** What a mocked model answers. A bare string is shorthand for `{ text }`. */
export interface MockScript {
  /** Assistant content. */
  text?: string;
  /** Reasoning text, streamed before the content as `delta.reasoning`. */
  reasoning?: string;
  /** A refusal, streamed as `delta.refusal`. */
  refusal?: string;
  /** Tool calls, streamed after the content; `arguments` objects are JSON-encoded. */
  toolCalls?: {
    /** @defaultValue `call_mock_<index>` */
    id?: string;
    name: string;
    arguments: string | object;
    /** Code points per argument fragment. @defaultValue the script's `chunkSize` */
    argumentChunkSize?: number;
  }[];
  /** `null` = the stream never finishes (no finish chunk, no usage, never completes). @defaultValue 'tool_calls' with tool calls, else 'stop' */
  finishReason?: FinishReason | null;
  /** `'auto'` estimates ~1 token per 4 code points; `null` sends no usage chunk. @defaultValue 'auto' */
  usage?: Usage | null | 'auto';
  /** Code points (never half a surrogate pair) per content/reasoning/refusal chunk. @defaultValue 4 */
  chunkSize?: number;
  /** Number of choices; each gets the same content, their chunks interleaved. @defaultValue 1 */
  n?: number;
  /** @defaultValue the context's model, else 'mock' */
  model?: string;
  /** @defaultValue `chatcmpl-mock-<hash of the script>` (deterministic) */
  id?: string;
  /** Unix seconds. @defaultValue 1700000000 */
  created?: number;
  /**
   * `mockStream` and the mock provider error with `error` where chunk `chunks + 1` would have been
   * (after the last chunk when `chunks` is larger); `complete()` errors at once. `scriptToChunks` ignores it.
   */
  errorAfter?: { chunks: number; error: unknown };
}

/**
 * What `mock_response` may be: one script for every request, or a sequence, one script per request
 * sent (the first request gets the first script, a retry the next; past the end the last one
 * repeats), or a function of the 1-based attempt number. Like the mock server's `enqueue`, a sequence
 * is consumed: the count belongs to the array or function, so give each test its own.
 */
export type MockResponse =
  MockScript | string | readonly (MockScript | string)[] | ((attempt: number) => MockScript | string);

/** The mock's own request fields. */
export interface MockRequestFields {
  mock_response?: MockResponse;
  /** Time between two chunks, in ms (scheduler time). @defaultValue 0 */
  mock_delay_ms?: number;
  /** Time from subscribe to the first chunk (or to the `complete()` answer), in ms. @defaultValue mock_delay_ms */
  mock_first_chunk_delay_ms?: number;
}
