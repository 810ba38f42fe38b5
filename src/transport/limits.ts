/**
 * The transport's limits (time and size), their defaults, and their validation: a bad value is a
 * `ConfigurationError` raised at subscribe, before anything is sent.
 */
import { ConfigurationError } from '../errors';
import type { CallOptions } from '../options';
import { redactAndCut } from '../redact';
import { AGENT_DEFAULTS } from './agent';

/** Transport time limits used when a call sets none (milliseconds; `Infinity` turns one off). */
export const TRANSPORT_TIMEOUT_DEFAULTS = {
  /** TCP + TLS connect: the shared agent's `connectTimeout`. */
  connect: AGENT_DEFAULTS.connectTimeout,
  /** Reasoning models can think for minutes before the first byte (o1/R1-style). */
  headers: 600_000,
  /** Longest silence on the socket (any bytes, SSE comments included). */
  body: 300_000,
  /**
   * Longest time without a stream value (a chunk): SSE comments, pings and keep-alive bytes do not
   * count, so a server that only sends keep-alives cannot hold a bare `stream()` forever.
   */
  idle: 300_000,
} as const;

/** Size limits used when a call sets none. */
export const TRANSPORT_LIMIT_DEFAULTS = {
  /** Largest body `complete()` buffers (32 MiB); past it the call ends with `ResponseTooLargeError`. */
  maxResponseBytes: 32 * 1024 * 1024,
} as const;

/** The resolved limits of one call; `Infinity` = off. */
export interface TransportLimits {
  connect: number;
  headers: number;
  body: number;
  idle: number;
  maxResponseBytes: number;
}

/** Longest delay Node timers can hold (a larger one fires at once, with a warning). */
export const MAX_TIMER_MS = 2_147_483_647;

function check(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `${name} must be a positive number${name.startsWith('timeouts') ? ' of milliseconds' : ' of bytes'} or Infinity (no limit), got ${redactAndCut(typeof value === 'string' ? JSON.stringify(value) : String(value), 60)}.`,
    );
  }
  return value;
}

/** The call's limits with defaults applied. Throws `ConfigurationError` on a bad value. */
export function resolveLimits(options: CallOptions): TransportLimits {
  const t = options.timeouts;
  if (t !== undefined && (t === null || typeof t !== 'object')) {
    throw new ConfigurationError(`timeouts must be an object, got ${String(t)}.`);
  }
  return {
    connect: check('timeouts.connect', t?.connect, TRANSPORT_TIMEOUT_DEFAULTS.connect),
    headers: check('timeouts.headers', t?.headers, TRANSPORT_TIMEOUT_DEFAULTS.headers),
    body: check('timeouts.body', t?.body, TRANSPORT_TIMEOUT_DEFAULTS.body),
    idle: check('timeouts.idle', t?.idle, TRANSPORT_TIMEOUT_DEFAULTS.idle),
    maxResponseBytes: check(
      'maxResponseBytes',
      options.maxResponseBytes,
      TRANSPORT_LIMIT_DEFAULTS.maxResponseBytes,
    ),
  };
}

/** A limit as undici takes it: `0` turns a timer off (and so does anything past what a timer holds). */
export function undiciMs(ms: number): number {
  return ms >= MAX_TIMER_MS ? 0 : ms;
}

/**
 * The request URL, checked: an absolute `http:` or `https:` URL, else a `ConfigurationError`
 * (never a retryable connection error: retrying a typo cannot help).
 */
export function checkUrl(url: string, provider = 'The provider'): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
    throw new ConfigurationError(
      `${provider} URL "${redactAndCut(url, 200)}" is not an absolute http(s) URL: check baseURL (e.g. "http://127.0.0.1:8000/v1").`,
    );
  }
  return parsed;
}
