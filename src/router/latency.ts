/**
 * Latency tracking for the `'lowest-latency'` strategy: a moving average of each deployment's time
 * to first chunk, and measurements that expire, so a deployment measured slow during an incident is
 * tried again once it may have recovered.
 */
import type { DeploymentState } from './strategies';

/** When a deployment's latency was measured and last re-measured. */
export interface LatencyState extends DeploymentState {
  /** Scheduler time of the last latency sample. */
  measuredAt: number;
  /** Scheduler time of the last call sent to it (which measures again a sample that is stale). */
  probeAt: number;
}

/** How latency samples are kept (`RouterConfig.latencyAlpha`, `latencyTtlMs`). */
export interface LatencySettings {
  latencyAlpha: number;
  latencyTtlMs: number;
}

/**
 * Takes a first chunk's time into the deployment's average. A measurement older than latencyTtlMs
 * is replaced, not averaged with the new one.
 */
export function recordFirstChunk(
  d: LatencyState,
  firstChunkMs: number,
  now: number,
  { latencyAlpha, latencyTtlMs }: LatencySettings,
): void {
  d.latencyMs =
    d.latencyMs === undefined || now - d.measuredAt > latencyTtlMs
      ? firstChunkMs
      : d.latencyMs + latencyAlpha * (firstChunkMs - d.latencyMs);
  d.measuredAt = now;
}

/**
 * Moves the deployments whose measurement is older than latencyTtlMs to the front: each goes first
 * once, so one measured slow during an incident comes back when it recovered (LiteLLM's latency
 * samples expire the same way, after their ttl). Keeps the order within both parts.
 */
export function staleFirst<D extends LatencyState>(ordered: D[], now: number, latencyTtlMs: number): D[] {
  const stale = (d: D) => d.latencyMs !== undefined && now - Math.max(d.measuredAt, d.probeAt) > latencyTtlMs;
  return [...ordered.filter(stale), ...ordered.filter((d) => !stale(d))];
}
