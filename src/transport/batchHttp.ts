/**
 * Plain request/response calls for the providers' batch APIs (create a batch, poll it, read its
 * results, cancel it). These are small JSON or JSONL bodies, read whole, a few times a minute: no
 * stream, no pool, just `fetch`, with the same typed errors as the chat transport (an HTTP error is
 * `ApiError.fromResponse`, a broken connection a `ConnectionError`, the caller's abort a
 * `RequestAbortedError`).
 */
import { scrubError } from '../redact';
import { onAbort } from '../abortListeners';
import { ApiError, ConnectionError, RequestAbortedError } from '../errors';

/** Where and how one provider's batch endpoints are called. */
export interface BatchEndpoint {
  /** Base URL up to the API version, without a trailing slash. */
  baseURL: string;
  /** Auth and version headers of the provider. */
  headers: Record<string, string>;
  signal?: AbortSignal;
}

/** What one call sends: a JSON value, a form (multipart upload) or nothing. */
export interface BatchCallSpec {
  method: 'GET' | 'POST';
  /** Path after the base URL (`/batches`) or an absolute URL the provider handed out (`results_url`). */
  path: string;
  json?: unknown;
  form?: FormData;
}

/** Sends one call; resolves to the response text (2xx) or rejects with a typed error. */
export async function batchCall(endpoint: BatchEndpoint, spec: BatchCallSpec): Promise<string> {
  const url = /^https?:\/\//.test(spec.path) ? spec.path : `${endpoint.baseURL}${spec.path}`;
  const headers: Record<string, string> = { ...endpoint.headers };
  let body: string | FormData | undefined;
  if (spec.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(spec.json);
  } else body = spec.form;
  // A signal of this call's own, tied to the caller's: `fetch` leaves its abort listener on the
  // signal it is given until that signal is garbage-collected, so a batch's long-lived signal
  // would collect one per poll. The caller's gets one listener per call in flight (`onAbort`).
  const { signal } = endpoint;
  if (signal?.aborted) throw new RequestAbortedError({ cause: signal.reason });
  const own = new AbortController();
  const off = signal && onAbort(signal, () => own.abort(signal.reason));
  let response: Response;
  let text: string;
  try {
    try {
      response = await fetch(url, { method: spec.method, headers, body, signal: own.signal });
    } catch (error) {
      if (signal?.aborted) throw new RequestAbortedError({ cause: scrubError(error) });
      throw new ConnectionError(`Could not reach ${new URL(url).origin} for a batch call.`, {
        cause: scrubError(error),
      });
    }
    try {
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw new RequestAbortedError({ cause: scrubError(error) });
      throw new ConnectionError('The connection broke while reading a batch response.', {
        cause: scrubError(error),
      });
    }
  } finally {
    off?.();
  }
  if (!response.ok) {
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, key) => (responseHeaders[key] = value));
    throw ApiError.fromResponse({ status: response.status, headers: responseHeaders, body: parseOr(text) });
  }
  return text;
}

/** {@link batchCall}, its answer parsed as JSON. */
export async function batchJson(endpoint: BatchEndpoint, spec: BatchCallSpec): Promise<any> {
  const text = await batchCall(endpoint, spec);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError({
      status: 200,
      body: text,
      message: 'A batch endpoint answered with a body that is not JSON.',
      cause: error,
    });
  }
}

/** The lines of a JSONL body, parsed; a line that is not JSON is `undefined` (the caller reports it). */
export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => parseOr(line, undefined));
}

function parseOr(text: string, fallback: unknown = text): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
