/**
 * SSE in, for browsers and Angular (and Node 20+): reads an OpenAI-style chunk stream from your own
 * backend with the platform `fetch`, as a cold `Observable<Chunk>`. Unsubscribing aborts the fetch.
 * It uses no Node API and no undici, so front-end bundles stay small (`rxllm/browser`).
 */
import { onAbort } from '../abortListeners';
import { createParser } from 'eventsource-parser';
import { Observable } from 'rxjs';
import type { Chunk } from '../chunk';
import { ApiError, ConnectionError, LlmError, StreamCutError, StreamParseError } from '../errors';
import { inBandError } from '../inBandError';
import { accepts, unexpectedBodyError, unexpectedBodyLimit } from '../transport/contentType';
import { errorFromFrame, isErrorFrame } from './errorFrame';
import { reconnecting, type AttemptHooks, type ReconnectConfig } from './reconnect';

/** A body `JSON.stringify` can send: a function, symbol or bigint does not compile. */
export type JsonBody<T> = T extends (...args: never[]) => unknown
  ? never
  : T extends symbol | bigint
    ? never
    : T;

export interface FetchSseInit<Body = unknown> {
  method?: 'GET' | 'POST';
  /** Sent as JSON (POST). @defaultValue undefined (a GET) */
  body?: JsonBody<Body>;
  headers?: Record<string, string>;
  /** Aborting it ends the stream with the fetch's abort error. */
  signal?: AbortSignal;
  /** The `fetch` to use (Angular zones, tests). @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** `credentials` of the fetch (cookies to your own backend). @defaultValue 'same-origin' */
  credentials?: 'include' | 'omit' | 'same-origin';
  /**
   * Resumes by itself when the connection fails mid-answer from a server that advertised a resumable
   * stream (`x-rxllm-stream-id`, as rxllm's gateway does): reconnects with backoff to
   * `{url}/{streamId}/stream` with the last event id, so the subscriber sees one stream, no chunk
   * missing or twice (docs/resume.md). `false` turns it off. @defaultValue true (RECONNECT_DEFAULTS)
   */
  reconnect?: boolean | ReconnectConfig;
  /** Called with the stream id when the server advertised one (to resume or stop it later). @defaultValue none */
  onStreamId?: (streamId: string) => void;
  /**
   * Unsubscribing (or aborting `signal`) before the answer ended also stops a resumable answer on
   * the server (`POST {url}/{streamId}/stop`), which would otherwise go on after the connection
   * closed, and be billed. `false` only closes the connection, leaving the answer running to be
   * resumed later (a page being reloaded). @defaultValue true
   */
  stopOnUnsubscribe?: boolean;
}

