/**
 * When a failed attempt cools its deployment down: only for the deployment's own failures, a 429's
 * `Retry-After` at once, other failures counted against the policy (see `CooldownPolicy`).
 */
import type { SchedulerLike } from 'rxjs';
import { RateLimitError, StoreError } from '../errors';
import type { FailureKind } from './classify';
import type { CooldownPolicy, CooldownStore } from './cooldown';
import type { Deployment } from './deployment';

/** What cooling needs of the router (defaults applied). */
export interface CoolingSettings {
  policy: CooldownPolicy | undefined;
  cooldownStore: CooldownStore;
  scheduler: SchedulerLike;
  maxRetryAfterMs: number;
  /** Runs a store call, logging what it throws or rejects with. */
  safe: (what: string, fn: () => unknown) => void;
}

/**
 * Records a failure of `d` in the cooldown store if it counts against the deployment.
 * `callerLimit`: the error is a time limit the caller set for this call.
 */
export function coolAfterFailure(
  { policy, cooldownStore, scheduler, maxRetryAfterMs, safe }: CoolingSettings,
  d: Pick<Deployment, 'id' | 'solo'>,
  error: unknown,
  failure: FailureKind,
  callerLimit: boolean,
): void {
  if (!policy || failure === 'fatal' || failure === 'contextWindow' || failure === 'contentPolicy') return;
  // Not the deployment's failures: the caller's own time limit (LiteLLM does not cool on a
  // per-call timeout either), and a shared store that could not be reached (a Redis outage
  // would otherwise cool every healthy deployment, and keep them cooled after it is over).
  if (callerLimit || error instanceof StoreError) return;
  const now = scheduler.now();
  const wait = (error as RateLimitError).retryAfterMs;
  if (error instanceof RateLimitError && typeof wait === 'number' && wait > 0) {
    safe('cooldown', () => cooldownStore.coolUntil(d.id, now + Math.min(wait, maxRetryAfterMs)));
  } else if (!d.solo) {
    // A group's only deployment is not cooled on its failures (LiteLLM's
    // `_should_cooldown_deployment`, litellm/router_utils/cooldown_handlers.py: "avoid cooldowns
    // on single deployment model groups"): nothing else could take the calls, so a cooldown
    // would only refuse them, for cooldownMs after it recovered. With `fallbacks` it still
    // cools: its calls then go straight to the fallback groups.
    safe('cooldown', () => cooldownStore.recordFailure(d.id, now, policy));
  }
}
