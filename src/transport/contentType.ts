/**
 * Decides at response start whether a 2xx body is what the call asked for (its `accept` header),
 * and turns one that is not into the right typed error: a JSON error body → the typed `ApiError`
 * of the in-band table; a whole JSON completion to a stream request → `UnexpectedResponseError`;
 * an HTML page or anything else → `UnexpectedResponseError` naming the content type, with a short
 * scrubbed excerpt. Without this check such a body read as SSE finds no event and ends as a
 * retryable `StreamCutError`: retried for nothing, with the provider's message lost.
 */
import { LlmError, UnexpectedResponseError } from '../errors';
import { inBandError } from '../inBandError';
import type { BodySink } from './bodySink';

/** The media type of a `content-type` value: lower case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * Whether a response of `contentType` answers a request sent with `accept`. No `accept`, or no
 * `content-type` on the response (nothing to judge by), passes.
 */
export function accepts(accept: string | undefined, contentType: string | undefined): boolean {
  const type = mediaType(contentType);
  if (!accept || !type) return true;
  const [main] = type.split('/');
  for (const range of accept.split(',')) {
    const r = mediaType(range);
    if (r === type || r === '*/*' || r === `${main}/*`) return true;
  }
  return false;
}

/** Most bytes of a JSON body read to find an error object in it. */
const JSON_LIMIT = 64 * 1024;
/** Bytes of any other body read for the excerpt. */
const EXCERPT_BYTES = 2 * 1024;

/**
 * The typed error for a 2xx body of the wrong kind, judged from its first bytes (`text`; `complete`
 * when that is the whole body): a JSON error object → the in-band table's class; a whole JSON
 * completion, an HTML page or anything else → `UnexpectedResponseError` (not retryable: the same
 * request gets the same answer). Shared by the transport and `fetchSse`, so both give the same class.
 */
export function unexpectedBodyError(
  status: number,
  contentType: string,
  text: string,
  complete: boolean,
  expected: string,
): LlmError {
  const type = mediaType(contentType);
  const unexpected = (what: string): LlmError =>
    new UnexpectedResponseError({
      status,
      contentType,
      excerpt: text,
      message: `The server answered HTTP ${status} with ${what} (content-type ${type || 'none'}) where ${expected} was expected; it was not retried, since the same request gets the same answer.`,
    });
  if (!isJson(type)) {
    return unexpected(
      type === 'text/html' ? 'an HTML page (often a proxy or gateway error page)' : 'a body of another type',
    );
  }
  if (!complete) return unexpected('a JSON body over 64 KiB');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return unexpected('a body that claims to be JSON but does not parse');
  }
  if (value !== null && typeof value === 'object' && (value as { error?: unknown }).error != null) {
    return inBandError(value as { error: unknown });
  }
  return unexpected(
    'a whole JSON body (the server ignored `stream: true`; use complete() for servers that cannot stream)',
  );
}

/** Most bytes of a 2xx body of the wrong kind read to judge it: a JSON body whole, else an excerpt. */
export function unexpectedBodyLimit(contentType: string): number {
  return isJson(mediaType(contentType)) ? JSON_LIMIT : EXCERPT_BYTES;
}

/**
 * The sink for a 2xx body the call did not ask for. It reads only what it needs (the excerpt, or a
 * JSON body up to 64 KiB), then ends the request with the typed error.
 */
export function unexpectedBodySink(status: number, contentType: string, expected: string): BodySink {
  const limit = unexpectedBodyLimit(contentType);
  const parts: Buffer[] = [];
  let bytes = 0;
  const judge = (complete: boolean): LlmError =>
    unexpectedBodyError(status, contentType, Buffer.concat(parts).toString('utf8'), complete, expected);
  return {
    buffers: true,
    data(chunk) {
      parts.push(chunk);
      bytes += chunk.length;
      if (bytes >= limit) throw judge(false);
    },
    end() {
      return judge(true);
    },
  };
}
