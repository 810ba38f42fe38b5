/**
 * Ollama's native API over real HTTP: our own NDJSON streams, written from the documented
 * `/api/chat` shapes, replayed split at seeded-random byte boundaries (CRLF and multi-byte text
 * included), merged with accumulateChunks and compared whole.
 */
import { firstValueFrom, lastValueFrom } from 'rxjs';
import {
  BadRequestError,
  ConfigurationError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  complete,
  stream,
  type ChatCompletion,
  type ChatRequest,
} from '../../src';
import { hostURL } from '../../src/providers/ollama';
import { splitBytes } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const server = new ReplayServer('');
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());
const opts = () => ({ baseURL: server.url });
const REQ: ChatRequest = { model: 'ollama/llama-test', messages: [{ role: 'user', content: 'hi' }] };

const AT = '2025-10-09T12:00:00.123456789Z';
const CREATED = Math.floor(Date.parse('2025-10-09T12:00:00Z') / 1000);
const line = (message: object, extra: object = {}) =>
  JSON.stringify({
    model: 'llama-test',
    created_at: AT,
    message: { role: 'assistant', content: '', ...message },
    done: false,
    ...extra,
  });
const done = (reason: string) =>
  JSON.stringify({
    model: 'llama-test',
    created_at: AT,
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: reason,
    total_duration: 5_000_000,
    prompt_eval_count: 11,
    eval_count: 22,
  });
const nd = (lines: string[], eol = '\n') => lines.map((l) => l + eol).join('');
const enqueue = (body: string, seed: number) =>
  server.enqueueResponse({
    headers: { 'content-type': 'application/x-ndjson' },
    pieces: splitBytes(body, { randomSplits: { seed, pieces: 2 + seed * 9 } }),
  });

const msg = (extra: object) => ({
  role: 'assistant' as const,
  content: null,
  refusal: null,
  reasoning: null,
  ...extra,
});
const expected = (message: object, finish: string, raw: string) => ({
  id: expect.stringMatching(/^chatcmpl-ollama-/),
  object: 'chat.completion',
  created: CREATED,
  model: 'llama-test',
  choices: [{ index: 0, message, finish_reason: finish, raw_finish_reason: raw }],
  usage: { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 },
});

const CASES: [string, string, object][] = [
  [
    'text (CRLF)',
    nd(
      [line({ content: 'Grüße ' }), line({ content: '🌸 aus ' }), line({ content: 'Köln' }), done('stop')],
      '\r\n',
    ),
    expected(msg({ content: 'Grüße 🌸 aus Köln' }), 'stop', 'stop'),
  ],
  [
    'thinking then text',
    nd([line({ thinking: 'Two plus ' }), line({ thinking: 'two.' }), line({ content: '4' }), done('stop')]),
    expected(msg({ content: '4', reasoning: 'Two plus two.' }), 'stop', 'stop'),
  ],
  [
    'one tool call (server id kept, arguments stringified)',
    nd([
      line({
        tool_calls: [{ id: 'call_srv1', function: { name: 'weather', arguments: { city: 'Zürich' } } }],
      }),
      done('stop'),
    ]),
    expected(
      msg({
        tool_calls: [
          {
            id: 'call_srv1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Zürich"}' },
          },
        ],
      }),
      'tool_calls',
      'stop',
    ),
  ],
  [
    'two tool calls without ids (stable generated ids)',
    nd([
      line({ content: 'Checking.' }),
      line({
        tool_calls: [
          { function: { name: 'weather', arguments: { city: 'Bern' } } },
          { function: { index: 1, name: 'weather', arguments: { city: 'Oslo' } } },
        ],
      }),
      done('stop'),
    ]),
    expected(
      msg({
        content: 'Checking.',
        tool_calls: [
          {
            id: expect.stringMatching(/^call_[0-9a-f]{16}_0$/),
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Bern"}' },
          },
          {
            id: expect.stringMatching(/^call_[0-9a-f]{16}_1$/),
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Oslo"}' },
          },
        ],
      }),
      'tool_calls',
      'stop',
    ),
  ],
  [
    'length',
    nd([line({ content: 'Once upon' }), done('length')]),
    expected(msg({ content: 'Once upon' }), 'length', 'length'),
  ],
];

