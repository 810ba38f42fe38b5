import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { RequestAbortedError } from '../../src/errors';
import { linkedSubscriber, operate } from './operate';
import { onAbort } from '../../src/abortListeners';

/** Throws a `TypeError` naming `operator` unless `signal` is undefined or an `AbortSignal`-like object. */
export function checkSignal(operator: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as AbortSignal | null;
  if (typeof s?.addEventListener !== 'function' || typeof s.aborted !== 'boolean') {
    throw new TypeError(`${operator}: signal must be an AbortSignal.`);
  }
  return s;
}

/**
 * Never emits; errors with a `RequestAbortedError` as soon as `signal` fires (at once when it
 * already has). One `abort` listener per subscription, removed on teardown.
 */
export function abortError(signal: AbortSignal): Observable<never> {
  return new Observable<never>((subscriber) => {
    const fire = () => subscriber.error(new RequestAbortedError({ cause: signal.reason }));
    if (signal.aborted) return fire();
    return onAbort(signal, fire);
  });
}

/**
 * Mirrors the source until `stop` errors, then fails with that error and unsubscribes the source
 * (`stop` is usually {@link abortError}, possibly shared by many streams through `share()`).
 */
export function failWith<T>(stop: Observable<never> | undefined): MonoTypeOperatorFunction<T> {
  if (!stop) return (source) => source;
  return operate<T, T>((source, subscriber) => {
    stop.subscribe(linkedSubscriber<never>(subscriber, { complete: () => undefined }));
    if (!subscriber.closed) source.subscribe(linkedSubscriber<T>(subscriber));
  });
}
