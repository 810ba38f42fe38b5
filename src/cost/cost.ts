/**
 * `cost(usage, model)`: what a call cost, from the usage the provider reported and the price table.
 */
import type { Usage } from '../chunk';
import { MODEL_PRICES, PRICE_ALIASES, UNBILLED_PROVIDERS, type ModelPrice } from './prices';

/** A call's cost in USD, split the way providers bill it. */
export interface CostBreakdown {
  /** Prompt tokens not served from a cache. */
  input: number;
  /** Prompt tokens served from a cache. */
  cachedInput: number;
  /** Prompt tokens written to a cache (Anthropic bills them above the input rate). */
  cacheWrite: number;
  /** Visible completion tokens. */
  output: number;
  /** Reasoning tokens (part of `completion_tokens` in the usage). */
  reasoning: number;
  /** The sum, in USD. */
  total: number;
  /** The price-table key that matched. */
  model: string;
}

const userPrices = new Map<string, ModelPrice>();

function checkPrice(model: string, price: ModelPrice): void {
  const fields: (keyof ModelPrice)[] = [
    'input',
    'cachedInput',
    'cacheWrite',
    'cacheWrite1h',
    'output',
    'reasoning',
  ];
  for (const field of fields) {
    const value = price?.[field];
    if (value === undefined && field !== 'input' && field !== 'output') continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(
        `setPrice: ${field} of "${model}" must be a number >= 0 (USD per million tokens), got ${String(value)}.`,
      );
    }
  }
}

/**
 * Adds or replaces the price of a model (USD per million tokens), for this process. Keys are
 * `provider/model` as in requests, or a bare model name as providers echo it in chunks.
 *
 * @example
 * import { cost, setPrice } from 'rxllm';
 * setPrice('compat/llama-3-70b', { input: 0.2, output: 0.6 });
 * console.log(cost({ prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 }, 'compat/llama-3-70b'));
 */
export function setPrice(model: string, price: ModelPrice): void {
  if (typeof model !== 'string' || model === '')
    throw new TypeError('setPrice: model must be a non-empty string.');
  checkPrice(model, price);
  userPrices.set(model.toLowerCase(), { ...price });
}

/** Removes every price added with {@link setPrice} (the shipped table stays). */
export function clearPrices(): void {
  userPrices.clear();
}

// "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929": dated snapshots cost what their alias costs
// (a snapshot priced otherwise has its own entry, found first: `gpt-4o-2024-05-13`). Anthropic's
// aliases name the same models: "claude-3-7-sonnet-latest", "claude-sonnet-4-0" (= claude-sonnet-4).
const DATE_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;
const POINT_ZERO = /^(.*-\d+)-0$/;
// Built on the first lookup, not when the module loads: a loop at module level is code a bundler
// must keep (with the whole price table) in every app whose bundle holds this module's chunk, even
// one that never prices anything, and work every cold start pays.
let shippedByBareName: Map<string, string> | undefined;

function bareNames(): Map<string, string> {
  if (!shippedByBareName) {
    shippedByBareName = new Map();
    for (const key of Object.keys(MODEL_PRICES)) {
      const bare = key.slice(key.indexOf('/') + 1);
      if (!shippedByBareName.has(bare)) shippedByBareName.set(bare, key);
    }
  }
  return shippedByBareName;
}

function lookup(name: string): { key: string; price: ModelPrice } | undefined {
  const user = userPrices.get(name);
  if (user) return { key: name, price: user };
  if (Object.prototype.hasOwnProperty.call(MODEL_PRICES, name))
    return { key: name, price: MODEL_PRICES[name] };
  const shipped = bareNames().get(name);
  if (shipped) return { key: shipped, price: MODEL_PRICES[shipped] };
  return undefined;
}

