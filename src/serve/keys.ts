/**
 * Virtual keys of the gateway (LiteLLM's virtual keys, https://docs.litellm.ai/docs/proxy/virtual_keys):
 * several bearer tokens, each with the groups it may call, a request rate and a spend budget. The
 * rate and the spend live in the rate-limit and budget stores, so gateways sharing one Redis share
 * them. Refusals are OpenAI's: 429 `rate_limit_exceeded` with `Retry-After` over the rate, 429
 * `insufficient_quota` over the budget (what OpenAI answers an account out of credit,
 * https://platform.openai.com/docs/guides/error-codes), 403 for a group the key may not call.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { createMemoryBudgetStore, type BudgetStore } from '../cost/budgetStore';
import { createMemoryRateLimitStore, type RateLimitState, type RateLimitStore } from '../rateLimit/store';
import { ApiError } from '../errors';
import { HttpError } from './chatCompletions';
import type { GatewayKeySpec } from './config';

/** A key the gateway knows. `alias` is what logs and metrics show; the token is never kept in clear. */
export interface GatewayKey {
  readonly alias: string;
  /** Whether the key may call this group. */
  allows(model: string): boolean;
}

/** Why a key's request is refused: the HTTP answer. */
export interface KeyRefusal {
  status: 403 | 429;
  type: string;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** The keys of one gateway. */
export interface KeyRing {
  /** The key of a bearer token (constant time over every key), or `undefined`. */
  find(token: string | undefined): GatewayKey | undefined;
  /**
   * Checks and takes one request of the key's `rpm_limit`, then checks its budget; resolves to
   * `undefined` (go on) or the refusal. A store that cannot answer refuses (fail closed) with a 429
   * the client may retry: unchecked, a fleet would overrun the limit.
   */
  admit(key: GatewayKey): Promise<KeyRefusal | undefined>;
  /**
   * Adds a finished call's cost to the key's budget; resolves to the key's spend in the window
   * after it (`undefined` when the key has no budget or the store failed: the call already happened).
   * A cost of 0 adds nothing and reads the spend.
   */
  charge(key: GatewayKey, usd: number): Promise<number | undefined>;
}

/** No budget_duration: one window that never ends (about 100 years; Redis keeps it as long). */
const FOREVER_MS = 100 * 365 * 86_400_000;

interface Entry extends GatewayKey {
  readonly digest: Buffer;
  readonly spec: GatewayKeySpec;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * One request from a token bucket of `rpm` a minute (capacity `rpm`, at least 1), as
 * `createRateLimiter` keeps it, but answering at once: a gateway refuses a request over the rate
 * instead of holding it. Compare-and-set, retried while another gateway wrote first.
 */
async function takeOne(store: RateLimitStore, key: string, rpm: number, now: () => number): Promise<number> {
  const capacity = Math.max(1, rpm);
  for (let tries = 0; tries < 50; tries++) {
    const stored = await store.get(key);
    const t = now();
    const requests = stored
      ? Math.min(capacity, stored.requests + (Math.max(0, t - stored.updatedAt) * rpm) / 60_000)
      : capacity;
    if (requests < 1) return Math.ceil(((1 - requests) * 60_000) / rpm);
    const next: RateLimitState = { requests: requests - 1, tokens: Infinity, updatedAt: t, pausedUntil: 0 };
    if (await store.compareAndSet(key, stored, next)) return 0;
  }
  throw new Error('the rate-limit store kept rejecting writes (contention)');
}

/**
 * Builds the key ring of a gateway configuration.
 *
 * @example
 * import { createKeyRing } from 'rxllm';
 * const keys = createKeyRing([{ token: 'sk-team-a', alias: 'team-a', models: ['fast'], rpm: 1 }]);
 * const key = keys.find('sk-team-a')!;
 * keys.admit(key).then(async (first) => {
 *   const second = await keys.admit(key);
 *   console.log(key.alias, key.allows('strong'), first, second?.status); // team-a false undefined 429
 * });
 */
export function createKeyRing(
  specs: readonly GatewayKeySpec[],
  stores: { rateLimit?: RateLimitStore; budget?: BudgetStore; now?: () => number } = {},
): KeyRing {
  const rateLimit = stores.rateLimit ?? createMemoryRateLimitStore();
  const budget = stores.budget ?? createMemoryBudgetStore();
  const now = stores.now ?? Date.now;
  const entries: Entry[] = specs.map((spec) => {
    const models = spec.models && new Set(spec.models);
    return { alias: spec.alias, spec, digest: digest(spec.token), allows: (m) => !models || models.has(m) };
  });
  const windowOf = (spec: GatewayKeySpec) => {
    const ms = spec.budgetMs ?? FOREVER_MS;
    return { start: Math.floor(now() / ms) * ms, ms };
  };
  const entryOf = (key: GatewayKey) => key as Entry;
  const unavailable = (what: string, error: unknown): KeyRefusal => ({
    status: 429,
    type: 'rate_limit_error',
    code: 'limit_store_unavailable',
    // The store's own message names no secret (StoreError); the token is never in it.
    message: `The ${what} of this key cannot be checked right now (${(error as Error)?.message ?? String(error)}). Retry shortly.`,
    headers: { 'retry-after': '1' },
  });
  return {
    find(token) {
      if (token === undefined) return undefined;
      const given = digest(token);
      let found: Entry | undefined;
      // Every key compared, no early exit: the time says nothing about which key is close.
      for (const e of entries) if (timingSafeEqual(given, e.digest)) found = e;
      return found;
    },
    async admit(key) {
      const { spec, alias } = entryOf(key);
      if (spec.rpm !== undefined) {
        let wait: number;
        try {
          wait = await takeOne(rateLimit, `vkey:${alias}:rpm`, spec.rpm, now);
        } catch (error) {
          return unavailable('request rate', error);
        }
        if (wait > 0) {
          return {
            status: 429,
            type: 'rate_limit_error',
            code: 'rate_limit_exceeded',
            message: `Rate limit reached for key ${alias}: ${spec.rpm} requests per minute. Retry in ${Math.ceil(wait / 1000)} s.`,
            headers: { 'retry-after': String(Math.ceil(wait / 1000)), 'retry-after-ms': String(wait) },
          };
        }
      }
      if (spec.maxBudget !== undefined) {
        const { start, ms } = windowOf(spec);
        let spent: number;
        try {
          spent = await budget.spent(`vkey:${alias}`, start);
        } catch (error) {
          return unavailable('budget', error);
        }
        if (spent >= spec.maxBudget) {
          const resets =
            spec.budgetMs === undefined
              ? 'it does not reset'
              : `it resets at ${new Date(start + ms).toISOString()}`;
          return {
            status: 429,
            type: 'insufficient_quota',
            code: 'insufficient_quota',
            message: `Key ${alias} has spent its budget ($${spent.toFixed(4)} of $${spec.maxBudget}); ${resets}.`,
            // Retrying cannot help before the window ends: the openai SDKs read this header and
            // skip their automatic retries (openai-node `shouldRetry`).
            headers: { 'x-should-retry': 'false' },
          };
        }
      }
      return undefined;
    },
    async charge(key, usd) {
      const { spec, alias } = entryOf(key);
      if (spec.maxBudget === undefined) return undefined;
      const { start, ms } = windowOf(spec);
      try {
        // Nothing to add (a refusal, a failed call): the spend is read, for the log line.
        if (!(usd > 0)) return await budget.spent(`vkey:${alias}`, start);
        return await budget.add(`vkey:${alias}`, start, usd, ms);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The model resolver of a key's requests: a group the key may not call is a 403 (OpenAI's status for
 * a key without access, `PermissionDeniedError` in its SDKs), a group that does not exist stays a 404.
 * `socket`: thrown as the `ApiError` a WebSocket client gets, else as the HTTP handler's `HttpError`.
 */
export function keyModelResolver(
  resolve: (requested: string) => string | undefined,
  key: GatewayKey,
  socket = false,
): (requested: string) => string | undefined {
  return (requested) => {
    const model = resolve(requested);
    if (model === undefined || key.allows(requested)) return model;
    const refusal: KeyRefusal = {
      status: 403,
      type: 'invalid_request_error',
      code: 'model_not_allowed',
      message: `Key ${key.alias} may not call the model "${requested.slice(0, 100)}".`,
      headers: {},
    };
    throw socket ? refusalError(refusal) : new HttpError(403, refusal.type, refusal.message, refusal.code);
  };
}

/** Answers a key's refusal in OpenAI's error shape, with its headers (`Retry-After`, `x-should-retry`). */
export function sendRefusal(res: ServerResponse, refusal: KeyRefusal): void {
  const body = JSON.stringify({
    error: { message: refusal.message, type: refusal.type, param: null, code: refusal.code },
  });
  res.writeHead(refusal.status, {
    ...refusal.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** The refusal as the error a WebSocket client gets (the class its status and code make). */
export function refusalError(refusal: KeyRefusal): ApiError {
  return ApiError.fromResponse({
    status: refusal.status,
    headers: refusal.headers,
    body: { error: { message: refusal.message, type: refusal.type, code: refusal.code } },
    message: refusal.message,
    code: refusal.code,
  });
}

/** What the access log adds for a key: ` key=team-a`, and ` spend=$0.0123/$5` with a budget. */
export function keyLogSuffix(key: GatewayKey, spend: number | undefined): string {
  const max = (key as Entry).spec?.maxBudget;
  return ` key=${key.alias}${spend === undefined || max === undefined ? '' : ` spend=$${spend.toPrecision(3)}/$${max}`}`;
}
