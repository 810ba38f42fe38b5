/**
 * The exact bodies each provider's batch API receives (OpenAI's JSONL file and batch params,
 * Anthropic's requests, Gemini's inlined requests), and the strict mock refusing the shapes the
 * real APIs refuse, with their status and error body.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { BadRequestError, submitBatch } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { multipartFields } from '../../src/providers/openai/mockBatch';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-wire';
  process.env.ANTHROPIC_API_KEY = 'sk-ant-test-wire';
  process.env.GEMINI_API_KEY = 'gm-test-wire';
});
beforeEach(() => server.reset());
afterAll(async () => {
  delete process.env.OPENAI_API_KEY;
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.GEMINI_API_KEY;
  await server.close();
});

const messages = [
  { role: 'system' as const, content: 'Answer in one word.' },
  { role: 'user' as const, content: 'Hi' },
];
const send = (model: `${string}/${string}`, extra: object = {}) =>
  lastValueFrom(
    submitBatch([{ custom_id: 'a-1', model, messages, temperature: 0, ...extra }], {
      baseURL: server.url,
      pollMs: 5,
    }).pipe(toArray()),
  );
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('provider batch request bodies', () => {
  it('OpenAI: a purpose=batch JSONL file of {custom_id, method, url, body}, then {input_file_id, endpoint, completion_window: "24h"}', async () => {
    const events = await send('openai/gpt-4o-mini');
    expect(events.filter((e) => e.type === 'result')).toHaveLength(1);
    const [upload, create] = server.requests;
    expect([upload.method, upload.path, create.method, create.path]).toEqual([
      'POST',
      '/v1/files',
      'POST',
      '/v1/batches',
    ]);
    expect(upload.headers.authorization).toBe('Bearer sk-test-wire');
    const fields = multipartFields(upload.body as string, upload.headers['content-type'])!;
    expect(fields.get('purpose')).toBe('batch');
    expect(
      fields
        .get('file')!
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      {
        custom_id: 'a-1',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages, temperature: 0 },
      },
    ]);
    const fileId = JSON.parse(JSON.stringify(create.body)).input_file_id;
    expect(create.body).toEqual({
      input_file_id: fileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect(fileId).toMatch(/^file-/);
  });

  it('Anthropic: {requests: [{custom_id, params}]} with a Messages body without stream', async () => {
    await send('anthropic/claude-haiku-4-5');
    const create = server.requests[0];
    expect([
      create.method,
      create.path,
      create.headers['anthropic-version'],
      create.headers['x-api-key'],
    ]).toEqual(['POST', '/v1/messages/batches', '2023-06-01', 'sk-ant-test-wire']);
    expect(create.body).toEqual({
      requests: [
        {
          custom_id: 'a-1',
          params: {
            model: 'claude-haiku-4-5',
            max_tokens: 4096,
            system: 'Answer in one word.',
            messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
            temperature: 0,
          },
        },
      ],
    });
  });

  it('Gemini: models/{model}:batchGenerateContent with {batch: {displayName, inputConfig.requests.requests: [{request, metadata.key}]}}', async () => {
    await send('gemini/gemini-2.5-flash');
    const create = server.requests[0];
    expect([create.path, create.headers['x-goog-api-key']]).toEqual([
      '/v1/models/gemini-2.5-flash:batchGenerateContent',
      'gm-test-wire',
    ]);
    const body = create.body as any;
    expect(body.batch.displayName).toEqual(expect.any(String));
    expect(body.batch.inputConfig.requests.requests).toEqual([
      {
        request: {
          contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
          systemInstruction: { parts: [{ text: 'Answer in one word.' }] },
          generationConfig: { temperature: 0 },
        },
        metadata: { key: 'a-1' },
      },
    ]);
    expect(server.requests[1].path).toMatch(/^\/v1\/batches\/\d+$/);
  });
});

describe('the strict mock refuses what the batch APIs refuse', () => {
  it('OpenAI: completion_window other than 24h and an unknown file are 400/404 with OpenAI’s error body', async () => {
    const wrongWindow = await post('/batches', {
      input_file_id: 'file-x',
      endpoint: '/v1/chat/completions',
      completion_window: '1h',
    });
    expect(wrongWindow.status).toBe(400);
    expect(((await wrongWindow.json()) as any).error.param).toBe('completion_window');
    const noFile = await post('/batches', {
      input_file_id: 'file-x',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect(noFile.status).toBe(404);
    expect(((await noFile.json()) as any).error.message).toMatch(/No such File object/);
  });

  it('OpenAI: an input file with a repeated custom_id makes the batch fail validation, naming the line', async () => {
    const form = new FormData();
    form.append('purpose', 'batch');
    const line = JSON.stringify({
      custom_id: 'x',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'm', messages },
    });
    form.append('file', new Blob([`${line}\n${line}\n`]), 'in.jsonl');
    const file = (await (await fetch(`${server.url}/files`, { method: 'POST', body: form })).json()) as any;
    const batch = (await (
      await post('/batches', {
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      })
    ).json()) as any;
    expect(batch.status).toBe('failed');
    expect(batch.errors.data[0]).toMatchObject({ code: 'duplicate_custom_id', line: 2 });
  });

  it('Anthropic: a custom_id outside ^[a-zA-Z0-9_-]{1,64}$ is a 400 invalid_request_error, as submitBatch’s BadRequestError', async () => {
    const response = await post('/messages/batches', {
      requests: [{ custom_id: 'has space', params: { model: 'm', max_tokens: 5, messages } }],
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.type).toBe('invalid_request_error');
    await expect(send('anthropic/claude-haiku-4-5', { custom_id: 'not ok!' })).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });

  it('Gemini: a batch without displayName is a 400 INVALID_ARGUMENT', async () => {
    const response = await post('/models/gemini-2.5-flash:batchGenerateContent', {
      batch: { inputConfig: { requests: { requests: [{ request: { contents: [] } }] } } },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.status).toBe('INVALID_ARGUMENT');
  });
});
