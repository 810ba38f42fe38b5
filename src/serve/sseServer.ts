/**
 * SSE out: a chunk stream written to a Node `http` / Express response, or shaped for NestJS `@Sse()`.
 *
 * The wire format is OpenAI's (`data: {chunk}` … `data: [DONE]`), so any OpenAI-compatible client —
 * `fetchSse`, the official SDKs, rxllm itself with `compat/…` — can read it. A failure is sent as an
 * error frame (`data: {"error": {...}}`, see `errorFrame`) that rxllm's clients rebuild as the same
 * class. A client that disconnects unsubscribes the upstream, which aborts the provider request.
 */
import {
  catchError,
  concat,
  endWith,
  interval,
  map,
  merge,
  Observable,
  of,
  Subscriber,
  takeWhile,
} from 'rxjs';
import type { Chunk } from '../chunk';
import { takeChunkJson } from '../resume/chunkJson';
import { errorFrame, type ErrorFrame } from './errorFrame';
import type { FlowControl } from './upstreamFlow';

/** The minimal response surface used (Node `ServerResponse`, Express `Response`). */
export interface SseResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  on(event: 'close', listener: () => void): unknown;
  off?(event: 'close' | 'drain', listener: () => void): unknown;
  readonly writableEnded?: boolean;
  /** True once the connection is gone (Node's `ServerResponse`): nothing is sent upstream then. */
  readonly destroyed?: boolean;
  /** Bytes written but not yet handed to the socket (Node's `ServerResponse`). */
  readonly writableLength?: number;
  /** Used to drop a client that stopped reading (see `maxBufferedBytes`). */
  destroy?(): unknown;
  /** Used to resume the upstream once the socket drained (see `flow`). */
  once?(event: 'drain', listener: () => void): unknown;
  flushHeaders?(): void;
  /** Used to send the frames of one event-loop turn in one socket write (Node's `ServerResponse`). */
  cork?(): void;
  uncork?(): void;
}

export interface SendSseConfig {
  /** Milliseconds between `: ping` comments that keep proxies from closing an idle stream; 0 = none. @defaultValue 15_000 */
  heartbeatMs?: number;
  /** Extra response headers. @defaultValue {} */
  headers?: Record<string, string>;
  /**
   * Most bytes queued behind a client that does not read: the frames written while its socket is
   * full (after the write that filled it, until it drains). Past this limit the upstream is
   * unsubscribed (aborting the provider request) and the connection is dropped, so one stalled
   * client cannot grow the server without bound. One event larger than the limit, sent to a client
   * that reads, passes: it is not queued behind anything.
   * @defaultValue 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Called instead of writing an error frame when the stream fails before any byte was sent, so the
   * caller can answer with the failure's own HTTP status (OpenAI answers a rate-limited streaming
   * request with a 429, and SDKs pick their error class and back-off from it). When set, the
   * response head waits for the first chunk or heartbeat, and `sendSse` leaves the response to the
   * callback. @defaultValue undefined (the head is sent at once; a failure is always an error frame)
   */
  onErrorBeforeFirstByte?: (error: unknown) => void;
  /**
   * Pauses the upstream while the client's socket is full and resumes it on `drain`, so the
   * provider is not read faster than the client reads (`pausableUpstream()`; the
   * OpenAI-compatible handler and the gateway pass one). Without it the buffer still stops at
   * `maxBufferedBytes`. @defaultValue undefined
   */
  flow?: FlowControl;
  /**
   * Writes `id: <streamId>:<seq>` on every chunk and error event, numbered from `firstSeq`: a client
   * that lost the connection sends the last one back (`Last-Event-ID`) to resume a resumable stream.
   * @defaultValue undefined (no ids)
   */
  eventIds?: { streamId: string; firstSeq?: number };
}

/** Defaults of {@link sendSse}. */
export const SEND_SSE_DEFAULTS = {
  heartbeatMs: 15_000,
  headers: {},
  maxBufferedBytes: 4 * 1024 * 1024,
} as const satisfies SendSseConfig;

/** How a {@link sendSse} response ended. */
export interface SendSseResult {
  /**
   * `complete`: `[DONE]` sent. `error`: an error frame sent. `closed`: the client went away first.
   * `overflow`: the client stopped reading and `maxBufferedBytes` was passed.
   */
  end: 'complete' | 'error' | 'closed' | 'overflow';
  /** The upstream error, when `end` is `error`. */
  error?: unknown;
  /** `false` when the error went to `onErrorBeforeFirstByte` instead of an error frame. */
  headersSent?: boolean;
  /** Chunks written. */
  chunks: number;
}

