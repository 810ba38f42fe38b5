/**
 * Who may call the gateway: the bearer token (constant-time), and, without one, which browser pages
 * and host names are refused (other sites' pages, DNS rebinding). Checked from the request head
 * alone, before any body byte is read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** A constant-time check of a bearer token against `token` (hashed first, so lengths leak nothing). */
export function tokenChecker(token: string): (given: string | undefined) => boolean {
  const expected = digest(token);
  return (given) => given !== undefined && timingSafeEqual(digest(given), expected);
}

/** The bearer token of a request: `Authorization: Bearer`, or the WebSocket subprotocol `rxllm.bearer.<base64url>`. */
export function bearerOf(req: IncomingMessage): string | undefined {
  // The scheme is case-insensitive (RFC 9110 §11.1): `bearer <token>` is the same credential.
  const header = /^bearer\s+(.*)$/i.exec(req.headers.authorization ?? '');
  if (header) return header[1].trim();
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
  for (const p of protocols.map((s) => s.trim())) {
    if (p.startsWith('rxllm.bearer.')) return Buffer.from(p.slice(13), 'base64url').toString('utf8');
  }
  return undefined;
}

/**
 * Why a browser request to a gateway without a token is refused, or `undefined` when it is not.
 * Binding to 127.0.0.1 does not stop a page on any site from POSTing to (or opening a WebSocket on)
 * the gateway through the user's browser, which would spend the provider key; without a token, only
 * the gateway's own page and the origins listed in `--cors` may. DNS rebinding (a site whose own name
 * resolves to 127.0.0.1, so its Origin equals the Host) is refused too: without a token the Host must
 * be an IP literal, `localhost`, or the `--host` name.
 */
export function crossOriginRefusal(
  req: IncomingMessage,
  boundHost: string,
  allowedOrigin: (origin: string) => boolean = () => false,
): 'origin' | 'host' | undefined {
  const host = req.headers.host;
  if (host === undefined) return 'host';
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return 'host';
  }
  if (hostname !== 'localhost' && hostname !== boundHost && isIP(hostname) === 0) return 'host';
  const origin = req.headers.origin;
  if (origin === undefined) return undefined; // not a browser (SDKs, curl)
  if (allowedOrigin(origin)) return undefined;
  try {
    return new URL(origin).host === host ? undefined : 'origin';
  } catch {
    return 'origin'; // `Origin: null` (a sandboxed frame, a file:// page)
  }
}

/** The 403 message for a {@link crossOriginRefusal}: what the operator can do about it. */
export function refusalMessage(reason: 'origin' | 'host'): string {
  return reason === 'origin'
    ? 'Pages of another origin may not call this gateway. Its operator can allow an origin with --cors <origin> (and should set --token, which such pages then send).'
    : 'This host name is not the gateway’s (DNS rebinding is refused): use 127.0.0.1, localhost or the --host name, or start the gateway with --token.';
}
