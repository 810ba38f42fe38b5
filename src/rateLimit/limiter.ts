/**
 * A shared rate limiter: two token buckets (requests/min, tokens/min) and a pause, behind a
 * {@link RateLimitStore}. Many streams and batches acquire from the same limiter; it learns from
 * `x-ratelimit-*` headers and pauses everyone when one request gets a 429.
 */
import {
  asyncScheduler,
  defer,
  from,
  mergeMap,
  Observable,
  of,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { ApiError, parseRetryAfter } from '../errors';
import type { ResponseMeta } from '../options';
import {
  createMemoryRateLimitStore,
  type MaybePromise,
  type RateLimitState,
  type RateLimitStore,
} from './store';

export interface RateLimiterConfig {
  /** Request budget per minute. @defaultValue Infinity (only the server's headers and 429s limit) */
  requestsPerMinute?: number;
  /** Token budget per minute (prompt + completion). @defaultValue Infinity */
  tokensPerMinute?: number;
  /** Where the state lives. @defaultValue a new in-memory store */
  store?: RateLimitStore;
  /** Key of this limiter's state in the store (one per provider account/model). @defaultValue 'default' */
  key?: string;
  /** A 429 without a server-given wait pauses the limiter this long, in ms. @defaultValue 1000 */
  pauseOn429Ms?: number;
  /** Longest pause it accepts from a server (Retry-After, reset headers), in ms. @defaultValue 60_000 */
  maxPauseMs?: number;
  /** Clock and timers. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Defaults of {@link createRateLimiter}. */
export const RATE_LIMITER_DEFAULTS = {
  requestsPerMinute: Infinity,
  tokensPerMinute: Infinity,
  key: 'default',
  pauseOn429Ms: 1000,
  maxPauseMs: 60_000,
} as const satisfies RateLimiterConfig;

export interface RateLimiter {
  /**
   * Cold: on subscribe, joins the limiter's one FIFO queue and waits until one request and `tokens`
   * tokens are available, takes them, emits the tokens it charged (`tokens`, capped at
   * `tokensPerMinute`: a request larger than the whole budget waits for a full bucket) and completes.
   * Waiters are served first come, first served: a later, smaller request never overtakes an
   * earlier one. Unsubscribing while waiting gives nothing up (nothing was taken).
   */
  acquire(tokens?: number): Observable<number>;
  /** Charges `tokens` more (negative: refunds), e.g. the difference between charged and actual usage. */
  adjust(tokens: number): void;
  /** Grants nothing for `ms` (capped at `maxPauseMs`). */
  pause(ms: number): void;
  /**
   * Learns from a response, whatever its status (the transport calls `CallOptions.onResponse` for
   * every response, 429s included): never trusts more than `x-ratelimit-remaining-*` says, pauses
   * until `x-ratelimit-reset-*` when a budget is at 0, and pauses for `Retry-After` (else
   * `pauseOn429Ms`) on a 429. Pass it as `CallOptions.onResponse` (it is bound).
   */
  readonly onResponse: (meta: ResponseMeta) => void;
  /** Pauses on a 429 for the server's wait (`retryAfterMs`, else `pauseOn429Ms`); ignores other errors. */
  readonly onError: (error: unknown) => void;
  /** The current state, refilled to now. */
  state(): Observable<RateLimitState>;
}

function lift<T>(value: MaybePromise<T>): Observable<T> {
  return value instanceof Promise ? from(value) : of(value);
}

function checkRate(name: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(
      `createRateLimiter: ${name} must be a number > 0 (Infinity = no limit), got ${String(value)}.`,
    );
  }
}

/** Most waiters one {@link RateLimitStore.takeInOrder} call asks for (keeps one script call short). */
const MAX_BATCH = 256;

/** One `acquire` subscription waiting for its turn. */
interface Waiter {
  cost: number;
  grant(): void;
  fail(error: unknown): void;
}

/**
 * Creates a rate limiter. Use it with the `rateLimit` operator and wire its `onResponse` into the
 * calls so it learns from the server's headers.
 *
 * Rates may be fractional: `requestsPerMinute: 0.5` grants one request, then one every two minutes
 * (the request bucket always holds at least one permit; it refills at the given rate).
 *
 * @example
 * import { complete, createRateLimiter } from 'rxllm';
 * import { rateLimit, retryBackoff } from 'rxllm/operators';
 * const limiter = createRateLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
 * complete({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { onResponse: limiter.onResponse })
 *   .pipe(rateLimit(limiter, { estimateTokens: 800 }), retryBackoff())
 *   .subscribe((completion) => console.log(completion.choices[0]?.message.content));
 */
export function createRateLimiter(config: RateLimiterConfig = {}): RateLimiter {
  const {
    requestsPerMinute: rpm = RATE_LIMITER_DEFAULTS.requestsPerMinute,
    tokensPerMinute: tpm = RATE_LIMITER_DEFAULTS.tokensPerMinute,
    store = createMemoryRateLimitStore(),
    key = RATE_LIMITER_DEFAULTS.key,
    pauseOn429Ms = RATE_LIMITER_DEFAULTS.pauseOn429Ms,
    maxPauseMs = RATE_LIMITER_DEFAULTS.maxPauseMs,
    scheduler = asyncScheduler,
  } = config;
  checkRate('requestsPerMinute', rpm);
  checkRate('tokensPerMinute', tpm);
  if (!(pauseOn429Ms >= 0) || !(maxPauseMs >= 0)) {
    throw new TypeError('createRateLimiter: pauseOn429Ms and maxPauseMs must be numbers >= 0.');
  }
  if (!store || typeof store.get !== 'function' || typeof store.compareAndSet !== 'function') {
    throw new TypeError('createRateLimiter: store must implement get and compareAndSet.');
  }
  // A bucket that can never hold one whole permit would never grant (requestsPerMinute < 1).
  const requestCapacity = Math.max(1, rpm);
  const limits = { requestsPerMinute: rpm, tokensPerMinute: tpm, requestCapacity };

  const refill = (s: RateLimitState | undefined, now: number): RateLimitState => {
    if (!s) return { requests: requestCapacity, tokens: tpm, updatedAt: now, pausedUntil: 0 };
    // The bucket's clock never goes back. Processes sharing a store read their clocks before their
    // writes reach it, so a write can carry an earlier time than the one before it (a stalled event
    // loop, a slower round trip, clocks of two machines): moving `updatedAt` back would let the next
    // refill credit that stretch a second time, and the fleet would overspend the shared limit.
    const at = Math.max(now, s.updatedAt);
    const elapsed = at - s.updatedAt;
    // An unlimited bucket stays unlimited (Infinity * 0 would be NaN).
    const requests =
      rpm === Infinity ? Infinity : Math.min(requestCapacity, s.requests + (elapsed * rpm) / 60_000);
    const tokens = tpm === Infinity ? Infinity : Math.min(tpm, s.tokens + (elapsed * tpm) / 60_000);
    return { requests, tokens, updatedAt: at, pausedUntil: s.pausedUntil };
  };

  /** Read-modify-write with compare-and-set, retried when another user of the store wrote first. */
  const update = <R>(
    fn: (s: RateLimitState, now: number) => { next: RateLimitState; result: R },
  ): Observable<R> => {
    const tryOnce = (tries: number): Observable<R> =>
      lift(store.get(key)).pipe(
        mergeMap((stored) => {
          const now = scheduler.now();
          const { next, result } = fn(refill(stored, now), now);
          return lift(store.compareAndSet(key, stored, next)).pipe(
            mergeMap((written) => {
              if (written) return of(result);
              if (tries >= 50)
                throw new Error('createRateLimiter: the store kept rejecting writes (contention).');
              return tryOnce(tries + 1);
            }),
          );
        }),
      );
    return defer(() => tryOnce(0));
  };

  /** Takes one request and `cost` tokens if available now; else the ms to wait (pause or refill). */
  const take = (cost: number) =>
    update((s, now) => {
      let wait = 0;
      if (now < s.pausedUntil) wait = s.pausedUntil - now;
      else if (s.requests < 1 || s.tokens < cost) {
        const needRequests = s.requests < 1 ? ((1 - s.requests) * 60_000) / rpm : 0;
        const needTokens = s.tokens < cost ? ((cost - s.tokens) * 60_000) / tpm : 0;
        wait = Math.max(needRequests, needTokens);
      }
      if (wait > 0) return { next: s, result: Math.max(1, Math.ceil(wait)) };
      return { next: { ...s, requests: s.requests - 1, tokens: s.tokens - cost }, result: 0 };
    });

  // One FIFO queue of waiters and one timer for the whole limiter: only the head asks the store; the
  // others wait behind it, so nobody is overtaken (issue 10: per-waiter polling let the first wait
  // without bound).
  const queue: Waiter[] = [];
  let busy = false; // a store operation for the head is running (async stores)
  let dirty = false; // the state changed while it ran: recompute the wait afterwards
  let timer: Subscription | undefined;

  const settle = (head: Waiter, outcome: { wait: number } | { error: unknown }): void => {
    const stillWaiting = queue[0] === head;
    if ('error' in outcome) {
      if (stillWaiting) {
        queue.shift();
        head.fail(outcome.error);
      }
      return;
    }
    if (outcome.wait === 0) {
      if (stillWaiting) {
        queue.shift();
        head.grant();
      } else {
        // It left while an async store was answering: give back what was just taken.
        giveBack(head.cost);
      }
    } else if (stillWaiting) {
      timer = scheduler.schedule(() => {
        timer = undefined;
        pump();
      }, outcome.wait);
    }
  };

  /**
   * With a store that takes permits in order ({@link RateLimitStore.takeInOrder}), one store call
   * serves every waiter queued so far: permits within one process are granted together, one round
   * trip for a whole queue, instead of two round trips per permit one after the other.
   */
  const pumpInOrder = (takeInOrder: NonNullable<RateLimitStore['takeInOrder']>): void => {
    if (queue.length === 0 || busy || timer) return;
    const batch = queue.slice(0, MAX_BATCH);
    busy = true;
    const finish = (outcome: { granted: number; wait: number } | { error: unknown }) => {
      busy = false;
      if ('error' in outcome) {
        for (const w of batch) {
          const i = queue.indexOf(w);
          if (i >= 0) {
            queue.splice(i, 1);
            w.fail(outcome.error);
          }
        }
      } else {
        batch.slice(0, outcome.granted).forEach((w) => {
          const i = queue.indexOf(w);
          if (i < 0) return giveBack(w.cost); // it left while the store was answering
          queue.splice(i, 1);
          w.grant();
        });
        const next = batch[outcome.granted];
        if (outcome.wait > 0 && next && queue[0] === next && !dirty) {
          timer = scheduler.schedule(() => {
            timer = undefined;
            pump();
          }, outcome.wait);
          return;
        }
      }
      dirty = false;
      pump();
    };
    lift(
      takeInOrder(
        key,
        batch.map((w) => w.cost),
        limits,
        scheduler.now(),
      ),
    ).subscribe({
      next: (taken) => finish(taken),
      error: (error) => finish({ error }),
    });
  };

  /** Serves the queue head by head until one has to wait (then one timer) or the store is async. */
  const pump = (): void => {
    if (store.takeInOrder) return pumpInOrder(store.takeInOrder.bind(store));
    while (queue.length > 0 && !busy && !timer) {
      const head = queue[0];
      busy = true;
      let sync = true;
      let outcome: { wait: number } | { error: unknown } | undefined;
      const finish = (o: { wait: number } | { error: unknown }) => {
        if (sync) {
          outcome = o;
          return;
        }
        busy = false;
        settle(head, o);
        if (dirty) kick();
        else pump();
      };
      take(head.cost).subscribe({ next: (wait) => finish({ wait }), error: (error) => finish({ error }) });
      sync = false;
      if (!outcome) return; // an async store answers later, in `finish`
      busy = false;
      settle(head, outcome);
    }
  };

  /** The state or the queue head changed: drop the pending timer and recompute. */
  const kick = (): void => {
    if (busy) {
      dirty = true;
      return;
    }
    dirty = false;
    timer?.unsubscribe();
    timer = undefined;
    pump();
  };

  const write = (o: Observable<unknown>) => o.subscribe({ complete: kick, error: () => undefined });
  const capPause = (ms: number) => Math.min(Math.max(0, ms), maxPauseMs);

  const giveBack = (cost: number): void => {
    write(
      update((s) => ({
        next: {
          ...s,
          requests: Math.min(requestCapacity, s.requests + 1),
          tokens: Math.min(tpm, s.tokens + cost),
        },
        result: 0,
      })),
    );
  };

  const acquire = (tokens = 0): Observable<number> => {
    if (typeof tokens !== 'number' || !(tokens >= 0)) {
      throw new TypeError(`RateLimiter.acquire: tokens must be a number >= 0, got ${String(tokens)}.`);
    }
    // A request larger than the whole budget would never fit: it waits for a full bucket instead.
    const cost = Math.min(tokens, tpm);
    return new Observable<number>((subscriber) => {
      const waiter: Waiter = {
        cost,
        grant: () => {
          subscriber.next(cost);
          subscriber.complete();
        },
        fail: (error) => subscriber.error(error),
      };
      queue.push(waiter);
      if (queue.length === 1) pump();
      return () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return;
        queue.splice(i, 1);
        if (i === 0) kick();
      };
    });
  };

  const pause = (ms: number): void => {
    write(
      update((s, now) => ({
        next: { ...s, pausedUntil: Math.max(s.pausedUntil, now + capPause(ms)) },
        result: 0,
      })),
    );
  };

  const onResponse = (meta: ResponseMeta): void => {
    const rl = meta?.rateLimit ?? {};
    const retryAfter = meta?.status === 429 ? parseRetryAfter(meta.headers ?? {}) : undefined;
    write(
      update((s, now) => {
        const next = { ...s };
        // The server's count includes other clients of the same key: never trust more than it says.
        if (rl.remainingRequests !== undefined && rpm !== Infinity)
          next.requests = Math.min(next.requests, rl.remainingRequests);
        if (rl.remainingTokens !== undefined && tpm !== Infinity)
          next.tokens = Math.min(next.tokens, rl.remainingTokens);
        const until = (ms: number) => (next.pausedUntil = Math.max(next.pausedUntil, now + capPause(ms)));
        if (rl.remainingRequests === 0 && rl.resetRequestsMs !== undefined) until(rl.resetRequestsMs);
        if (rl.remainingTokens === 0 && rl.resetTokensMs !== undefined) until(rl.resetTokensMs);
        if (meta?.status === 429) until(retryAfter ?? (next.pausedUntil > now ? 0 : pauseOn429Ms));
        return { next, result: 0 };
      }),
    );
  };

  const onError = (error: unknown): void => {
    if (!(error instanceof ApiError) || error.status !== 429) return;
    const wait = error.retryAfterMs;
    pause(typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 ? wait : pauseOn429Ms);
  };

  const adjust = (tokens: number): void => {
    if (!Number.isFinite(tokens) || tokens === 0 || tpm === Infinity) return;
    write(update((s) => ({ next: { ...s, tokens: Math.min(tpm, s.tokens - tokens) }, result: 0 })));
  };

  const state = (): Observable<RateLimitState> =>
    defer(() => lift(store.get(key))).pipe(mergeMap((s) => of(refill(s, scheduler.now()))));

  return { acquire, adjust, pause, onResponse, onError, state };
}
