/**
 * Parses `x-ratelimit-*` response headers (OpenAI, Groq, DeepSeek and most compatible servers) and
 * Anthropic's `anthropic-ratelimit-*` set. OpenAI sends resets as durations (`1s`, `6m0s`, `20ms`);
 * others send seconds; Anthropic sends an RFC 3339 time
 * (https://docs.anthropic.com/en/api/rate-limits#response-headers).
 */
import type { RateLimitInfo } from '../options';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `6m0s` → 360000, `20ms` → 20, `1.5` (seconds) → 1500; `undefined` if unreadable. */
export function parseDurationMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  const plain = Number(text);
  if (Number.isFinite(plain)) return plain >= 0 ? plain * 1000 : undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  return consumed === text.length ? total : undefined;
}

function num(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Milliseconds until an RFC 3339 / HTTP date, a duration or seconds; `undefined` if unreadable. */
function resetMs(value: string | undefined, now: number): number | undefined {
  const duration = parseDurationMs(value);
  if (duration !== undefined || value === undefined) return duration;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Reads rate-limit headers from lower-cased response headers. */
export function parseRateLimit(headers: Record<string, string>, now: number = Date.now()): RateLimitInfo {
  const info: RateLimitInfo = {};
  const set = <K extends keyof RateLimitInfo>(key: K, value: number | undefined) => {
    if (value !== undefined) info[key] = value;
  };
  set('limitRequests', num(headers['x-ratelimit-limit-requests']));
  set('remainingRequests', num(headers['x-ratelimit-remaining-requests']));
  set('resetRequestsMs', parseDurationMs(headers['x-ratelimit-reset-requests']));
  set('limitTokens', num(headers['x-ratelimit-limit-tokens']));
  set('remainingTokens', num(headers['x-ratelimit-remaining-tokens']));
  set('resetTokensMs', parseDurationMs(headers['x-ratelimit-reset-tokens']));
  if (Object.keys(info).length > 0) return info;
  const a = (name: string) => headers[`anthropic-ratelimit-${name}`];
  set('limitRequests', num(a('requests-limit')));
  set('remainingRequests', num(a('requests-remaining')));
  set('resetRequestsMs', resetMs(a('requests-reset'), now));
  set('limitTokens', num(a('tokens-limit')));
  set('remainingTokens', num(a('tokens-remaining')));
  set('resetTokensMs', resetMs(a('tokens-reset'), now));
  return info;
}
