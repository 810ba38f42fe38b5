/**
 * One HTTP request as a cold observable, on undici's dispatcher API (no Readable stream per
 * response: body bytes go straight from the socket parser to the sink).
 *
 * Cold and per subscriber: nothing is sent before subscribe; each subscriber sends its own request;
 * unsubscribe aborts it (undici then destroys the socket, so the server sees the request end).
 *
 * What is decided where:
 * - before sending: the URL and every limit are checked (`limits.ts`; a `ConfigurationError`);
 * - at response start: the status (non-2xx → the typed `ApiError`), the `content-type` against
 *   the request's `accept` (`contentType.ts`), the `content-encoding` (`decode.ts`);
 * - while the body flows: the size cap of buffering sinks (`complete()`) and the idle limit of
 *   streaming ones (only values reset it, never comments or pings);
 * - when the body breaks after a 2xx: one class, `StreamCutError`, whatever the socket said.
 */
import { Observable, Subscriber } from 'rxjs';
import type { Dispatcher } from 'undici';
import {
  ApiError,
  LlmError,
  RequestAbortedError,
  ResponseTooLargeError,
  StreamCutError,
  StreamParseError,
  TimeoutError,
  UnexpectedResponseError,
} from '../errors';
import type { CallOptions, ResponseMeta } from '../options';
import { redactHeaders, registerHeaderSecrets, scrubError } from '../redact';
import { dispatcherFor } from './agent';
import type { BodySink } from './bodySink';
import { accepts } from './contentType';
import { unexpectedBodySink } from './contentType';
import { ACCEPT_ENCODING, createBodyDecoder, parseContentEncoding, type BodyDecoder } from './decode';
import { checkUrl, MAX_TIMER_MS, resolveLimits, undiciMs, type TransportLimits } from './limits';
import { parseRateLimit } from './rateLimitHeaders';
import { ERROR_BODY_LIMIT, mapTransportError, toApiError } from './transportErrors';
import { onAbort } from '../abortListeners';

export { TRANSPORT_TIMEOUT_DEFAULTS, TRANSPORT_LIMIT_DEFAULTS } from './limits';
export { mapTransportError } from './transportErrors';

export interface HttpRequestSpec {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  /**
   * The request's `accept` header also decides which 2xx content types the transport takes
   * (`text/event-stream` for SSE, `application/x-ndjson` for Ollama's NDJSON); the sink made by
   * `makeSink` parses the body.
   */
  body?: string;
}

/**
 * Sends `spec` on subscribe. A 2xx body of the expected type goes to the sink made by `makeSink`;
 * any other status becomes the typed `ApiError` for it, with the provider's error JSON parsed when
 * present.
 */
