/**
 * OpenAI's Batch API (https://platform.openai.com/docs/guides/batch): the requests go up as a JSONL
 * file (`POST /files`, multipart, `purpose=batch`), one line per request
 * `{custom_id, method: "POST", url: "/v1/chat/completions", body}`; `POST /batches`
 * `{input_file_id, endpoint: "/v1/chat/completions", completion_window: "24h"}` starts it;
 * `GET /batches/{id}` reports `status` (validating, in_progress, finalizing, completed, failed,
 * expired, cancelling, cancelled) and `request_counts` {total, completed, failed}; once done, the
 * answers are in `output_file_id` and the failures in `error_file_id`, read with
 * `GET /files/{id}/content`, lines `{id, custom_id, response: {status_code, request_id, body}, error}`
 * in any order. `POST /batches/{id}/cancel` stops it (status `cancelling` for up to 10 minutes, then
 * `cancelled` with the partial results). Limits: 50,000 requests and 200 MB per input file
 * (https://platform.openai.com/docs/api-reference/batch/create).
 */
import type { ChatCompletion } from '../../chunk';
import { ApiError, BatchResultError, ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { batchCall, batchJson, jsonLines, type BatchEndpoint } from '../../transport/batchHttp';
import type { BatchItem, BatchOutcome, BatchState, BatchTarget, ProviderBatchApi } from '../batchTypes';
import { USER_AGENT } from './provider';
import { toOpenAIBody } from './request';
import { toCompletion } from './response';

/** The one endpoint rxllm batches: chat completions. */
const ENDPOINT = '/v1/chat/completions';

function endpoint(target: BatchTarget): BatchEndpoint {
  const apiKey = target.apiKey ?? process.env.OPENAI_API_KEY;
  if (!apiKey)
    throw new ConfigurationError('No API key for OpenAI batches: pass apiKey or set OPENAI_API_KEY.');
  registerSecret(apiKey);
  const baseURL = target.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
  return {
    baseURL: baseURL.replace(/\/+$/, ''),
    headers: { 'user-agent': USER_AGENT, ...target.headers, authorization: `Bearer ${apiKey}` },
    signal: target.signal,
  };
}

/** One line of the input file. */
export function openAIBatchLine(item: BatchItem): string {
  const body = toOpenAIBody(item.request, item.model, false);
  return JSON.stringify({ custom_id: item.customId, method: 'POST', url: ENDPOINT, body });
}

const STATES: Record<string, BatchState> = {
  validating: 'validating',
  in_progress: 'in_progress',
  finalizing: 'finalizing',
  completed: 'ended',
  failed: 'failed',
  expired: 'expired',
  cancelling: 'cancelling',
  cancelled: 'cancelled',
};

/** An output or error file line → the outcome for its `custom_id` (undefined when it names none). */
function outcome(line: any): BatchOutcome | undefined {
  const customId = line?.custom_id;
  if (typeof customId !== 'string') return undefined;
  const status = line.response?.status_code;
  if (line.error == null && status === 200 && line.response?.body) {
    try {
      return { customId, completion: toCompletion(line.response.body, '') as ChatCompletion };
    } catch (error) {
      return {
        customId,
        error: new BatchResultError(customId, 'errored', (error as Error).message, { cause: error }),
      };
    }
  }
  // Requests the batch never ran are error lines with code batch_expired / batch_cancelled.
  const code = typeof line.error?.code === 'string' ? line.error.code : undefined;
  const reason = code === 'batch_expired' ? 'expired' : code === 'batch_cancelled' ? 'cancelled' : 'errored';
  const cause =
    typeof status === 'number'
      ? ApiError.fromResponse({ status, body: line.response?.body })
      : new ApiError({ status: 0, body: line.error, code, message: String(line.error?.message ?? code) });
  return {
    customId,
    error: new BatchResultError(customId, reason, `OpenAI batch: ${cause.message}`, { cause }),
  };
}

/** OpenAI's batch API for `submitBatch`. */
export const openAIBatchApi: ProviderBatchApi = {
  provider: 'openai',
  limits: { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 },
  // "each input file can only include requests to a single model" (guides/batch, "Rate limits").
  oneModelPerBatch: true,
  size: (item) => Buffer.byteLength(openAIBatchLine(item)) + 1,
  async create(items, target) {
    const at = endpoint(target);
    const form = new FormData();
    form.append('purpose', 'batch');
    const jsonl = items.map(openAIBatchLine).join('\n') + '\n';
    form.append('file', new Blob([jsonl], { type: 'application/jsonl' }), 'rxllm-batch.jsonl');
    const file = await batchJson(at, { method: 'POST', path: '/files', form });
    const batch = await batchJson(at, {
      method: 'POST',
      path: '/batches',
      json: { input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' },
    });
    return String(batch.id);
  },
  async status(id, target) {
    const raw = await batchJson(endpoint(target), {
      method: 'GET',
      path: `/batches/${encodeURIComponent(id)}`,
    });
    const counts = raw.request_counts ?? {};
    const total = Number(counts.total ?? 0);
    const succeeded = Number(counts.completed ?? 0);
    const failed = Number(counts.failed ?? 0);
    const state = STATES[raw.status] ?? 'in_progress';
    const message = (raw.errors?.data ?? [])
      .map((e: any) => e?.message)
      .filter(Boolean)
      .join('; ');
    return {
      id,
      state,
      rawState: String(raw.status),
      counts: { total, succeeded, failed, processing: Math.max(0, total - succeeded - failed) },
      done: ['ended', 'failed', 'expired', 'cancelled'].includes(state),
      message: message || undefined,
      raw,
    };
  },
  async results(status, target) {
    const at = endpoint(target);
    const raw = status.raw as { output_file_id?: string | null; error_file_id?: string | null };
    const outcomes: BatchOutcome[] = [];
    for (const fileId of [raw.output_file_id, raw.error_file_id]) {
      if (!fileId) continue;
      const text = await batchCall(at, {
        method: 'GET',
        path: `/files/${encodeURIComponent(fileId)}/content`,
      });
      for (const line of jsonLines(text)) {
        const o = outcome(line);
        if (o) outcomes.push(o);
      }
    }
    return outcomes;
  },
  async cancel(id, target) {
    await batchCall(endpoint(target), { method: 'POST', path: `/batches/${encodeURIComponent(id)}/cancel` });
  },
};
