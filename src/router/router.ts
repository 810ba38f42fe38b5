/**
 * `createRouter`: model groups of deployments behind one client, with fallbacks that know whether a
 * stream has started, cooldowns, and per-deployment rate limits (LiteLLM's Router, for streams).
 * This file checks the config and runs the fail-over of one call; the rest sits beside it: groups
 * and deployments (deployment.ts), their order (ordering.ts, latency.ts), the next one after a
 * failure (failover.ts), cooldowns (cooling.ts) and one attempt (attempt.ts).
 */
import { asyncScheduler, Observable, Subscription } from 'rxjs';
import { ChunkAccumulator, withPartial } from '../../operators/accumulateChunks';
import { timeouts } from '../../operators/timeouts';
import type { ChatCompletion, Chunk } from '../chunk';
import { createClient } from '../client';
import { tellUnsubscribedBilled } from '../cost/unsubscribedBilled';
import { LlmError, NoDeploymentAvailableError } from '../errors';
import { consoleLogger } from '../logger';
import type { CallOptions } from '../options';
import type { MaybePromise } from '../rateLimit/store';
import type { ChatRequest } from '../request';
import { runAttempt, type AttemptSettings, type FailedAttempt } from './attempt';
import type { FailureKind } from './classify';
import { ROUTER_DEFAULTS, type AfterFirstChunk, type RouterConfig } from './config';
import { coolAfterFailure, type CoolingSettings } from './cooling';
import { createMemoryCooldownStore, type CooldownPolicy } from './cooldown';
import { createGroups, STRATEGIES, type Deployment } from './deployment';
import { createFailover } from './failover';
import { createOrdering } from './ordering';
import type { BilledAttempt, RoutedChunk, RoutedCompletion, RouteInfo } from './route';

/** The error with `billed` set (attempts billed that the caller was never told of), wrapped if it cannot hold it. */
function withBilled(error: unknown, billed: BilledAttempt[]): unknown {
  if (billed.length === 0) return error;
  if (error !== null && typeof error === 'object') {
    try {
      (error as { billed?: readonly BilledAttempt[] }).billed = billed;
      return error;
    } catch {
      // A frozen error object (strict mode throws on the write): wrapped below, as `withPartial` does.
    }
  }
  const wrapped = new LlmError(`The call failed: ${String(error)}`, { cause: error });
  wrapped.billed = billed;
  return wrapped;
}

/** What a deployment looks like from outside: for dashboards and tests. */
export interface DeploymentStatus {
  id: string;
  group: string;
  model: string;
  inFlight: number;
  latencyMs: number | undefined;
}

/** A client (`stream`, `complete`) that routes `model: '<group>'` to the group's deployments. */
export interface Router {
  stream(
    request: ChatRequest | (Omit<ChatRequest, 'model'> & { model: string }),
    options?: CallOptions,
  ): Observable<RoutedChunk>;
  complete(
    request: ChatRequest | (Omit<ChatRequest, 'model'> & { model: string }),
    options?: CallOptions,
  ): Observable<RoutedCompletion>;
  /** Every deployment with its calls in flight and measured latency. */
  deployments(): DeploymentStatus[];
}

const MODES: readonly AfterFirstChunk[] = ['error', 'restart', 'continue'];

