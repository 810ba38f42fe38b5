/**
 * The router's groups and deployments as it runs them: built once from `RouterConfig` (checked,
 * ids made unique, a rate limiter per limited deployment), plus a group made on the fly for a
 * `provider/model` sent as is.
 */
import type { SchedulerLike } from 'rxjs';
import { ConfigurationError } from '../errors';
import type { CallOptions } from '../options';
import { createRateLimiter, type RateLimiter } from '../rateLimit/limiter';
import type { RateLimitStore } from '../rateLimit/store';
import type { ModelName } from '../request';
import { requestSchemas } from '../requestSchema';
import type { AfterFirstChunk, DeploymentConfig, GroupConfig, RouterConfig, RoutingStrategy } from './config';
import { continuationOf, type ContinuationMode } from './continuation';
import type { LatencyState } from './latency';
import type { DeploymentState } from './strategies';

/** A deployment as the router runs it. */
export interface Deployment extends DeploymentState, LatencyState {
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
}

/** A group as the router runs it. */
export interface Group {
  readonly name: string;
  readonly strategy: RoutingStrategy;
  readonly deployments: Deployment[];
}

export const STRATEGIES: readonly RoutingStrategy[] = ['shuffle', 'least-busy', 'lowest-latency'];

/** What building the deployments needs of the router's settings (defaults applied). */
export interface GroupSettings {
  defaultStrategy: RoutingStrategy;
  afterFirstChunk: AfterFirstChunk;
  rateLimitStore: RateLimitStore | undefined;
  scheduler: SchedulerLike;
}

/** The configured groups, and `groupOf`, which also makes (once) the group of a `provider/model`. */
export function createGroups(
  config: RouterConfig,
  { defaultStrategy, afterFirstChunk, rateLimitStore, scheduler }: GroupSettings,
): { groups: Map<string, Group>; groupOf: (model: string) => Group; all: () => Group[] } {
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
  return { groups, groupOf, all: () => [...groups.values(), ...adHoc.values()] };
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
