import {
  catchError,
  concat,
  defer,
  from,
  map,
  mergeMap,
  Observable,
  of,
  tap,
  type ObservableInput,
  type OperatorFunction,
} from 'rxjs';
import { abortError, checkSignal, failWith } from './internal/abort';
import { linkedSubscriber, operate } from './internal/operate';

/** Counts of a running `mapConcurrent` / `batch`, reported after every change. */
export interface ConcurrencyProgress {
  /** Items whose inner observable completed. */
  done: number;
  /** Items whose inner observable failed. */
  failed: number;
  /** Items subscribed and not finished: never above the concurrency cap. */
  inFlight: number;
  /** Items received from the source so far (waiting + in flight + finished). */
  received: number;
}

/** One item's outcome in `settle` mode. */
export type Settled<T, R> =
  { ok: true; index: number; item: T; value: R } | { ok: false; index: number; item: T; error: unknown };

export interface MapConcurrentConfig {
  /** Most inner observables subscribed at once. @defaultValue 20 */
  concurrency?: number;
  /** Emit in input order (an item's values wait until all earlier items finished). @defaultValue false */
  ordered?: boolean;
  /**
   * `false`: the first failing item fails the whole operator (the others are unsubscribed).
   * `true`: each value becomes `{ ok: true, value }`, a failure `{ ok: false, error }`, and the
   * other items go on. @defaultValue false
   */
  settle?: boolean;
  /**
   * Called after every start, success and failure. What it throws becomes the stream's error.
   * @defaultValue undefined
   */
  onProgress?: (progress: ConcurrencyProgress) => void;
  /**
   * Aborting it ends the stream at once with a `RequestAbortedError` and unsubscribes every item in
   * flight (one `abort` listener per subscription). @defaultValue undefined
   */
  signal?: AbortSignal;
}

/** Defaults of {@link mapConcurrent}. */
export const MAP_CONCURRENT_DEFAULTS = {
  concurrency: 20,
  ordered: false,
  settle: false,
} as const satisfies MapConcurrentConfig;

type Event<R> = { i: number; kind: 'value'; value: R } | { i: number; kind: 'end' };

export function mapConcurrent<T, R>(
  project: (item: T, index: number) => ObservableInput<R>,
  config?: number | (MapConcurrentConfig & { settle?: false }),
): OperatorFunction<T, R>;
export function mapConcurrent<T, R>(
  project: (item: T, index: number) => ObservableInput<R>,
  config: MapConcurrentConfig & { settle: true },
): OperatorFunction<T, Settled<T, R>>;
/**
 * `mergeMap` with a concurrency cap, built to replace hand-written semaphores: at most
 * `concurrency` inner observables are subscribed; a slot is released when an item completes,
 * fails **or** is unsubscribed (rxjs frees it in every case, so a failing item can never leak a
 * permit and deadlock the rest). Optionally keeps input order, settles failures into values and
 * reports progress. A `project` that throws synchronously fails its item like an inner error (with
 * `settle`, a `{ ok: false }` result for that item while the others go on).
 *
 * ```
 * mapConcurrent(x => call(x), { concurrency: 2, ordered: true })
 * source:  (abc|)
 * a:       ----A|
 * b:       --B|
 * c:          ----C|       (starts when b frees its slot)
 * result:  ----AB-C|       (B waits until a ends: input order)
 *
 * mapConcurrent(x => call(x), { concurrency: 2, settle: true })
 * source:  (abc|)
 * a:       ---A|
 * b:       -#
 * c:        -C|            (b's failure is its result; the others go on)
 * result:  -xCA|           (x = { ok: false, index: 1, item: 'b', error })
 * ```
 *
 * (Each diagram is run as a marble test: test/operators/docMarbles.spec.ts; values in the settle
 * diagram stand for `{ ok: true, value }` results.)
 *
 * `number` shorthand: `mapConcurrent(fn, 5)` = `mapConcurrent(fn, { concurrency: 5 })`.
 *
 * @example
 * import { from } from 'rxjs';
 * import { complete, type ChatRequest } from 'rxllm';
 * import { mapConcurrent, retryBackoff } from 'rxllm/operators';
 * const tickets = ['I was charged twice', 'The app crashes on start'];
 * const classify = (ticket: string): ChatRequest => ({
 *   model: 'openai/gpt-4o-mini',
 *   messages: [{ role: 'user', content: `Classify: ${ticket}` }],
 * });
 * from(tickets).pipe(
 *   mapConcurrent((t) => complete(classify(t)).pipe(retryBackoff(3)), { concurrency: 20, settle: true }),
 * ).subscribe((r) => (r.ok ? console.log(r.value.choices[0]?.message.content) : console.error(r.error)));
 */
