/**
 * What one client may hold of the gateway: time to send its headers and its body, and how many
 * connections are open at once. Node's own defaults (60 s for headers, 300 s for a request, checked
 * every 30 s, no cap on connections) let a slow-body client (slowloris) hold a socket for minutes,
 * and as many as it likes. A request refused from its head (no token, another site, too large) is
 * answered with `Connection: close` and its body is not read: reading a body nobody will use is work
 * an attacker chooses the size of.
 */
import type { Server, ServerOptions, ServerResponse } from 'node:http';

export interface HttpLimitsConfig {
  /**
   * Most milliseconds for a client to send its request headers (Node `server.headersTimeout`); a late
   * one gets 408 and the connection is closed. @defaultValue 10_000
   */
  headersTimeoutMs?: number;
  /**
   * Most milliseconds for a client to send its whole request, body included (Node
   * `server.requestTimeout`); the response may stream for longer. @defaultValue 30_000
   */
  requestTimeoutMs?: number;
  /**
   * Most connections open at once (Node `server.maxConnections`); more are closed on arrival. Each
   * open stream costs tens of KB, so the default holds thousands. @defaultValue 4096
   */
  maxConnections?: number;
}

/** Defaults of {@link HttpLimitsConfig}. */
export const HTTP_LIMITS_DEFAULTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 4096,
} as const satisfies HttpLimitsConfig;

/** The limits with defaults applied; a `TypeError` for a value that is not a positive integer. */
export function resolveHttpLimits(config: HttpLimitsConfig = {}): Required<HttpLimitsConfig> {
  const limits = {
    headersTimeoutMs: config.headersTimeoutMs ?? HTTP_LIMITS_DEFAULTS.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs ?? HTTP_LIMITS_DEFAULTS.requestTimeoutMs,
    maxConnections: config.maxConnections ?? HTTP_LIMITS_DEFAULTS.maxConnections,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new TypeError(`startGateway: ${name} must be a positive integer, got ${String(value)}`);
  }
  // Node refuses a headers timeout longer than the request timeout (the headers are part of it).
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new TypeError('startGateway: headersTimeoutMs must not be over requestTimeoutMs');
  return limits;
}

/**
 * Options for `createServer`: Node checks the two timeouts every `connectionsCheckingInterval`
 * (30 s by default, which would let a 10 s limit run to 40 s), so check at a quarter of the shorter one.
 */
export function serverOptions(limits: Required<HttpLimitsConfig>): ServerOptions {
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(shorter / 4))),
  };
}

/** Applies the connection cap to a listening (or about to listen) server. */
export function applyConnectionCap(server: Server, limits: Required<HttpLimitsConfig>): void {
  server.maxConnections = limits.maxConnections;
}

/**
 * Marks a response as the connection's last: Node then closes the socket once the answer is written
 * instead of reading (draining) the rest of a body nobody will use.
 */
export function closeAfter(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
}
