// Barrel of the router (re-exported by rxllm).
export { createRouter, type Router, type DeploymentStatus } from './router';
export {
  ROUTER_DEFAULTS,
  type RouterConfig,
  type DeploymentConfig,
  type GroupConfig,
  type RoutingStrategy,
  type AfterFirstChunk,
  type RouterAttempt,
} from './config';
export { classifyFailure, type FailureKind } from './classify';
export { createMemoryCooldownStore, type CooldownStore, type CooldownPolicy } from './cooldown';
export type { ContinuationMode } from './continuation';
export {
  routeOf,
  type BilledAttempt,
  type RouteInfo,
  type RoutedChunk,
  type RoutedCompletion,
} from './route';
export { orderDeployments, type DeploymentState } from './strategies';