describe('ollama stream(): own NDJSON streams split at random byte boundaries', () => {
  it.each(CASES)('%s', async (_, body, want) => {
    for (const seed of [1, 2, 3, 4]) {
      enqueue(body, seed);
      const merged = await firstValueFrom(stream(REQ, opts()).pipe(accumulateChunks()));
      expect(merged).toEqual(want);
    }
    expect(server.requests[0].url).toBe('/api/chat');
    expect(server.requests[0].headers.accept).toBe('application/x-ndjson');
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });

  it('ends an {"error"} line mid-stream with the typed error, keeping what arrived', async () => {
    enqueue(
      nd([line({ content: 'Half' }), JSON.stringify({ error: 'model runner has unexpectedly stopped' })]),
      3,
    );
    const { error } = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as Error).message).toContain('model runner has unexpectedly stopped');
    expect((error as { partial?: ChatCompletion }).partial?.choices[0].message.content).toBe('Half');
  });

  it.each([
    ['non-string content', line({ content: 5 })],
    ['tool_calls that are not an array', line({ tool_calls: { function: { name: 'f' } } })],
    ['a tool call without a function name', line({ tool_calls: [null] })],
    ['a line that is not JSON', '{"model": "x", "mess'],
  ])('ends %s with a StreamParseError', async (_, bad) => {
    enqueue(nd([line({ content: 'a' }), bad, done('stop')]), 2);
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(StreamParseError);
  });

  it('is cut (StreamCutError) when the body ends before the done line', async () => {
    enqueue(nd([line({ content: 'abc' })]), 1);
    expect((await collect(stream(REQ, opts()))).error).toBeInstanceOf(StreamCutError);
  });

  it('maps an HTTP 404 {"error": "..."} body to BadRequestError with its message', async () => {
    server.enqueueResponse({
      status: 404,
      headers: { 'content-type': 'application/json' },
      pieces: [Buffer.from(JSON.stringify({ error: "model 'nope' not found" }))],
    });
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toContain("model 'nope' not found");
  });
});

describe('ollama request body', () => {
  const sent = async (request: ChatRequest) => {
    enqueue(nd([line({ content: 'ok' }), done('stop')]), 1);
    const { error } = await collect(stream(request, opts()));
    expect(error).toBeUndefined();
    return server.requests[server.requests.length - 1].body;
  };

  it('maps a multi-turn conversation with two parallel calls, results, an image, tools and options', async () => {
    const body = await sent({
      model: 'ollama/llama-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather here?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          reasoning: 'Two cities.',
          tool_calls: [
            { id: 'call_A', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
            { id: 'call_B', type: 'function', function: { name: 'time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_B', content: '12:00' },
        { role: 'tool', tool_call_id: 'call_A', content: '{"temp":3}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      max_tokens: 100,
      temperature: 0.1,
      stop: 'END',
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
      reasoning_effort: 'low',
    } as ChatRequest);
    expect(body).toEqual({
      model: 'llama-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather here?', images: ['iVBORw0K'] },
        {
          role: 'assistant',
          content: '',
          thinking: 'Two cities.',
          tool_calls: [
            { id: 'call_A', function: { name: 'weather', arguments: { city: 'Bern' } } },
            { id: 'call_B', function: { name: 'time', arguments: {} } },
          ],
        },
        { role: 'tool', content: '12:00', tool_name: 'time' },
        { role: 'tool', content: '{"temp":3}', tool_name: 'weather' },
      ],
      stream: true,
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      format: { type: 'object' },
      options: { num_predict: 100, temperature: 0.1, stop: ['END'] },
      think: 'low',
    });
  });

  it('rejects an image URL (Ollama takes inline data) before sending', async () => {
    const { error } = await collect(
      stream(
        {
          ...REQ,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          ],
        },
        opts(),
      ),
    );
    expect(error).toBeInstanceOf(RequestValidationError);
    expect(server.requests).toHaveLength(0);
  });

  it('sends a given key as a bearer token (a proxy in front of Ollama), and reads OLLAMA_HOST', async () => {
    await sent({ ...REQ });
    expect(server.requests[0].headers.authorization).toBeUndefined();
    enqueue(nd([line({ content: 'ok' }), done('stop')]), 2);
    const saved = process.env.OLLAMA_HOST;
    process.env.OLLAMA_HOST = server.url.replace('http://', '');
    try {
      await collect(stream(REQ, { apiKey: 'proxy-token-0123456789' }));
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_HOST;
      else process.env.OLLAMA_HOST = saved;
    }
    expect(server.requests[1].headers.authorization).toBe('Bearer proxy-token-0123456789');
  });

  it.each([
    ['gpu-box', 'http://gpu-box:11434'],
    ['gpu-box:8080', 'http://gpu-box:8080'],
    ['https://ollama.example.com/', 'https://ollama.example.com'],
    ['http://127.0.0.1:11434/api', 'http://127.0.0.1:11434'],
  ])('reads OLLAMA_HOST %s as %s', (host, url) => {
    expect(hostURL(host)).toBe(url);
  });

  it('fails a malformed host with ConfigurationError (no raw TypeError, no credentials in it), before sending', async () => {
    const requests = server.requests.length;
    const { values, error } = await collect(
      stream(REQ, { baseURL: 'http://user:s3cret-proxy-pass@bad host:1' }),
    );
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('not an absolute http(s) URL');
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain('s3cret-proxy-pass');
    expect(server.requests.length).toBe(requests);
  });
});

describe('ollama complete()', () => {
  it('sends stream:false and maps the answer to a ChatCompletion', async () => {
    server.enqueueResponse({
      headers: { 'content-type': 'application/json' },
      pieces: [
        Buffer.from(
          JSON.stringify({
            ...JSON.parse(done('stop')),
            message: { role: 'assistant', content: 'Hello', thinking: 'Greet.' },
          }),
        ),
      ],
    });
    const result = await lastValueFrom(complete(REQ, opts()));
    expect(server.requests[0].body.stream).toBe(false);
    expect(result).toEqual(
      expected({ role: 'assistant', content: 'Hello', reasoning: 'Greet.' }, 'stop', 'stop'),
    );
  });
});
