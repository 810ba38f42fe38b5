/**
 * Two calls' usage as one (a retried call, the steps of a tool loop), keeping every priced detail:
 * cached prompt tokens, cache writes (5-minute and 1-hour, billed above input) and reasoning tokens,
 * so `cost()` of the sum is the sum of the costs.
 */
import type { Usage } from '../chunk';

const PROMPT_DETAILS = ['cached_tokens', 'cache_creation_tokens', 'cache_creation_1h_tokens'] as const;

/** `a + b`, details included (a detail that is 0 in both is left out). */
export function sumUsage(a: Usage, b: Usage): Usage {
  const out: Usage = {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
  for (const key of PROMPT_DETAILS) {
    const n = (a.prompt_tokens_details?.[key] ?? 0) + (b.prompt_tokens_details?.[key] ?? 0);
    if (n > 0) (out.prompt_tokens_details ??= {})[key] = n;
  }
  const reasoning =
    (a.completion_tokens_details?.reasoning_tokens ?? 0) +
    (b.completion_tokens_details?.reasoning_tokens ?? 0);
  if (reasoning > 0) out.completion_tokens_details = { reasoning_tokens: reasoning };
  return out;
}
