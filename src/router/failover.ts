/**
 * Which deployment one call tries next: the rest of its group, then the fallback groups of the
 * failure's kind (`fallbacks`, `contextWindowFallbacks`, `contentPolicyFallbacks`), each group at
 * most once per call.
 */
import type { MaybePromise } from '../rateLimit/store';
import type { FailureKind } from './classify';
import type { RouterConfig } from './config';
import type { Deployment, Group } from './deployment';
import { then, type GroupOrder } from './ordering';

/** One call's way through its deployments. */
export interface Failover {
  /** The next deployment for a failure of `kind` (or the first one), `undefined` when none is left. */
  pick(kind: FailureKind | 'start'): MaybePromise<Deployment | undefined>;
  /** Whether a content-policy fallback group is left to try. */
  contentPolicyLeft(): boolean;
  /** When the first deployment found cooling is back (`Infinity`: none was). */
  coolingMin(): number;
}

/** `orderOf` orders a group for this call (see `createOrdering`). */
export function createFailover(
  origin: Group,
  config: Pick<RouterConfig, 'fallbacks' | 'contextWindowFallbacks' | 'contentPolicyFallbacks'>,
  groups: ReadonlyMap<string, Group>,
  orderOf: (group: Group) => MaybePromise<GroupOrder>,
): Failover {
  const lists: Record<'retryable' | 'contextWindow' | 'contentPolicy', string[]> = {
    retryable: [...(config.fallbacks?.[origin.name] ?? [])],
    contextWindow: [...(config.contextWindowFallbacks?.[origin.name] ?? [])],
    contentPolicy: [...(config.contentPolicyFallbacks?.[origin.name] ?? [])],
  };
  const visited = new Set<string>();
  let order: Deployment[] = [];
  let coolingMin = Infinity;

  /** Enters a group: its deployments not cooling, in strategy order. */
  const enter = (group: Group): MaybePromise<void> => {
    visited.add(group.name);
    return then(orderOf(group), (entered) => {
      coolingMin = Math.min(coolingMin, entered.coolingUntil);
      order = entered.order;
    });
  };

  const pick = (kind: FailureKind | 'start'): MaybePromise<Deployment | undefined> => {
    if (kind === 'start') return then(enter(origin), () => pick('retryable'));
    if ((kind === 'retryable' || kind === 'rateLimit') && order.length) return order.shift();
    const list = kind === 'contextWindow' || kind === 'contentPolicy' ? lists[kind] : lists.retryable;
    let next: string | undefined;
    while ((next = list.shift()) !== undefined && visited.has(next));
    if (next === undefined) return undefined;
    // The group's first open deployment; a group that is all cooling passes to the next of the list.
    return then(enter(groups.get(next)!), () => (order.length ? order.shift() : pick(kind)));
  };

  return {
    pick,
    contentPolicyLeft: () => lists.contentPolicy.some((g) => !visited.has(g)),
    coolingMin: () => coolingMin,
  };
}
