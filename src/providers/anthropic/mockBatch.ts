/**
 * Anthropic's Message Batches API as the mock server speaks it (see `./batch.ts` for the documented
 * shapes): `POST /messages/batches`, `GET /messages/batches/{id}`, its `results_url` and `POST
 * .../cancel`. Strict as the API: a body without a non-empty `requests` array, a `custom_id` that is
 * not 1-64 letters, digits, `-` or `_` or is repeated, or `params` without `model`, `max_tokens` and
 * `messages` is a 400 `invalid_request_error`; results before the batch ended are a 400 too.
 */
import type { MockBatchAnswer, MockBatchEntry, MockBatchReply, MockBatchWire } from '../mockBatchWire';
import { anthropicMockWire } from './mockWire';

const reject = (message: string, status = 400): MockBatchReply => ({
  status,
  body: {
    type: 'error',
    error: { type: status === 404 ? 'not_found_error' : 'invalid_request_error', message },
  },
});

/** https://docs.claude.com/en/api/creating-message-batches: "custom_id ... 1-64 characters, ^[a-zA-Z0-9_-]{1,64}$". */
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

function problem(body: any): string | undefined {
  const requests = body?.requests;
  if (!Array.isArray(requests) || requests.length === 0) return 'requests: Field required (a non-empty list)';
  if (requests.length > 100_000) return 'requests: at most 100,000 requests per batch';
  const ids = new Set<string>();
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    if (typeof r?.custom_id !== 'string' || !CUSTOM_ID.test(r.custom_id))
      return `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    if (ids.has(r.custom_id)) return `requests.${i}.custom_id: Duplicate custom_id: ${r.custom_id}`;
    ids.add(r.custom_id);
    const p = r.params;
    for (const field of ['model', 'max_tokens', 'messages'])
      if (p?.[field] === undefined) return `requests.${i}.params.${field}: Field required`;
    if (p.stream === true) return `requests.${i}.params.stream: streaming is not supported in batches`;
  }
  return undefined;
}

function result(a: MockBatchAnswer): object {
  if (a.kind === 'ok') return { type: 'succeeded', message: a.body };
  if (a.kind === 'expired') return { type: 'expired' };
  if (a.kind === 'cancelled') return { type: 'canceled' };
  return { type: 'errored', error: a.body ?? anthropicMockWire.errorBody(a.status, 'Internal server error') };
}

function batchObject(entry: MockBatchEntry, origin: string, path: string): object {
  const ended = ['ended', 'expired', 'cancelled'].includes(entry.state);
  const count = (kind: MockBatchAnswer['kind']) =>
    ended ? entry.answers.filter((a) => a.kind === kind).length : 0;
  return {
    id: entry.id,
    type: 'message_batch',
    processing_status: ended ? 'ended' : entry.state === 'cancelling' ? 'canceling' : 'in_progress',
    request_counts: {
      processing: ended ? 0 : entry.requests.length,
      succeeded: count('ok'),
      errored: count('error'),
      canceled: count('cancelled'),
      expired: count('expired'),
    },
    ended_at: ended ? new Date().toISOString() : null,
    created_at: new Date(entry.createdAt * 1000).toISOString(),
    expires_at: new Date((entry.createdAt + 86_400) * 1000).toISOString(),
    cancel_initiated_at: null,
    results_url: ended ? `${origin}${path.replace(/\/(cancel|results)$/, '')}/results` : null,
  };
}

/** Anthropic's batch routes for the mock server. */
export const anthropicMockBatch: MockBatchWire = {
  name: 'anthropic',
  handle(call, host) {
    const { method, path } = call;
    if (method === 'POST' && /\/messages\/batches$/.test(path)) {
      let body: any;
      try {
        body = JSON.parse(call.raw);
      } catch {
        return reject('The request body is not valid JSON.');
      }
      const why = problem(body);
      if (why) return reject(why);
      const requests = body.requests.map((r: any) => ({
        customId: r.custom_id,
        path: '/v1/messages',
        body: r.params,
      }));
      const entry = host.create('anthropic', requests);
      return { status: 200, body: batchObject(entry, call.origin, `${path}/${entry.id}`) };
    }
    const one = /\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(path);
    if (!one) return undefined;
    const entry = host.get('anthropic', decodeURIComponent(one[1]));
    if (!entry) return reject(`Message batch ${one[1]} not found.`, 404);
    if (method === 'GET' && !one[2]) {
      if (!host.poll(entry))
        return { status: 500, body: anthropicMockWire.errorBody(500, 'Internal server error') };
      return { status: 200, body: batchObject(entry, call.origin, path) };
    }
    if (method === 'GET' && one[2] === '/results') {
      if (!['ended', 'expired', 'cancelled'].includes(entry.state))
        return reject(`Message batch ${entry.id} has not ended: results are not available yet.`);
      const lines = entry.answers.map((a) => JSON.stringify({ custom_id: a.customId, result: result(a) }));
      return { status: 200, text: lines.join('\n') + '\n', contentType: 'application/binary' };
    }
    if (method === 'POST' && one[2] === '/cancel') {
      host.cancel(entry);
      return { status: 200, body: batchObject(entry, call.origin, path) };
    }
    return undefined;
  },
};
