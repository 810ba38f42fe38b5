/**
 * WebSocket in, for browsers and Angular: the same cold `Observable<Chunk>` as `fetchSse`, read from
 * an rxllm WebSocket server (`serveChatSocket`, `rxllm serve`), so the same operators and UI code
 * work on either transport. No Node API: it uses the platform `WebSocket` (or one you pass).
 */
import { onAbort } from '../abortListeners';
import { Observable } from 'rxjs';
import type { Chunk } from '../chunk';
import { ConfigurationError, ConnectionError, StreamParseError } from '../errors';
import { errorFromFrame, isErrorFrame } from './errorFrame';
import { scrubError } from '../redact';
import { reconnecting, type AttemptHooks, type ReconnectConfig } from './reconnect';
import { onSocket, type SocketRequest } from './socketRequests';

/** The socket surface used: the browser's `WebSocket` (the `ws` package's has it too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: any) => void): void;
  removeEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: any) => void): void;
}

export interface FromWebSocketInit {
  /** Subprotocols when `target` is a URL (e.g. from `bearerProtocol(token)`). @defaultValue ['rxllm.v1'] */
  protocols?: string[];
  /** Aborting it stops the request (a `stop` message, or closing the socket this call opened). */
  signal?: AbortSignal;
  /** The request id; must be unique among the requests running on the socket. @defaultValue a random id */
  id?: string;
  /**
   * Creates the socket when `target` is a URL (tests, Node 20, which has no global `WebSocket`: the
   * `ws` package's `WebSocket` fits). @defaultValue globalThis.WebSocket
   */
  WebSocket?: new (url: string, protocols?: string[]) => WebSocketLike;
  /**
   * When `target` is a URL and the server made the request resumable (rxllm's gateway does), a socket
   * that fails mid-answer is replaced, with backoff, by a new one that resumes after the last chunk:
   * the subscriber sees one stream, no chunk missing or twice (docs/resume.md). `false` turns it off.
   * @defaultValue true (RECONNECT_DEFAULTS)
   */
  reconnect?: boolean | ReconnectConfig;
  /** Called with the stream id when the server made the request resumable. @defaultValue none */
  onStreamId?: (streamId: string) => void;
  /**
   * Unsubscribing (or aborting `signal`) stops the generation on the server too: a `stop` message,
   * which also stops a resumable answer that would otherwise go on after its socket closed. `false`
   * only closes the socket this call opened, leaving a resumable answer running to be resumed later
   * (a page being reloaded). @defaultValue true
   */
  stopOnUnsubscribe?: boolean;
}

/** What is sent on open: the request, or (reconnecting) the resume of its stream. */
type Opening = { type: 'request'; body: unknown } | { type: 'resume'; streamId: string; after: number };

/** The subprotocol rxllm's servers speak. */
export const CHAT_SOCKET_PROTOCOL = 'rxllm.v1';

/**
 * Subprotocols that carry a bearer token (a browser cannot set `Authorization` on a WebSocket):
 * `['rxllm.v1', 'rxllm.bearer.<base64url(token)>']`.
 */
export function bearerProtocol(token: string): string[] {
  const bytes = new TextEncoder().encode(token);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  const encoded = btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return [CHAT_SOCKET_PROTOCOL, `rxllm.bearer.${encoded}`];
}

const OPEN = 1;
const ignore = () => undefined;
const CONNECTING = 0;

/**
 * Sends one chat request over a WebSocket and streams its chunks. `target` is a URL (a socket of
 * its own, closed when the stream ends or is unsubscribed) or an open/opening socket shared by many
 * requests (unsubscribing sends `stop` for this request only; however many run on it, the socket gets
 * one listener of each kind, and each message is parsed once). `done` completes; an error message
 * errors with the class the server sent (an error with `id: null`, about a message the server could
 * not read, errors a call on its own socket, or one that got no answer yet on a shared socket); the
 * socket closing or failing first errors with `ConnectionError`, saying why when the platform does.
 * A socket that cannot even be created (no `WebSocket` implementation, as on Node 20; a URL the
 * constructor refuses) errors with `ConfigurationError`: not retryable, the same call fails again.
 *
 * @example
 * // doc-test: typecheck-only
 * import { fromWebSocket } from 'rxllm/browser';
 * import { textDeltas } from 'rxllm/operators';
 * fromWebSocket('ws://127.0.0.1:8787/v1/chat/ws', { model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(textDeltas())
 *   .subscribe((text) => console.log(text));
 */
export function fromWebSocket(
  target: string | WebSocketLike,
  body: unknown,
  init: FromWebSocketInit = {},
): Observable<Chunk> {
  const { reconnect = true } = init;
  const first = (hooks?: AttemptHooks) => attempt(target, { type: 'request', body }, init, hooks);
  // A shared socket cannot be reopened here: its owner decides.
  if (typeof target !== 'string' || reconnect === false) return first();
  return reconnecting(
    target,
    first,
    (url, lastEventId, hooks, streamId) =>
      attempt(
        url,
        { type: 'resume', streamId, after: Number(lastEventId?.split(':').pop() ?? 0) },
        init,
        hooks,
      ),
    { resumeUrl: (url) => url, ...(reconnect === true ? {} : reconnect) },
    init.onStreamId,
  );
}

