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
  const inner = new LinkedSubscriber<T>(downstream, handlers);
  const { finalize } = handlers;
  if (finalize)
    inner.add(() => {
      try {
        finalize();
      } catch (thrown) {
        downstream.error(thrown);
      }
    });
  downstream.add(inner);
  return inner;
}

/**
 * The base of an operator's subscriber to its source, linked to `downstream` (add it to downstream
 * before subscribing the source, as {@link linkedSubscriber} does). rxjs's `Subscriber` with its three
 * hooks overridden, as rxjs's own `OperatorSubscriber` does, so an operator keeps its per-subscription
 * state in the fields of one object (a gateway holds one per open stream) rather than in closures.
 * Each `on*` hook passes its notification on unless overridden; whatever one throws (a user callback, a
 * schema's `.transform`) becomes downstream's `error`, never an uncaught exception; an error or a
 * completion unsubscribes the source once its hook ran. (The constructor and the `_next` / `_error` /
 * `_complete` hooks are public and protected API of rxjs 7's `Subscriber`.)
 */
export abstract class LinkedSubscriberBase<In, Out = In> extends Subscriber<In> {
  constructor(protected readonly downstream: Subscriber<Out>) {
    super();
  }

  protected onNext(value: In): void {
    this.downstream.next(value as unknown as Out);
  }

  protected onError(error: unknown): void {
    this.downstream.error(error);
  }

  protected onComplete(): void {
    this.downstream.complete();
  }

  protected override _next(value: In): void {
    try {
      this.onNext(value);
    } catch (thrown) {
      this.downstream.error(thrown);
    }
  }

  protected override _error(error: unknown): void {
    try {
      this.onError(error);
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      this.onComplete();
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }
}

/** The subscriber {@link linkedSubscriber} makes: the base with a handler object's hooks. */
class LinkedSubscriber<T> extends LinkedSubscriberBase<T, unknown> {
  constructor(
    downstream: Subscriber<unknown>,
    private readonly handlers: LinkedHandlers<T>,
  ) {
    super(downstream);
  }

  // `_next` itself rather than `onNext`: it runs once per chunk in every operator of a chain built
  // on `linkedSubscriber`, so no call between the chunk and the handler.
  protected override _next(value: T): void {
    const next = this.handlers.next;
    if (next === undefined) {
      this.downstream.next(value);
      return;
    }
    try {
      next(value);
    } catch (thrown) {
      this.downstream.error(thrown);
    }
  }

  protected override onError(error: unknown): void {
    const handler = this.handlers.error;
    if (handler === undefined) this.downstream.error(error);
    else handler(error);
  }

  protected override onComplete(): void {
    const handler = this.handlers.complete;
    if (handler === undefined) this.downstream.complete();
    else handler();
  }
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
