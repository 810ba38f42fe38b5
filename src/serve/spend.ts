/**
 * Budget reservations of the gateway: a request's estimated cost is reserved on every budget it falls
 * under (its key's, its group's, the gateway's) before anything is sent upstream, each reservation
 * atomic with its check (`BudgetStore.reserve`: a Lua script on Redis), and settled to what the call
 * cost when it ends. A budget grants while its spend (reservations included) is below its limit, so
 * however many requests run at once, and on however many gateways sharing one Redis, its spend passes
 * the limit by at most one request's estimate, as the `budget` operator's does.
 */
import type { BudgetStore } from '../cost/budgetStore';
import { DEFAULT_OUTPUT_TOKENS, estimateRequestCost, type CostedRequest } from '../cost/estimate';
import { estimateRequestTokens } from '../rateLimit/estimate';
import type { ChatRequest } from '../request';
import type { BudgetLimit } from './configChecker';

/** One budget a request falls under. */
export interface SpendLimit extends BudgetLimit {
  /** Its key in the budget store (`vkey:team-a`, `group:fast`, `gateway`). */
  id: string;
  /** What a refusal names: `Key team-a`, `The model group "fast"`, `The gateway`. */
  label: string;
}

/** Why a request is refused before it is sent: the HTTP answer (OpenAI's error shape). */
export interface SpendRefusal {
  status: 403 | 429;
  type: string;
  code: string;
  message: string;
  headers: Record<string, string>;
  /** The refusing budget's spend, when the refusal is a budget's. */
  spent?: number;
}

/** Reservations held by one request until it ends. */
export interface SpendHold {
  /**
   * Settles every reservation to `actualUsd` (0 for a call that sent nothing, or never started);
   * resolves to each budget's spend after it (`undefined` where the store failed: the call already
   * happened, so nothing is refused for it).
   */
  settle(actualUsd: number): Promise<Map<string, number | undefined>>;
}

/** No budget_duration: one window that never ends (about 100 years; Redis keeps it as long). */
export const FOREVER_MS = 100 * 365 * 86_400_000;

/** The refusal of a store that cannot answer: fail closed, with a 429 the client may retry. */
export function storeUnavailable(what: string, error: unknown): SpendRefusal {
  return {
    status: 429,
    type: 'rate_limit_error',
    code: 'limit_store_unavailable',
    // The store's own message names no secret (StoreError); a token is never in it.
    message: `The ${what} cannot be checked right now (${(error as Error)?.message ?? String(error)}). Retry shortly.`,
    headers: { 'retry-after': '1' },
  };
}

function overBudget(limit: SpendLimit, spent: number, start: number): SpendRefusal {
  const resets =
    limit.budgetMs === undefined
      ? 'it does not reset'
      : `it resets at ${new Date(start + limit.budgetMs).toISOString()}`;
  return {
    status: 429,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message: `${limit.label} has spent its budget ($${spent.toFixed(4)} of $${limit.maxBudget}); ${resets}.`,
    // Retrying cannot help before the window ends: the openai SDKs read this header and skip their
    // automatic retries (openai-node `shouldRetry`).
    headers: { 'x-should-retry': 'false' },
    spent,
  };
}

/**
 * Reserves `usd` on each of `limits`, in order; the first that refuses gives back those granted
 * before it. Windows are fixed and aligned to the Unix epoch (as `budget()`'s); a reservation is
 * settled in the window it was made in. A store without `reserve` is checked then added to (two
 * gateways may interleave there: the shipped stores have `reserve`).
 */
export async function reserveSpend(
  store: BudgetStore,
  limits: readonly SpendLimit[],
  usd: number,
  now: number,
): Promise<SpendHold | SpendRefusal> {
  const held: { limit: SpendLimit; start: number; ms: number }[] = [];
  const settle = async (actual: number) => {
    const spend = new Map<string, number | undefined>();
    await Promise.all(
      held.map(async ({ limit, start, ms }) => {
        try {
          const delta = actual - usd;
          spend.set(
            limit.id,
            await (delta === 0 ? store.spent(limit.id, start) : store.add(limit.id, start, delta, ms)),
          );
        } catch {
          spend.set(limit.id, undefined);
        }
      }),
    );
    return spend;
  };
  for (const limit of limits) {
    const ms = limit.budgetMs ?? FOREVER_MS;
    const start = Math.floor(now / ms) * ms;
    let granted: boolean;
    let spent: number;
    try {
      if (store.reserve)
        ({ granted, spent } = await store.reserve(limit.id, start, usd, limit.maxBudget, ms));
      else {
        spent = await store.spent(limit.id, start);
        granted = spent < limit.maxBudget;
        if (granted) spent = await store.add(limit.id, start, usd, ms);
      }
    } catch (error) {
      await settle(0);
      return storeUnavailable(
        `budget of ${limit.label.replace(/^(The|Key) /, (w) => w.toLowerCase())}`,
        error,
      );
    }
    if (!granted) {
      await settle(0);
      return overBudget(limit, spent, start);
    }
    held.push({ limit, start, ms });
  }
  return { settle };
}

/** What a request is expected to use, before it is sent. */
export interface SpendEstimate {
  /** USD: its prompt estimate plus its output cap (else `outputTokens`) once per choice (`n`), at the priciest model that may serve it; 0 when none has a price. */
  usd: number;
  /** Tokens by the rate limiter's rule: prompt plus `max_completion_tokens` / `max_tokens`. */
  tokens: number;
}

/**
 * The estimate of `request` when any of `models` may serve it (a group's deployments and
 * fallbacks): the highest, so that a reservation covers the call wherever it is routed.
 */
export function estimateSpend(
  request: CostedRequest,
  models: readonly string[],
  outputTokens: number = DEFAULT_OUTPUT_TOKENS,
): SpendEstimate {
  let usd = 0;
  for (const model of models) usd = Math.max(usd, estimateRequestCost(request, model, outputTokens) ?? 0);
  return { usd, tokens: estimateRequestTokens(request as ChatRequest) };
}
