/**
 * Estimates where the provider has not said (yet) what a call used: before it starts (what a
 * budget reserves) and after it ended without a final usage report (a Stop button, a cut stream,
 * OpenAI without `include_usage`). Built on the rate limiter's token rule
 * (`src/rateLimit/estimate.ts`: 1 token per CJK character, 1 per 4 other characters), which errs
 * on the high side; no tokenizer is bundled.
 */
import type { Usage } from '../chunk';
import { choicesOf } from '../rateLimit/choices';
import { estimateRequestTokens } from '../rateLimit/estimate';
import { addTextChars } from '../rateLimit/textChars';
import type { ChatRequest } from '../request';
import { cost } from './cost';

/** A request as `stream()` takes it, or as a router takes it (`model` a group name). */
export type CostedRequest = Omit<ChatRequest, 'model'> & { model: string };

/**
 * Output tokens assumed for a request that sets neither `max_completion_tokens` nor `max_tokens`.
 * 4096 is the `max_tokens` rxllm sends Anthropic when the request sets none.
 */
export const DEFAULT_OUTPUT_TOKENS = 4096;

/** The prompt tokens of a request by the rate limiter's rule (its output cap left out). */
export function estimatePromptTokens(request: CostedRequest): number {
  return estimateRequestTokens({
    ...request,
    max_tokens: undefined,
    max_completion_tokens: undefined,
  } as ChatRequest);
}

/**
 * What a request may cost at most, in USD, before it is sent: its estimated prompt at the input
 * rate (at the cache-write rate when it carries `cache_control` marks) plus its output cap (`max_completion_tokens`, else `max_tokens`, else `outputTokens`), once per choice (`n`), at the
 * output rate. `null` when `model` has no price.
 *
 * @example
 * import { estimateRequestCost } from 'rxllm';
 * const usd = estimateRequestCost({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100 });
 * console.log(usd); // ~6.075e-5: 5 prompt tokens at $0.15/M + 100 output tokens at $0.60/M
 */
export function estimateRequestCost(
  request: CostedRequest,
  model: string = request.model,
  outputTokens: number = DEFAULT_OUTPUT_TOKENS,
): number | null {
  const prompt = estimatePromptTokens(request);
  const cap = (v: unknown) => (typeof v === 'number' && v >= 0 ? v : undefined);
  // The cap is per choice: `n` choices may each use it (and are each billed).
  const output =
    (cap(request.max_completion_tokens) ?? cap(request.max_tokens) ?? outputTokens) * choicesOf(request);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output };
  // Anthropic writes the prompt up to each `cache_control` mark to its cache, billed above input
  // (1.25 x, 2 x with `ttl: '1h'`): such a request is estimated as if its whole prompt were written.
  const json = JSON.stringify(request);
  if (json.includes('"cache_control"')) {
    usage.prompt_tokens_details = {
      cache_creation_tokens: prompt,
      cache_creation_1h_tokens: /"ttl"\s*:\s*"1h"/.test(json) ? prompt : 0,
    };
  }
  const usd = cost(usage, model);
  return usd ? usd.total : null;
}

/** Counts the tokens of a text that arrives in pieces, rounded once at the end. */
export class TextTokenCounter {
  private readonly counts = { cjk: 0, others: 0 };

  add(text: unknown): void {
    if (typeof text !== 'string' || text === '') return;
    addTextChars(text, this.counts);
  }

  get tokens(): number {
    return this.counts.cjk + Math.ceil(this.counts.others / 4);
  }
}

/**
 * The usage of a call the provider did not (finish) report: the prompt tokens it reported (e.g.
 * Anthropic's `message_start`), else the request's estimate; the completion tokens it reported or
 * the estimate of what was received, whichever is larger. `null` when neither the provider nor the
 * request says anything about the prompt.
 */
export function estimateUsage(
  reported: Usage | null,
  request: CostedRequest | undefined,
  received: { output: number; reasoning: number },
): Usage | null {
  const prompt = reported ? reported.prompt_tokens : request ? estimatePromptTokens(request) : undefined;
  if (prompt === undefined) return null;
  const reasoning = Math.max(reported?.completion_tokens_details?.reasoning_tokens ?? 0, received.reasoning);
  const completion = Math.max(reported?.completion_tokens ?? 0, received.output + received.reasoning);
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (reported?.prompt_tokens_details) usage.prompt_tokens_details = { ...reported.prompt_tokens_details };
  if (reasoning > 0) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}
