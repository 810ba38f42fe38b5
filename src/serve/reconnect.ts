/**
 * Client-side resumption for `fetchSse` and `fromWebSocket` (any transport that reports event ids): when the
 * connection fails mid-answer and the server advertised a resumable stream (`x-rxllm-stream-id`),
 * reconnect with backoff to `GET {url}/{streamId}/stream` sending the last event id, so the
 * subscriber sees one stream with no chunk missing and none twice. Browser-safe: no Node API.
 */
import { Observable, type Subscription } from 'rxjs';
import type { Chunk } from '../chunk';
import { ApiError, ConnectionError, StreamCutError } from '../errors';

export interface ReconnectConfig {
  /** Reconnections in a row without a new event before the failure is passed on. @defaultValue 5 */
  maxAttempts?: number;
  /** Wait before the first reconnection, in ms; doubled each time. @defaultValue 250 */
  initialDelayMs?: number;
  /** Longest wait between two reconnections, in ms. @defaultValue 4000 */
  maxDelayMs?: number;
  /**
   * The URL that resumes stream `streamId` from the URL of the first request. @defaultValue
   * `${url}/${streamId}/stream` (the query string dropped): rxllm's gateway route
   */
  resumeUrl?: (url: string, streamId: string) => string;
}

/** Defaults of {@link ReconnectConfig}. */
export const RECONNECT_DEFAULTS = { maxAttempts: 5, initialDelayMs: 250, maxDelayMs: 4000 } as const;

/** What one connection reports to the reconnecting loop. */
export interface AttemptHooks {
  /** The response advertised a resumable stream. */
  onStreamId(streamId: string): void;
  /** An event carried an `id:`; called before its chunk is passed on. */
  onEventId(eventId: string): void;
  /** The server ended the stream itself (`[DONE]`, an error event): its failure is final. */
  onFinal(): void;
}

/** A failure of the connection, not of the answer: worth resuming. */
function reconnectable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof StreamCutError) return true;
  // A proxy or a restarting instance in front of the gateway.
  return error instanceof ApiError && (error.status === 502 || error.status === 503 || error.status === 504);
}

/** The default resume URL: `{url}/{streamId}/stream`. */
export function defaultResumeUrl(url: string, streamId: string): string {
  return `${url.split('?')[0].replace(/\/+$/, '')}/${encodeURIComponent(streamId)}/stream`;
}

/**
 * Runs `first`, and after a reconnectable failure `again(resumeUrl, lastEventId)` with backoff, as
 * one observable. With `config` false, or when the server advertised no stream id, it is `first`.
 */
export function reconnecting(
  url: string,
  first: (hooks: AttemptHooks) => Observable<Chunk>,
  again: (
    resumeUrl: string,
    lastEventId: string | undefined,
    hooks: AttemptHooks,
    streamId: string,
  ) => Observable<Chunk>,
  config: ReconnectConfig | false,
  onStreamId?: (streamId: string) => void,
  /** The subscriber left before the answer ended, on a stream the server advertised. */
  onLeave?: (streamId: string) => void,
): Observable<Chunk> {
  const { maxAttempts, initialDelayMs, maxDelayMs } = { ...RECONNECT_DEFAULTS, ...(config || {}) };
  const resumeUrl = (config && config.resumeUrl) || defaultResumeUrl;
  return new Observable<Chunk>((subscriber) => {
    let streamId: string | undefined;
    let lastEventId: string | undefined;
    let final = false;
    let failures = 0;
    let current: Subscription | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hooks: AttemptHooks = {
      onStreamId: (id) => {
        if (streamId === undefined) onStreamId?.(id);
        streamId = id;
      },
      onEventId: (id) => {
        lastEventId = id;
        failures = 0;
      },
      onFinal: () => (final = true),
    };
    let ended = false;
    const connect = (source: Observable<Chunk>) => {
      final = false;
      current = source.subscribe({
        next: (chunk) => subscriber.next(chunk),
        complete: () => {
          ended = true;
          subscriber.complete();
        },
        error: (error: unknown) => {
          if (
            !config ||
            final ||
            streamId === undefined ||
            !reconnectable(error) ||
            failures >= maxAttempts
          ) {
            ended = true;
            return subscriber.error(error);
          }
          const wait = Math.min(maxDelayMs, initialDelayMs * 2 ** failures);
          failures++;
          const id = streamId;
          const target = resumeUrl(url, id);
          timer = setTimeout(() => connect(again(target, lastEventId, hooks, id)), wait);
        },
      });
    };
    connect(first(hooks));
    return () => {
      clearTimeout(timer);
      current?.unsubscribe();
      if (!ended && streamId !== undefined) onLeave?.(streamId);
    };
  });
}
