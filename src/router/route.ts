/**
 * What every routed chunk and result carries: which deployment served it.
 */
import type { ChatCompletion, Chunk } from '../chunk';

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
}

/** A chunk from a router: the chunk plus `route`. */
export type RoutedChunk = Chunk & { route: RouteInfo };
/** A result from a router's `complete`: the completion plus `route`. */
export type RoutedCompletion = ChatCompletion & { route: RouteInfo };

/** The route a chunk or completion carries, when it came through a router. */
export function routeOf(value: unknown): RouteInfo | undefined {
  const route = (value as { route?: RouteInfo } | null)?.route;
  return route && typeof route.deployment === 'string' ? route : undefined;
}
