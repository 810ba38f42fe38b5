/**
 * The chunk stream over a WebSocket, for front ends that use one: one JSON message per chunk, a
 * final `done`, errors as typed error frames, several requests at once on one socket keyed by an id.
 * Works on any socket with `send` and `on('message' | 'close')` — the `ws` package's, NestJS's ws
 * adapter's — without importing `ws` (an optional peer; only the gateway loads it, lazily).
 *
 * Protocol (JSON text messages):
 * ```
 * client → server  { "type": "request", "id": "r1", "body": { "model": "...", "messages": [...] } }
 *                  { "type": "stop", "id": "r1" }               aborts that request upstream
 *                  { "type": "resume", "id": "r2", "streamId": "...", "after": 12 }   (with `resumable`)
 * server → client  { "type": "stream", "id": "r1", "streamId": "..." }   (with `resumable`, first)
 *                  { "type": "chunk", "id": "r1", "chunk": {...chat.completion.chunk...}, "seq": 1 }
 *                  { "type": "done",  "id": "r1" }
 *                  { "type": "error", "id": "r1", "error": {...errorFrame...} }
 * ```
 * An error for a message the server refused carries the message's id whenever it can be read (an
 * oversized or malformed request too); `id: null` only when it cannot, and clients treat that as
 * fatal for their requests still waiting on the socket. While requests run, the server pings the
 * socket (a protocol ping, which browsers answer by themselves) so proxies keep an idle wait open,
 * as the SSE heartbeat does.
 * The socket closing aborts every request still running on it, unless it is resumable (`resumable`):
 * then its generation goes on, kept in the store, and a `resume` message on a new socket replays it
 * after the chunk numbered `after` and follows it (see docs/resume.md).
 */
import { randomUUID } from 'node:crypto';
import { map, type Observable, type Subscription } from 'rxjs';
import { resumable as keepResumable } from '../../operators/resumable';
import type { Chunk } from '../chunk';
import { RequestValidationError } from '../errors';
import { defaultResumeStore, resumeEvents, stop as stopStream } from '../resume/replay';
import { errorFrame } from './errorFrame';
import { servedResumable, type ResumeServeOptions } from './resumeOptions';

/** The socket surface used (`ws`'s `WebSocket`). */
export interface ChatSocketLike {
  send(data: string): void;
  on(event: 'message', listener: (data: unknown, isBinary?: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  /** `ws` reports a bad frame (too big, not UTF-8, ...) here, then closes the socket. */
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** Bytes queued and not yet sent. */
  readonly bufferedAmount?: number;
  /** A protocol-level ping (`ws`): the keepalive while requests wait. */
  ping?(): void;
  close?(code?: number, reason?: string): void;
}

/** What the client sends: a request or a stop. */
export type ChatSocketClientMessage =
  | { type: 'request'; id: string; body: unknown }
  | { type: 'stop'; id: string }
  | { type: 'resume'; id: string; streamId: string; after?: number };

/** What the server sends. */
export type ChatSocketServerMessage =
  | { type: 'stream'; id: string; streamId: string }
  | { type: 'chunk'; id: string; chunk: Chunk; seq?: number }
  | { type: 'done'; id: string }
  | { type: 'error'; id: string | null; error: ReturnType<typeof errorFrame>['error'] };

export interface ServeChatSocketOptions {
  /**
   * The chunk stream for a request body; throw (a `RequestValidationError`, ...) to refuse it.
   * Called once per request message.
   */
  stream: (body: unknown, id: string) => Observable<Chunk>;
  /** Most requests running at once on one socket. @defaultValue 16 */
  maxConcurrent?: number;
  /**
   * Most bytes queued behind a peer that does not read: the bytes waiting before a message is sent
   * (not the message itself, so one large message to a reading peer passes). Past it every request
   * on the socket is aborted upstream and the socket closed (1008). @defaultValue 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Milliseconds between pings while at least one request runs (proxies close a WebSocket that is
   * silent for a minute, and a reasoning model may think for longer); 0 = none. @defaultValue 15_000
   */
  heartbeatMs?: number;
  /** Largest message accepted, in characters. @defaultValue 1_048_576 */
  maxMessageChars?: number;
  /** Called when a request ended (`complete`, `error`, `stopped`, `closed`). @defaultValue none */
  onEnd?: (id: string, end: 'complete' | 'error' | 'stopped' | 'closed', error?: unknown) => void;
  /**
   * Makes requests resumable: each is kept in `store` under a stream id (sent first, in a `stream`
   * message), its chunks numbered (`seq`); a socket that closes leaves the generation running, a
   * `resume` message replays and follows it, a `stop` aborts it wherever it runs. @defaultValue undefined (off)
   */
  resumable?: ResumeServeOptions;
}

/** Defaults of {@link serveChatSocket}. */
export const SERVE_CHAT_SOCKET_DEFAULTS = {
  maxConcurrent: 16,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxMessageChars: 1024 * 1024,
  heartbeatMs: 15_000,
} as const;

/** The id of a message the server will not parse whole (too large): read from its start. */
function leadingId(text: string): string | undefined {
  const match = /^\s*\{[^{}]{0,200}?"id"\s*:\s*"((?:[^"\\]|\\.){1,200})"/.exec(text.slice(0, 1000));
  if (!match) return undefined;
  try {
    return JSON.parse(`"${match[1]}"`) as string;
  } catch {
    return undefined;
  }
}

