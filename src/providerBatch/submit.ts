/**
 * `submitBatch` / `resumeBatch`: neutral requests through a provider's own batch API (half price,
 * answers within 24 hours), as an `Observable<BatchEvent>`: submitted, status while it runs, then
 * one result or one typed error per request, matched by `custom_id`.
 */
import { asyncScheduler, Observable, timer, type SchedulerLike } from 'rxjs';
import type { ChatCompletion, Usage } from '../chunk';
import { batchCost } from '../cost/batchCost';
import { cost } from '../cost/cost';
import { BatchResultError, LlmError, RequestAbortedError } from '../errors';
import type {
  BatchCounts,
  BatchItem,
  BatchOutcome,
  BatchState,
  BatchStatus,
  BatchTarget,
  ProviderBatchApi,
} from '../providers/batchTypes';
import { onAbort } from '../abortListeners';
import { batchProvider, splitBatches, toItems, type ProviderBatchRequest } from './plan';
import { getBatchApi } from './registry';

export type { ProviderBatchRequest } from './plan';
export type { BatchCounts, BatchState } from '../providers/batchTypes';

/** Defaults of {@link submitBatch} and {@link resumeBatch}. */
export const SUBMIT_BATCH_DEFAULTS = {
  /** Between two status polls. Providers take minutes to hours; polling faster only costs calls. */
  pollMs: 30_000,
  /** Retries of one poll (or results download) that failed with a retryable error (5xx, 429, network). */
  pollRetries: 5,
  /** First backoff of those retries, doubled each time (a `Retry-After` wins). */
  pollBackoffMs: 1_000,
  /** Unsubscribing cancels the provider batches still running. */
  cancelOnUnsubscribe: true,
} as const;

