/**
 * How the gateway ends the streams still open when its grace period is over: each fails with a
 * retryable `ServerError` 503, so its client gets an error frame (or, before the first byte, a 503
 * answer) it can retry elsewhere, instead of a cut connection that reads as a network failure.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
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
      const onAbort = () => subscriber.error(shutdownError());
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const subscription = source.subscribe(subscriber);
      return () => {
        signal.removeEventListener('abort', onAbort);
        subscription.unsubscribe();
      };
    });
}