export function mapConcurrent<T, R>(
  project: (item: T, index: number) => ObservableInput<R>,
  config: number | MapConcurrentConfig = {},
): OperatorFunction<T, R | Settled<T, R>> {
  if (typeof project !== 'function') throw new TypeError('mapConcurrent: project must be a function.');
  const cfg = typeof config === 'number' ? { concurrency: config } : config;
  if (cfg === null || typeof cfg !== 'object')
    throw new TypeError('mapConcurrent: config must be a number or an object.');
  const {
    concurrency = MAP_CONCURRENT_DEFAULTS.concurrency,
    ordered = MAP_CONCURRENT_DEFAULTS.ordered,
    settle = MAP_CONCURRENT_DEFAULTS.settle,
    onProgress,
  } = cfg;
  const signal = checkSignal('mapConcurrent', cfg.signal);
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError('mapConcurrent: onProgress must be a function.');
  }
  if (!(Number.isInteger(concurrency) && concurrency >= 1) && concurrency !== Infinity) {
    throw new TypeError(`mapConcurrent: concurrency must be an integer >= 1, got ${String(concurrency)}.`);
  }

  return operate<T, R | Settled<T, R>>((source, subscriber) => {
    const progress: ConcurrencyProgress = { done: 0, failed: 0, inFlight: 0, received: 0 };
    const report = () => onProgress?.({ ...progress });
    // Ordered mode: values of items after `next` wait here until their turn. An entry exists only
    // while its item is ahead of `next`, so memory is bounded by the items in flight and waiting.
    const pending = new Map<number, { values: (R | Settled<T, R>)[]; ended: boolean }>();
    let next = 0;

    const emit = (i: number, value: R | Settled<T, R>) => {
      if (!ordered || i === next) return subscriber.next(value);
      const slot = pending.get(i) ?? { values: [], ended: false };
      slot.values.push(value);
      pending.set(i, slot);
    };
    const end = (i: number) => {
      if (!ordered) return;
      if (i !== next) {
        const slot = pending.get(i) ?? { values: [], ended: false };
        slot.ended = true;
        pending.set(i, slot);
        return;
      }
      // The item whose turn it is ended: it may have had a slot while it was ahead of `next`.
      pending.delete(next);
      next++;
      for (let slot = pending.get(next); slot; slot = pending.get(next)) {
        const values = slot.values;
        slot.values = [];
        for (const v of values) subscriber.next(v);
        if (!slot.ended) break;
        pending.delete(next);
        next++;
      }
    };

    const inner = (item: T, i: number): Observable<Event<R | Settled<T, R>>> =>
      defer(() => {
        progress.inFlight++;
        report();
        let finished = false;
        // `defer`: a project that throws synchronously (or returns no ObservableInput) fails this
        // item only, like an inner observable that errors.
        const run = defer(() => from(project(item, i))).pipe(
          map((value): Event<R | Settled<T, R>> => ({
            i,
            kind: 'value',
            value: settle ? { ok: true, index: i, item, value } : value,
          })),
        );
        const settled = run.pipe(
          catchError((error: unknown) => {
            finished = true;
            progress.inFlight--;
            progress.failed++;
            report();
            // Fail fast: the error ends everything. Settle: it becomes this item's result.
            if (!settle) throw error;
            return of<Event<Settled<T, R>>>({
              i,
              kind: 'value',
              value: { ok: false, index: i, item, error },
            });
          }),
        );
        const onEnd = defer(() => {
          if (!finished) {
            finished = true;
            progress.inFlight--;
            progress.done++;
            report();
          }
          return of<Event<R>>({ i, kind: 'end' });
        });
        return new Observable<Event<R | Settled<T, R>>>((s) => {
          s.add(() => {
            // Unsubscribed before it finished (fail-fast or the consumer left): not in flight any more.
            if (!finished) {
              finished = true;
              progress.inFlight--;
            }
          });
          concat(settled, onEnd).subscribe(linkedSubscriber(s));
        });
      });

    source
      .pipe(
        tap(() => progress.received++),
        mergeMap(inner, concurrency),
        failWith(signal && abortError(signal)),
      )
      .subscribe(
        linkedSubscriber<Event<R | Settled<T, R>>>(subscriber, {
          next: (e) => (e.kind === 'value' ? emit(e.i, e.value) : end(e.i)),
        }),
      );
  });
}
