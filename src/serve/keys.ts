/**
 * Virtual keys of the gateway (LiteLLM's virtual keys, https://docs.litellm.ai/docs/proxy/virtual_keys):
 * several bearer tokens, each with the groups it may call, a request and a token rate and a spend
 * budget. The rates and the spend live in the rate-limit and budget stores, so gateways sharing one
 * Redis share them. Refusals are OpenAI's: 429 `rate_limit_exceeded` with `Retry-After` over a rate,
 * 429 `insufficient_quota` over the budget (what OpenAI answers an account out of credit,
 * https://platform.openai.com/docs/guides/error-codes), 403 for a group the key may not call. The
 * budget is reserved per request (src/serve/spend.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { createMemoryBudgetStore, type BudgetStore } from '../cost/budgetStore';
import { createMemoryRateLimitStore, type RateLimitState, type RateLimitStore } from '../rateLimit/store';
import { ApiError } from '../errors';
import { HttpError } from './chatCompletions';
import type { GatewayKeySpec } from './config';
import { FOREVER_MS, storeUnavailable, type SpendLimit, type SpendRefusal } from './spend';

/** A key the gateway knows. `alias` is what logs and metrics show; the token is never kept in clear. */
export interface GatewayKey {
  readonly alias: string;
  /** Whether the key may call this group. */
  allows(model: string): boolean;
}

/** Why a key's request is refused: the HTTP answer. */
export type KeyRefusal = SpendRefusal;

/** The keys of one gateway. */
export interface KeyRing {
  /** The key of a bearer token (constant time over every key), or `undefined`. */
  find(token: string | undefined): GatewayKey | undefined;
  /**
   * Checks and takes one request of the key's `rpm_limit` (before the body is read); resolves to
   * `undefined` (go on) or the refusal. A store that cannot answer refuses (fail closed) with a 429
   * the client may retry: unchecked, a fleet would overrun the limit.
   */
  admit(key: GatewayKey): Promise<KeyRefusal | undefined>;
  /**
   * Takes a request's estimated tokens from the key's `tpm_limit` (once its body is known). A request
   * estimated above the whole limit is refused with `x-should-retry: false` (OpenAI's "Request too
   * large"); one above what is left, with `Retry-After`.
   */
  takeTokens(key: GatewayKey, tokens: number): Promise<KeyRefusal | undefined>;
  /** The key's budget, for `reserveSpend` (`vkey:<alias>` in the budget store); `undefined` without one. */
  limitOf(key: GatewayKey): SpendLimit | undefined;
  /** The key's spend in the current window (`undefined` without a budget, or when the store failed). */
  spent(key: GatewayKey): Promise<number | undefined>;
  /** Where the keys' budgets live. */
  readonly budgetStore: BudgetStore;
}

interface Entry extends GatewayKey {
  readonly digest: Buffer;
  readonly spec: GatewayKeySpec;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * `n` units (a request, or a request's tokens) from a bucket refilled at `perMinute` (its capacity,
 * at least 1); resolves to 0 when taken, else the ms until they would be. As `createRateLimiter` keeps
 * it, but answering at once: a gateway refuses a request over the rate instead of holding it.
 * Compare-and-set, retried while another gateway wrote first.
 */
async function take(
  store: RateLimitStore,
  key: string,
  perMinute: number,
  now: () => number,
  n = 1,
): Promise<number> {
  const capacity = Math.max(1, perMinute);
  for (let tries = 0; tries < 50; tries++) {
    const stored = await store.get(key);
    const t = now();
    const left = stored
      ? Math.min(capacity, stored.requests + (Math.max(0, t - stored.updatedAt) * perMinute) / 60_000)
      : capacity;
    if (left < n) return Math.ceil(((n - left) * 60_000) / perMinute);
    const next: RateLimitState = { requests: left - n, tokens: Infinity, updatedAt: t, pausedUntil: 0 };
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
  const entryOf = (key: GatewayKey) => key as Entry;
  const limits = new Map<GatewayKey, SpendLimit>();
  for (const e of entries) {
    if (e.spec.maxBudget === undefined) continue;
    const { maxBudget, budgetMs } = e.spec;
    limits.set(e, { id: `vkey:${e.alias}`, label: `Key ${e.alias}`, maxBudget, budgetMs });
  }
  const limited = (wait: number, message: string): KeyRefusal => ({
    status: 429,
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    message: `${message} Retry in ${Math.ceil(wait / 1000)} s.`,
    headers: { 'retry-after': String(Math.ceil(wait / 1000)), 'retry-after-ms': String(wait) },
  });
  return {
    budgetStore: budget,
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
      if (spec.rpm === undefined) return undefined;
      let wait: number;
      try {
        wait = await take(rateLimit, `vkey:${alias}:rpm`, spec.rpm, now);
      } catch (error) {
        return storeUnavailable('request rate of this key', error);
      }
      if (wait === 0) return undefined;
      return limited(wait, `Rate limit reached for key ${alias}: ${spec.rpm} requests per minute.`);
    },
    async takeTokens(key, tokens) {
      const { spec, alias } = entryOf(key);
      if (spec.tpm === undefined) return undefined;
      if (tokens > spec.tpm) {
        // No wait would let it through: OpenAI answers such a request 429 "Request too large".
        return {
          status: 429,
          type: 'tokens',
          code: 'rate_limit_exceeded',
          message: `Request too large for key ${alias} on tokens per minute: limit ${spec.tpm}, requested ${tokens} (the prompt's estimate plus max_tokens). Send fewer tokens or a lower max_tokens.`,
          headers: { 'x-should-retry': 'false' },
        };
      }
      let wait: number;
      try {
        wait = await take(rateLimit, `vkey:${alias}:tpm`, spec.tpm, now, tokens);
      } catch (error) {
        return storeUnavailable('token rate of this key', error);
      }
      if (wait === 0) return undefined;
      return limited(
        wait,
        `Rate limit reached for key ${alias}: ${spec.tpm} tokens per minute (requested ${tokens}).`,
      );
    },
    limitOf: (key) => limits.get(key),
    async spent(key) {
      const limit = limits.get(key);
      if (!limit) return undefined;
      const ms = limit.budgetMs ?? FOREVER_MS;
      try {
        return await budget.spent(limit.id, Math.floor(now() / ms) * ms);
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

/** A request refused from its head (a key's limits, a bad header). */
export type HeadRefusal = Omit<KeyRefusal, 'status'> & { status: number };

/** Answers a refusal in OpenAI's error shape, with its headers (`Retry-After`, `x-should-retry`). */
export function sendRefusal(res: ServerResponse, refusal: HeadRefusal): void {
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
