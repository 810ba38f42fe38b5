/**
 * What every routed chunk and result carries: which deployment served it.
 */
import type { ChatCompletion, Chunk, Usage } from '../chunk';

/**
 * An attempt the provider billed whose answer the caller never got: the router left it before
 * passing anything on (a refusal in a 200 answer that went to a content-policy fallback, a stream
 * cut after its opening role chunk) and went on to another deployment.
 */
export interface BilledAttempt {
  /** The deployment's id. */
  deployment: string;
  /** The deployment's `provider/model`: the attempt is priced at it. */
  model: string;
  /**
   * What the provider reported, else an estimate (`estimated`: the request's prompt plus what was
   * received); `null` when nothing is known of the prompt.
   */
  usage: Usage | null;
  estimated: boolean;
}

/** Which deployment served a chunk or a result, and on which attempt of the call. */
export interface RouteInfo {
  /** The model group the caller asked for (`model: 'fast'`). */
  group: string;
  /** The deployment's id (its `id`, else its model, made unique with `#2`, `#3`...). */
  deployment: string;
  /** The deployment's `provider/model` (the key of the price table). */
  model: string;
  /** 1 for the first deployment tried in this call, 2 for the next, ... */
  attempt: number;
  /**
   * On the first value of an attempt only: the attempts before it that were billed but passed
   * nothing on (see {@link BilledAttempt}). `trackUsage` (so `budget` and the gateway's spend) adds
   * them to the call's usage and cost; a call that fails in the end carries them as `error.billed`.
   */
  billed?: readonly BilledAttempt[];
}

/** A chunk from a router: the chunk plus `route`. */
export type RoutedChunk = Chunk & { route: RouteInfo };
/** A result from a router's `complete`: the completion plus `route`. */
export type RoutedCompletion = ChatCompletion & { route: RouteInfo };

/** The `billed` a router set on a call's final error (`LlmError.billed`), when it has one. */
export function billedOf(error: unknown): readonly BilledAttempt[] | undefined {
  const billed = (error as { billed?: unknown } | null)?.billed;
  return Array.isArray(billed) ? billed : undefined;
}

/** The route a chunk or completion carries, when it came through a router. */
export function routeOf(value: unknown): RouteInfo | undefined {
  const route = (value as { route?: RouteInfo } | null)?.route;
  return route && typeof route.deployment === 'string' ? route : undefined;
}
