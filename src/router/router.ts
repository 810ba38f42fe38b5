/**
 * `createRouter`: model groups of deployments behind one client, with fallbacks that know whether a
 * stream has started, cooldowns, and per-deployment rate limits (LiteLLM's Router, for streams).
 */
import { asyncScheduler, Observable, Subscription, tap, type Subscriber, type OperatorFunction } from 'rxjs';
import { linkedSubscriber } from '../../operators/internal/operate';
import { ChunkAccumulator, withPartial } from '../../operators/accumulateChunks';
import { rateLimit } from '../../operators/rateLimit';
import { timeouts } from '../../operators/timeouts';
import { estimateRequestTokens } from '../rateLimit/estimate';
import type { ChatCompletion, Chunk } from '../chunk';
import { createClient } from '../client';
import type { ModelName } from '../request';
import { errorClassName } from '../errorName';
import {
  ConfigurationError,
  FinishReasonError,
  NoDeploymentAvailableError,
  RateLimitError,
  StoreError,
  TimeoutError,
} from '../errors';
import { consoleLogger } from '../logger';
import { mergeOptions, type CallOptions, type ResponseMeta, type TransportTimeouts } from '../options';
import { createRateLimiter, type RateLimiter } from '../rateLimit/limiter';
import type { MaybePromise } from '../rateLimit/store';
import type { ChatRequest } from '../request';
import { requestSchemas } from '../requestSchema';
import { classifyFailure, type FailureKind } from './classify';
import {
  ROUTER_DEFAULTS,
  type AfterFirstChunk,
  type DeploymentConfig,
  type GroupConfig,
  type RouterAttempt,
  type RouterConfig,
  type RoutingStrategy,
} from './config';
import { continuationOf, continueRequest, dropSkipped, type ContinuationMode } from './continuation';
import { createMemoryCooldownStore, type CooldownPolicy } from './cooldown';
import { isEmptyLead, refusalOf } from './refusal';
import type { RoutedChunk, RoutedCompletion, RouteInfo } from './route';
import { orderDeployments, type DeploymentState } from './strategies';

/** A deployment as the router runs it. */
interface Deployment extends DeploymentState {
  readonly group: string;
  readonly model: ModelName;
  readonly options: CallOptions;
  readonly limiter: RateLimiter | undefined;
  /** Its `tpm` (the most one request is charged). */
  readonly tpm: number;
  /**
   * The only deployment of a group without `fallbacks`: cooled only for a 429's `Retry-After`, never
   * on its failures (a cooldown would only refuse the group's calls).
   */
  readonly solo: boolean;
  readonly continuation: ContinuationMode;
  /** Scheduler time of the last latency sample, and of the last call sent to re-measure a stale one. */
  measuredAt: number;
  probeAt: number;
}

interface Group {
  readonly name: string;
  readonly strategy: RoutingStrategy;
  readonly deployments: Deployment[];
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

const STRATEGIES: readonly RoutingStrategy[] = ['shuffle', 'least-busy', 'lowest-latency'];
const MODES: readonly AfterFirstChunk[] = ['error', 'restart', 'continue'];

function then<A, B>(value: MaybePromise<A>, fn: (a: A) => MaybePromise<B>): MaybePromise<B> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

function checkLists(name: string, lists: Record<string, string[]> | undefined, groups: Set<string>): void {
  for (const [from, to] of Object.entries(lists ?? {})) {
    if (!groups.has(from)) throw new TypeError(`createRouter: ${name} names unknown group "${from}".`);
    if (!Array.isArray(to))
      throw new TypeError(`createRouter: ${name}["${from}"] must be an array of groups.`);
    for (const g of to)
      if (!groups.has(g)) throw new TypeError(`createRouter: ${name}["${from}"] names unknown group "${g}".`);
  }
}

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

