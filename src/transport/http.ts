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
import { BILLED_ANSWER_NOTE, ERROR_BODY_LIMIT, mapTransportError, toApiError } from './transportErrors';
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
    const call = new HttpCall(spec, options, makeSink, subscriber, limits);
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
        call,
      );
    } catch (error) {
      call.fail(mapTransportError(error as Error, false, undefined, limits));
    }
    return () => call.teardown();
  });
}

/** Notes when each value passed (the idle limit counts values, never comments or pings). */
class ValueClock<T> extends Subscriber<T> {
  constructor(
    destination: Subscriber<T>,
    private readonly call: HttpCall<T>,
  ) {
    super(destination);
  }

  protected override _next(value: T): void {
    this.call.lastValueAt = performance.now();
    this.destination.next(value);
  }
}

function checkIdle(call: HttpCall<unknown>): void {
  call.checkIdle();
}

/**
 * One request's state and its undici handler: an object per request rather than a closure per
 * callback, since every call holds one for as long as its stream runs.
 */
class HttpCall<T> implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private finished = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  lastValueAt = 0;
  private decoder: BodyDecoder | undefined;
  private readonly offAbort: (() => void) | undefined;
  private readonly target: Subscriber<T>;
  private readonly idleOn: boolean;
  private sink: BodySink | undefined;
  /**
   * A 2xx answer read whole (`complete()`) started: the provider generated it, and billed it, before
   * sending its first byte, so a failure reading the rest is final (see `BILLED_ANSWER_NOTE`).
   */
  private billedAnswer = false;
  private sinkBytes = 0;
  private errorStatus = 0;
  private errorHeaders: Record<string, string> = {};
  private errorBody: Buffer[] | undefined;
  private errorBytes = 0;

  constructor(
    private readonly spec: HttpRequestSpec,
    private readonly options: CallOptions,
    private readonly makeSink: (subscriber: Subscriber<T>, meta: ResponseMeta) => BodySink,
    private readonly subscriber: Subscriber<T>,
    private readonly limits: TransportLimits,
  ) {
    const { signal } = options;
    this.offAbort =
      signal && onAbort(signal, () => this.fail(new RequestAbortedError({ cause: signal.reason })));
    this.idleOn = limits.idle < MAX_TIMER_MS;
    this.target = this.idleOn ? new ValueClock(subscriber, this) : subscriber;
  }

  private stopTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.decoder?.destroy();
  }

  private abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    const { controller } = this;
    if (controller && !controller.aborted) controller.abort(reason);
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    this.abort(error instanceof Error ? error : new Error(String(error)));
    this.subscriber.error(error);
  }

  /** Unsubscribe is silent teardown: abort the request, emit nothing. */
  teardown(): void {
    this.offAbort?.();
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    this.abort(new Error('unsubscribed'));
  }

  // The idle limit: checked lazily (a timestamp per value, a timer per limit), so a fast stream
  // costs one `performance.now()` per chunk, not a timer reset.
  checkIdle(): void {
    this.idleTimer = undefined;
    if (this.finished) return;
    const { idle } = this.limits;
    const quiet = performance.now() - this.lastValueAt;
    if (quiet >= idle - 1) this.fail(new TimeoutError('idle', idle));
    else this.armIdle(idle - quiet);
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(checkIdle, ms, this);
    this.idleTimer.unref?.();
  }

  private finishError(): void {
    let apiError: LlmError;
    const { errorStatus } = this;
    try {
      apiError = toApiError(
        errorStatus,
        this.errorHeaders,
        this.errorBody,
        this.errorBytes >= ERROR_BODY_LIMIT,
      );
    } catch (error) {
      // Building the typed error failed: still an `ApiError` of the right status.
      apiError = new ApiError({ status: errorStatus, cause: scrubError(error) });
    }
    this.fail(apiError);
  }

  /** Decoded body bytes → the sink or the error body. */
  private deliver(chunk: Buffer): void {
    if (this.finished) return;
    const { sink } = this;
    if (sink) {
      try {
        if (sink.buffers) {
          this.sinkBytes += chunk.length;
          const max = this.limits.maxResponseBytes;
          if (this.sinkBytes > max) throw new ResponseTooLargeError(max);
        }
        sink.data(chunk);
      } catch (error) {
        this.fail(error);
      }
    } else if (this.errorBody) {
      this.errorBody.push(chunk);
      this.errorBytes += chunk.length;
      // Enough to say what went wrong: read no further.
      if (this.errorBytes >= ERROR_BODY_LIMIT) this.finishError();
    }
  }

  private complete(): void {
    if (this.finished) return;
    if (!this.sink) {
      this.finishError();
      return;
    }
    let endError: LlmError | void;
    try {
      endError = this.sink.end();
    } catch (error) {
      endError = error as LlmError;
    }
    if (endError) {
      this.fail(endError);
      return;
    }
    this.finished = true;
    this.stopTimers();
    this.subscriber.complete();
  }

  onRequestStart(ctrl: Dispatcher.DispatchController): void {
    this.controller = ctrl;
    if (this.abortReason) ctrl.abort(this.abortReason);
  }

  onResponseStart(
    ctrl: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.finished) return;
    const redacted = redactHeaders(headers);
    const ok = statusCode >= 200 && statusCode < 300;
    const meta: ResponseMeta = {
      status: statusCode,
      headers: redacted,
      requestId: redacted['x-request-id'] ?? redacted['request-id'],
      rateLimit: parseRateLimit(redacted),
      headersMs: performance.now() - this.started,
    };
    // Every response, errors included: a 429's x-ratelimit-* and retry-after headers are what a
    // rate limiter most needs to learn from. Nothing may throw into undici (it would surface as
    // an unhandled 'error' event): what the hook throws becomes the stream's error.
    try {
      this.options.onResponse?.(meta);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.finished) return;
    const codings = parseContentEncoding(redacted['content-encoding']);
    if (codings === undefined && !ok) {
      // An error status keeps its typed error; only its unreadable body is left out.
      this.errorStatus = statusCode;
      this.errorHeaders = redacted;
      this.finishError();
      return;
    }
    if (codings === undefined) {
      this.fail(
        new UnexpectedResponseError({
          status: statusCode,
          contentType: redacted['content-encoding'],
          message: `The server answered HTTP ${statusCode} with content-encoding "${redacted['content-encoding']}", which rxllm cannot decode (it asks for ${ACCEPT_ENCODING}).`,
        }),
      );
      return;
    }
    if (codings.length > 0) {
      this.decoder = createBodyDecoder(
        codings,
        {
          data: (chunk) => this.deliver(chunk),
          end: () => this.complete(),
          error: (error, truncated) =>
            this.fail(
              truncated && ok
                ? new StreamCutError(
                    `The compressed response body ended before its end; the response is incomplete.${this.billedAnswer ? ` ${BILLED_ANSWER_NOTE}` : ''}`,
                    { cause: scrubError(error), billedAnswer: this.billedAnswer },
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
      this.errorStatus = statusCode;
      this.errorHeaders = redacted;
      this.errorBody = [];
      return;
    }
    const contentType = redacted['content-type'];
    const accept = headerValue(this.spec.headers, 'accept');
    // Nothing may throw into undici (it would surface as an unhandled 'error' event).
    try {
      if (!accepts(accept, contentType)) {
        this.sink = unexpectedBodySink(statusCode, contentType ?? '', accept ?? 'the requested type');
        return;
      }
      const sink = (this.sink = this.makeSink(this.target, meta));
      this.billedAnswer = sink.buffers === true;
      if (sink.buffers) {
        const length = Number(redacted['content-length']);
        // Refused before a byte of the body is read (the declared size is decompressed size
        // only when there is no content-encoding, so it is checked only then).
        if (!this.decoder && length > this.limits.maxResponseBytes) {
          this.fail(new ResponseTooLargeError(this.limits.maxResponseBytes));
        }
      } else if (this.idleOn) {
        this.lastValueAt = performance.now();
        this.armIdle(this.limits.idle);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  onResponseData(ctrl: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    if (this.decoder) {
      if (!this.decoder.write(chunk)) ctrl.pause();
    } else this.deliver(chunk);
  }

  onResponseEnd(): void {
    if (this.finished) return;
    if (this.decoder) this.decoder.end();
    else this.complete();
  }

  onResponseError(_ctrl: Dispatcher.DispatchController, error: Error): void {
    if (this.finished) return;
    this.fail(
      mapTransportError(error, this.sink !== undefined, this.abortReason, this.limits, this.billedAnswer),
    );
  }
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}
