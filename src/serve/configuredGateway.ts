/**
 * `rxllm serve --config`: a gateway over a router built from a configuration file, with virtual
 * keys, shared stores on Redis (`--redis`), `/healthz`, `/readyz` and (`--metrics`) `/metrics`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setPrice } from '../cost/cost';
import { createRouter } from '../router/router';
import type { GatewayConfig } from './config';
import { startGateway, type Gateway, type GatewayOptions, type GatewayRoute } from './gateway';
import { checkReadiness, upstreamProbes } from './health';
import { createKeyRing } from './keys';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { connectRedisStores, type GatewayRedisStores } from './redisStores';

export interface ConfiguredGatewayOptions extends Omit<
  GatewayOptions,
  'model' | 'baseURL' | 'client' | 'models' | 'keys' | 'routes'
> {
  /** A Redis URL: the router's rate limits and cooldowns and the keys' rates and budgets live there, shared by every gateway on it. @defaultValue in memory (this process) */
  redis?: string;
  /**
   * Serve `GET /metrics` (needs `prom-client`): `true` behind the token like the API, `'open'`
   * without it (for a scraper on a private network). @defaultValue false
   */
  metrics?: boolean | 'open';
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Starts a gateway over a configuration (`loadGatewayConfig`): its groups are the models clients
 * call, its keys the tokens they call with. `/healthz` (the process answers) and `/readyz` (every
 * group has a reachable deployment and Redis answers; 503 with the failures otherwise) need no token:
 * they say nothing but that. The Redis connection is closed with the gateway.
 *
 * @example
 * import { parseGatewayConfig, startConfiguredGateway } from 'rxllm';
 * const config = parseGatewayConfig({ model_list: [{ model_name: 'fast', params: { model: 'mock/echo' } }] });
 * startConfiguredGateway(config, { port: 0, log: () => {} }).then(async (gateway) => {
 *   const ready = await fetch(`${gateway.url}/readyz`);
 *   console.log(ready.status); // 200
 *   await gateway.close();
 * });
 */
export async function startConfiguredGateway(
  config: GatewayConfig,
  options: ConfiguredGatewayOptions = {},
): Promise<Gateway> {
  const { redis: redisUrl, metrics: metricsOption = false, ...gatewayOptions } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  for (const [model, price] of config.prices) setPrice(model, price);
  let metrics: GatewayMetrics | undefined;
  let gateway: Gateway | undefined;
  // Before Redis: a missing prom-client must fail without leaving a connection open.
  if (metricsOption) metrics = createGatewayMetrics(() => gateway?.inFlight ?? 0);
  let stores: GatewayRedisStores | undefined;
  if (redisUrl) stores = await connectRedisStores(redisUrl, { log });
  try {
    const router = createRouter({
      ...config.router,
      rateLimitStore: stores?.rateLimit,
      cooldownStore: stores?.cooldown,
    });
    const probes = upstreamProbes(config.router.groups as Record<string, never[]>);
    const routes: Record<string, GatewayRoute> = {
      '/healthz': { open: true, handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
      '/readyz': {
        open: true,
        handle: async (_req: IncomingMessage, res: ServerResponse) => {
          const readiness = await checkReadiness(probes, stores?.ping);
          sendJson(res, readiness.ready ? 200 : 503, readiness);
        },
      },
    };
    if (metrics) {
      const m = metrics;
      routes['/metrics'] = {
        open: metricsOption === 'open',
        handle: async (_req, res) => {
          const text = await m.render();
          res.writeHead(200, {
            'content-type': m.contentType,
            'content-length': String(Buffer.byteLength(text)),
          });
          res.end(text);
        },
      };
    }
    gateway = await startGateway({
      ...gatewayOptions,
      log,
      client: router,
      model: config.models[0],
      models: config.models,
      token: options.token || config.masterKey,
      keys:
        config.keys.length > 0
          ? createKeyRing(config.keys, { rateLimit: stores?.rateLimit, budget: stores?.budget })
          : undefined,
      budgets: {
        gateway: config.budgets.gateway,
        groups: config.budgets.groups,
        servedBy: config.servedBy,
        store: stores?.budget,
      },
      routes,
      onAccess: (entry, key) => {
        metrics?.observe(entry, key);
        options.onAccess?.(entry, key);
      },
    });
  } catch (error) {
    await stores?.close();
    throw error;
  }
  const started = gateway;
  const close = started.close.bind(started);
  return Object.assign(started, {
    close: async (graceMs?: number) => {
      await close(graceMs);
      await stores?.close();
    },
  });
}
