/**
 * How the gateway ends the streams still open when its grace period is over: each fails with a
 * retryable `ServerError` 503, so its client gets an error frame (or, before the first byte, a 503
 * answer) it can retry elsewhere, instead of a cut connection that reads as a network failure.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { onAbort } from '../abortListeners';
import type { Chunk } from '../chunk';
import { ServerError } from '../errors';

/** The error open streams end with when the gateway shuts down. */
export function shutdownError(): ServerError {
  return new ServerError({
    status: 503,
    message: 'The gateway is shutting down; retry the request.',
  });
}

/** Errors the stream with {@link shutdownError} when `signal` aborts (and unsubscribes the source). */
export function failOnShutdown(signal: AbortSignal): MonoTypeOperatorFunction<Chunk> {
  return (source) =>
    new Observable<Chunk>((subscriber) => {
      const fail = () => subscriber.error(shutdownError());
      if (signal.aborted) return fail();
      // One listener on the gateway's signal for all its open streams (`onAbort`).
      const off = onAbort(signal, fail);
      const subscription = source.subscribe(subscriber);
      return () => {
        off();
        subscription.unsubscribe();
      };
    });
}

/** What {@link closeGracefully} closes. */
export interface GracefulClose {
  server: Server;
  /** Every socket the server accepted and not yet closed. */
  sockets: ReadonlySet<Socket>;
  /** The `ws` server of `/v1/chat/ws`, if any (what is used of it). */
  webSockets:
    | {
        clients: Iterable<{ close(code: number, reason: string): void; terminate(): void }>;
        close(done: () => void): void;
      }
    | undefined;
  /** The requests running now: HTTP responses (streams and resume reads) and WebSocket requests. */
  running: () => { http: number; ws: number };
  /** Aborted past the grace period: the streams still open fail with {@link shutdownError}. */
  shutdown: AbortController;
  /** Aborted after that: the generations their clients left (resumable answers) stop. */
  generations: AbortController;
  graceMs: number;
}

/**
 * Stops accepting, lets what runs finish for up to `graceMs`, then ends the rest with a 503 error
 * frame (their upstream calls aborted), stops the generations clients left, gives the frames a
 * moment to be written, closes WebSockets as "going away" (1001), and resolves once all is closed.
 */
export async function closeGracefully(close: GracefulClose): Promise<void> {
  const { server, webSockets, running } = close;
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  const deadline = Date.now() + close.graceMs;
  const busy = () => {
    const now = running();
    return now.http > 0 || now.ws > 0;
  };
  while (busy() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    server.closeIdleConnections();
  }
  close.shutdown.abort();
  const flushBy = Date.now() + 1000;
  while (running().http > 0 && Date.now() < flushBy) await new Promise((r) => setTimeout(r, 10));
  // After the streams still open got their 503 frame: that frame is what their clients see.
  close.generations.abort();
  for (const client of webSockets?.clients ?? []) client.close(1001, 'server shutting down');
  await new Promise((r) => setTimeout(r, 50));
  for (const client of webSockets?.clients ?? []) client.terminate();
  await new Promise<void>((r) => (webSockets ? webSockets.close(() => r()) : r()));
  server.closeAllConnections();
  for (const socket of close.sockets) socket.destroy();
  await closed;
}
