/**
 * `GET /metrics`: the gateway's Prometheus metrics through `prom-client` (the optional peer, loaded
 * only when metrics are turned on). Fed from the access-log entries, so every number is one the
 * log also has. Labels are the served group names and key aliases from the configuration (never a
 * name a client made up: an unknown model is refused before it has a label), so their number stays
 * bounded. Names follow https://prometheus.io/docs/practices/naming/ (base units: seconds).
 */
// Types only: erased at compile time; the module is required below, when metrics are created.
import type * as PromClient from 'prom-client';
import type { AccessLogEntry } from './chatCompletions';
import { requireOptional } from './moduleLocation';

/** The gateway's metrics. */
export interface GatewayMetrics {
  /** Counts one finished chat request (`key`: the virtual key's alias, `-` for none). */
  observe(entry: AccessLogEntry, key?: string): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  /** Its content type (`text/plain; version=0.0.4; charset=utf-8`). */
  readonly contentType: string;
}

/** Histogram buckets, in seconds: 5 ms to 2 minutes (a reasoning model's first chunk may take minutes). */
export const METRICS_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
] as const;

/**
 * Creates the metrics of one gateway, on a registry of its own (two gateways in one process do not
 * mix their counts). Throws a `TypeError` naming the package when `prom-client` is not installed.
 *
 * @example
 * import { createGatewayMetrics } from 'rxllm';
 * const metrics = createGatewayMetrics(() => 0);
 * metrics.observe({ method: 'POST', path: '/v1/chat/completions', status: 200, model: 'fast', totalMs: 40, outcome: 'complete' });
 * metrics.render().then((text) => console.log(text.includes('rxllm_gateway_requests_total{model="fast",status="200"} 1'))); // true
 */
export function createGatewayMetrics(openStreams: () => number): GatewayMetrics {
  let prom: typeof PromClient;
  try {
    prom = requireOptional<typeof PromClient>('prom-client');
  } catch {
    throw new TypeError('Metrics need the optional package "prom-client": npm install prom-client.');
  }
  const register = new prom.Registry();
  const requests = new prom.Counter({
    name: 'rxllm_gateway_requests_total',
    help: 'Chat requests answered, by model group and HTTP status.',
    labelNames: ['model', 'status'],
    registers: [register],
  });
  const firstChunk = new prom.Histogram({
    name: 'rxllm_gateway_time_to_first_chunk_seconds',
    help: 'Time from the request to the first upstream chunk.',
    labelNames: ['model'],
    buckets: [...METRICS_BUCKETS],
    registers: [register],
  });
  const duration = new prom.Histogram({
    name: 'rxllm_gateway_request_duration_seconds',
    help: 'Time from the request to the end of its answer.',
    labelNames: ['model'],
    buckets: [...METRICS_BUCKETS],
    registers: [register],
  });
  const tokens = new prom.Counter({
    name: 'rxllm_gateway_tokens_total',
    help: 'Tokens the upstreams reported, by model group, key and kind (prompt, completion).',
    labelNames: ['model', 'key', 'kind'],
    registers: [register],
  });
  const cost = new prom.Counter({
    name: 'rxllm_gateway_cost_usd_total',
    help: 'What the calls cost in USD (the price table; estimated for calls cut before their usage), by model group and key.',
    labelNames: ['model', 'key'],
    registers: [register],
  });
  new prom.Gauge({
    name: 'rxllm_gateway_open_streams',
    help: 'Chat requests in flight (HTTP and WebSocket).',
    registers: [register],
    collect() {
      this.set(openStreams());
    },
  });
  return {
    contentType: register.contentType,
    render: () => register.metrics(),
    observe(entry, key = '-') {
      // `-`: refused before a model was known (a key over its rate, a bad body); never the name the
      // client sent, which is unbounded.
      const model = entry.model ?? '-';
      requests.inc({ model, status: String(entry.status) });
      duration.observe({ model }, entry.totalMs / 1000);
      if (entry.firstChunkMs !== undefined) firstChunk.observe({ model }, entry.firstChunkMs / 1000);
      if (entry.promptTokens !== undefined) tokens.inc({ model, key, kind: 'prompt' }, entry.promptTokens);
      if (entry.completionTokens !== undefined)
        tokens.inc({ model, key, kind: 'completion' }, entry.completionTokens);
      if (typeof entry.costUsd === 'number' && entry.costUsd > 0) cost.inc({ model, key }, entry.costUsd);
    },
  };
}
