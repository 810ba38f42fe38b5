/**
 * `GET /healthz` and `GET /readyz` (the Kubernetes names: liveness says the process answers,
 * readiness says it can serve, https://kubernetes.io/docs/reference/using-api/health-checks/).
 * Readiness probes what the gateway depends on: each deployment with an `api_base` (a TCP connect
 * to its host and port: no request is sent, no key spent) and Redis (`PING`). A group is ready when
 * one of its deployments is (the router sends calls to the others); deployments on a provider's
 * public endpoint and the in-process mock are not probed. The body names what failed, never a
 * secret: hosts and ports only, not URLs (an `api_base` may carry credentials).
 */
import { connect } from 'node:net';
import type { DeploymentConfig } from '../router/config';

/** One upstream to probe. */
export interface UpstreamProbe {
  group: string;
  /** The deployment's id or model. */
  deployment: string;
  /** `host:port`, or `undefined` when not probed. */
  address?: string;
}

/** What `/readyz` answers (503 when `ready` is false). */
export interface Readiness {
  ready: boolean;
  /** Per group: ready, and each probed deployment's result. */
  groups: Record<string, { ready: boolean; deployments: Record<string, { ok: boolean; error?: string }> }>;
  /** Absent without `--redis`. */
  redis?: { ok: boolean; error?: string };
}

/** Defaults of the readiness probes. */
export const READINESS_DEFAULTS = { timeoutMs: 2000 } as const;

/** The probes of a router's groups: host and port of each deployment's `baseURL`. */
export function upstreamProbes(groups: Record<string, DeploymentConfig[]>): UpstreamProbe[] {
  return Object.entries(groups).flatMap(([group, deployments]) =>
    deployments.map((d, i) => {
      const base = d.options?.baseURL;
      let address: string | undefined;
      if (base) {
        const url = new URL(base);
        address = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
      }
      return {
        group,
        deployment: d.id ?? (deployments.length > 1 ? `${d.model}#${i + 1}` : d.model),
        address,
      };
    }),
  );
}

/** Opens and closes a TCP connection; resolves to `undefined` or the error's code. */
function reach(address: string, timeoutMs: number): Promise<string | undefined> {
  const cut = address.lastIndexOf(':');
  const host = address.slice(0, cut).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(cut + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (error?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done());
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'connection failed'));
  });
}

/**
 * Runs every probe at once, each within `timeoutMs`.
 *
 * @example
 * import { checkReadiness } from 'rxllm';
 * checkReadiness([{ group: 'fast', deployment: 'mock/echo' }]).then((r) => console.log(r.ready)); // true
 */
export async function checkReadiness(
  probes: readonly UpstreamProbe[],
  redisPing?: () => Promise<unknown>,
  timeoutMs: number = READINESS_DEFAULTS.timeoutMs,
): Promise<Readiness> {
  const result: Readiness = { ready: true, groups: {} };
  let redisTimer: ReturnType<typeof setTimeout> | undefined;
  const redis = redisPing
    ? Promise.race([
        redisPing().then(
          () => undefined,
          (e: Error) => e?.message?.split('\n')[0] ?? 'failed',
        ),
        new Promise<string>((r) => {
          redisTimer = setTimeout(r, timeoutMs, `no answer within ${timeoutMs} ms`);
        }),
      ]).finally(() => clearTimeout(redisTimer))
    : undefined;
  const answers = await Promise.all(probes.map((p) => (p.address ? reach(p.address, timeoutMs) : undefined)));
  probes.forEach((p, i) => {
    const group = (result.groups[p.group] ??= { ready: false, deployments: {} });
    const error = answers[i];
    group.deployments[p.deployment] =
      error === undefined ? { ok: true } : { ok: false, error: `${p.address}: ${error}` };
    if (error === undefined) group.ready = true;
  });
  for (const g of Object.values(result.groups)) if (!g.ready) result.ready = false;
  if (redis) {
    const error = await redis;
    result.redis = error === undefined ? { ok: true } : { ok: false, error };
    if (error !== undefined) result.ready = false;
  }
  return result;
}
