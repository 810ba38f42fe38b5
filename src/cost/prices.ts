/**
 * The price table shipped with rxllm: USD per million tokens for the common models of every
 * built-in provider. Prices change; {@link PRICES_CHECKED} says when these were read, and
 * `setPrice` adds or overrides entries without a release.
 *
 * Sources (read 2026-11-29): openai.com/api/pricing (GPT-5, GPT-4.1, GPT-4o, o-series),
 * platform.claude.com/docs/en/about-claude/pricing (cache hits = "Cache hits and refreshes"),
 * ai.google.dev/gemini-api/docs/pricing (prompts up to 200k tokens), groq.com/pricing,
 * api-docs.deepseek.com/quick_start/pricing (deepseek-chat / deepseek-reasoner, V3.2 list prices).
 */

/** What one model costs, in USD per million tokens. */
export interface ModelPrice {
  /** Prompt tokens not served from a cache. */
  input: number;
  /** Prompt tokens served from the provider's prompt cache. @defaultValue `input` (no discount known) */
  cachedInput?: number;
  /**
   * Prompt tokens written to the provider's prompt cache (Anthropic: 1.25 x input for the default
   * 5-minute cache). @defaultValue `input` (providers that charge no write premium)
   */
  cacheWrite?: number;
  /** Prompt tokens written to a 1-hour cache (Anthropic: 2 x input). @defaultValue `cacheWrite` */
  cacheWrite1h?: number;
  /** Completion tokens (visible output). */
  output: number;
  /** Reasoning/thinking tokens. Every built-in provider bills them as output. @defaultValue `output` */
  reasoning?: number;
}

/** The date the shipped prices were read from the providers' public pages (ISO 8601). */
export const PRICES_CHECKED = '2026-11-29';