/** Options of {@link submitBatch}. */
export interface SubmitBatchOptions extends Omit<BatchTarget, 'signal'> {
  /** Provider prefix. @defaultValue the prefix the requests' models share */
  provider?: string;
  /** @defaultValue 30000 */
  pollMs?: number;
  /** @defaultValue 5 */
  pollRetries?: number;
  /** @defaultValue 1000 */
  pollBackoffMs?: number;
  /**
   * Aborting it is unsubscribing, then the observable errors with `RequestAbortedError`. Calls that
   * share one signal add one `abort` listener to it between them (no `MaxListenersExceededWarning`).
   */
  signal?: AbortSignal;
  /**
   * Cancel the provider batches when the subscriber leaves before they end. `false` detaches: they
   * keep running and `resumeBatch` picks them up. @defaultValue true
   */
  cancelOnUnsubscribe?: boolean;
  /** Fewer requests per batch than the provider allows. @defaultValue the provider's limit */
  maxRequestsPerBatch?: number;
  /** Fewer bytes per batch than the provider allows. @defaultValue the provider's limit */
  maxBytesPerBatch?: number;
  /** Scheduler of the poll and backoff timers (tests). @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Options of {@link resumeBatch}. */
export interface ResumeBatchOptions extends Omit<
  SubmitBatchOptions,
  'maxRequestsPerBatch' | 'maxBytesPerBatch'
> {
  provider: string;
  /** The ids submitted in the batch (the `submitted` event's), to report the ones the output lacks. */
  customIds?: readonly string[];
  /** `custom_id` → `provider/model`, to price answers (else priced by the model they name). */
  models?: Readonly<Record<string, string>>;
}

/** What a provider batch run reports. */
export type BatchEvent =
  | { type: 'submitted'; provider: string; batchId: string; customIds: string[] }
  | {
      type: 'status';
      batchId: string;
      state: BatchState;
      /** The provider's own word (`completed`, `ended`, `BATCH_STATE_SUCCEEDED`). */
      rawState: string;
      counts: BatchCounts;
      elapsedMs: number;
    }
  | {
      type: 'result';
      custom_id: string;
      batchId: string;
      completion: ChatCompletion;
      usage: Usage | null;
      /** USD at the batch price; `null` when the model has no known price. */
      cost: number | null;
      /** What the same answer would have cost through the synchronous API. */
      syncCost: number | null;
    }
  | { type: 'error'; custom_id: string; batchId: string; error: BatchResultError };

interface Run {
  batchId?: string;
  items?: BatchItem[];
  customIds?: readonly string[];
}

/**
 * Sends requests through the provider's own batch API at its batch price (half the synchronous one
 * for OpenAI, Anthropic and Gemini): each provider's format is built in its folder, requests over
 * the provider's limits (count, bytes, one model per OpenAI/Gemini batch) are split into several
 * batches. Emits `submitted` per batch (keep its `batchId` to resume), `status` after each poll,
 * then, when a batch ends, one `result` (neutral `ChatCompletion`, usage, cost at the batch price and
 * the synchronous one) or one `error` (`BatchResultError`) per request, matched by `custom_id`,
 * never by position: a missing, repeated or unknown id is an `error` event. Polls that fail with a
 * 5xx, 429 or network error are retried with backoff. Unsubscribing cancels the batches still
 * running (`cancelOnUnsubscribe: false` detaches instead); the provider may still finish and bill
 * what already ran. Completes when every batch has ended.
 *
 * @example
 * // doc-test: typecheck-only
 * import { submitBatch } from 'rxllm';
 * const tickets = ['refund please', 'app crashes'].map((text, i) => ({
 *   custom_id: `t-${i}`,
 *   model: 'openai/gpt-4o-mini' as const,
 *   messages: [{ role: 'user' as const, content: `Classify: ${text}` }],
 * }));
 * submitBatch(tickets, { pollMs: 60_000 }).subscribe((event) => {
 *   if (event.type === 'submitted') console.log('resume with', event.batchId);
 *   if (event.type === 'result') console.log(event.custom_id, event.completion.choices[0].message.content, event.cost);
 * });
 */
export function submitBatch(
  requests: readonly ProviderBatchRequest[],
  options: SubmitBatchOptions = {},
): Observable<BatchEvent> {
  const provider = batchProvider(requests, options.provider);
  const api = getBatchApi(provider);
  checkOptions(options, 'submitBatch');
  const items = toItems(requests, provider);
  const models = Object.fromEntries(items.map((i) => [i.customId, `${provider}/${i.model}`]));
  return new Observable<BatchEvent>((subscriber) => {
    let runs: Run[];
    try {
      runs = splitBatches(items, api, {
        maxRequests: options.maxRequestsPerBatch,
        maxBytes: options.maxBytesPerBatch,
      }).map((batch) => ({ items: batch }));
    } catch (error) {
      subscriber.error(error);
      return;
    }
    return drive(api, runs, models, options, subscriber);
  });
}

/**
 * Polls batches submitted earlier (by `submitBatch`, perhaps in a process that died) and emits
 * their `status`, `result` and `error` events as {@link submitBatch} does; nothing is submitted.
 * Give `customIds` (the `submitted` event's) so ids the output lacks are reported as `missing`.
 *
 * @example
 * // doc-test: typecheck-only
 * import { resumeBatch } from 'rxllm';
 * resumeBatch('batch_abc123', { provider: 'openai', pollMs: 60_000 }).subscribe((event) => console.log(event.type));
 */
export function resumeBatch(
  batchId: string | readonly string[],
  options: ResumeBatchOptions,
): Observable<BatchEvent> {
  const api = getBatchApi(options?.provider ?? '');
  checkOptions(options, 'resumeBatch');
  const ids = typeof batchId === 'string' ? [batchId] : [...batchId];
  if (ids.length === 0 || ids.some((id) => typeof id !== 'string' || id === ''))
    throw new TypeError('resumeBatch: batchId must be a non-empty string or array of them.');
  const runs: Run[] = ids.map((id) => ({ batchId: id, customIds: options.customIds }));
  return new Observable<BatchEvent>((subscriber) =>
    drive(api, runs, options.models ?? {}, options, subscriber),
  );
}

function checkOptions(options: SubmitBatchOptions, fn: string): void {
  const positive = (name: keyof SubmitBatchOptions, min: number) => {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min))
      throw new TypeError(`${fn}: ${name} must be an integer >= ${min}, got ${String(v)}.`);
  };
  positive('pollMs', 1);
  positive('pollRetries', 0);
  positive('pollBackoffMs', 0);
  positive('maxRequestsPerBatch', 1);
  positive('maxBytesPerBatch', 1);
}