export function httpRequest<T>(
  spec: HttpRequestSpec,
  options: CallOptions,
  makeSink: (subscriber: Subscriber<T>, meta: ResponseMeta) => BodySink,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const { signal } = options;
    if (signal?.aborted) {
      subscriber.error(new RequestAbortedError({ cause: signal.reason }));
      return;
    }
    let limits: TransportLimits;
    let url: URL;
    let dispatcher: Dispatcher;
    try {
      limits = resolveLimits(options);
      url = checkUrl(spec.url);
      // Credentials the caller passed in `options.headers` are scrubbed from errors like an apiKey.
      registerHeaderSecrets(spec.headers);
      dispatcher = dispatcherFor(options.dispatcher, limits.connect);
    } catch (error) {
      subscriber.error(error);
      return;
    }
    const started = performance.now();
    let controller: Dispatcher.DispatchController | undefined;
    let abortReason: Error | undefined;
    let finished = false;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let lastValueAt = 0;
    let decoder: BodyDecoder | undefined;

    const stopTimers = () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
      decoder?.destroy();
    };
    const abort = (reason: Error) => {
      if (abortReason) return;
      abortReason = reason;
      if (controller && !controller.aborted) controller.abort(reason);
    };
    const fail = (error: unknown) => {
      if (finished) return;
      finished = true;
      stopTimers();
      abort(error instanceof Error ? error : new Error(String(error)));
      subscriber.error(error);
    };
    const onAbortSignal = () => fail(new RequestAbortedError({ cause: signal?.reason }));
    const offAbort = signal && onAbort(signal, onAbortSignal);

    // The idle limit: checked lazily (a timestamp per value, a timer per limit), so a fast stream
    // costs one `performance.now()` per chunk, not a timer reset.
    const checkIdle = () => {
      idleTimer = undefined;
      if (finished) return;
      const quiet = performance.now() - lastValueAt;
      if (quiet >= limits.idle - 1) fail(new TimeoutError('idle', limits.idle));
      else armIdle(limits.idle - quiet);
    };
    const armIdle = (ms: number) => {
      idleTimer = setTimeout(checkIdle, ms);
      idleTimer.unref?.();
    };
    const idleOn = limits.idle < MAX_TIMER_MS;
    const target: Subscriber<T> = idleOn
      ? new Subscriber<T>({
          next: (value) => {
            lastValueAt = performance.now();
            subscriber.next(value);
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        })
      : subscriber;

    let sink: BodySink | undefined;
    let sinkBytes = 0;
    let errorStatus = 0;
    let errorHeaders: Record<string, string> = {};
    let errorBody: Buffer[] | undefined;
    let errorBytes = 0;

    const finishError = () => {
      let apiError: LlmError;
      try {
        apiError = toApiError(errorStatus, errorHeaders, errorBody, errorBytes >= ERROR_BODY_LIMIT);
      } catch (error) {
        // Building the typed error failed: still an `ApiError` of the right status.
        apiError = new ApiError({ status: errorStatus, cause: scrubError(error) });
      }
      fail(apiError);
    };
    /** Decoded body bytes → the sink or the error body. */
    const deliver = (chunk: Buffer) => {
      if (finished) return;
      if (sink) {
        try {
          if (sink.buffers) {
            sinkBytes += chunk.length;
            if (sinkBytes > limits.maxResponseBytes) throw new ResponseTooLargeError(limits.maxResponseBytes);
          }
          sink.data(chunk);
        } catch (error) {
          fail(error);
        }
      } else if (errorBody) {
        errorBody.push(chunk);
        errorBytes += chunk.length;
        // Enough to say what went wrong: read no further.
        if (errorBytes >= ERROR_BODY_LIMIT) finishError();
      }
    };
    const complete = () => {
      if (finished) return;
      if (!sink) {
        finishError();
        return;
      }
      let endError: LlmError | void;
      try {
        endError = sink.end();
      } catch (error) {
        endError = error as LlmError;
      }
      if (endError) {
        fail(endError);
        return;
      }
      finished = true;
      stopTimers();
      subscriber.complete();
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctrl) {
        controller = ctrl;
        if (abortReason) ctrl.abort(abortReason);
      },
      onResponseStart(ctrl, statusCode, headers) {
        if (finished) return;
        const raw = headers as Record<string, string | string[] | undefined>;
        const redacted = redactHeaders(raw);
        const ok = statusCode >= 200 && statusCode < 300;
        const meta: ResponseMeta = {
          status: statusCode,
          headers: redacted,
          requestId: redacted['x-request-id'] ?? redacted['request-id'],
          rateLimit: parseRateLimit(redacted),
          headersMs: performance.now() - started,
        };
        // Every response, errors included: a 429's x-ratelimit-* and retry-after headers are what a
        // rate limiter most needs to learn from. Nothing may throw into undici (it would surface as
        // an unhandled 'error' event): what the hook throws becomes the stream's error.
        try {
          options.onResponse?.(meta);
        } catch (error) {
          fail(error);
          return;
        }
        if (finished) return;
        const codings = parseContentEncoding(redacted['content-encoding']);
        if (codings === undefined && !ok) {
          // An error status keeps its typed error; only its unreadable body is left out.
          errorStatus = statusCode;
          errorHeaders = redacted;
          finishError();
          return;
        }
        if (codings === undefined) {
          fail(
            new UnexpectedResponseError({
              status: statusCode,
              contentType: redacted['content-encoding'],
              message: `The server answered HTTP ${statusCode} with content-encoding "${redacted['content-encoding']}", which rxllm cannot decode (it asks for ${ACCEPT_ENCODING}).`,
            }),
          );
          return;
        }
        if (codings.length > 0) {
          decoder = createBodyDecoder(
            codings,
            {
              data: deliver,
              end: complete,
              error: (error, truncated) =>
                fail(
                  truncated && ok
                    ? new StreamCutError(
                        'The compressed response body ended before its end; the response is incomplete.',
                        { cause: scrubError(error) },
                      )
                    : new StreamParseError(
                        'invalid-body',
                        `The response body could not be decompressed (${codings.join(', ')}).`,
                        '',
                        { cause: scrubError(error) },
                      ),
                ),
            },
            () => ctrl.resume(),
          );
        }
        if (!ok) {
          errorStatus = statusCode;
          errorHeaders = redacted;
          errorBody = [];
          return;
        }
        const contentType = redacted['content-type'];
        const accept = headerValue(spec.headers, 'accept');
        // Nothing may throw into undici (it would surface as an unhandled 'error' event).
        try {
          if (!accepts(accept, contentType)) {
            sink = unexpectedBodySink(statusCode, contentType ?? '', accept ?? 'the requested type');
            return;
          }
          sink = makeSink(target, meta);
          if (sink.buffers) {
            const length = Number(redacted['content-length']);
            // Refused before a byte of the body is read (the declared size is decompressed size
            // only when there is no content-encoding, so it is checked only then).
            if (!decoder && length > limits.maxResponseBytes) {
              fail(new ResponseTooLargeError(limits.maxResponseBytes));
            }
          } else if (idleOn) {
            lastValueAt = performance.now();
            armIdle(limits.idle);
          }
        } catch (error) {
          fail(error);
        }
      },
      onResponseData(ctrl, chunk) {
        if (finished) return;
        if (decoder) {
          if (!decoder.write(chunk)) ctrl.pause();
        } else deliver(chunk);
      },
      onResponseEnd() {
        if (finished) return;
        if (decoder) decoder.end();
        else complete();
      },
      onResponseError(_ctrl, error) {
        if (finished) return;
        fail(mapTransportError(error, sink !== undefined, abortReason, limits));
      },
    };

    const headers = { ...spec.headers };
    if (headerValue(headers, 'accept-encoding') === undefined) headers['accept-encoding'] = ACCEPT_ENCODING;
    try {
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: spec.method,
          headers,
          body: spec.body,
          headersTimeout: undiciMs(limits.headers),
          bodyTimeout: undiciMs(limits.body),
        },
        handler,
      );
    } catch (error) {
      fail(mapTransportError(error as Error, false, undefined, limits));
    }

    return () => {
      offAbort?.();
      if (!finished) {
        // Unsubscribe is silent teardown: abort the request, emit nothing.
        finished = true;
        stopTimers();
        abort(new Error('unsubscribed'));
      }
    };
  });
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}
