/**
 * One line of a results file: OpenAI's batch-output shape (`custom_id`, `response.status_code` and
 * `body`, `error`; https://platform.openai.com/docs/guides/batch) plus what a run of our own knows:
 * `usage`, `cost`, the router's `deployment` and `attempts`, and for a provider batch its `batch_id`.
 * Both modes of `rxllm batch` write these lines, so one reader takes either mode's file.
 */
import type { BatchResult } from '../batch';
import type { ChatCompletion } from '../chunk';
import { attemptParts, failureParts, partialPart, priceParts, type BilledPart } from '../cost/billedParts';
import { retriedOf, retriedParts } from '../cost/retriedBilled';
import type { BilledAttempt } from '../router/route';
import { errorClassName } from '../errorName';
import { ApiError, BatchResultError } from '../errors';
import type { BatchEvent } from '../providerBatch/submit';
import { redactSecrets } from '../redact';

/** A line of a results file. */
export interface BatchResultRecord {
  /** The input line's `custom_id`. */
  custom_id: string;
  /** The answer (HTTP 200 and the completion), `null` when the request failed. */
  response: { status_code: number; body: ChatCompletion } | null;
  /**
   * The error's class (`RateLimitError`, ...), its message (secrets redacted) and HTTP status; for a
   * request a provider batch did not answer, `reason` (`errored`, `expired`, `missing`, ...).
   */
  error: { type: string; message: string; status?: number; reason?: string } | null;
  /** Token counts as the provider reported them; `null` when it failed or none came. */
  usage: NonNullable<ChatCompletion['usage']> | null;
  /**
   * USD; `null` when its model has no known price. A request that failed costs what it was billed for
   * before it failed (a router's attempts that were billed, `error.billed`; a streamed answer cut
   * part-way, `error.partial`), estimated (`cost_estimated`); `null` when nothing was received. An
   * answer's cost includes the attempts billed before it: a router's (`route.billed`, a refusal that
   * went to a fallback) and failures the provider billed that a retry of yours sent again.
   */
  cost: number | null;
  /** `true` when `cost` is an estimate (a failed request's billed part, not reported by the provider). */
  cost_estimated?: true;
  /** The router deployment that answered (with `--router`). */
  deployment?: string;
  /** 1 + the request's retries; 1 in a provider batch (the provider does not report its own). */
  attempts: number;
  /** The provider batch that answered (`rxllm batch --provider-batch`). */
  batch_id?: string;
}

/** The record of one `batch()` result (a router's `route` moves from the body to `deployment`). */
export function resultRecord(customId: string, result: BatchResult<ChatCompletion>): BatchResultRecord {
  if (!result.ok) {
    const billed = failedCost(result.error, result.request);
    return {
      custom_id: customId,
      response: null,
      error: errorRecord(result.error),
      usage: null,
      cost: billed && billed.usd,
      ...(billed?.estimated ? { cost_estimated: true as const } : {}),
      attempts: result.attempts,
    };
  }
  const { route, ...body } = result.value as ChatCompletion & {
    route?: { deployment: string; model: string; billed?: readonly BilledAttempt[] };
  };
  const model = route?.model ?? result.request.model;
  const parts: BilledPart[] = attemptParts(route?.billed ?? []);
  const retried = retriedOf(result.value);
  if (retried) parts.push(...retriedParts(retried, result.request, model));
  parts.push({ usage: result.value.usage ?? null, estimated: false, model });
  const priced = priceParts(parts);
  return {
    custom_id: customId,
    response: { status_code: 200, body },
    error: null,
    usage: result.value.usage ?? null,
    cost: priced.cost && priced.cost.total,
    ...(priced.estimated ? { cost_estimated: true as const } : {}),
    ...(route ? { deployment: route.deployment } : {}),
    attempts: result.attempts,
  };
}

/** The record of a provider batch's answer for one request (a `result` or `error` event). */
export function providerBatchRecord(
  event: Extract<BatchEvent, { type: 'result' | 'error' }>,
): BatchResultRecord {
  const answered = event.type === 'result';
  return {
    custom_id: event.custom_id,
    response: answered ? { status_code: 200, body: event.completion } : null,
    error: answered ? null : errorRecord(event.error),
    usage: answered ? event.usage : null,
    cost: answered ? event.cost : null,
    attempts: 1,
    batch_id: event.batchId,
  };
}

/**
 * What a failed request was billed for, in USD: its router attempts that were billed (`error.billed`),
 * the part of an answer received before the failure (`error.partial`, estimated with the request's
 * prompt) and an answer billed but never read (`error.billedAnswer`: its prompt). `null` when nothing
 * was received, or a part has no price.
 */
function failedCost(
  error: unknown,
  request: BatchResult['request'],
): { usd: number; estimated: boolean } | null {
  const partial = (error as { partial?: ChatCompletion } | null)?.partial;
  const parts = failureParts(error, request, request.model, !!partial);
  const retried = retriedOf(error);
  if (retried) parts.push(...retriedParts(retried, request, request.model));
  if (partial && typeof partial === 'object') {
    const route = (partial as { route?: { model?: string } }).route;
    parts.push(partialPart(partial, request, route?.model ?? request.model));
  }
  const priced = priceParts(parts);
  return priced.cost && { usd: priced.cost.total, estimated: priced.estimated };
}

function errorRecord(error: unknown): NonNullable<BatchResultRecord['error']> {
  const record: NonNullable<BatchResultRecord['error']> = {
    type: error instanceof Error ? errorClassName(error.constructor) : 'Error',
    message: redactSecrets(error instanceof Error ? error.message : String(error)),
  };
  if (error instanceof ApiError) record.status = error.status;
  if (error instanceof BatchResultError) {
    record.reason = error.reason;
    // A request the provider answered with an HTTP error carries that error as the cause.
    if (error.cause instanceof ApiError) record.status = error.cause.status;
  }
  return record;
}