/** Runs the batches; returns the teardown. */
function drive(
  api: ProviderBatchApi,
  runs: Run[],
  models: Readonly<Record<string, string>>,
  options: SubmitBatchOptions,
  subscriber: import('rxjs').Subscriber<BatchEvent>,
): () => void {
  const {
    pollMs = SUBMIT_BATCH_DEFAULTS.pollMs,
    pollRetries = SUBMIT_BATCH_DEFAULTS.pollRetries,
    pollBackoffMs = SUBMIT_BATCH_DEFAULTS.pollBackoffMs,
    cancelOnUnsubscribe = SUBMIT_BATCH_DEFAULTS.cancelOnUnsubscribe,
    scheduler = asyncScheduler,
  } = options;
  const abort = new AbortController();
  const target: BatchTarget = { baseURL: options.baseURL, apiKey: options.apiKey, headers: options.headers };
  const live: BatchTarget = { ...target, signal: abort.signal };
  const started = scheduler.now();
  const open = new Set<string>();
  let finished = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (abort.signal.aborted) return reject(new RequestAbortedError());
      const cancel = () => {
        sub.unsubscribe();
        reject(new RequestAbortedError());
      };
      const sub = timer(ms, scheduler).subscribe(() => {
        abort.signal.removeEventListener('abort', cancel);
        resolve();
      });
      abort.signal.addEventListener('abort', cancel, { once: true });
    });

  // Only reads are retried: a create that failed may still have made a batch, and a second one
  // would run (and bill) every request twice.
  const withRetries = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const retryable = error instanceof LlmError && error.retryable && !abort.signal.aborted;
        if (!retryable || attempt >= pollRetries) throw error;
        const after = (error as { retryAfterMs?: number }).retryAfterMs;
        await sleep(after ?? pollBackoffMs * 2 ** attempt);
      }
    }
  };

  const emitOutcomes = (run: Run, status: BatchStatus, outcomes: BatchOutcome[]) => {
    const expected = run.customIds ? new Set(run.customIds) : undefined;
    const seen = new Set<string>();
    const batchId = status.id;
    const fail = (id: string, reason: BatchResultError['reason'], message: string) =>
      subscriber.next({
        type: 'error',
        custom_id: id,
        batchId,
        error: new BatchResultError(id, reason, message),
      });
    for (const o of outcomes) {
      const id = o.customId;
      if (expected ? !expected.has(id) : id === '') {
        fail(
          id,
          'unknown-id',
          `The ${api.provider} batch ${batchId} answered an id that was not submitted: "${id.slice(0, 100)}".`,
        );
      } else if (seen.has(id)) {
        fail(
          id,
          'duplicate',
          `The ${api.provider} batch ${batchId} answered "${id}" twice; the first answer was kept.`,
        );
      } else {
        seen.add(id);
        if ('error' in o) subscriber.next({ type: 'error', custom_id: id, batchId, error: o.error });
        else
          subscriber.next(
            result(o.customId, batchId, o.completion, models[id] ?? `${api.provider}/${o.completion.model}`),
          );
      }
    }
    for (const id of expected ?? []) {
      if (seen.has(id)) continue;
      const reason = missingReason(status.state);
      fail(
        id,
        reason,
        `The ${api.provider} batch ${batchId} ended ${status.rawState} without an answer for "${id}"${status.message ? ` (${status.message})` : ''}.`,
      );
    }
  };

  const submit = async (run: Run) => {
    const items = run.items!;
    const id = await api.create(items, live);
    run.batchId = id;
    run.customIds = items.map((i) => i.customId);
    open.add(id);
    subscriber.next({
      type: 'submitted',
      provider: api.provider,
      batchId: id,
      customIds: [...run.customIds],
    });
  };

  const poll = async (run: Run) => {
    const id = run.batchId!;
    open.add(id);
    for (;;) {
      const status = await withRetries(() => api.status(id, live));
      subscriber.next({
        type: 'status',
        batchId: id,
        state: status.state,
        rawState: status.rawState,
        counts: status.counts,
        elapsedMs: scheduler.now() - started,
      });
      if (status.done) {
        const outcomes = await withRetries(() => api.results(status, live));
        open.delete(id);
        emitOutcomes(run, status, outcomes);
        return;
      }
      await sleep(pollMs);
    }
  };

  const linked = () => {
    abort.abort();
    subscriber.error(new RequestAbortedError());
  };
  // One listener on an app's signal however many batch calls share it (`onAbort`).
  let offAbort: (() => void) | undefined;
  if (options.signal?.aborted) linked();
  else if (options.signal) offAbort = onAbort(options.signal, linked);

  // Batches are submitted one after another (a failed create stops the rest) and polled together.
  (async () => {
    const polls: Promise<void>[] = [];
    for (const run of runs) {
      if (abort.signal.aborted) return;
      if (!run.batchId) await submit(run);
      const p = poll(run);
      p.catch(() => undefined); // handled by Promise.all below; no unhandled rejection meanwhile
      polls.push(p);
    }
    await Promise.all(polls);
  })().then(
    () => {
      finished = true;
      subscriber.complete();
    },
    (error: unknown) => {
      finished = true;
      // The other polls stop; batches already submitted keep running (their ids were emitted).
      abort.abort();
      subscriber.error(error);
    },
  );

  return () => {
    offAbort?.();
    if (finished) return;
    abort.abort();
    if (cancelOnUnsubscribe) for (const id of open) api.cancel(id, target).catch(() => undefined);
  };
}

function missingReason(state: BatchState): BatchResultError['reason'] {
  if (state === 'expired') return 'expired';
  if (state === 'cancelled' || state === 'cancelling') return 'cancelled';
  if (state === 'failed') return 'batch-failed';
  return 'missing';
}

function result(customId: string, batchId: string, completion: ChatCompletion, model: string): BatchEvent {
  const usage = completion.usage ?? null;
  return {
    type: 'result',
    custom_id: customId,
    batchId,
    completion,
    usage,
    cost: batchCost(usage, model)?.total ?? null,
    syncCost: cost(usage, model)?.total ?? null,
  };
}
