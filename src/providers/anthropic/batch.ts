/**
 * Anthropic's Message Batches API (https://docs.claude.com/en/docs/build-with-claude/batch-processing,
 * https://docs.claude.com/en/api/creating-message-batches): `POST /messages/batches` with
 * `{requests: [{custom_id, params}]}`, `params` being a Messages request without `stream`;
 * `GET /messages/batches/{id}` reports `processing_status` (in_progress, canceling, ended) and
 * `request_counts` {processing, succeeded, errored, canceled, expired}; once ended, `results_url`
 * serves JSONL lines `{custom_id, result: {type: succeeded|errored|canceled|expired, ...}}` in any
 * order ("results are not guaranteed to be in the same order as requests"). `POST .../cancel`
 * stops it. Limits: 100,000 requests or 256 MB per batch, whichever comes first.
 */
import { ApiError, BatchResultError, ConfigurationError } from '../../errors';
import { registerSecret } from '../../redact';
import { batchCall, batchJson, jsonLines, type BatchEndpoint } from '../../transport/batchHttp';
import type { BatchItem, BatchOutcome, BatchState, BatchTarget, ProviderBatchApi } from '../batchTypes';
import { USER_AGENT } from '../openai/provider';
import { ANTHROPIC_REQUEST_DEFAULTS, toAnthropicBody } from './request';
import { toChatCompletion } from './response';

function endpoint(target: BatchTarget): BatchEndpoint {
  const apiKey = target.apiKey ?? process.env.ANTHROPIC_API_KEY;
  if (!apiKey)
    throw new ConfigurationError('No API key for Anthropic batches: pass apiKey or set ANTHROPIC_API_KEY.');
  registerSecret(apiKey);
  const baseURL = target.baseURL ?? process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com/v1';
  return {
    baseURL: baseURL.replace(/\/+$/, ''),
    headers: {
      'user-agent': USER_AGENT,
      'anthropic-version': '2023-06-01',
      ...target.headers,
      'x-api-key': apiKey,
    },
    signal: target.signal,
  };
}

/** One entry of `requests`. */
export function anthropicBatchEntry(item: BatchItem): { custom_id: string; params: Record<string, unknown> } {
  const params = toAnthropicBody(item.request, item.model, false, ANTHROPIC_REQUEST_DEFAULTS.maxTokens);
  delete params.stream;
  return { custom_id: item.customId, params };
}

const STATES: Record<string, BatchState> = {
  in_progress: 'in_progress',
  canceling: 'cancelling',
  ended: 'ended',
};

/** Anthropic's error `type` → the HTTP status it is sent with (https://docs.claude.com/en/api/errors). */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

function outcome(line: any): BatchOutcome | undefined {
  const customId = line?.custom_id;
  if (typeof customId !== 'string') return undefined;
  const result = line.result ?? {};
  if (result.type === 'succeeded') {
    try {
      return { customId, completion: toChatCompletion(result.message, '', Math.floor(Date.now() / 1000)) };
    } catch (error) {
      return {
        customId,
        error: new BatchResultError(customId, 'errored', (error as Error).message, { cause: error }),
      };
    }
  }
  if (result.type === 'canceled' || result.type === 'expired') {
    const reason = result.type === 'canceled' ? 'cancelled' : 'expired';
    return {
      customId,
      error: new BatchResultError(
        customId,
        reason,
        `Anthropic batch: the request was ${result.type} before it ran.`,
      ),
    };
  }
  const inner = result.error?.error ?? result.error ?? {};
  const cause = ApiError.fromResponse({
    status: ERROR_STATUS[inner.type] ?? 500,
    body: result.error,
    code: inner.type,
  });
  return {
    customId,
    error: new BatchResultError(customId, 'errored', `Anthropic batch: ${cause.message}`, { cause }),
  };
}

/** Anthropic's batch API for `submitBatch`. */
export const anthropicBatchApi: ProviderBatchApi = {
  provider: 'anthropic',
  limits: { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 },
  oneModelPerBatch: false,
  size: (item) => Buffer.byteLength(JSON.stringify(anthropicBatchEntry(item))) + 1,
  async create(items, target) {
    const json = { requests: items.map(anthropicBatchEntry) };
    const batch = await batchJson(endpoint(target), { method: 'POST', path: '/messages/batches', json });
    return String(batch.id);
  },
  async status(id, target) {
    const at = endpoint(target);
    const raw = await batchJson(at, { method: 'GET', path: `/messages/batches/${encodeURIComponent(id)}` });
    const c = raw.request_counts ?? {};
    const n = (v: unknown) => Number(v ?? 0);
    const failed = n(c.errored) + n(c.canceled) + n(c.expired);
    const total = n(c.processing) + n(c.succeeded) + failed;
    const state = STATES[raw.processing_status] ?? 'in_progress';
    return {
      id,
      state,
      rawState: String(raw.processing_status),
      counts: { total, succeeded: n(c.succeeded), failed, processing: n(c.processing) },
      done: state === 'ended',
      raw,
    };
  },
  async results(status, target) {
    const at = endpoint(target);
    const raw = status.raw as { results_url?: string | null };
    const path = raw.results_url ?? `/messages/batches/${encodeURIComponent(status.id)}/results`;
    const text = await batchCall(at, { method: 'GET', path });
    return jsonLines(text).flatMap((line) => outcome(line) ?? []);
  },
  async cancel(id, target) {
    await batchCall(endpoint(target), {
      method: 'POST',
      path: `/messages/batches/${encodeURIComponent(id)}/cancel`,
    });
  },
};
