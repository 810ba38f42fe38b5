/**
 * What one provider's own batch API (OpenAI Batch, Anthropic Message Batches, Gemini Batch Mode)
 * must offer `submitBatch`: each provider folder maps the neutral shapes in its `batch.ts`, and
 * `src/providerBatch/` drives any of them the same way (split, poll, match by id, price).
 */
import type { ChatCompletion } from '../chunk';
import type { BatchResultError } from '../errors';
import type { ChatRequest } from '../request';

/** One request of a batch: the caller's id, the model without its `provider/` prefix, the request. */
export interface BatchItem {
  customId: string;
  model: string;
  request: ChatRequest;
}

/** Where the batch API is: the same overrides as the provider's chat calls. */
export interface BatchTarget {
  /** @defaultValue the provider's `*_BASE_URL` environment variable, else its public URL */
  baseURL?: string;
  /** @defaultValue the provider's API key environment variable */
  apiKey?: string;
  /** Extra headers on every call. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A batch's state, the same words for every provider: OpenAI's `status` values as they are
 * (`validating`, `in_progress`, `finalizing`, `failed`, `expired`, `cancelling`, `cancelled`) with
 * `completed` as `ended`; Anthropic's `processing_status` (`in_progress`, `canceling`, `ended`);
 * Gemini's `BATCH_STATE_*` (`PENDING` as `validating`, `RUNNING`, `SUCCEEDED` as `ended`, `FAILED`,
 * `CANCELLED`, `EXPIRED`).
 */
export type BatchState =
  'validating' | 'in_progress' | 'finalizing' | 'ended' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

/** How many requests of a batch are where, as the provider counts them. */
export interface BatchCounts {
  total: number;
  succeeded: number;
  failed: number;
  /** Not finished yet. */
  processing: number;
}

/** One poll of a batch. */
export interface BatchStatus {
  id: string;
  state: BatchState;
  /** The provider's own word for the state (`completed`, `ended`, `BATCH_STATE_SUCCEEDED`, ...). */
  rawState: string;
  counts: BatchCounts;
  /** No more change: results (if any) can be read. */
  done: boolean;
  /** The provider's reason when the whole batch failed. */
  message?: string;
  /** What `results` needs (file ids, a results URL, inlined answers): the provider's own object. */
  raw: unknown;
}

/** What the provider's output says about one `custom_id`. */
export type BatchOutcome =
  { customId: string; completion: ChatCompletion } | { customId: string; error: BatchResultError };

/** One provider's batch API. Implementations live in `src/providers/<name>/batch.ts`. */
export interface ProviderBatchApi {
  /** The provider prefix (`openai`). */
  readonly provider: string;
  /** The provider's documented limits per batch; bigger jobs are split. */
  readonly limits: { readonly maxRequests: number; readonly maxBytes: number };
  /** All requests of one batch must name the same model (OpenAI's file, Gemini's URL). */
  readonly oneModelPerBatch: boolean;
  /** Bytes this request adds to the batch (its file line or its entry in the body). */
  size(item: BatchItem): number;
  /** Submits one batch; resolves to its id. */
  create(items: readonly BatchItem[], target: BatchTarget): Promise<string>;
  status(id: string, target: BatchTarget): Promise<BatchStatus>;
  /** Every answer of a finished batch, as the provider wrote them (duplicates and strays included). */
  results(status: BatchStatus, target: BatchTarget): Promise<BatchOutcome[]>;
  cancel(id: string, target: BatchTarget): Promise<void>;
}