  const usedIds = new Map<string, number>();
  const uniqueId = (wanted: string): string => {
    const n = (usedIds.get(wanted) ?? 0) + 1;
    usedIds.set(wanted, n);
    return n === 1 ? wanted : `${wanted}#${n}`;
  };
  const makeDeployment = (
    group: string,
    d: DeploymentConfig,
    index: number,
    solo: boolean,
    adHoc = false,
  ): Deployment => {
    if (!d || typeof d.model !== 'string' || !requestSchemas().ModelNameSchema.safeParse(d.model).success) {
      throw new TypeError(
        `createRouter: group "${group}" deployment ${index}: model must be "provider/model".`,
      );
    }
    const weight = d.weight ?? 1;
    if (typeof weight !== 'number' || !(weight > 0))
      throw new TypeError(`createRouter: group "${group}" deployment ${index}: weight must be a number > 0.`);
    const id = d.id ?? uniqueId(d.model);
    if (d.id !== undefined) {
      if (usedIds.has(d.id)) throw new TypeError(`createRouter: deployment id "${d.id}" is used twice.`);
      usedIds.set(d.id, 1);
    }
    const limited = (d.rpm ?? Infinity) !== Infinity || (d.tpm ?? Infinity) !== Infinity;
    const limiter = limited
      ? createRateLimiter({
          requestsPerMinute: d.rpm,
          tokensPerMinute: d.tpm,
          store: rateLimitStore,
          key: `deployment:${id}`,
          scheduler,
        })
      : undefined;
    const continuation = continuationOf(d.model, d.continuation);
    // A provider/model sent as is never takes part in a continuation (no fallback list names it).
    if (afterFirstChunk === 'continue' && continuation === false && !adHoc) {
      throw new ConfigurationError(
        `createRouter: afterFirstChunk 'continue' needs deployments that continue a final assistant message, and "${id}" (${d.model}) does not: without a continuation flag the server answers anew and the text is duplicated. Set its continuation ('prefill', 'deepseek-prefix' or 'vllm') if its server supports one, or use afterFirstChunk 'restart'.`,
      );
    }
    return {
      id,
      index,
      weight,
      group,
      model: d.model,
      options: d.options ?? {},
      limiter,
      tpm: d.tpm ?? Infinity,
      solo,
      continuation,
      inFlight: 0,
      latencyMs: undefined,
      measuredAt: -Infinity,
      probeAt: -Infinity,
    };
  };

  const groups = new Map<string, Group>();
  for (const [name, value] of Object.entries(config.groups)) {
    const g: GroupConfig = Array.isArray(value) ? { deployments: value } : value;
    if (!g || !Array.isArray(g.deployments) || g.deployments.length === 0)
      throw new TypeError(`createRouter: group "${name}" needs at least one deployment.`);
    const strategy = g.strategy ?? defaultStrategy;
    if (!STRATEGIES.includes(strategy))
      throw new TypeError(`createRouter: group "${name}" has an unknown strategy ${String(strategy)}.`);
    groups.set(name, {
      name,
      strategy,
      deployments: g.deployments.map((d, i) =>
        makeDeployment(name, d, i, g.deployments.length === 1 && !config.fallbacks?.[name]?.length),
      ),
    });
  }
  const names = new Set(groups.keys());
  checkLists('fallbacks', config.fallbacks, names);
  checkLists('contextWindowFallbacks', config.contextWindowFallbacks, names);
  checkLists('contentPolicyFallbacks', config.contentPolicyFallbacks, names);
  const adHoc = new Map<string, Group>();
  const groupOf = (model: string): Group => {
    const known = groups.get(model) ?? adHoc.get(model);
    if (known) return known;
    if (!requestSchemas().ModelNameSchema.safeParse(model).success) {
      throw new ConfigurationError(
        `Unknown model group "${model}". Groups: ${[...names].join(', ')} (or pass a "provider/model").`,
      );
    }
    const g: Group = {
      name: model,
      strategy: defaultStrategy,
      deployments: [makeDeployment(model, { model: model as ModelName }, 0, true, true)],
    };
    adHoc.set(model, g);
    return g;
  };

  const client = createClient(config.options ?? {});
  const safe = (what: string, fn: () => unknown): void => {
    try {
      const out = fn();
      if (out instanceof Promise)
        out.catch((e: unknown) => logger.warn(`router: ${what} failed: ${String(e)}`));
    } catch (e) {
      logger.warn(`router: ${what} failed: ${String(e)}`);
    }
  };