/**
 * Creates a router: a client whose `stream` and `complete` take a group name as `model` and send
 * the call to one of the group's deployments, ordered by the group's strategy (default
 * `'shuffle'`), skipping deployments that are cooling down.
 *
 * - Before the first chunk a failed deployment is replaced by the next one (the rest of the group,
 *   then the fallback groups of the error's kind) and the subscriber sees nothing of it.
 * - After the first chunk, `afterFirstChunk` decides: `'error'` (default; `error.partial`),
 *   `'restart'` (a reset chunk, then the next deployment from scratch) or `'continue'` (the text so
 *   far is sent as an assistant prefix with the deployment's `continuation` flag; only the rest is
 *   streamed; refused with a `ConfigurationError` for a deployment that cannot continue). Text is
 *   never duplicated.
 * - A refusal inside a 200 answer (`finish_reason: 'content_filter'`) goes to the group's
 *   `contentPolicyFallbacks` when it has one left, like a refusal sent as an error.
 * - Cooldowns count only the deployment's own failures: not the caller's own `timeouts`, not a
 *   `StoreError`; a group's only deployment (no `fallbacks`) is cooled only by a 429's `Retry-After`.
 * - Every chunk and result carries `route` (group, deployment, model, attempt); `onAttempt` reports
 *   each attempt. When every deployment is cooling the call fails with `NoDeploymentAvailableError`
 *   (retryable, `retryAfterMs` = when the first is back).
 * - A `model` that is not a group but a `provider/model` is sent as is (still with `route`).
 *
 * @example
 * import { createRouter } from 'rxllm';
 * const router = createRouter({
 *   groups: {
 *     fast: [{ model: 'mock/primary', weight: 3 }, { model: 'mock/secondary' }],
 *     strong: [{ model: 'mock/strong' }],
 *   },
 *   fallbacks: { fast: ['strong'] },
 *   afterFirstChunk: 'restart',
 *   onAttempt: (a) => console.log(a.deployment, a.outcome, a.errorClass ?? ''),
 * });
 * router.stream({ model: 'fast', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((chunk) => console.log(chunk.route.deployment, chunk.choices[0]?.delta.content ?? ''));
 */
