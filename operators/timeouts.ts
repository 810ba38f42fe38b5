import {
  asyncScheduler,
  Observable,
  Subscriber,
  type MonoTypeOperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { TimeoutError } from '../src/errors';
import { LinkedSubscriberBase } from './internal/operate';

export interface TimeoutsConfig {
  /**
   * From subscribe to the first value, in ms. Reasoning models (o1/o3, DeepSeek R1 through some
   * hosts, Gemini thinking) may think for minutes before their first token. @defaultValue 600_000
   */
  firstChunk?: number;
  /**
   * Longest silence between two values after the first, in ms. Once a model streams, it streams
   * steadily (visible thinking arrives as `reasoning` chunks), so minutes of silence mean a stalled
   * connection. @defaultValue 120_000
   */
  idle?: number;
  /**
   * From subscribe to completion, in ms. Off by default: a 30k-token answer at 30 tokens/s
   * legitimately takes over 15 minutes; set it per use case. @defaultValue Infinity (off)
   */
  total?: number;
  /** Scheduler of the timers. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/**
 * Defaults of {@link timeouts}, chosen for reasoning models: a long wait for the first chunk, a
 * shorter one between chunks, no total limit. They are below the transport's own limits
 * (`TRANSPORT_TIMEOUT_DEFAULTS`: headers 600 s, body 300 s), so this operator's typed
 * `TimeoutError` fires first for streams. `0` or `Infinity` turns a limit off.
 */
export const TIMEOUTS_DEFAULTS = {
  firstChunk: 600_000,
  idle: 120_000,
  total: Infinity,
} as const satisfies TimeoutsConfig;

function check(name: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(
      `timeouts: ${name} must be a number >= 0 (0 or Infinity = off), got ${String(value)}.`,
    );
  }
}

const on = (ms: number): boolean => ms > 0 && ms !== Infinity;

/**
 * Fails with a `TimeoutError` (its `timeout` says which limit fired: `'firstChunk'`, `'idle'` or
 * `'total'`) when the source is too slow, and unsubscribes from it, which aborts the request.
 * Timers are per subscription, so put it before `retryBackoff` to time each attempt.
 *
 * ```
 * timeouts({ firstChunk: 5, idle: 3 })
 * source:  ---a-b----c|
 * result:  ---a-b--#       (TimeoutError 'idle': nothing for 3 ms after b)
 *
 * source:  ------a|
 * result:  -----#          (TimeoutError 'firstChunk': nothing for 5 ms)
 * ```
 *
 * (Each diagram is run as a marble test: test/operators/docMarbles.spec.ts.)
 *
 * `number` shorthand: `timeouts(15_000)` = `timeouts({ total: 15_000 })` (firstChunk and idle keep
 * their defaults).
 *
 * @example
 * import { stream } from 'rxllm';
 * import { retryBackoff, timeouts } from 'rxllm/operators';
 * stream({ model: 'openai/o4-mini', messages: [{ role: 'user', content: 'Prove it.' }] })
 *   .pipe(timeouts({ firstChunk: 300_000, idle: 60_000, total: 900_000 }), retryBackoff())
 *   .subscribe((chunk) => console.log(chunk.choices[0]?.delta.content ?? ''));
 */
export function timeouts<T>(config: number | TimeoutsConfig = {}): MonoTypeOperatorFunction<T> {
  const cfg = typeof config === 'number' ? { total: config } : config;
  if (cfg === null || typeof cfg !== 'object')
    throw new TypeError('timeouts: config must be a number or an object.');
  const {
    firstChunk = TIMEOUTS_DEFAULTS.firstChunk,
    idle = TIMEOUTS_DEFAULTS.idle,
    total = TIMEOUTS_DEFAULTS.total,
    scheduler = asyncScheduler,
  } = cfg;
  check('firstChunk', firstChunk);
  check('idle', idle);
  check('total', total);

  const limits: Limits = { firstChunk, idle, total, scheduler };
  return (source) =>
    new Observable<T>((subscriber) => {
      const timed = new TimedSubscriber<T>(subscriber, limits);
      // Linked before the source is subscribed: a synchronous source sees downstream close at once.
      subscriber.add(timed);
      timed.start();
      if (!timed.closed) source.subscribe(timed);
    });
}

/** The config with its defaults applied. */
type Limits = Required<TimeoutsConfig>;

type Kind = 'firstChunk' | 'idle' | 'total';

/** The timer work: one function for every timer, its state the subscriber and the limit that fired. */
function fire(this: SchedulerAction<TimerState>, state?: TimerState): void {
  state!.timed.fired(state!.kind);
}

interface TimerState {
  timed: TimedSubscriber<unknown>;
  kind: Kind;
}

/**
 * One subscription's timers and the source's subscriber, in one object (not a dozen closures: a
 * gateway holds one per open stream). Unsubscribing it (downstream closed, or it failed the stream)
 * cancels its timers and unsubscribes the source, which aborts the request.
 */
class TimedSubscriber<T> extends LinkedSubscriberBase<T> {
  private gap: Subscription | undefined;
  private started = false;
  private lastAt = 0;

  constructor(
    downstream: Subscriber<T>,
    private readonly limits: Limits,
  ) {
    super(downstream);
    this.add(() => this.gap?.unsubscribe());
  }

  start(): void {
    const { total, firstChunk, scheduler } = this.limits;
    if (on(total)) this.add(scheduler.schedule(fire, total, { timed: this, kind: 'total' }));
    if (on(firstChunk)) this.gap = scheduler.schedule(fire, firstChunk, { timed: this, kind: 'firstChunk' });
  }

  /**
   * A timer fired. The idle timer is not re-armed per chunk (a clear + set of a timer on the hot
   * path): each chunk only notes its time, and the timer, when it fires, waits again for what is left.
   */
  fired(kind: Kind): void {
    const { idle, scheduler } = this.limits;
    if (kind === 'idle') {
      const left = this.lastAt + idle - scheduler.now();
      if (left > 0) {
        this.gap = scheduler.schedule(fire, left, { timed: this, kind });
        return;
      }
    }
    const ms = this.limits[kind];
    this.unsubscribe();
    // Erroring downstream after unsubscribing the source, which aborts the request.
    this.downstream.error(new TimeoutError(kind, ms));
  }

  protected override onNext(value: T): void {
    const { idle, scheduler } = this.limits;
    this.lastAt = scheduler.now();
    if (!this.started) {
      this.started = true;
      this.gap?.unsubscribe();
      this.gap = on(idle) ? scheduler.schedule(fire, idle, { timed: this, kind: 'idle' }) : undefined;
    }
    this.downstream.next(value);
  }
}