/**
 * Serves chat requests on one open socket until it closes.
 *
 * @example
 * import { WebSocketServer } from 'ws';
 * import { serveChatSocket, stream, validateRequest } from 'rxllm';
 * const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
 * wss.on('connection', (socket) => serveChatSocket(socket, { stream: (body) => stream(validateRequest(body)) }));
 * wss.close();
 */
export function serveChatSocket(socket: ChatSocketLike, options: ServeChatSocketOptions): void {
  const { maxConcurrent, maxBufferedBytes, maxMessageChars, heartbeatMs } = {
    ...SERVE_CHAT_SOCKET_DEFAULTS,
    ...options,
  };
  if (!(heartbeatMs >= 0)) throw new TypeError('serveChatSocket: heartbeatMs must be >= 0');
  const running = new Map<string, Subscription>();
  const resume = options.resumable;
  const store = () => resume?.store ?? defaultResumeStore();
  /**
   * Request id → its stream, for `stop`; `stopHere` for a generation this socket started: it stops
   * it here at once, also before the store has the stream (a shared store under load).
   */
  const streams = new Map<string, { streamId: string; stopHere?: AbortController }>();
  let closed = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  // Pings only while something waits: an idle socket costs no timer.
  const keepalive = () => {
    if (running.size > 0 && !heartbeat && heartbeatMs > 0 && socket.ping && !closed) {
      heartbeat = setInterval(() => socket.ping?.(), heartbeatMs);
    } else if ((running.size === 0 || closed) && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  };

  // Bytes sent while the socket was behind (something still queued), not counting the message
  // that was being sent when it fell behind: one large message (a 5 MB chunk) to a peer that reads
  // is not a slow peer. Capped by what is queued now, so a peer that reads slowly but keeps up is
  // measured by its real backlog.
  let queued = 0;
  const send = (message: ChatSocketServerMessage) => {
    if (closed) return;
    const text = JSON.stringify(message);
    const before = socket.bufferedAmount ?? 0;
    if (before === 0) queued = 0;
    if (Math.min(queued, before) > maxBufferedBytes) {
      // The peer stopped reading: free everything it holds.
      closeAll('closed');
      socket.close?.(1008, 'client too slow');
      return;
    }
    if (before > 0) queued += text.length;
    socket.send(text);
  };
  const sendError = (id: string | null, error: unknown) =>
    send({ type: 'error', id, error: errorFrame(error).error });
  const closeAll = (end: 'closed') => {
    closed = true;
    keepalive();
    for (const [id, sub] of running) {
      running.delete(id);
      sub.unsubscribe();
      options.onEnd?.(id, end);
    }
  };

  socket.on('message', (data) => {
    const text =
      typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    if (text.length > maxMessageChars) {
      const id = leadingId(text) ?? null;
      const error = new RequestValidationError(`A message is over ${maxMessageChars} characters.`);
      if (id !== null) options.onEnd?.(id, 'error', error);
      return sendError(id, error);
    }
    let message: Partial<ChatSocketClientMessage> & { id?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return sendError(leadingId(text) ?? null, new RequestValidationError('A message is not JSON.'));
    }
    const id = message?.id;
    if (typeof id !== 'string' || id === '' || id.length > 200) {
      return sendError(null, new RequestValidationError('A message needs an "id" (a non-empty string).'));
    }
    if (message.type === 'stop') {
      const sub = running.get(id);
      const stream = streams.get(id);
      streams.delete(id);
      if (sub) {
        running.delete(id);
        sub.unsubscribe();
        keepalive();
        options.onEnd?.(id, 'stopped');
      }
      // A resumable generation stops wherever it runs, not only this reader: the one this socket
      // started stops here (once its reader has left: no error goes out); one it resumed, through
      // the store, which has it.
      if (stream?.stopHere) stream.stopHere.abort();
      else if (stream) stopStream(store(), stream.streamId).catch(() => undefined);
      return;
    }
    if (message.type !== 'request' && message.type !== 'resume') {
      return sendError(id, new RequestValidationError('"type" must be "request", "resume" or "stop".'));
    }
    if (running.has(id))
      return sendError(id, new RequestValidationError(`Request id "${id}" is already running.`));
    if (running.size >= maxConcurrent) {
      return sendError(
        id,
        new RequestValidationError(`At most ${maxConcurrent} requests run at once on one socket.`),
      );
    }
    let chunks: Observable<Chunk>;
    let seq = 0;
    try {
      if (message.type === 'resume') {
        if (!resume) throw new RequestValidationError('This server does not resume streams.');
        const { streamId, after = 0 } = message as { streamId?: unknown; after?: unknown };
        if (typeof streamId !== 'string' || typeof after !== 'number')
          throw new RequestValidationError(
            'A resume message needs "streamId" (a string) and "after" (a number).',
          );
        seq = after;
        // An id used the moment it came (at another instance) is waited for: `resumeEvents` does.
        chunks = resumeEvents(store(), streamId, { fromEventId: after }).pipe(map((e) => e.chunk));
        streams.set(id, { streamId });
      } else {
        chunks = options.stream((message as { body?: unknown }).body, id);
        if (resume) {
          const streamId = randomUUID();
          const stopHere = new AbortController();
          chunks = chunks.pipe(
            keepResumable({ ...servedResumable(resume), id: streamId, signal: stopHere.signal }),
          );
          streams.set(id, { streamId, stopHere });
          send({ type: 'stream', id, streamId });
        }
      }
    } catch (error) {
      options.onEnd?.(id, 'error', error);
      return sendError(id, error);
    }
    let ended = false;
    const sub = chunks.subscribe({
      next: (chunk) => send(resume ? { type: 'chunk', id, chunk, seq: ++seq } : { type: 'chunk', id, chunk }),
      error: (error: unknown) => {
        ended = true;
        running.delete(id);
        keepalive();
        streams.delete(id);
        sendError(id, error);
        options.onEnd?.(id, 'error', error);
      },
      complete: () => {
        ended = true;
        running.delete(id);
        keepalive();
        streams.delete(id);
        send({ type: 'done', id });
        options.onEnd?.(id, 'complete');
      },
    });
    if (!ended && !closed) {
      running.set(id, sub);
      keepalive();
    } else if (closed) sub.unsubscribe();
  });
  socket.on('close', () => closeAll('closed'));
  // Without a listener, `ws` emitting 'error' (a peer's oversized or malformed frame) would throw
  // and end the whole server process. The socket closes right after: abort what runs on it.
  socket.on('error', () => closeAll('closed'));
}
