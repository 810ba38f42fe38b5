/**
 * What a call was billed for, in parts: each attempt's usage priced at its own model and summed
 * (`trackUsage`, a failed `rxllm batch` line), with what a failure says was billed beyond the values
 * it let through (a router's `error.billed`, a `complete()` answer billed but never read).
 */
import type { ChatCompletion, Usage } from '../chunk';
import { billedOf, type BilledAttempt } from '../router/route';
import { AttemptUsage } from './attemptUsage';
import { cost, type CostBreakdown } from './cost';
import { estimateUsage, type CostedRequest } from './estimate';
import { sumUsage } from './sumUsage';

/** One attempt's usage, settled, and the model it is priced at. */
export interface BilledPart {
  usage: Usage | null;
  estimated: boolean;
  model: string | undefined;
}

/**
 * The usage of a `complete()` answer generated and billed whose body broke (`error.billedAnswer`):
 * the request's prompt, estimated (its output never arrived); `null` when nothing is known of it.
 */
export function unreadAnswerUsage(request: CostedRequest | undefined): Usage | null {
  return estimateUsage(null, request, { output: 0, reasoning: 0 });
}

/** A router's billed attempts as parts, each at its own model. */
export function attemptParts(billed: readonly BilledAttempt[]): BilledPart[] {
  return billed.map((b) => ({ usage: b.usage, estimated: b.estimated, model: b.model }));
}

/**
 * What the chunks received before a failure were billed for (`error.partial`, merged): their final
 * usage, else an estimate from the request and their text, priced at `model`.
 */
export function partialPart(
  partial: ChatCompletion,
  request: CostedRequest | undefined,
  model: string | undefined,
): BilledPart {
  const seen = new AttemptUsage();
  seen.observe(partial);
  return { ...seen.settle(false, request), model };
}

/**
 * What a failed call was billed for that none of its values showed: a router's `error.billed`
 * (which holds any of its attempts' unread answers), else, for a call that `received` nothing, a
 * `complete()` answer billed but never read (`error.billedAnswer`), priced at `model`.
 */
export function failureParts(
  error: unknown,
  request: CostedRequest | undefined,
  model: string | undefined,
  received: boolean,
): BilledPart[] {
  const billed = billedOf(error);
  if (billed?.length) return attemptParts(billed);
  if (received || (error as { billedAnswer?: unknown } | null)?.billedAnswer !== true) return [];
  const usage = unreadAnswerUsage(request);
  return [{ usage, estimated: usage !== null, model }];
}

/** `a + b`, field by field; the matched price key is the last one's. */
function addCost(a: CostBreakdown, b: CostBreakdown): CostBreakdown {
  return {
    input: a.input + b.input,
    cachedInput: a.cachedInput + b.cachedInput,
    cacheWrite: a.cacheWrite + b.cacheWrite,
    output: a.output + b.output,
    reasoning: a.reasoning + b.reasoning,
    total: a.total + b.total,
    model: b.model,
  };
}

/**
 * The call's usage and cost from its parts: usages summed (a part without one was not billed),
 * each part priced at its own model; the cost is `null` when a part with a usage has no price
 * (never a part left out).
 */
export function priceParts(parts: readonly BilledPart[]): {
  usage: Usage | null;
  estimated: boolean;
  cost: CostBreakdown | null;
} {
  let usage: Usage | null = null;
  let estimated = false;
  let total: CostBreakdown | null = null;
  let priced = true;
  for (const part of parts) {
    if (!part.usage) continue;
    usage = usage ? sumUsage(usage, part.usage) : part.usage;
    estimated ||= part.estimated;
    const c = part.model ? cost(part.usage, part.model) : null;
    if (!c) priced = false;
    else total = total ? addCost(total, c) : c;
  }
  return { usage, estimated: usage !== null && estimated, cost: priced ? total : null };
}
