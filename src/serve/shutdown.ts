/**
 * How the gateway ends the streams still open when its grace period is over: each fails with a
 * retryable `ServerError` 503, so its client gets an error frame (or, before the first byte, a 503
 * answer) it can retry elsewhere, instead of a cut connection that reads as a network failure.
 */
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