  // The rate-limit store's last ordering read failed (Redis down or stalled), and whether a read to
  // check it is back is in flight. The order only prefers deployments that would not make the call
  // wait; it is not worth a store time limit per call (the permit itself still fails closed).
  let storeDown = false;
  let probing = false;

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
  const hasPermits = (list: Deployment[], request: ChatRequest): MaybePromise<boolean[]> => {
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

  function route<T extends Chunk | ChatCompletion>(
    kind: 'stream' | 'complete',
    request: ChatRequest,
    callOptions: CallOptions = {},
  ): Observable<T & { route: RouteInfo }> {
    return new Observable<T & { route: RouteInfo }>((subscriber) => {
      const origin = groupOf(String(request?.model));
      const lists: Record<'retryable' | 'contextWindow' | 'contentPolicy', string[]> = {
        retryable: [...(config.fallbacks?.[origin.name] ?? [])],
        contextWindow: [...(config.contextWindowFallbacks?.[origin.name] ?? [])],
        contentPolicy: [...(config.contentPolicyFallbacks?.[origin.name] ?? [])],
      };
      const visited = new Set<string>();
      let order: Deployment[] = [];
      let attempt = 0;
      let coolingMin = Infinity;
      let lastError: unknown;
      let prefix: string | undefined;
      const delivered = new ChunkAccumulator();
      const running = new Subscription();
      subscriber.add(running);

      /** Enters a group: its deployments not cooling, in strategy order. */
      const enter = (group: Group): MaybePromise<void> => {
        visited.add(group.name);
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
          const open = group.deployments.filter((d) => {
            const end = until[d.id];
            if (end === undefined) return true;
            coolingMin = Math.min(coolingMin, end);
            return false;
          });
          let ordered = orderDeployments(group.strategy, open, random);
          if (group.strategy === 'lowest-latency') {
            // A measurement older than latencyTtlMs is taken again: the deployment goes first once, so
            // one measured slow during an incident comes back when it recovered (LiteLLM's latency
            // samples expire the same way, after their ttl).
            const now = scheduler.now();
            const stale = (d: Deployment) =>
              d.latencyMs !== undefined && now - Math.max(d.measuredAt, d.probeAt) > latencyTtlMs;
            ordered = [...ordered.filter(stale), ...ordered.filter((d) => !stale(d))];
          }
          // Deployments that cannot take this request now (no rpm permit, or fewer tpm tokens left
          // than its estimate) go last: they make the call wait, so they are used only when no other
          // deployment can take it now (LiteLLM skips them the same way).
          const limited = ordered.filter((d) => d.limiter);
          if (limited.length === 0) {
            order = ordered;
            return;
          }
          return then(hasPermits(limited, request), (free) => {
            const busy = new Set(limited.filter((_, i) => !free[i]));
            order = [...ordered.filter((d) => !busy.has(d)), ...ordered.filter((d) => busy.has(d))];
          });
        });
      };

      /** The next deployment for a failure of `kind` (or the first one), `undefined` when none is left. */
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

      const fail = (error: unknown): void => {
        subscriber.error(withPartial(error, delivered));
      };
      const giveUp = (): void => {
        if (attempt === 0 && coolingMin !== Infinity) {
          fail(new NoDeploymentAvailableError(origin.name, coolingMin, scheduler.now()));
        } else fail(lastError);
      };

      const choose = (kind: FailureKind | 'start'): void => {
        let picked: MaybePromise<Deployment | undefined>;
        try {
          picked = pick(kind);
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

      /** Whether a failure counts against the deployment (cooldowns), and how. */
      const cool = (d: Deployment, error: unknown, failure: FailureKind, callerLimit: boolean): void => {
        if (!policy || failure === 'fatal' || failure === 'contextWindow' || failure === 'contentPolicy')
          return;
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
      };

      const start = (d: Deployment): void => {
        attempt++;
        const info: RouteInfo = { group: d.group, deployment: d.id, model: d.model, attempt };
        let req: ChatRequest = { ...request, model: d.model };
        let opts = mergeOptions(callOptions, d.options);
        let skip = '';
        if (prefix !== undefined && prefix !== '' && d.continuation !== false) {
          // 'continue': the answer so far goes back as the assistant's own words, with the flag this
          // deployment's server needs to continue it (see continuation.ts).
          ({ request: req, options: opts, skip } = continueRequest(req, opts, prefix, d.continuation));
        }
        if (d.limiter) {
          const limiter = d.limiter;
          const user = opts.onResponse;
          opts.onResponse = (meta: ResponseMeta) => {
            limiter.onResponse(meta);
            user?.(meta);
          };
        }
        // The error the call itself raised (the transport's), as opposed to the router's own limits.
        let ownError: unknown;
        let call: Observable<Chunk | ChatCompletion> = (
          (kind === 'stream' ? client.stream(req, opts) : client.complete(req, opts)) as Observable<
            Chunk | ChatCompletion
          >
        ).pipe(
          tap({
            error: (e: unknown) => {
              ownError = e;
            },
          }),
        );
        if (attemptTimeouts !== false)
          call = call.pipe(timeouts(attemptTimeouts) as OperatorFunction<any, any>);
        if (d.limiter)
          call = call.pipe(rateLimit(d.limiter, { estimateTokens: () => estimateRequestTokens(req) }));
        // A transport limit the caller set for this call (and the deployment did not override).
        const callerLimit = (error: unknown): boolean => {
          if (!(error instanceof TimeoutError) || error !== ownError) return false;
          const key = error.timeout as keyof TransportTimeouts;
          return callOptions.timeouts?.[key] !== undefined && d.options.timeouts?.[key] === undefined;
        };
        // A content-policy refusal in a 200 answer is a failure only when there is a group to try.
        const refusalFails = () => lists.contentPolicy.some((g) => !visited.has(g));

        const startedAt = scheduler.now();
        let firstChunkMs: number | undefined;
        let count = 0;
        let received = 0;
        let ended = false;
        // Chunks with nothing but a role, held until something real arrives: a refusal or a failure
        // before the first content chunk then switches deployments invisibly.
        const held: Chunk[] = [];
        d.inFlight++;
        d.probeAt = startedAt;
        const end = (outcome: RouterAttempt['outcome'], error?: unknown, failure?: FailureKind): void => {
          if (ended) return;
          ended = true;
          d.inFlight--;
          if (!onAttempt) return;
          const report: RouterAttempt = {
            requested: origin.name,
            group: d.group,
            deployment: d.id,
            model: d.model,
            attempt: info.attempt,
            outcome,
            startedAt,
            durationMs: scheduler.now() - startedAt,
            chunks: count,
          };
          if (firstChunkMs !== undefined) report.firstChunkMs = firstChunkMs;
          if (outcome === 'error') {
            report.error = error;
            report.errorClass = error instanceof Error ? errorClassName(error.constructor) : typeof error;
            report.kind = failure;
          }
          safe('onAttempt', () => onAttempt(report));
        };
        const deliver = (value: Chunk | ChatCompletion): void => {
          count++;
          if (kind === 'stream') delivered.push(value as Chunk);
          subscriber.next({ ...(value as T), route: info });
        };

        const onError = (error: unknown): void => {
          const failure = classifyFailure(error);
          end('error', error, failure);
          subscriber.remove(inner);
          lastError = error;
          cool(d, error, failure, callerLimit(error));
          if (failure === 'fatal') return fail(error);
          if (count > 0 && kind === 'stream') {
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

        // Linked before the call starts (operators/internal/operate.ts): a synchronous deployment stops
        // as soon as the subscriber does, and nothing of this attempt runs after unsubscribe.
        const inner: Subscriber<Chunk | ChatCompletion> = linkedSubscriber<Chunk | ChatCompletion>(
          subscriber,
          {
            finalize: () => end('cancelled'),
            next: (value) => {
              if (ended) return;
              if (received++ === 0) {
                firstChunkMs = scheduler.now() - startedAt;
                const now = scheduler.now();
                // A measurement older than latencyTtlMs is replaced, not averaged with the new one.
                d.latencyMs =
                  d.latencyMs === undefined || now - d.measuredAt > latencyTtlMs
                    ? firstChunkMs
                    : d.latencyMs + latencyAlpha * (firstChunkMs - d.latencyMs);
                d.measuredAt = now;
              }
              const refusal = refusalOf(value);
              if (refusal !== undefined && refusalFails()) {
                // A 200 answer the model's filter refused (Gemini SAFETY, Anthropic `refusal`,
                // `content_filter`): the content-policy fallbacks, as for a refusal sent as an error.
                onError(
                  new FinishReasonError(
                    'content_filter',
                    refusal,
                    `${d.id} refused the request (finish reason "content_filter").`,
                  ),
                );
                return inner.unsubscribe();
              }
              if (kind === 'stream' && count === 0 && isEmptyLead(value as Chunk)) {
                held.push(value as Chunk);
                return;
              }
              if (skip !== '' && kind === 'stream') value = dropLeading(value as Chunk);
              while (held.length && !subscriber.closed) deliver(held.shift()!);
              if (!subscriber.closed) deliver(value);
            },
            complete: () => {
              while (held.length && !subscriber.closed) deliver(held.shift()!);
              end('success');
              subscriber.complete();
            },
            error: onError,
          },
        );
        /** The continuation without the whitespace that was trimmed off the prefix. */
        const dropLeading = (chunk: Chunk): Chunk => {
          const choice = chunk.choices[0];
          const text = choice?.delta.content;
          if (!choice || typeof text !== 'string' || text === '') return chunk;
          const out = dropSkipped(text, skip);
          skip = out.skip;
          return {
            ...chunk,
            choices: [
              { ...choice, delta: { ...choice.delta, content: out.content } },
              ...chunk.choices.slice(1),
            ],
          };
        };
        running.add(call.subscribe(inner));
      };

      choose('start');
    });
  }

  return {
    stream: (request, options) => route<Chunk>('stream', request as ChatRequest, options),
    complete: (request, options) => route<ChatCompletion>('complete', request as ChatRequest, options),
    deployments: () =>
      [...groups.values(), ...adHoc.values()].flatMap((g) =>
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
