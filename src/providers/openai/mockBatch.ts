/**
 * OpenAI's Batch API as the mock server speaks it (see `./batch.ts` for the documented shapes):
 * `POST /files` (multipart, `purpose=batch`), `POST /batches`, `GET /batches/{id}`,
 * `POST /batches/{id}/cancel`, `GET /files/{id}/content`. Strict as the API: a wrong purpose,
 * endpoint or completion window, or an unknown file is a 400/404 with OpenAI's error body; an input
 * file with a malformed line, a repeated `custom_id`, a `url` other than the batch's endpoint or two
 * models makes the batch `failed` with `errors.data` naming the line, as OpenAI's validation does.
 */
import type {
  MockBatchAnswer,
  MockBatchEntry,
  MockBatchReply,
  MockBatchRequest,
  MockBatchWire,
} from '../mockBatchWire';
import { openAIMockWire } from './mockWire';

const error = (status: number, message: string, param: string | null = null): MockBatchReply => ({
  status,
  body: { error: { message, type: 'invalid_request_error', param, code: null } },
});

/** The fields of a multipart body (`name` → text), or `undefined` when it is not multipart. */
export function multipartFields(
  raw: string,
  contentType: string | undefined,
): Map<string, string> | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!boundary) return undefined;
  const fields = new Map<string, string>();
  for (const part of raw.split(`--${boundary[1] ?? boundary[2]}`)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const name = /name="([^"]*)"/i.exec(part.slice(0, split));
    if (name) fields.set(name[1], part.slice(split + 4).replace(/\r\n$/, ''));
  }
  return fields;
}

/** Validates the input file as OpenAI does before a batch runs: the first problem, with its line. */
function readInput(
  content: string,
  endpoint: string,
): { requests: MockBatchRequest[] } | { problem: object } {
  const requests: MockBatchRequest[] = [];
  const ids = new Set<string>();
  const models = new Set<string>();
  const lines = content.split('\n').filter((l) => l.trim() !== '');
  const problem = (line: number, code: string, message: string) => ({
    problem: { code, message, param: null, line },
  });
  if (lines.length > 50_000)
    return problem(lines.length, 'too_many_requests', 'A batch holds at most 50,000 requests.');
  for (let i = 0; i < lines.length; i++) {
    let line: any;
    try {
      line = JSON.parse(lines[i]);
    } catch {
      return problem(i + 1, 'invalid_json_line', 'This line is not parseable as valid JSON.');
    }
    if (typeof line?.custom_id !== 'string')
      return problem(i + 1, 'missing_required_parameter', 'Missing custom_id.');
    if (ids.has(line.custom_id))
      return problem(
        i + 1,
        'duplicate_custom_id',
        'The custom_id for this request is a duplicate of another request.',
      );
    if (line.method !== 'POST') return problem(i + 1, 'invalid_method', 'The method must be POST.');
    if (line.url !== endpoint)
      return problem(
        i + 1,
        'mismatched_endpoint',
        `The url for this request does not match the batch endpoint ${endpoint}.`,
      );
    if (!line.body || typeof line.body !== 'object')
      return problem(i + 1, 'missing_required_parameter', 'Missing body.');
    if (line.body.stream === true)
      return problem(i + 1, 'invalid_value', 'Streaming is not supported in batches.');
    models.add(String(line.body.model));
    if (models.size > 1)
      return problem(i + 1, 'model_mismatch', 'Requests in a batch must all use the same model.');
    ids.add(line.custom_id);
    requests.push({ customId: line.custom_id, path: '/v1/chat/completions', body: line.body });
  }
  if (requests.length === 0) return problem(1, 'empty_file', 'The input file has no requests.');
  return { requests };
}

function outputLine(a: MockBatchAnswer, n: number): object {
  const base = { id: `batch_req_mock_${n}`, custom_id: a.customId };
  if (a.kind === 'expired')
    return {
      ...base,
      response: null,
      error: {
        code: 'batch_expired',
        message: 'This request could not be executed before the completion window expired.',
      },
    };
  if (a.kind === 'cancelled')
    return {
      ...base,
      response: null,
      error: {
        code: 'batch_cancelled',
        message: 'This request was not executed because the batch was cancelled.',
      },
    };
  const body =
    a.body ?? openAIMockWire.errorBody(a.status, 'The server had an error processing your request.');
  return { ...base, response: { status_code: a.status, request_id: `req_mock_${n}`, body }, error: null };
}

