/**
 * Failures of one HTTP exchange as typed errors: an error status with its body (`toApiError`), and
 * undici/socket errors (`mapTransportError`).
 */
import { ApiError, ConnectionError, LlmError, StreamCutError, TimeoutError } from '../errors';
import { redactCutText, scrubError } from '../redact';

/** Longest error body kept (bytes, after decompression); the rest is not read. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** An error status and the start of its body → the typed `ApiError` (provider error JSON parsed when present). */
export function toApiError(
  status: number,
  headers: Record<string, string>,
  body: Buffer[] | undefined,
  cut: boolean,
): ApiError {
  let text = body ? Buffer.concat(body).subarray(0, ERROR_BODY_LIMIT).toString('utf8') : '';
  // A body cut at the read limit may end inside a key: scrub its start before anyone cuts again.
  if (cut) text = redactCutText(text);
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  const code = errorCode(parsed);
  return ApiError.fromResponse({ status, headers, body: parsed, code });
}

function errorCode(body: unknown): string | undefined {
  const e = (body as { error?: { type?: unknown; code?: unknown } } | undefined)?.error;
  if (!e || typeof e !== 'object') return undefined;
  const code = e.code ?? e.type;
  return code === undefined || code === null ? undefined : String(code);
}

const TIMEOUT_CODES: Record<string, 'connect' | 'headers' | 'body'> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
};

/**
 * What a failure reading a `complete()` answer's 2xx body says: a non-streamed answer is sent once it
 * is whole, so it was generated and billed already, and retrying it (`retryBackoff`, `batch`, a
 * worker's job retries, a router's fallback) would pay for it again.
 */
export const BILLED_ANSWER_NOTE =
  'Not retried: the provider generated (and billed) this answer before sending it, and a retry would pay for it again.';

/**
 * undici and socket errors → typed rxllm errors. Timeouts say which limit fired; a body that breaks
 * after a 2xx response started (`midStream`) is a `StreamCutError` whatever the socket detail
 * (reset, closed, EPIPE, ...), so callers branch on one class and `partial` applies. With `billed`
 * (a `complete()` answer's body was being read), that cut or timeout is final: `billedAnswer`, which
 * makes it not retryable.
 */
export function mapTransportError(
  error: Error,
  midStream: boolean,
  abortReason: Error | undefined,
  limits: Partial<Record<'connect' | 'headers' | 'body', number>> = {},
  billed = false,
): LlmError {
  if (error instanceof LlmError) return error;
  if (abortReason instanceof LlmError) return abortReason;
  const code = (error as { code?: string }).code ?? '';
  const kind = TIMEOUT_CODES[code];
  if (kind) {
    return new TimeoutError(kind, limits[kind] ?? NaN, { cause: scrubError(error), billedAnswer: billed });
  }
  if (midStream) {
    return new StreamCutError(
      `The connection closed while the response body was streaming${code ? ` (${code})` : ''}: ${error.message}. ${billed ? BILLED_ANSWER_NOTE : 'The response is incomplete; retrying may help.'}`,
      { cause: scrubError(error), billedAnswer: billed },
    );
  }
  return new ConnectionError(
    `The connection failed before a response arrived${code ? ` (${code})` : ''}: ${error.message}. Retrying may help.`,
    { cause: scrubError(error) },
  );
}
