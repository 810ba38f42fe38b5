/**
 * Gemini's Batch Mode as the mock server speaks it (see `./batch.ts` for the documented shapes):
 * `POST models/{model}:batchGenerateContent` with inlined requests, `GET batches/{id}` (an
 * `Operation`), `POST batches/{id}:cancel`. Strict as the API: a body without `batch`, without
 * `batch.displayName`, or without a non-empty `inputConfig.requests.requests` whose entries hold a
 * `request` with `contents` is a 400 `INVALID_ARGUMENT` with Google's error body.
 */
import type { MockBatchAnswer, MockBatchEntry, MockBatchReply, MockBatchWire } from '../mockBatchWire';
import { geminiMockWire } from './mockWire';

const invalid = (message: string, status = 400): MockBatchReply => ({
  status,
  body: geminiMockWire.errorBody(status, message),
});

function problem(body: any): string | undefined {
  const batch = body?.batch;
  if (!batch || typeof batch !== 'object') return 'Invalid JSON payload: missing field "batch".';
  if (typeof batch.displayName !== 'string' || batch.displayName === '')
    return 'batch.display_name is required.';
  const requests = batch.inputConfig?.requests?.requests;
  if (!Array.isArray(requests) || requests.length === 0)
    return 'batch.input_config.requests.requests must be a non-empty list.';
  for (let i = 0; i < requests.length; i++) {
    if (!Array.isArray(requests[i]?.request?.contents))
      return `batch.input_config.requests.requests[${i}].request.contents is required.`;
  }
  return undefined;
}

const TYPE = 'type.googleapis.com/google.ai.generativelanguage.v1main';

function inlined(a: MockBatchAnswer): object {
  const metadata = { key: a.customId };
  if (a.kind === 'ok') return { response: a.body, metadata };
  const body = (a.body ?? geminiMockWire.errorBody(a.status, 'Internal error encountered.')) as {
    error?: unknown;
  };
  return { error: body.error ?? body, metadata };
}

function operation(entry: MockBatchEntry): object {
  const state = {
    validating: 'BATCH_STATE_PENDING',
    running: 'BATCH_STATE_RUNNING',
    ended: 'BATCH_STATE_SUCCEEDED',
    expired: 'BATCH_STATE_EXPIRED',
    cancelling: 'BATCH_STATE_RUNNING',
    cancelled: 'BATCH_STATE_CANCELLED',
    failed: 'BATCH_STATE_FAILED',
  }[entry.state];
  const done = ['ended', 'expired', 'cancelled', 'failed'].includes(entry.state);
  const ok = done ? entry.answers.filter((a) => a.kind === 'ok').length : 0;
  const total = entry.requests.length;
  const metadata = {
    '@type': `${TYPE}.GenerateContentBatch`,
    name: entry.id,
    model: entry.extra.model,
    displayName: entry.extra.displayName,
    createTime: new Date(entry.createdAt * 1000).toISOString(),
    state,
    // int64 fields travel as strings in Google's JSON.
    batchStats: {
      requestCount: String(total),
      successfulRequestCount: String(ok),
      failedRequestCount: String(done ? total - ok : 0),
      pendingRequestCount: String(done ? 0 : total),
    },
  };
  if (!done) return { name: entry.id, metadata };
  const output = {
    '@type': `${TYPE}.GenerateContentBatchOutput`,
    // Requests an expired or cancelled batch never ran have no response.
    inlinedResponses: {
      inlinedResponses: entry.answers.filter((a) => a.kind === 'ok' || a.kind === 'error').map(inlined),
    },
  };
  return { name: entry.id, metadata, done: true, response: output };
}

/** Gemini's batch routes for the mock server. */
export const geminiMockBatch: MockBatchWire = {
  name: 'gemini',
  handle(call, host) {
    const { method, path } = call;
    const create = /\/models\/([^/:]+):batchGenerateContent$/.exec(path);
    if (method === 'POST' && create) {
      let body: any;
      try {
        body = JSON.parse(call.raw);
      } catch {
        return invalid('Invalid JSON payload received.');
      }
      const why = problem(body);
      if (why) return invalid(why);
      const model = decodeURIComponent(create[1]);
      const requests = body.batch.inputConfig.requests.requests.map((r: any, i: number) => ({
        customId: typeof r.metadata?.key === 'string' ? r.metadata.key : `#${i}`,
        path: `/v1beta/models/${model}:generateContent`,
        body: r.request,
      }));
      const entry = host.create('gemini', requests, {
        model: `models/${model}`,
        displayName: body.batch.displayName,
      });
      return { status: 200, body: operation(entry) };
    }
    const one = /\/(batches\/[^/:]+)(:cancel)?$/.exec(path);
    const entry = one ? host.get('gemini', decodeURIComponent(one[1])) : undefined;
    if (!one || !entry) return undefined;
    if (method === 'GET' && !one[2]) {
      if (!host.poll(entry)) return invalid('Internal error encountered.', 500);
      return { status: 200, body: operation(entry) };
    }
    if (method === 'POST' && one[2]) {
      host.cancel(entry);
      return { status: 200, body: {} };
    }
    return undefined;
  },
};