function batchObject(
  entry: MockBatchEntry,
  files: Map<string, { purpose: string; filename: string; content: string }>,
): object {
  const status = {
    validating: 'validating',
    running: 'in_progress',
    ended: 'completed',
    expired: 'expired',
    cancelling: 'cancelling',
    cancelled: 'cancelled',
    failed: 'failed',
  }[entry.state];
  const ended = ['ended', 'expired', 'cancelled'].includes(entry.state);
  let output: string | null = null;
  let errors: string | null = null;
  if (ended) {
    // Written once, when the batch is first seen ended.
    output = (entry.extra.output_file_id as string | undefined) ?? null;
    errors = (entry.extra.error_file_id as string | undefined) ?? null;
    if (!('output_file_id' in entry.extra)) {
      const lines = entry.answers.map((a, i) => ({ a, line: JSON.stringify(outputLine(a, i + 1)) }));
      const ok = lines.filter((l) => l.a.kind === 'ok').map((l) => l.line);
      const bad = lines.filter((l) => l.a.kind !== 'ok').map((l) => l.line);
      output = ok.length ? `file-out-${entry.id}` : null;
      errors = bad.length ? `file-err-${entry.id}` : null;
      if (output)
        files.set(output, {
          purpose: 'batch_output',
          filename: 'output.jsonl',
          content: ok.join('\n') + '\n',
        });
      if (errors)
        files.set(errors, {
          purpose: 'batch_output',
          filename: 'errors.jsonl',
          content: bad.join('\n') + '\n',
        });
      entry.extra.output_file_id = output;
      entry.extra.error_file_id = errors;
    }
  }
  const completed = ended ? entry.answers.filter((a) => a.kind === 'ok').length : 0;
  const failed = ended ? entry.requests.length - completed : 0;
  return {
    id: entry.id,
    object: 'batch',
    endpoint: '/v1/chat/completions',
    errors: entry.extra.errors ?? null,
    input_file_id: entry.extra.input_file_id,
    completion_window: '24h',
    status,
    output_file_id: output,
    error_file_id: errors,
    created_at: entry.createdAt,
    request_counts: { total: entry.state === 'failed' ? 0 : entry.requests.length, completed, failed },
    metadata: null,
  };
}

/** OpenAI's batch routes for the mock server. */
export const openAIMockBatch: MockBatchWire = {
  name: 'openai',
  handle(call, host) {
    const { method, path } = call;
    if (method === 'POST' && /\/files$/.test(path)) {
      const fields = multipartFields(call.raw, call.headers['content-type']);
      if (!fields) return error(400, "Expected multipart/form-data with 'purpose' and 'file'.");
      if (fields.get('purpose') !== 'batch' && fields.get('purpose') !== 'assistants')
        return error(400, `Invalid value for 'purpose': ${fields.get('purpose') ?? '(none)'}.`, 'purpose');
      if (!fields.has('file')) return error(400, "Missing required parameter: 'file'.", 'file');
      const id = host.newId('file-mock');
      const content = fields.get('file')!;
      host.files.set(id, { purpose: fields.get('purpose')!, filename: 'input.jsonl', content });
      const file = {
        id,
        object: 'file',
        bytes: Buffer.byteLength(content),
        created_at: 0,
        filename: 'input.jsonl',
        purpose: fields.get('purpose'),
      };
      return { status: 200, body: file };
    }
    const content = /\/files\/([^/]+)\/content$/.exec(path);
    if (method === 'GET' && content) {
      const file = host.files.get(decodeURIComponent(content[1]));
      if (!file) return error(404, `No such File object: ${content[1]}`, 'id');
      return { status: 200, text: file.content, contentType: 'application/octet-stream' };
    }
    if (method === 'POST' && /(?<!messages)\/batches$/.test(path)) {
      let body: any;
      try {
        body = JSON.parse(call.raw);
      } catch {
        return error(400, 'We could not parse the JSON body of your request.');
      }
      if (body?.completion_window !== '24h')
        return error(
          400,
          "Invalid value for 'completion_window': only '24h' is supported.",
          'completion_window',
        );
      if (body?.endpoint !== '/v1/chat/completions')
        return error(400, `Invalid value for 'endpoint': ${String(body?.endpoint)}.`, 'endpoint');
      const file = host.files.get(String(body?.input_file_id));
      if (!file || file.purpose !== 'batch')
        return error(404, `No such File object: ${String(body?.input_file_id)}`, 'input_file_id');
      const input = readInput(file.content, body.endpoint);
      const entry = host.create('openai', 'requests' in input ? input.requests : [], {
        input_file_id: body.input_file_id,
      });
      if ('problem' in input) {
        entry.state = 'failed';
        entry.extra.errors = { object: 'list', data: [input.problem] };
      }
      return { status: 200, body: batchObject(entry, host.files) };
    }
    const one = /\/batches\/([^/]+?)(\/cancel)?$/.exec(path);
    const entry = one ? host.get('openai', decodeURIComponent(one[1])) : undefined;
    if (!one || !entry) return undefined;
    if (method === 'GET' && !one[2]) {
      if (!host.poll(entry))
        return {
          status: 500,
          body: openAIMockWire.errorBody(500, 'The server had an error while processing your request.'),
        };
      return { status: 200, body: batchObject(entry, host.files) };
    }
    if (method === 'POST' && one[2]) {
      if (!['validating', 'running'].includes(entry.state))
        return error(400, `Cannot cancel a batch with status ${entry.state}.`);
      host.cancel(entry);
      return { status: 200, body: batchObject(entry, host.files) };
    }
    return undefined;
  },
};
