import { Observable, Subscriber, type OperatorFunction, type TeardownLogic } from 'rxjs';

/** What an operator does with each notification of its source; each defaults to passing it on. */
export interface LinkedHandlers<T> {
  next?: (value: T) => void;
  error?: (error: unknown) => void;
  complete?: () => void;
  /** Runs once when the inner subscription ends for any reason (completion, error, unsubscribe). */
  finalize?: () => void;
}

/**
 * A subscriber for an operator's source that is linked to `downstream` before any value flows, the
 * way rxjs's own operators link theirs (the internal `OperatorSubscriber`, which users cannot
 * import): when downstream closes — `take(1)`, an error, unsubscribe — the source is unsubscribed at
 * once, so a synchronous source (`from(array)`, a zero-delay mock) stops pulling instead of running
 * to its end. Whatever a handler throws (a user callback, a schema's `.transform`) becomes
 * downstream's `error`, never an uncaught exception.
 */
export function linkedSubscriber<T>(
  downstream: Subscriber<unknown>,
  handlers: LinkedHandlers<T> = {},
): Subscriber<T> {
  const { next, error, complete, finalize } = handlers;
  const guard = (run: () => void): void => {
    try {
      run();
    } catch (thrown) {
      downstream.error(thrown);
    }
  };
  // The constructor is public in rxjs 7 (only documented as "no reason to call it directly"); it is
  // the one public way to get a Subscriber that is a Subscription before `subscribe()` returns.
  // `next` runs once per chunk: no closure is allocated per value on that path.
  const inner = new Subscriber<T>({
    next: next
      ? (value) => {
          try {
            next(value);
          } catch (thrown) {
            downstream.error(thrown);
          }
        }
      : (value) => downstream.next(value),
    error: (err: unknown) => guard(error ? () => error(err) : () => downstream.error(err)),
    complete: () => guard(complete ?? (() => downstream.complete())),
  });
  if (finalize) inner.add(() => guard(finalize));
  downstream.add(inner);
  return inner;
}

/**
 * Builds an operator from `init(source, subscriber)`, which subscribes the source with
 * {@link linkedSubscriber} and may return extra teardown. A throw in `init` errors the stream.
 */
export function operate<In, Out>(
  init: (source: Observable<In>, subscriber: Subscriber<Out>) => TeardownLogic,
): OperatorFunction<In, Out> {
  return (source) => new Observable<Out>((subscriber) => init(source, subscriber));
}
