/**
 * Failures the provider billed that `retryBackoff` retried all the same (a `shouldRetry` of the
 * user's said so): a router's attempts left billed (`error.billed`), a `complete()` answer billed but
 * never read (`error.billedAnswer`), chunks an operator above it received (`error.partial`). The
 * retry swallows the error, so `trackUsage` below would never see what it was billed for:
 * `retryBackoff` hands them on with what it passes next.
 *
 * - on the next value (the next attempt's first, or the reset chunk of `resume: 'restart'`), under a
 *   symbol key: a copy of the value, so an operator that spreads a chunk (`{ ...chunk }`) keeps it and
 *   `JSON.stringify` (what a client is sent) leaves it out;
 * - on the final error, when the retries end in one;
 * - while it completes, when the last attempt completed without a value (dynamically scoped, as the
 *   unsubscribe hand-off: an operator of another call that completes inside this completion is
 *   offered it too, and an operator that completes later, after a scheduler, is not);
 * - while it is unsubscribed before any of these (`tellUnsubscribedBilled`).
 *
 * The symbol and the completing list live on `globalThis` (`Symbol.for`), so the CommonJS and ESM
 * builds loaded side by side share them, as they share the unsubscribe hand-off.
 */
import type { ChatCompletion } from '../chunk';
import { LlmError } from '../errors';
import { billedOf } from '../router/route';
import { failureParts, partialPart, type BilledPart } from './billedParts';
import type { CostedRequest } from './estimate';

/** One failure a retry swallowed. */
export interface RetriedFailure {
  readonly error: unknown;
  /** The operator below had seen the failed attempt's values: its `partial` is counted there already. */
  readonly sawValues: boolean;
}

// Made on first use, not at load: an app that never retries keeps none of this in its bundle.
const RETRIED = /* @__PURE__ */ Symbol.for('rxllm.retriedBilled');
const COMPLETING = /* @__PURE__ */ Symbol.for('rxllm.retriedBilledCompleting');
const completingNow = (): (readonly RetriedFailure[])[] =>
  ((globalThis as Record<symbol, unknown>)[COMPLETING] ??= []) as (readonly RetriedFailure[])[];

/** Whether a failure says the provider billed it: a retry of it is a second bill. */
export function isBilledFailure(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { partial?: unknown; billedAnswer?: unknown };
  return e.partial !== undefined || e.billedAnswer === true || (billedOf(error)?.length ?? 0) > 0;
}

/** The retried failures a value or an error carries. */
export function retriedOf(value: unknown): readonly RetriedFailure[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const list = (value as Record<symbol, unknown>)[RETRIED];
  return Array.isArray(list) ? list : undefined;
}

/** A copy of `value` carrying `list` (added to what it carried already). */
export function valueCarrying<T>(value: T, list: readonly RetriedFailure[]): T {
  if (value === null || typeof value !== 'object') return value;
  return { ...value, [RETRIED]: [...(retriedOf(value) ?? []), ...list] };
}

/** `error` carrying `list`; an error that cannot hold it (a string, a frozen object) is wrapped. */
export function errorCarrying(error: unknown, list: readonly RetriedFailure[]): unknown {
  if (list.length === 0) return error;
  const all = [...(retriedOf(error) ?? []), ...list];
  if (error !== null && typeof error === 'object' && Object.isExtensible(error)) {
    Object.defineProperty(error, RETRIED, { value: all, configurable: true, writable: true });
    return error;
  }
  const wrapped = new LlmError(`The call failed: ${String(error)}`, { cause: error });
  Object.defineProperty(wrapped, RETRIED, { value: all, configurable: true, writable: true });
  return wrapped;
}

/** Runs `complete` with `list` offered to the counting operators that complete during it. */
export function completeCarrying(list: readonly RetriedFailure[], complete: () => void): void {
  const completing = completingNow();
  completing.push(list);
  try {
    complete();
  } finally {
    completing.pop();
  }
}

/** What is offered to an operator completing now (see {@link completeCarrying}). */
export function retriedCompleting(): readonly RetriedFailure[] | undefined {
  const completing = (globalThis as Record<symbol, (readonly RetriedFailure[])[] | undefined>)[COMPLETING];
  return completing?.length ? completing[completing.length - 1] : undefined;
}

/**
 * What the retried failures were billed for, priced at `model`: a router's attempts as it billed
 * them, an unread answer at the request's prompt, and chunks received above the retry (their final
 * usage, else an estimate from the request and their text).
 */
export function retriedParts(
  list: readonly RetriedFailure[],
  request: CostedRequest | undefined,
  model: string | undefined,
): BilledPart[] {
  const parts: BilledPart[] = [];
  for (const { error, sawValues } of list) {
    parts.push(...failureParts(error, request, model, sawValues));
    const partial = (error as { partial?: ChatCompletion } | null)?.partial;
    if (!sawValues && partial?.object === 'chat.completion') parts.push(partialPart(partial, request, model));
  }
  return parts;
}
