/**
 * Keeps secrets out of messages, logs and error bodies. API keys that rxllm sends are registered
 * here, so an exact key echoed back by a proxy is scrubbed too, not only the usual key patterns.
 *
 * Order matters: text is always redacted first and cut second ({@link redactAndCut}). Cutting
 * first would leave the start of a key that straddles the cut, which no longer matches anything.
 */

/**
 * Whether a header carries a credential: `authorization`, `proxy-authorization`, `x-api-key`,
 * `api-key`, `x-goog-api-key`, cookies, and any whose name says so (a gateway's `cf-aig-authorization`,
 * `helicone-auth`, `ocp-apim-subscription-key`, a custom `x-...-token`), but not the rate-limit
 * headers that count tokens (`x-ratelimit-remaining-tokens`: a name ending in `-token` only).
 */
function isSecretHeader(lower: string): boolean {
  return /auth|cookie|secret|passw|signat|(^|[-_])(key|token)$/.test(lower);
}

const knownSecrets = new Set<string>();

/** Remembers a secret so that `redactSecrets` scrubs it wherever it appears. Short values are ignored. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

/**
 * Registers the credentials a request carries in its headers (`authorization`, `api-key`, ...):
 * a token the caller put in `options.headers` (an Azure Entra ID token, a proxy's key) is scrubbed
 * like an `apiKey` (for `Bearer <token>` / `Basic <token>`, the token).
 */
export function registerHeaderSecrets(headers: Record<string, unknown>): void {
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (typeof value !== 'string' || !isSecretHeader(name.toLowerCase())) continue;
    // The bare token covers `Bearer <token>` too (and is the apiKey a provider already registered).
    const token = /^[A-Za-z-]+\s+(\S.*)$/.exec(value)?.[1];
    registerSecret(token ? token.trim() : value);
  }
}

const PATTERNS: RegExp[] = [
  /\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}/g, // OpenAI/Anthropic style keys
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /(Bearer\s+)[\w.~+/=!#$%*-]{8,}/gi,
  /([?&](?:key|api_key|apikey)=)[^&\s"']+/gi,
  // A URL's userinfo (`https://user:pass@proxy`, `redis://:pass@host`), the scheme kept. A password
  // may hold `/` (invalid unescaped, so such a URL is refused, and echoed, by whoever parses it).
  /(\b[a-z][\w+.-]*:\/*)[^\s@/]*(?::[^\s@]*)?(?=@)/gi,
];

/** The marker that replaces a secret. */
export const REDACTED = '[REDACTED]';

/**
 * Shortest tail of a known secret scrubbed at the edge of text that was cut before rxllm saw it
 * (a body read up to a byte limit): 4 characters, well under the 8 that could identify a key.
 */
const EDGE_MIN = 4;

/** Replaces anything that looks like, or is known to be, a secret with `[REDACTED]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const re of PATTERNS) {
    out = out.replace(re, (_m, prefix?: string) =>
      // A key's name (`Bearer `, `key=`) or a URL's scheme stays; the secret after it goes.
      typeof prefix === 'string' && /[=\s:/]$/.test(prefix) ? `${prefix}${REDACTED}` : REDACTED,
    );
  }
  return out;
}

/**
 * Like {@link redactSecrets}, for text that was cut by someone else (a read limit, a window): a
 * known secret's start at the end of `text`, or its end at the start, is scrubbed too.
 */
export function redactCutText(text: string): string {
  let out = redactSecrets(text);
  for (const secret of knownSecrets) {
    for (let k = Math.min(secret.length - 1, out.length); k >= EDGE_MIN; k--) {
      if (out.endsWith(secret.slice(0, k))) {
        out = out.slice(0, out.length - k) + REDACTED;
        break;
      }
    }
    for (let k = Math.min(secret.length - 1, out.length); k >= EDGE_MIN; k--) {
      if (out.startsWith(secret.slice(secret.length - k))) {
        out = REDACTED + out.slice(k);
        break;
      }
    }
  }
  return out;
}

/** Extra characters redacted beyond a cut, so a secret that straddles it is still seen whole. */
const CUT_MARGIN = 1024;

/**
 * At most `max` characters of `text`, redacted THEN cut (never the other way round), with `suffix`
 * appended when something was cut. Only `max + 1 KB` of the input is scanned, so a huge payload
 * costs no more than a small one.
 */
export function redactAndCut(text: string, max: number, suffix = '...'): string {
  const sliced = text.length > max + CUT_MARGIN;
  const scanned = sliced ? redactCutText(text.slice(0, max + CUT_MARGIN)) : redactSecrets(text);
  if (scanned.length <= max) return sliced ? scanned + suffix : scanned;
  // Every secret was replaced before this cut, so the cut can only split the marker itself.
  return scanned.slice(0, max) + suffix;
}

/**
 * A copy of `headers` with lower-cased names and every value scrubbed: credential headers are
 * replaced whole, and any other value is run through {@link redactSecrets} (a debug header that
 * echoes the key must not carry it into `error.headers`).
 */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] = isSecretHeader(lower)
      ? REDACTED
      : redactSecrets(Array.isArray(value) ? value.join(', ') : value);
  }
  return out;
}

/**
 * A copy of `error` fit to be kept as a `cause`: same name, `code` and stack frames, message
 * redacted and cut, nothing else (no payload, no socket, no request object hanging off it).
 */
export function scrubError(error: unknown): Error {
  const original = error instanceof Error ? error : undefined;
  const clean = new Error(redactAndCut(original ? original.message : String(error), 300));
  if (original) {
    clean.name = original.name;
    const code = (original as { code?: unknown }).code;
    if (typeof code === 'string') (clean as Error & { code?: string }).code = code;
    const frames = original.stack?.split('\n').filter((line) => /^\s+at /.test(line));
    if (frames?.length) clean.stack = `${clean.name}: ${clean.message}\n${frames.join('\n')}`;
  }
  return clean;
}