/**
 * The price of `model`: an entry added with `setPrice`, else the shipped table. Matches
 * `provider/model`, a bare model name (`gpt-4o-mini`, as chunks carry it), dated snapshots
 * (`gpt-4o-mini-2024-07-18`; one priced apart from its alias has its own entry) and Anthropic's aliases
 * (`claude-3-7-sonnet-latest`, `claude-sonnet-4-0`). `openai-responses/<model>` and `azure/<deployment>` are priced as
 * `openai/<same name>` (see `PRICE_ALIASES`); `ollama/` and `mock/` models are local or fake and
 * match only a price set for them (see `UNBILLED_PROVIDERS`). `undefined` when unknown: rxllm never
 * guesses a price.
 */
export function findPrice(model: string): { key: string; price: ModelPrice } | undefined {
  if (typeof model !== 'string' || model === '') return undefined;
  const name = model.toLowerCase();
  const candidates = [name];
  const dated = (n: string) => {
    const undated = n.replace(DATE_SUFFIX, '');
    const major = POINT_ZERO.exec(undated)?.[1];
    const out = undated === n ? [] : [undated];
    return major ? [...out, major] : out;
  };
  candidates.push(...dated(name));
  const slash = name.indexOf('/');
  if (slash > 0) {
    const provider = name.slice(0, slash);
    const bare = name.slice(slash + 1);
    if (UNBILLED_PROVIDERS.includes(provider)) {
      for (const candidate of candidates) {
        const user = userPrices.get(candidate);
        if (user) return { key: candidate, price: user };
      }
      return undefined;
    }
    const alias = Object.prototype.hasOwnProperty.call(PRICE_ALIASES, provider)
      ? PRICE_ALIASES[provider]
      : undefined;
    if (alias) candidates.push(`${alias}/${bare}`, ...dated(`${alias}/${bare}`));
    candidates.push(bare, ...dated(bare));
  }
  for (const candidate of candidates) {
    const found = lookup(candidate);
    if (found) return found;
  }
  return undefined;
}

const PER_TOKEN = 1 / 1_000_000;

/**
 * What a call cost in USD: cached prompt tokens at the cached rate, prompt tokens written to a cache
 * (`prompt_tokens_details.cache_creation_tokens`) at the cache-write rate (the 1-hour rate for
 * `cache_creation_1h_tokens` of them), the rest of the prompt at the input rate, reasoning tokens
 * at the reasoning rate and the rest of the completion at the output rate. `null` when the model has no known price or there is no usage (a stream that never
 * reported usage has an unknown cost, not a cost of 0).
 *
 * @example
 * import { cost } from 'rxllm';
 * const c = cost({ prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 }, 'openai/gpt-4o-mini');
 * console.log(c?.total); // 0.15
 */
export function cost(usage: Usage | null | undefined, model: string): CostBreakdown | null {
  if (!usage) return null;
  const found = findPrice(model);
  if (!found) return null;
  const { price, key } = found;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  const prompt = num(usage.prompt_tokens);
  const completion = num(usage.completion_tokens);
  const details = usage.prompt_tokens_details;
  const cached = Math.min(prompt, num(details?.cached_tokens));
  const written = Math.min(prompt - cached, num(details?.cache_creation_tokens));
  const written1h = Math.min(written, num(details?.cache_creation_1h_tokens));
  const reasoningTokens = Math.min(completion, num(usage.completion_tokens_details?.reasoning_tokens));
  const input = (prompt - cached - written) * price.input * PER_TOKEN;
  const cachedInput = cached * (price.cachedInput ?? price.input) * PER_TOKEN;
  const writeRate = price.cacheWrite ?? price.input;
  const cacheWrite =
    ((written - written1h) * writeRate + written1h * (price.cacheWrite1h ?? writeRate)) * PER_TOKEN;
  const output = (completion - reasoningTokens) * price.output * PER_TOKEN;
  const reasoning = reasoningTokens * (price.reasoning ?? price.output) * PER_TOKEN;
  return {
    input,
    cachedInput,
    cacheWrite,
    output,
    reasoning,
    total: input + cachedInput + cacheWrite + output + reasoning,
    model: key,
  };
}