/** `HTTP 401: <the server's words>` (with one final period), from an error body of any shape. */
function serverMessage(status: number, body: unknown): string {
  const b = body as { error?: unknown; message?: unknown } | null;
  const e = b && typeof b === 'object' ? b.error : undefined;
  const words =
    typeof body === 'string'
      ? body
      : typeof e === 'string'
        ? e
        : e && typeof (e as { message?: unknown }).message === 'string'
          ? (e as { message: string }).message
          : typeof b?.message === 'string'
            ? b.message
            : '';
  const text = words.trim().slice(0, 300);
  return `HTTP ${status}${text ? `: ${text}` : ''}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/** The first `limit` bytes of a body as text, and whether that was all of it; the rest is not read. */
async function readUpTo(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ text: string; complete: boolean }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { text: text + decoder.decode(), complete: true };
    bytes += value.byteLength;
    text += decoder.decode(value, { stream: true });
    if (bytes >= limit) {
      reader.cancel().catch(() => undefined);
      return { text, complete: false };
    }
  }
}

/**
 * GETs or POSTs `url` and streams the `data:` chunks it answers. `[DONE]` completes; an in-band
 * `{"error": ...}` event errors with the class an rxllm server sent (see `errorFrame`), else an `ApiError`; a body that ends without `[DONE]` errors with
 * `StreamCutError`; a 2xx answer that is not an event stream (a JSON completion, an HTML page)
 * errors with the non-retryable `UnexpectedResponseError`, as `stream()` does. Reset chunks (a restarted stream) are passed on: `accumulateChunks` honours them.
 *
 * @example
 * // doc-test: typecheck-only
 * import { fetchSse } from 'rxllm/browser';
 * import { textDeltas } from 'rxllm/operators';
 * let text = '';
 * fetchSse('/api/chat', { body: { q: 'Hi' } }).pipe(textDeltas()).subscribe((t) => (text += t));
 */
export function fetchSse<Body = unknown>(url: string, init: FetchSseInit<Body> = {}): Observable<Chunk> {
  const { reconnect = true } = init;
  return reconnecting(
    url,
    (hooks) => attempt(url, init, hooks),
    (resumeUrl, lastEventId, hooks) =>
      attempt(
        resumeUrl,
        {
          ...init,
          method: 'GET',
          body: undefined,
          headers: {
            ...init.headers,
            ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
          },
        },
        hooks,
      ),
    reconnect === true ? {} : reconnect,
    init.onStreamId,
    init.stopOnUnsubscribe === false
      ? undefined
      : (streamId) => {
          const stopUrl = `${url.split('?')[0].replace(/\/+$/, '')}/${encodeURIComponent(streamId)}/stop`;
          // `keepalive`: the stop still goes out when the page is being closed.
          void (init.fetch ?? globalThis.fetch)(stopUrl, {
            method: 'POST',
            headers: init.headers,
            credentials: init.credentials ?? 'same-origin',
            keepalive: true,
          }).catch(() => undefined);
        },
  );
}

/** One request and its response's events. */
function attempt<Body>(url: string, init: FetchSseInit<Body>, hooks: AttemptHooks): Observable<Chunk> {
  return new Observable<Chunk>((subscriber) => {
    const controller = new AbortController();
    const abort = () => controller.abort(init.signal?.reason);
    // Already aborted: 'abort' will not fire again, so abort now (the fetch then fails with it).
    // One listener on a signal shared by many calls (`onAbort`), not one per call.
    let off: (() => void) | undefined;
    if (init.signal?.aborted) abort();
    else if (init.signal) off = onAbort(init.signal, abort);
    const doFetch = init.fetch ?? globalThis.fetch;
    let finished = false;

    const run = async () => {
      const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
      const response = await doFetch(url, {
        method,
        headers: {
          accept: 'text/event-stream',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: controller.signal,
        credentials: init.credentials ?? 'same-origin',
      });
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => '');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
        // An rxllm server's answer rebuilds its class; another server's keeps its words without the
        // provider-key hint `ApiError` adds (this is your backend, not a provider), and its headers
        // (`retry-after`) so a retry waits as told.
        if (isErrorFrame(body)) throw errorFromFrame(body);
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => (headers[name] = value));
        throw ApiError.fromResponse({
          status: response.status,
          body,
          headers,
          message: serverMessage(response.status, body),
        });
      }
      // A 2xx that is not a stream (a JSON completion, a proxy's HTML page) would otherwise read as
      // a stream cut before [DONE]: retryable, so a paid request would be sent again for nothing.
      // Judged as the transport judges it, so `stream()` and `fetchSse` give the same class.
      const contentType = response.headers.get('content-type') ?? '';
      if (!accepts('text/event-stream', contentType)) {
        const limit = unexpectedBodyLimit(contentType);
        const text = await readUpTo(response.body, limit);
        throw unexpectedBodyError(response.status, contentType, text.text, text.complete, 'an event stream');
      }
      const streamId = response.headers.get('x-rxllm-stream-id');
      if (streamId) hooks.onStreamId(streamId);
      let done = false;
      let failure: LlmError | undefined;
      const parser = createParser({
        onEvent(event) {
          if (done || failure) return;
          // Heartbeats of `toSseEvents({ heartbeatMs })` carry nothing.
          if (event.event === 'ping') return;
          if (event.data === '[DONE]') {
            hooks.onFinal();
            done = true;
            return;
          }
          let value: any;
          try {
            value = JSON.parse(event.data);
          } catch (cause) {
            failure = new StreamParseError(
              'invalid-json',
              'The server sent an event that is not JSON.',
              event.data,
              {
                cause,
              },
            );
            return;
          }
          if (value && value.error != null) {
            hooks.onFinal();
            // An rxllm server's frame rebuilds the same class; any other server's error goes
            // through the shared in-band table.
            failure = isErrorFrame(value) ? errorFromFrame(value) : inBandError(value);
            return;
          }
          if (event.id) hooks.onEventId(event.id);
          subscriber.next(value as Chunk);
        },
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done: eof } = await reader.read();
        if (eof) break;
        parser.feed(decoder.decode(value, { stream: true }));
        if (failure || done) break;
      }
      if (failure) {
        // The server may go on sending (another server's in-band error, a bad event): stop the body.
        reader.cancel().catch(() => undefined);
        throw failure;
      }
      if (!done) throw new StreamCutError('The server stream ended without [DONE].');
      reader.cancel().catch(() => undefined);
    };

    run().then(
      () => {
        finished = true;
        subscriber.complete();
      },
      (error: unknown) => {
        finished = true;
        if (controller.signal.aborted && !init.signal?.aborted) return; // unsubscribed: silent
        subscriber.error(
          error instanceof LlmError || (error as Error)?.name === 'AbortError'
            ? error
            : // No cause: `fetch`'s error quotes the URL it refused (one with credentials, say), and
              // its message, redacted, is all it has to say (a browser's `fetch` error has no code).
              new ConnectionError(`The SSE request failed: ${(error as Error)?.message ?? String(error)}`),
        );
      },
    );

    return () => {
      off?.();
      if (!finished) controller.abort();
    };
  });
}
