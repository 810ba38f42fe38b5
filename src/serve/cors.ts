/**
 * CORS for the gateway's API (`--cors <origins>`): off by default. For a listed origin, a preflight
 * `OPTIONS` is answered 204 without a token (browsers never send credentials on a preflight, per the
 * Fetch standard §3.2.2 "CORS-preflight request"), and every answer carries
 * `Access-Control-Allow-Origin` for it, so a front end on that origin can read the API with a token.
 * The allowed origin is echoed (never `*`): `Authorization` is a request header a wildcard does not
 * cover (Fetch standard, `Access-Control-Allow-Headers`), and `Vary: Origin` keeps caches honest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An origin test: `true` for the origins `--cors` lists. */
export type OriginTest = (origin: string) => boolean;

/**
 * Parses `--cors`: a comma-separated list of origins (`https://app.example.com`,
 * `http://localhost:5173`) or `*` (any origin). Throws a `TypeError` naming a value that is not an
 * origin (a path, a missing scheme).
 */
export function parseCorsOrigins(text: string): OriginTest {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) throw new TypeError('cors: name at least one origin (or *)');
  if (entries.includes('*')) return () => true;
  const origins = new Set<string>();
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new TypeError(`cors: "${entry.slice(0, 100)}" is not an origin (like https://app.example.com)`);
    }
    if (url.origin === 'null' || url.origin !== entry.replace(/\/$/, '')) {
      throw new TypeError(
        `cors: "${entry.slice(0, 100)}" is not an origin: scheme, host and port only (like ${url.origin})`,
      );
    }
    origins.add(url.origin);
  }
  return (origin) => origins.has(origin);
}

/** Response headers a request from an allowed origin gets (none for other requests). */
export function corsHeaders(req: IncomingMessage, allowed: OriginTest | undefined): Record<string, string> {
  const origin = req.headers.origin;
  if (!allowed || origin === undefined || !allowed(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
    // What a front end needs to back off and to report: the SDKs read retry-after(-ms).
    'access-control-expose-headers': 'retry-after, retry-after-ms, x-request-id',
  };
}

/**
 * Answers a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin: 204
 * with the methods and the headers asked for. Returns `false` (nothing sent) for any other request.
 */
export function answerPreflight(
  req: IncomingMessage,
  res: ServerResponse,
  allowed: OriginTest | undefined,
): boolean {
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  const headers = corsHeaders(req, allowed);
  if (!headers['access-control-allow-origin']) return false;
  // Header names only (RFC 9110 token characters): the list is echoed, so nothing else gets through.
  const asked = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h));
  res.writeHead(204, {
    ...headers,
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': [...new Set(['authorization', 'content-type', ...asked])].join(', '),
    'access-control-max-age': '600',
    'content-length': '0',
  });
  res.end();
  return true;
}
