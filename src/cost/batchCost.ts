/**
 * `batchCost(usage, model)`: what a request answered by a provider's batch API cost, from the price
 * table and the provider's batch discount.
 */
import type { Usage } from '../chunk';
import { cost, type CostBreakdown } from './cost';
import { BATCH_DISCOUNTS } from './prices';

/**
 * The cost of a request run in the provider's batch API: {@link cost} with every part multiplied by
 * the provider's factor in `BATCH_DISCOUNTS` (0.5 for OpenAI, Anthropic and Gemini). `null` when the
 * model has no price, there is no usage, or the provider has no known batch price.
 *
 * @example
 * import { batchCost } from 'rxllm';
 * const usage = { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 };
 * console.log(batchCost(usage, 'openai/gpt-4o-mini')?.total); // 0.075
 */
export function batchCost(usage: Usage | null | undefined, model: string): CostBreakdown | null {
  const provider = model.slice(0, Math.max(0, model.indexOf('/'))).toLowerCase();
  const factor = Object.prototype.hasOwnProperty.call(BATCH_DISCOUNTS, provider)
    ? BATCH_DISCOUNTS[provider]
    : undefined;
  const full = factor === undefined ? null : cost(usage, model);
  if (!full || factor === undefined) return null;
  // A power-of-two factor (0.5) scales every part exactly: the batch total is exactly half the
  // synchronous one, as the providers bill it.
  return {
    input: full.input * factor,
    cachedInput: full.cachedInput * factor,
    cacheWrite: full.cacheWrite * factor,
    output: full.output * factor,
    reasoning: full.reasoning * factor,
    total: full.total * factor,
    model: full.model,
  };
}