/** One socket (or one request on a shared one) and its messages. */
function attempt(
  target: string | WebSocketLike,
  opening: Opening,
  init: FromWebSocketInit,
  hooks?: AttemptHooks,
): Observable<Chunk> {
  return new Observable<Chunk>((subscriber) => {
    const id = init.id ?? `req-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    let streamId: string | undefined;
    let socket: WebSocketLike;
    const own = typeof target === 'string';
    try {
      if (typeof target === 'string') {
        const Ctor = init.WebSocket ?? (globalThis as any).WebSocket;
        if (!Ctor) {
          throw new ConfigurationError(
            "No WebSocket implementation here (Node 20 has none; Node >= 22 and browsers do): pass init.WebSocket, e.g. the `ws` package's WebSocket.",
          );
        }
        socket = new Ctor(target, init.protocols ?? [CHAT_SOCKET_PROTOCOL]);
      } else {
        socket = target;
      }
    } catch (error) {
      // The constructor only checks its arguments (a bad URL or subprotocol is a SyntaxError, per
      // the WHATWG WebSocket constructor steps); network failures come later as 'error'/'close'
      // events. So a throw here is a configuration problem, and retrying cannot help.
      subscriber.error(
        error instanceof ConfigurationError
          ? error
          : new ConfigurationError(`Could not create the WebSocket: ${(error as Error)?.message}`, {
              // The constructor quotes the URL it refused (one with credentials, say): kept scrubbed.
              cause: scrubError(error),
            }),
      );
      return;
    }
    let finished = false;
    let answered = false;
    let opened = false;
    const onMessage = (message: any) => {
      // An error with no id is about a message the server could not read at all: on a socket of this
      // call's own, or before this request got any answer, it can only be this request's (waiting for
      // an answer that will never come would hang).
      if (message?.type === 'error' && message.id === null && (own || !answered)) {
        return end(
          isErrorFrame(message)
            ? errorFromFrame(message)
            : new StreamParseError('invalid-event', 'The server sent an error message of unknown shape.'),
        );
      }
      if (message?.id !== id) return;
      answered = true;
      if (message.type === 'stream' && typeof message.streamId === 'string') {
        streamId = message.streamId;
        hooks?.onStreamId(message.streamId);
      } else if (message.type === 'chunk') {
        if (streamId !== undefined && typeof message.seq === 'number')
          hooks?.onEventId(`${streamId}:${message.seq}`);
        subscriber.next(message.chunk as Chunk);
      } else if (message.type === 'done') {
        hooks?.onFinal();
        end();
      } else if (message.type === 'error') {
        hooks?.onFinal();
        end(
          isErrorFrame(message)
            ? errorFromFrame(message)
            : new StreamParseError('invalid-event', 'The server sent an error message of unknown shape.'),
        );
      }
    };
    const onClose = (event: { code?: number }) => {
      if (!finished)
        end(
          new ConnectionError(
            `The WebSocket closed before the answer ended (code ${event?.code ?? 'unknown'}).`,
          ),
        );
    };
    const onError = (event: { message?: unknown; error?: unknown }) => {
      if (finished) return;
      // `ws` says why (`Unexpected server response: 401`); a browser's error event never does.
      const why = typeof event?.message === 'string' && event.message !== '' ? event.message : undefined;
      end(
        new ConnectionError(
          why
            ? `The WebSocket failed: ${why}.`
            : opened
              ? 'The WebSocket connection broke before the answer ended.'
              : 'The WebSocket could not connect: the server refused it (a missing or wrong token, or a page of another site without --cors) or could not be reached. Browsers do not tell which; the server log does.',
          { cause: event?.error },
        ),
      );
    };
    const onOpen = () => {
      opened = true;
      if (finished) return;
      if (opening.type === 'resume') streamId = opening.streamId;
      socket.send(JSON.stringify({ ...opening, id }));
    };
    const stop = () => end(init.signal?.reason ?? new Error('aborted'), true);
    let off: (() => void) | undefined;
    // One set of listeners per socket, shared by the requests on it (`onSocket`).
    const request: SocketRequest = {
      id,
      waitingOpen: socket.readyState === CONNECTING,
      onOpen,
      onMessage,
      onUnreadable: () =>
        end(new StreamParseError('invalid-json', 'The server sent a WebSocket message that is not JSON.')),
      onClose,
      onError,
    };
    const unlisten = onSocket(socket, request);
    const cleanup = () => {
      unlisten();
      off?.();
    };
    function end(error?: unknown, stopped = false) {
      if (finished) return;
      finished = true;
      cleanup();
      // A socket this call opened may still fail after we stop listening (`ws` reports closing it
      // while connecting as an 'error' event, which kills a Node process that has no listener).
      if (own) socket.addEventListener('error', ignore);
      if (stopped) {
        // A shared socket's owner keeps it open: the request must be stopped there. An own socket
        // closes, which a resumable answer outlives: the stop message ends it unless told not to.
        if (socket.readyState === OPEN && (!own || init.stopOnUnsubscribe !== false))
          socket.send(JSON.stringify({ type: 'stop', id }));
        if (own) socket.close(1000, 'stopped');
      } else if (own && socket.readyState <= OPEN) socket.close(1000, 'done');
      if (error !== undefined) subscriber.error(error);
      else if (!stopped) subscriber.complete();
    }
    if (init.signal?.aborted) {
      end(init.signal.reason ?? new Error('aborted'), true);
      return;
    }
    // One listener on a signal shared by many calls (`onAbort`), not one per call.
    if (init.signal) off = onAbort(init.signal, stop);
    if (socket.readyState === OPEN) onOpen();
    else if (socket.readyState !== CONNECTING) end(new ConnectionError('The WebSocket is closed.'));
    return () => end(undefined, true);
  });
}
