/**
 * How a call reaches its provider. Resolution order for every field: the call's options, then the
 * client's defaults (`createClient`), then the provider's own defaults and environment variables.
 */
import type { Dispatcher } from 'undici';
import type { SchedulerLike } from 'rxjs';

/**
 * Transport time limits in milliseconds. See `TRANSPORT_TIMEOUT_DEFAULTS`. `Infinity` turns a limit
 * off; a negative, zero, `NaN` or non-number value is a `ConfigurationError` before anything is sent.
 */
export interface TransportTimeouts {
  /** TCP + TLS connect (ignored when the call brings its own `dispatcher`). @defaultValue 10_000 */
  connect?: number;
  /**
   * From sending the request to receiving the response headers. Reasoning models can think for
   * minutes before the first byte, so the default is long. @defaultValue 600_000
   */
  headers?: number;
  /** Longest silence between two reads of the body (any bytes, SSE comments included). @defaultValue 300_000 */
  body?: number;
  /**
   * Longest time between two stream values (chunks), from the response headers on. Only real events
   * reset it: SSE comments, `ping` events and keep-alive bytes do not, so a server that sends nothing
   * but keep-alives ends in a `TimeoutError` (`timeout: 'idle'`). Applies to `stream()`, not to
   * `complete()`. It runs from the response headers on, so a proxy that sends only comments while a
   * reasoning model thinks for longer than this needs a larger value (or `Infinity`). The
   * `timeouts()` operator keeps the finer control. @defaultValue 300_000
   */
  idle?: number;
}

/** Rate-limit headers of a response (`x-ratelimit-*`), parsed. Absent fields were not sent. */
export interface RateLimitInfo {
  limitRequests?: number;
  remainingRequests?: number;
  /** Milliseconds until the request budget resets. */
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  /** Milliseconds until the token budget resets. */
  resetTokensMs?: number;
}

/** What the provider answered before the body: reachable without reparsing anything. */
export interface ResponseMeta {
  status: number;
  /** Lower-cased names; secrets redacted. */
  headers: Record<string, string>;
  requestId: string | undefined;
  rateLimit: RateLimitInfo;
  /** Milliseconds from subscribe to headers. */
  headersMs: number;
}

export interface CallOptions {
  /** Base URL of the provider's API, e.g. `http://127.0.0.1:8080/v1`. */
  baseURL?: string;
  /** API key. Defaults to the provider's environment variable (`OPENAI_API_KEY`, ...). */
  apiKey?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /**
   * Aborting it ends the stream with a `RequestAbortedError`. One signal may serve any number of
   * concurrent calls (an app's shutdown signal): they add one `abort` listener to it between them, so
   * Node prints no `MaxListenersExceededWarning`.
   */
  signal?: AbortSignal;
  /** undici dispatcher to send through. @defaultValue the shared keep-alive agent (`getDefaultAgent()`) */
  dispatcher?: Dispatcher;
  /** Transport time limits. */
  timeouts?: TransportTimeouts;
  /**
   * Largest response body `complete()` buffers, in bytes (after decompression). Past it the call
   * ends with `ResponseTooLargeError` and nothing more is read. `Infinity` turns the cap off.
   * @defaultValue 33_554_432 (32 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Ask for the usage chunk (`stream_options.include_usage`). Turn off for servers that reject it.
   * @defaultValue true
   */
  includeUsage?: boolean;
  /**
   * Called once per response, whatever its status (a 429 too), with the status, headers and
   * rate-limit info, before any chunk or error. What it throws becomes the stream's error.
   */
  onResponse?: (meta: ResponseMeta) => void;
  /** Scheduler for providers that produce chunks in-process (the mock). @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Options of a client: call options plus per-provider overrides. */
export interface ClientOptions extends CallOptions {
  /** Per-provider options, e.g. `{ ollama: { baseURL: 'http://gpu-box:11434' } }`. */
  providers?: Record<string, CallOptions>;
}

/** Merges option layers; later layers win, `headers` and `timeouts` are merged key by key. */
export function mergeOptions(...layers: (CallOptions | undefined)[]): CallOptions {
  const out: CallOptions = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of Object.keys(layer) as (keyof CallOptions)[]) {
      const value = layer[key];
      if (value === undefined) continue;
      if (key === 'headers' || key === 'timeouts') {
        (out as any)[key] = { ...(out as any)[key], ...(value as object) };
      } else {
        (out as any)[key] = value;
      }
    }
  }
  return out;
}