/**
 * Shipped prices, keyed `provider/model` as in requests. Gemini prices are the tier for prompts of
 * at most 200k tokens; Anthropic `cachedInput` is the cache-hit rate.
 *
 * Cache writes (read 2026-12-06): Anthropic bills them at 1.25 x the input rate for the default
 * 5-minute cache and 2 x for the 1-hour cache (platform.claude.com/docs/en/about-claude/pricing,
 * "Cache writes"); its usage reports them apart (`cache_creation_input_tokens`, split by TTL in
 * `cache_creation.ephemeral_{5m,1h}_input_tokens`). OpenAI, DeepSeek and Groq charge no write
 * premium (a cache miss is billed as input); Gemini's implicit cache has none either, and its
 * explicit caches (`cachedContents`) are billed per hour of storage, outside any call's usage.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  // OpenAI
  'openai/gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
  'openai/gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
  'openai/gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
  'openai/gpt-5.1': { input: 1.25, cachedInput: 0.125, output: 10 },
  'openai/gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
  'openai/gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'openai/gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  'openai/gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  // The first GPT-4o snapshot kept its launch price (no cached-input discount): not the alias's.
  'openai/gpt-4o-2024-05-13': { input: 5, output: 15 },
  'openai/gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  'openai/o3': { input: 2, cachedInput: 0.5, output: 8 },
  'openai/o3-mini': { input: 1.1, cachedInput: 0.55, output: 4.4 },
  'openai/o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
  // Anthropic
  'anthropic/claude-opus-4-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25 },
  'anthropic/claude-opus-4-1': {
    input: 15,
    cachedInput: 1.5,
    cacheWrite: 18.75,
    cacheWrite1h: 30,
    output: 75,
  },
  'anthropic/claude-sonnet-4-5': {
    input: 3,
    cachedInput: 0.3,
    cacheWrite: 3.75,
    cacheWrite1h: 6,
    output: 15,
  },
  'anthropic/claude-opus-4': { input: 15, cachedInput: 1.5, cacheWrite: 18.75, cacheWrite1h: 30, output: 75 },
  'anthropic/claude-sonnet-4': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15 },
  'anthropic/claude-3-7-sonnet': {
    input: 3,
    cachedInput: 0.3,
    cacheWrite: 3.75,
    cacheWrite1h: 6,
    output: 15,
  },
  'anthropic/claude-sonnet-5-5': { input: 2, cachedInput: 0.1, cacheWrite: 2.5, cacheWrite1h: 4, output: 10 },
  'anthropic/claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, cacheWrite1h: 2, output: 5 },
  'anthropic/claude-haiku-5-5': {
    input: 0.1,
    cachedInput: 0.01,
    cacheWrite: 0.125,
    cacheWrite1h: 0.2,
    output: 0.5,
  },
  'anthropic/claude-3-5-haiku': {
    input: 0.8,
    cachedInput: 0.08,
    cacheWrite: 1,
    cacheWrite1h: 1.6,
    output: 4,
  },
  'anthropic/claude-3-haiku': {
    input: 0.25,
    cachedInput: 0.03,
    cacheWrite: 0.3,
    cacheWrite1h: 0.5,
    output: 1.25,
  },
  // Google Gemini
  'gemini/gemini-2.5-pro': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gemini/gemini-2.5-flash': { input: 0.3, cachedInput: 0.03, output: 2.5 },
  'gemini/gemini-2.5-flash-lite': { input: 0.1, cachedInput: 0.01, output: 0.4 },
  'gemini/gemini-2.0-flash': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  // DeepSeek
  'deepseek/deepseek-chat': { input: 0.28, cachedInput: 0.028, output: 0.42 },
  'deepseek/deepseek-reasoner': { input: 0.28, cachedInput: 0.028, output: 0.42 },
  // Groq
  'groq/openai/gpt-oss-120b': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  'groq/openai/gpt-oss-20b': { input: 0.075, cachedInput: 0.0375, output: 0.3 },
  'groq/llama-3.3-70b-versatile': { input: 0.59, output: 0.79 },
  'groq/llama-3.1-8b-instant': { input: 0.05, output: 0.08 },
  'groq/qwen/qwen3-32b': { input: 0.29, output: 0.59 },
};

/**
 * Providers billed at another provider's prices, for the model name after the prefix.
 * `openai-responses/<model>` is OpenAI's Responses API: the same models at the same prices
 * (openai.com/api/pricing lists one price per model for every endpoint). `azure/<deployment>`: the
 * deployment name is chosen by the user, so it is looked up as an OpenAI model name (name the
 * deployment after its model: `azure/gpt-4o-mini`); a deployment named otherwise has no price
 * (`null`) until `setPrice('azure/<deployment>', ...)`. Azure bills its own rates, which depend on
 * the deployment type and region; OpenAI's list price is an estimate of them, and `setPrice` on the
 * `azure/` key gives the exact one (it wins over the alias).
 */
export const PRICE_ALIASES: Readonly<Record<string, string>> = {
  'openai-responses': 'openai',
  azure: 'openai',
};

/**
 * Built-in providers that send no bill: `ollama` runs models locally and `mock` is rxllm's test
 * provider. They have no shipped price and no fallback to a same-named billed model (a local
 * `ollama/gpt-oss-20b` costs nothing at Groq's rate), so `cost()` is `null` for them unless
 * `setPrice('ollama/<model>', ...)` prices local compute. (`compat/` is any OpenAI-compatible server:
 * it may bill, so its bare model names still match the table.)
 */
export const UNBILLED_PROVIDERS: readonly string[] = ['mock', 'ollama'];

/** The date the batch discounts in {@link BATCH_DISCOUNTS} were read (ISO 8601). */
export const BATCH_PRICES_CHECKED = '2026-12-07';

/**
 * What a request sent through a provider's own batch API costs, as a factor of its synchronous
 * price, per provider. All three bill half: OpenAI "50% cost discount compared to synchronous APIs"
 * (platform.openai.com/docs/guides/batch), Anthropic "50% of standard API prices"
 * (docs.claude.com/en/docs/build-with-claude/batch-processing, "Pricing"), Gemini "50% of the
 * standard cost" (ai.google.dev/gemini-api/docs/batch-mode). Cache reads and writes inside a batch
 * get the same factor on their own rates.
 */
export const BATCH_DISCOUNTS: Readonly<Record<string, number>> = {
  openai: 0.5,
  anthropic: 0.5,
  gemini: 0.5,
};