/**
 * The JSON body of the error event sent for `error`: OpenAI's error shape plus the rxllm class,
 * status and `retryable` (see `errorFrame`); no stack, no secrets.
 */
export function errorEvent(error: unknown): ErrorFrame {
  return errorFrame(error);
}

/** The SSE headers every stream sends. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx buffers responses unless told not to
  'x-accel-buffering': 'no',
};

/**
 * Streams `chunks` to `res` as SSE and resolves when the response ended: completed (`[DONE]`),
 * failed (an error frame), the client went away, or the client stopped reading past
 * `maxBufferedBytes`. In the last two cases the upstream is unsubscribed, which aborts the provider
 * request.
 *
 * @example
 * // doc-test: typecheck-only
 * import http from 'node:http';
 * import { stream, sendSse } from 'rxllm';
 * const server = http.createServer((req, res) => {
 *   void sendSse(res, stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] }));
 * });
 * server.listen(0, '127.0.0.1', () => server.close());
 */
export function sendSse(
  res: SseResponseLike,
  chunks: Observable<Chunk>,
  config: SendSseConfig = {},
): Promise<SendSseResult> {
  const { heartbeatMs, headers, maxBufferedBytes } = { ...SEND_SSE_DEFAULTS, ...config };
  if (!(heartbeatMs >= 0)) throw new TypeError('sendSse: heartbeatMs must be >= 0');
  if (!(maxBufferedBytes > 0)) throw new TypeError('sendSse: maxBufferedBytes must be > 0');
  return new Promise<SendSseResult>((resolve) => {
    const writer = new SseWriter(res, config, headers, maxBufferedBytes, resolve);
    if (!config.onErrorBeforeFirstByte) writer.sendHead();
    res.on('close', writer.onClose);
    // The client may have left before this was called (an async guard or pipe ran first): its
    // 'close' has fired already, so start no upstream call that nobody would abort.
    if (res.destroyed || res.writableEnded) return writer.finish('closed');
    if (heartbeatMs > 0) writer.heartbeat = setInterval(ping, heartbeatMs, writer);
    chunks.subscribe(writer);
  });
}

function ping(writer: SseWriter): void {
  writer.send(': ping\n\n');
}

function uncorkLater(writer: SseWriter): void {
  writer.uncork();
}

/**
 * One response's writer and the chunk stream's subscriber: a class rather than closures, since a
 * server holds one per open stream for as long as it runs, and every chunk passes through it.
 */
class SseWriter extends Subscriber<Chunk> {
  heartbeat: ReturnType<typeof setInterval> | undefined;
  private headSent = false;
  private ended = false;
  private count = 0;
  private corked = false;
  /** Bytes written since the socket filled (not counting the write that filled it), until it drains. */
  private queued: number | undefined;
  private seq: number;
  readonly onClose = () => this.finish('closed');
  private readonly onDrain = () => {
    this.queued = undefined;
    this.config.flow?.resume();
  };

  constructor(
    private readonly res: SseResponseLike,
    private readonly config: SendSseConfig,
    private readonly headers: Record<string, string>,
    private readonly maxBufferedBytes: number,
    private readonly resolve: (result: SendSseResult) => void,
  ) {
    super();
    this.seq = (config.eventIds?.firstSeq ?? 1) - 1;
  }

  sendHead(): void {
    if (this.headSent) return;
    this.headSent = true;
    this.res.writeHead(200, { ...SSE_HEADERS, ...this.headers });
    this.res.flushHeaders?.();
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.res.uncork!();
  }

  finish(end: SendSseResult['end'], error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const { res } = this;
    if (this.heartbeat) clearInterval(this.heartbeat);
    res.off?.('close', this.onClose);
    // A response ended while its socket was full: its drain would resume an upstream that is over.
    if (this.queued !== undefined) res.off?.('drain', this.onDrain);
    this.unsubscribe();
    if (end === 'overflow' && res.destroy) {
      this.uncork();
      res.destroy();
    } else {
      // Ended while still corked: the last frames and the response's terminating chunk leave in one
      // socket write (Node's `end` uncorks), not two.
      if (!res.writableEnded && this.headSent) res.end();
      this.uncork();
    }
    this.resolve(
      end === 'error'
        ? { end, error, chunks: this.count, headersSent: this.headSent }
        : { end, chunks: this.count },
    );
  }

