/**
 * Orders a group's available deployments for one call (see `RoutingStrategy`).
 */
import type { RoutingStrategy } from './config';

/** What the strategies know about a deployment. */
export interface DeploymentState {
  readonly id: string;
  readonly index: number;
  readonly weight: number;
  inFlight: number;
  /** Moving average of the time to first chunk, ms; `undefined` until measured. */
  latencyMs: number | undefined;
}

/** The deployments in the order they should be tried. Does not change its input. */
export function orderDeployments<D extends DeploymentState>(
  strategy: RoutingStrategy,
  deployments: readonly D[],
  random: () => number,
): D[] {
  const list = [...deployments];
  switch (strategy) {
    case 'shuffle': {
      // Weighted random order without replacement (Efraimidis & Spirakis 2006): key = u^(1/w).
      const keyed = list.map((d) => ({ d, key: Math.pow(random(), 1 / d.weight) }));
      keyed.sort((a, b) => b.key - a.key || a.d.index - b.d.index);
      return keyed.map((k) => k.d);
    }
    case 'least-busy':
      return list.sort((a, b) => a.inFlight - b.inFlight || a.index - b.index);
    case 'lowest-latency':
      return list.sort((a, b) => {
        const la = a.latencyMs ?? -1;
        const lb = b.latencyMs ?? -1;
        return la - lb || a.index - b.index;
      });
  }
}
