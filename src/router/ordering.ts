/**
 * The order in which one call tries a group's deployments: those cooling down are left out, the
 * rest go in the group's strategy order, a stale latency sample first (`'lowest-latency'`), and
 * deployments whose rate limit would make the call wait last.
 */
import type { SchedulerLike } from 'rxjs';
import { estimateRequestTokens } from '../rateLimit/estimate';
import type { MaybePromise } from '../rateLimit/store';
import type { ChatRequest } from '../request';
import type { Logger } from '../logger';
import type { CooldownPolicy, CooldownStore } from './cooldown';
import type { Deployment, Group } from './deployment';
import { staleFirst } from './latency';
import { orderDeployments } from './strategies';

/** `value.then(fn)` for a promise, `fn(value)` at once otherwise: memory stores keep routing synchronous. */
export function then<A, B>(value: MaybePromise<A>, fn: (a: A) => MaybePromise<B>): MaybePromise<B> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/** What ordering needs of the router (defaults applied). */
export interface OrderingSettings {
  policy: CooldownPolicy | undefined;
  cooldownStore: CooldownStore;
  scheduler: SchedulerLike;
  random: () => number;
  logger: Logger;
  latencyTtlMs: number;
  /** Runs a callback of the user's (logger, store), logging what it throws or rejects with. */
  safe: (what: string, fn: () => unknown) => void;
}

/** A group's order for one call, and when the first of its cooling deployments is back (`Infinity`: none). */
export interface GroupOrder {
  order: Deployment[];
  coolingUntil: number;
}

/** The ordering of one router: it remembers, across calls, whether the rate-limit store answers. */
export function createOrdering(
  settings: OrderingSettings,
): (group: Group, request: ChatRequest) => MaybePromise<GroupOrder> {
  const { policy, cooldownStore, scheduler, random, logger, latencyTtlMs } = settings;
  const hasPermits = createPermitCheck(settings);
  return (group, request) => {
    const ids = group.deployments.map((d) => d.id);
    let cooling: MaybePromise<Record<string, number>> = {};
    if (policy) {
      try {
        cooling = cooldownStore.coolingUntil(ids, scheduler.now());
      } catch (e) {
        logger.warn(`router: reading cooldowns failed, ignoring them: ${String(e)}`);
      }
      if (cooling instanceof Promise)
        cooling = cooling.catch((e: unknown) => {
          logger.warn(`router: reading cooldowns failed, ignoring them: ${String(e)}`);
          return {};
        });
    }
    return then(cooling, (until) => {
      let coolingUntil = Infinity;
      const open = group.deployments.filter((d) => {
        const end = until[d.id];
        if (end === undefined) return true;
        coolingUntil = Math.min(coolingUntil, end);
        return false;
      });
      let ordered = orderDeployments(group.strategy, open, random);
      if (group.strategy === 'lowest-latency') ordered = staleFirst(ordered, scheduler.now(), latencyTtlMs);
      // Deployments that cannot take this request now (no rpm permit, or fewer tpm tokens left
      // than its estimate) go last: they make the call wait, so they are used only when no other
      // deployment can take it now (LiteLLM skips them the same way).
      const limited = ordered.filter((d) => d.limiter);
      if (limited.length === 0) return { order: ordered, coolingUntil };
      return then(hasPermits(limited, request), (free) => {
        const busy = new Set(limited.filter((_, i) => !free[i]));
        const order = [...ordered.filter((d) => !busy.has(d)), ...ordered.filter((d) => busy.has(d))];
        return { order, coolingUntil };
      });
    });
  };
}

/**
 * Whether each limiter can take this request now: a request permit and the request's estimated
 * tokens (capped at the deployment's `tpm`, as the limiter charges them) left, no pause.
 *
 * A state the store cannot give counts as yes: the deployment keeps its strategy's place, and its
 * permit, which fails closed, decides (a `StoreError`, then the next deployment, no cooldown). A
 * guess of "busy" would move calls off rate-limited deployments on a store's hiccup. After a read
 * failed, calls do not wait for the store: they order with what it answers at once (a memory store)
 * and one read at a time, in the background, finds out whether it is back.
 */
function createPermitCheck({
  scheduler,
  logger,
  safe,
}: OrderingSettings): (list: Deployment[], request: ChatRequest) => MaybePromise<boolean[]> {
  // The rate-limit store's last ordering read failed (Redis down or stalled), and whether a read to
  // check it is back is in flight. The order only prefers deployments that would not make the call
  // wait; it is not worth a store time limit per call (the permit itself still fails closed).
  let storeDown = false;
  let probing = false;
  return (list, request) => {
    if (storeDown && probing) return list.map(() => true);
    const need = list.map((d) => Math.min(estimateRequestTokens({ ...request, model: d.model }), d.tpm));
    const free = (s: { requests: number; tokens: number; pausedUntil: number }, i: number) =>
      s.requests >= 1 && s.tokens >= need[i] && s.tokens > 0 && s.pausedUntil <= scheduler.now();
    let failure: unknown;
    const sync: (boolean | undefined)[] = [];
    // Memory stores answer synchronously: read them without a promise so routing stays synchronous.
    const reads = list.map(
      (d, i) =>
        new Promise<boolean>((resolve) => {
          d.limiter!.state().subscribe({
            next: (s) => resolve((sync[i] = free(s, i))),
            error: (e: unknown) => {
              failure ??= e;
              resolve((sync[i] = true));
            },
          });
        }),
    );
    const settle = () => {
      const first = failure !== undefined && !storeDown;
      storeDown = failure !== undefined;
      // A logger that throws must not leave a background read's promise rejected (unhandled).
      if (first)
        safe('logging', () =>
          logger.warn(
            `router: reading rate-limit state failed; ordering deployments without it until the store answers: ${String(failure)}`,
          ),
        );
    };
    if (sync.length === list.length && !sync.includes(undefined)) {
      settle();
      return sync as boolean[];
    }
    const all = Promise.all(reads).then((free) => {
      settle();
      return free;
    });
    if (!storeDown) return all;
    probing = true;
    void all.finally(() => (probing = false));
    return list.map((_, i) => sync[i] ?? true);
  };
}