  /** Writes a frame; false when the client stopped reading and the stream was dropped. */
  send(text: string): boolean {
    this.sendHead();
    const { res, maxBufferedBytes } = this;
    if (this.queued !== undefined) {
      this.queued += Buffer.byteLength(text);
      if (this.queued > maxBufferedBytes) {
        this.finish('overflow');
        return false;
      }
    }
    if (res.write(text)) return true;
    // The socket is full: what follows waits in the response's buffer. Stop reading the upstream
    // until it drains, and bound what queues meanwhile.
    if (this.queued === undefined) {
      this.queued = 0;
      this.config.flow?.pause();
      if (res.once) res.once('drain', this.onDrain);
      // Without 'drain' (a minimal response), fall back to the whole buffer against the limit.
      else if ((res.writableLength ?? 0) > maxBufferedBytes) {
        this.finish('overflow');
        return false;
      } else this.queued = undefined;
    }
    return true;
  }

  /** `id: <streamId>:<seq>` before an event, when the stream's events are numbered. */
  private idLine(): string {
    const ids = this.config.eventIds;
    return ids ? `id: ${ids.streamId}:${++this.seq}\n` : '';
  }

  // The hooks run only while subscribed: `finish` (the only way to end) unsubscribes.
  protected override _next(chunk: Chunk): void {
    this.count++;
    const { res } = this;
    // The chunks parsed from one upstream read arrive in one turn: one socket write for all
    // of them (a syscall per frame is most of a relay's CPU), sent before the next turn.
    if (!this.corked && res.cork && res.uncork) {
      this.corked = true;
      res.cork();
      process.nextTick(uncorkLater, this);
    }
    this.send(`${this.idLine()}data: ${takeChunkJson(chunk)}\n\n`);
  }

  protected override _error(error: unknown): void {
    if (!this.headSent && this.config.onErrorBeforeFirstByte) {
      this.finish('error', error);
      this.config.onErrorBeforeFirstByte(error);
      return;
    }
    if (this.send(`${this.idLine()}data: ${JSON.stringify(errorFrame(error))}\n\n`))
      this.finish('error', error);
  }

  protected override _complete(): void {
    if (this.send('data: [DONE]\n\n')) this.finish('complete');
  }
}

/** What NestJS `@Sse()` handlers return (its `MessageEvent`). */
export interface SseMessageEvent {
  data: string | object;
  type?: string;
  id?: string;
  retry?: number;
}

export interface ToSseEventsConfig {
  /**
   * Milliseconds between `ping` events (`event: ping`, empty data) while the stream is open, so
   * proxies keep an idle stream; 0 = none. rxllm's `fetchSse` skips them.
   * @defaultValue 0
   */
  heartbeatMs?: number;
}

/** Defaults of {@link toSseEvents}. */
export const TO_SSE_EVENTS_DEFAULTS = { heartbeatMs: 0 } as const satisfies ToSseEventsConfig;

/**
 * Shapes a chunk stream for NestJS `@Sse()`: each chunk becomes `{ data: chunk }`, completion a
 * final `{ data: '[DONE]' }`, and an error one error-frame event (then completion), so rxllm's
 * clients rebuild the same typed error instead of Nest's generic `Internal server error`, and no
 * chunk sent before the error is lost. NestJS unsubscribes when the client disconnects, which
 * aborts the provider request.
 *
 * ```
 * source: --a--b--|         --a--#
 * result: --A--B--(D|)      --A--(E|)     A = { data: a }, D = { data: '[DONE]' }, E = { data: errorFrame }
 * ```
 *
 * @example
 * import { toArray } from 'rxjs';
 * import { stream, toSseEvents } from 'rxllm';
 * stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(toSseEvents(), toArray())
 *   .subscribe((events) => console.log(events.at(-1))); // { data: '[DONE]' }
 */
export function toSseEvents(
  config: ToSseEventsConfig = {},
): (source: Observable<Chunk>) => Observable<SseMessageEvent> {
  const { heartbeatMs } = { ...TO_SSE_EVENTS_DEFAULTS, ...config };
  if (!(heartbeatMs >= 0)) throw new TypeError('toSseEvents: heartbeatMs must be >= 0');
  return (source) => {
    const events = concat(
      source.pipe(map((chunk): SseMessageEvent => ({ data: chunk }))),
      of<SseMessageEvent>({ data: '[DONE]' }),
    ).pipe(catchError((error: unknown) => of<SseMessageEvent>({ data: errorFrame(error) })));
    if (heartbeatMs === 0) return events;
    // A sentinel ends the merge when the events end, so the timer stops with them.
    const END: SseMessageEvent = { data: '' };
    return merge(
      events.pipe(endWith(END)),
      interval(heartbeatMs).pipe(map((): SseMessageEvent => ({ type: 'ping', data: '' }))),
    ).pipe(takeWhile((e) => e !== END));
  };
}
