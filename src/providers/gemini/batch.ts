/**
 * Gemini's Batch Mode (https://ai.google.dev/gemini-api/docs/batch-mode, https://ai.google.dev/api/batch-api),
 * with inlined requests: `POST models/{model}:batchGenerateContent` with
 * `{batch: {displayName, inputConfig: {requests: {requests: [{request, metadata: {key}}]}}}}`, each
 * `request` a `GenerateContentRequest`; the answer is a long-running `Operation` named
 * `batches/{id}`, polled with `GET batches/{id}`: `metadata.state` is `BATCH_STATE_PENDING`,
 * `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED` or `EXPIRED` (the SDKs show them as `JOB_STATE_*`),
 * `metadata.batchStats` counts {requestCount, successfulRequestCount, failedRequestCount,
 * pendingRequestCount} (int64, sent as strings); once `done`, `response.inlinedResponses.inlinedResponses`
 * holds `{metadata, response | error}` per request. `POST batches/{id}:cancel` stops it. Answers are
 * matched by `metadata.key` (the custom id); one without its key is reported as a stray, never
 * guessed from its position. Inline requests are for batches under 20 MB (the guide, "Inline requests").
 */
import { BatchResultError, ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { batchCall, batchJson, type BatchEndpoint } from '../../transport/batchHttp';
import type { BatchItem, BatchOutcome, BatchState, BatchTarget, ProviderBatchApi } from '../batchTypes';
import { USER_AGENT } from '../openai/provider';
import { toGeminiBody } from './request';
import { geminiError, toChatCompletion } from './response';

function endpoint(target: BatchTarget): BatchEndpoint {
  const apiKey = target.apiKey ?? process.env.GEMINI_API_KEY ?? process.env.GOOGLE_API_KEY;
  if (!apiKey)
    throw new ConfigurationError(
      'No API key for Gemini batches: pass apiKey or set GEMINI_API_KEY or GOOGLE_API_KEY.',
    );
  registerSecret(apiKey);
  const baseURL =
    target.baseURL ?? process.env.GEMINI_BASE_URL ?? 'https://generativelanguage.googleapis.com/v1beta';
  return {
    baseURL: baseURL.replace(/\/+$/, ''),
    headers: { 'user-agent': USER_AGENT, ...target.headers, 'x-goog-api-key': apiKey },
    signal: target.signal,
  };
}

/** One inlined request. */
export function geminiBatchEntry(item: BatchItem): {
  request: Record<string, unknown>;
  metadata: { key: string };
} {
  return { request: toGeminiBody(item.request), metadata: { key: item.customId } };
}

const STATES: Record<string, BatchState> = {
  PENDING: 'validating',
  RUNNING: 'in_progress',
  SUCCEEDED: 'ended',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

/** A batch name as a path: `batches/123` (a bare `123` gets its collection). */
const namePath = (id: string) =>
  '/' + (id.startsWith('batches/') ? id : `batches/${id}`).split('/').map(encodeURIComponent).join('/');

function outcome(entry: any, model: string): BatchOutcome {
  const key = entry?.metadata?.key;
  const customId = typeof key === 'string' ? key : '';
  if (entry?.error != null) {
    const cause = geminiError({ error: entry.error });
    return { customId, error: new BatchResultError(customId, 'errored', cause.message, { cause }) };
  }
  try {
    return { customId, completion: toChatCompletion(entry?.response, model, '') };
  } catch (error) {
    return {
      customId,
      error: new BatchResultError(customId, 'errored', (error as Error).message, { cause: error }),
    };
  }
}

/** Gemini's batch API for `submitBatch`. */
export const geminiBatchApi: ProviderBatchApi = {
  provider: 'gemini',
  // No documented request count for inlined batches; the body must stay under 20 MB.
  limits: { maxRequests: Number.MAX_SAFE_INTEGER, maxBytes: 20 * 1024 * 1024 },
  oneModelPerBatch: true,
  size: (item) => Buffer.byteLength(JSON.stringify(geminiBatchEntry(item))) + 1,
  async create(items, target) {
    const model = items[0].model.replace(/^models\//, '');
    const json = {
      batch: {
        displayName: `rxllm-${items.length}-requests`,
        inputConfig: { requests: { requests: items.map(geminiBatchEntry) } },
      },
    };
    const path = `/models/${encodeURIComponent(model)}:batchGenerateContent`;
    const operation = await batchJson(endpoint(target), { method: 'POST', path, json });
    return String(operation.name ?? operation.metadata?.name);
  },
  async status(id, target) {
    const raw = await batchJson(endpoint(target), { method: 'GET', path: namePath(id) });
    const meta = raw.metadata ?? {};
    const rawState = String(meta.state ?? 'BATCH_STATE_PENDING');
    const state = STATES[rawState.replace(/^(BATCH|JOB)_STATE_/, '')] ?? 'in_progress';
    const s = meta.batchStats ?? {};
    const n = (v: unknown) => Number(v ?? 0);
    const counts = {
      total: n(s.requestCount),
      succeeded: n(s.successfulRequestCount),
      failed: n(s.failedRequestCount),
      processing: n(s.pendingRequestCount),
    };
    const done = raw.done === true || ['ended', 'failed', 'cancelled', 'expired'].includes(state);
    return { id, state, rawState, counts, done, message: raw.error?.message, raw };
  },
  async results(status) {
    const raw = status.raw as any;
    const model = String(raw.metadata?.model ?? '').replace(/^models\//, '');
    const inlined =
      raw.response?.inlinedResponses?.inlinedResponses ??
      raw.metadata?.output?.inlinedResponses?.inlinedResponses ??
      [];
    return (Array.isArray(inlined) ? inlined : []).map((entry: unknown) => outcome(entry, model));
  },
  async cancel(id, target) {
    await batchCall(endpoint(target), { method: 'POST', path: `${namePath(id)}:cancel` });
  },
};
