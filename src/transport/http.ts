/**
 * One HTTP request as a cold observable, on undici's dispatcher API (no Readable stream per
 * response: body bytes go straight from the socket parser to the sink).
 *
 * Cold and per subscriber: nothing is sent before subscribe; each subscriber sends its own request;
 * unsubscribe aborts it (undici then destroys the socket, so the server sees the request end).
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Dispatcher } from 'undici';
import { ApiError, ConnectionError, LlmError, RequestAbortedError, TimeoutError } from '../errors';
import type { CallOptions, ResponseMeta } from '../options';
import { redactHeaders } from '../redact';
import { AGENT_DEFAULTS, dispatcherFor } from './agent';
import { parseRateLimit } from './rateLimitHeaders';

/** Transport time limits used when a call sets none. */
export const TRANSPORT_TIMEOUT_DEFAULTS = {
  /** Reasoning models can think for minutes before the first byte (o1/R1-style). */
  headers: 600_000,
  body: 300_000,
} as const;

/** Longest error body kept (bytes). */
const ERROR_BODY_LIMIT = 64 * 1024;

export interface HttpRequestSpec {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string;
  /**
   * How a 2xx streaming body is framed: `sse` (text/event-stream, the default) or `ndjson`
   * (application/x-ndjson, Ollama's native API). The transport accepts the content types of the
   * framing the provider asked for; the sink made by `makeSink` parses it.
   */
  framing?: 'sse' | 'ndjson';
}

/** Receives a 2xx response body. Created per subscription. */
export interface BodySink {
  /** Raw body bytes. Throwing an `LlmError` ends the request with it. */
  data(chunk: Buffer): void;
  /** The body ended normally. Return an error to fail instead of completing (e.g. a cut stream). */
  end(): LlmError | void;
}

/**
 * Sends `spec` on subscribe. A 2xx body goes to the sink made by `makeSink`; any other status
 * becomes the typed `ApiError` for it, with the provider's error JSON parsed when present.
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
    const dispatcher: Dispatcher = dispatcherFor(options.dispatcher, options.timeouts?.connect);
    const limits = {
      connect: options.timeouts?.connect ?? AGENT_DEFAULTS.connectTimeout,
      headers: options.timeouts?.headers ?? TRANSPORT_TIMEOUT_DEFAULTS.headers,
      body: options.timeouts?.body ?? TRANSPORT_TIMEOUT_DEFAULTS.body,
    };
    const started = performance.now();
    let controller: Dispatcher.DispatchController | undefined;
    let abortReason: Error | undefined;
    let finished = false;

    const abort = (reason: Error) => {
      if (abortReason) return;
      abortReason = reason;
      if (controller && !controller.aborted) controller.abort(reason);
    };
    const fail = (error: unknown) => {
      if (finished) return;
      finished = true;
      abort(error instanceof Error ? error : new Error(String(error)));
      subscriber.error(error);
    };
    const onAbortSignal = () => fail(new RequestAbortedError({ cause: signal?.reason }));
    signal?.addEventListener('abort', onAbortSignal, { once: true });

    let sink: BodySink | undefined;
    let errorStatus = 0;
    let errorHeaders: Record<string, string> = {};
    let errorBody: Buffer[] | undefined;
    let errorBytes = 0;

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctrl) {
        controller = ctrl;
        if (abortReason) ctrl.abort(abortReason);
      },
      onResponseStart(_ctrl, statusCode, headers) {
        if (finished) return;
        const redacted = redactHeaders(headers as Record<string, string | string[]>);
        if (statusCode >= 200 && statusCode < 300) {
          const meta: ResponseMeta = {
            status: statusCode,
            headers: redacted,
            requestId: redacted['x-request-id'] ?? redacted['request-id'],
            rateLimit: parseRateLimit(redacted),
            headersMs: performance.now() - started,
          };
          // Nothing may throw into undici (it would surface as an unhandled 'error' event).
          try {
            options.onResponse?.(meta);
            sink = makeSink(subscriber, meta);
          } catch (error) {
            fail(error);
          }
        } else {
          errorStatus = statusCode;
          errorHeaders = redacted;
          errorBody = [];
        }
      },
      onResponseData(_ctrl, chunk) {
        if (finished) return;
        if (sink) {
          try {
            sink.data(chunk);
          } catch (error) {
            fail(error);
          }
        } else if (errorBody && errorBytes < ERROR_BODY_LIMIT) {
          errorBody.push(chunk);
          errorBytes += chunk.length;
        }
      },
      onResponseEnd() {
        if (finished) return;
        if (!sink) {
          let apiError: LlmError;
          try {
            apiError = toApiError(errorStatus, errorHeaders, errorBody);
          } catch (error) {
            apiError = new ApiErrorFallback(errorStatus, error);
          }
          fail(apiError);
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
        subscriber.complete();
      },
      onResponseError(_ctrl, error) {
        if (finished) return;
        fail(mapTransportError(error, sink !== undefined, abortReason, limits));
      },
    };

    try {
      const url = new URL(spec.url);
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: spec.method,
          headers: spec.headers,
          body: spec.body,
          headersTimeout: limits.headers,
          bodyTimeout: limits.body,
        },
        handler,
      );
    } catch (error) {
      fail(mapTransportError(error as Error, false, undefined, limits));
    }

    return () => {
      signal?.removeEventListener('abort', onAbortSignal);
      if (!finished) {
        // Unsubscribe is silent teardown: abort the request, emit nothing.
        finished = true;
        abort(new Error('unsubscribed'));
      }
    };
  });
}

/** Used only if building the typed error itself failed: still an `ApiError` of the right status. */
class ApiErrorFallback extends ApiError {
  constructor(status: number, cause: unknown) {
    super({ status, cause });
  }
}

function toApiError(status: number, headers: Record<string, string>, body: Buffer[] | undefined): ApiError {
  const text = body ? Buffer.concat(body).toString('utf8') : '';
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

/** undici and socket errors → typed rxllm errors (timeouts say which limit fired). */
export function mapTransportError(
  error: Error,
  midStream: boolean,
  abortReason: Error | undefined,
  limits: Partial<Record<'connect' | 'headers' | 'body', number>> = {},
): LlmError {
  if (error instanceof LlmError) return error;
  if (abortReason instanceof LlmError) return abortReason;
  const code = (error as { code?: string }).code ?? '';
  const kind = TIMEOUT_CODES[code];
  if (kind) {
    return new TimeoutError(kind, limits[kind] ?? NaN, { cause: error });
  }
  const where = midStream ? 'while the response was streaming' : 'before a response arrived';
  return new ConnectionError(
    `The connection failed ${where}${code ? ` (${code})` : ''}: ${error.message}. Retrying may help.`,
    { cause: error },
  );
}
