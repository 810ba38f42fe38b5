/**
 * Keeps secrets out of messages, logs and error bodies. API keys that rxllm sends are registered
 * here, so an exact key echoed back by a proxy is scrubbed too, not only the usual key patterns.
 */

const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
]);

const knownSecrets = new Set<string>();

/** Remembers a secret so that `redactSecrets` scrubs it wherever it appears. Short values are ignored. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

const PATTERNS: RegExp[] = [
  /\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}/g, // OpenAI/Anthropic style keys
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /([?&](?:key|api_key|apikey)=)[^&\s"']+/gi,
];

/** Replaces anything that looks like, or is known to be, a secret with `[REDACTED]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  for (const re of PATTERNS) {
    out = out.replace(re, (_m, prefix?: string) =>
      typeof prefix === 'string' && /[=\s]$/.test(prefix) ? `${prefix}[REDACTED]` : '[REDACTED]',
    );
  }
  return out;
}

/** A copy of `headers` with lower-cased names and secret values replaced. */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] = SECRET_HEADERS.has(lower) ? '[REDACTED]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