export function createRouter(config: RouterConfig): Router {
  if (config === null || typeof config !== 'object' || !config.groups || typeof config.groups !== 'object') {
    throw new TypeError('createRouter: config.groups must map group names to deployments.');
  }
  const {
    strategy: defaultStrategy = ROUTER_DEFAULTS.strategy,
    afterFirstChunk = ROUTER_DEFAULTS.afterFirstChunk,
    cooldown = ROUTER_DEFAULTS.cooldown,
    cooldownStore = createMemoryCooldownStore(),
    maxRetryAfterMs = ROUTER_DEFAULTS.maxRetryAfterMs,
    latencyAlpha = ROUTER_DEFAULTS.latencyAlpha,
    latencyTtlMs = ROUTER_DEFAULTS.latencyTtlMs,
    random = Math.random,
    logger = consoleLogger,
    scheduler = asyncScheduler,
    attemptTimeouts = false,
    onAttempt,
    rateLimitStore,
  } = config;
  if (!STRATEGIES.includes(defaultStrategy))
    throw new TypeError(
      `createRouter: strategy must be one of ${STRATEGIES.join(', ')}, got ${String(defaultStrategy)}.`,
    );
  if (!MODES.includes(afterFirstChunk))
    throw new TypeError(
      `createRouter: afterFirstChunk must be one of ${MODES.join(', ')}, got ${String(afterFirstChunk)}.`,
    );
  if (!(latencyAlpha > 0 && latencyAlpha <= 1))
    throw new TypeError('createRouter: latencyAlpha must be in (0, 1].');
  if (!(latencyTtlMs > 0)) throw new TypeError('createRouter: latencyTtlMs must be a number > 0.');
  if (!(maxRetryAfterMs >= 0)) throw new TypeError('createRouter: maxRetryAfterMs must be a number >= 0.');
  const policy: CooldownPolicy | undefined =
    cooldown === false ? undefined : { ...ROUTER_DEFAULTS.cooldown, ...cooldown };
  if (policy) {
    for (const [k, v] of Object.entries(policy))
      if (typeof v !== 'number' || !(v >= 0))
        throw new TypeError(`createRouter: cooldown.${k} must be a number >= 0.`);
    if (policy.allowedFails < 1) throw new TypeError('createRouter: cooldown.allowedFails must be >= 1.');
  }
  if (attemptTimeouts !== false) timeouts(attemptTimeouts); // validates now (TypeError at creation)

  const { groups, groupOf, all } = createGroups(config, {
    defaultStrategy,
    afterFirstChunk,
    rateLimitStore,
    scheduler,
  });
  const safe = (what: string, fn: () => unknown): void => {
    try {
      const out = fn();
      if (out instanceof Promise)
        out.catch((e: unknown) => logger.warn(`router: ${what} failed: ${String(e)}`));
    } catch (e) {
      logger.warn(`router: ${what} failed: ${String(e)}`);
    }
  };
  const orderGroup = createOrdering({ policy, cooldownStore, scheduler, random, logger, latencyTtlMs, safe });
  const cooling: CoolingSettings = { policy, cooldownStore, scheduler, maxRetryAfterMs, safe };
  const attempts: AttemptSettings = {
    client: createClient(config.options ?? {}),
    attemptTimeouts,
    scheduler,
    onAttempt,
    safe,
    latencyAlpha,
    latencyTtlMs,
  };

  function route<T extends Chunk | ChatCompletion>(
    kind: 'stream' | 'complete',
    request: ChatRequest,
    callOptions: CallOptions = {},
  ): Observable<T & { route: RouteInfo }> {
    return new Observable<T & { route: RouteInfo }>((subscriber) => {
      const origin = groupOf(String(request?.model));
      const failover = createFailover(origin, config, groups, (group) => orderGroup(group, request));
      let attempt = 0;
      let lastError: unknown;
      let prefix: string | undefined;
      const delivered = new ChunkAccumulator();
      const billed: BilledAttempt[] = [];
      const running = new Subscription();
      subscriber.add(running);
      // Unsubscribed with billed attempts not yet told (the next value or the final error would have
      // carried them; the attempt running was just told in its finalizer): the counting operators
      // unsubscribing now count them. After an error or completion, nothing is left here.
      subscriber.add(() => {
        if (billed.length > 0) tellUnsubscribedBilled(billed.splice(0));
      });

      const fail = (error: unknown): void => {
        subscriber.error(withBilled(withPartial(error, delivered), billed.splice(0)));
      };
      const giveUp = (): void => {
        const coolingMin = failover.coolingMin();
        if (attempt === 0 && coolingMin !== Infinity) {
          fail(new NoDeploymentAvailableError(origin.name, coolingMin, scheduler.now()));
        } else fail(lastError);
      };

      const choose = (kind: FailureKind | 'start'): void => {
        let picked: MaybePromise<Deployment | undefined>;
        try {
          picked = failover.pick(kind);
        } catch (e) {
          return fail(e);
        }
        const go = (d: Deployment | undefined) => {
          if (subscriber.closed) return;
          if (d) start(d);
          else giveUp();
        };
        if (picked instanceof Promise) picked.then(go, fail);
        else go(picked);
      };

      const onFailure = ({ deployment, error, failure, callerLimit, chunks, route: info }: FailedAttempt) => {
        lastError = error;
        coolAfterFailure(cooling, deployment, error, failure, callerLimit);
        if (failure === 'fatal') return fail(error);
        if (chunks > 0 && kind === 'stream') {
          if (afterFirstChunk === 'error') return fail(error);
          if (afterFirstChunk === 'restart') {
            const reason = error instanceof Error ? error.message : String(error);
            const last = delivered.snapshot();
            const reset: Chunk = {
              id: last.id,
              object: 'chat.completion.chunk',
              created: last.created,
              model: last.model,
              choices: [],
              reset: { attempt, reason },
            };
            delivered.push(reset);
            prefix = undefined;
            subscriber.next({ ...(reset as T), route: info });
          } else {
            const sofar = delivered.snapshot();
            const only = sofar.choices.length === 1 ? sofar.choices[0] : undefined;
            if (!only || only.message.tool_calls?.length) return fail(error);
            prefix = only.message.content ?? '';
          }
        }
        choose(failure);
      };

      const context = {
        kind,
        request,
        callOptions,
        subscriber,
        delivered,
        billed,
        requested: origin.name,
        refusalFails: failover.contentPolicyLeft,
        onFailure,
      };
      const start = (d: Deployment): void => {
        attempt++;
        running.add(runAttempt(attempts, context, d, attempt, prefix));
      };

      choose('start');
    });
  }

  return {
    stream: (request, options) => route<Chunk>('stream', request as ChatRequest, options),
    complete: (request, options) => route<ChatCompletion>('complete', request as ChatRequest, options),
    deployments: () =>
      all().flatMap((g) =>
        g.deployments.map((d) => ({
          id: d.id,
          group: d.group,
          model: d.model,
          inFlight: d.inFlight,
          latencyMs: d.latencyMs,
        })),
      ),
  };
}
