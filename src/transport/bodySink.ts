/**
 * What a response body is handed to: the interface between `http.ts` (which reads the body) and the
 * decoders it feeds (`sse.ts`, `ndjson.ts`, `json.ts`, `contentType.ts`), kept below all of them so
 * no decoder imports the transport that imports it.
 */
import type { LlmError } from '../errors';

/** Receives a 2xx response body. Created per subscription. */
export interface BodySink {
  /** Raw (decompressed) body bytes. Throwing an `LlmError` ends the request with it. */
  data(chunk: Buffer): void;
  /** The body ended normally. Return an error to fail instead of completing (e.g. a cut stream). */
  end(): LlmError | void;
  /**
   * The sink keeps the whole body (a `complete()` answer): the transport caps it at
   * `maxResponseBytes`, and the idle limit (which counts values) does not apply.
   */
  buffers?: boolean;
}
