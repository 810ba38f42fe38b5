/**
 * Azure OpenAI over real HTTP: the deployment URL with api-version, the api-key header, the
 * /openai/v1 form, and Azure's content-filter chunks (a first chunk with no choices carrying
 * prompt_filter_results, content_filter_results on choices, annotation chunks with no delta) in our
 * own streams split at random byte boundaries.
 */
import { firstValueFrom } from 'rxjs';
import {
  ConfigurationError,
  ServerError,
  stream,
  type ChatCompletion,
  type ChatRequest,
  type Chunk,
} from '../../src';
import { azureURL } from '../../src/providers/azure';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const KEY = 'azure-test-key-0123456789abcdef';
const server = new ReplayServer('');
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());
const opts = () => ({ baseURL: server.url, apiKey: KEY });
const REQ: ChatRequest = { model: 'azure/my-gpt4o', messages: [{ role: 'user', content: 'hi' }] };

const SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};
const data = (v: object) => `data: ${JSON.stringify(v)}\n\n`;
const PROMPT_FILTER = data({
  id: '',
  object: '',
  created: 0,
  model: '',
  choices: [],
  prompt_filter_results: [{ prompt_index: 0, content_filter_results: SAFE }],
});
const chunk = (delta: object | undefined, finish: string | null = null, extra: object = {}) =>
  data({
    id: 'chatcmpl-az1',
    object: 'chat.completion.chunk',
    created: 1_760_000_000,
    model: 'gpt-4o-2024-11-20',
    system_fingerprint: 'fp_az',
    choices: [
      { index: 0, ...(delta && { delta }), finish_reason: finish, content_filter_results: SAFE, ...extra },
    ],
  });
const annotation = data({
  id: 'chatcmpl-az1',
  object: 'chat.completion.chunk',
  created: 1_760_000_000,
  model: 'gpt-4o-2024-11-20',
  choices: [
    {
      index: 0,
      finish_reason: null,
      content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 10 },
      content_filter_results: SAFE,
    },
  ],
});

describe('azure stream()', () => {
  it('posts to the deployment URL with api-version and api-key, and reads filter chunks as chunks', async () => {
    const body =
      PROMPT_FILTER +
      chunk({ role: 'assistant', content: '' }) +
      chunk({ content: 'Grüße ' }) +
      chunk({ content: '🌸' }) +
      chunk({}, 'stop') +
      annotation +
      'data: [DONE]\n\n';
    for (const seed of [1, 2, 3]) {
      server.enqueue(body, { seed, pieces: 4 + seed * 15 });
      const merged = await firstValueFrom(stream(REQ, opts()).pipe(accumulateChunks()));
      expect(merged).toMatchObject({
        id: 'chatcmpl-az1',
        created: 1_760_000_000,
        model: 'gpt-4o-2024-11-20',
        choices: [{ index: 0, message: { content: 'Grüße 🌸' }, finish_reason: 'stop' }],
      });
    }
    const req = server.requests[0];
    expect(req.url).toBe('/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe(KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body.stream).toBe(true);
  });

  it('passes content-filter results through on the chunks and finishes content_filter when filtered', async () => {
    const filtered = { ...SAFE, violence: { filtered: true, severity: 'high' } };
    server.enqueue(
      PROMPT_FILTER +
        chunk({ content: 'Once' }) +
        chunk({}, 'content_filter', { content_filter_results: filtered }) +
        'data: [DONE]\n\n',
      {
        seed: 5,
        pieces: 30,
      },
    );
    const { values, completed } = await collect(stream(REQ, opts()));
    expect(completed).toBe(true);
    expect((values[0] as Chunk & { prompt_filter_results?: unknown }).prompt_filter_results).toEqual([
      { prompt_index: 0, content_filter_results: SAFE },
    ]);
    const last = values.filter((c) => c.choices.length > 0).pop()!;
    expect(last.choices[0].finish_reason).toBe('content_filter');
    expect((last.choices[0] as { content_filter_results?: unknown }).content_filter_results).toEqual(
      filtered,
    );
  });

  const call = (index: number, id: string | undefined, name: string | undefined, args: string) => ({
    tool_calls: [
      { index, ...(id && { id, type: 'function' }), function: { ...(name && { name }), arguments: args } },
    ],
  });
  it.each([
    [
      'reasoning, then two tool calls',
      chunk({ role: 'assistant', content: null }) +
        chunk({ reasoning_content: 'Two cities.' }) +
        chunk(call(0, 'call_a', 'weather', '')) +
        chunk(call(0, undefined, undefined, '{"city":"Bern"}')) +
        chunk(call(1, 'call_b', 'weather', '{"city":')) +
        chunk(call(1, undefined, undefined, '"Oslo"}')) +
        chunk({}, 'tool_calls'),
      {
        content: null,
        reasoning: 'Two cities.',
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
          { id: 'call_b', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      'tool_calls',
    ],
    ['length', chunk({ content: 'Once upon' }) + chunk({}, 'length'), { content: 'Once upon' }, 'length'],
  ])('merges %s split at random byte boundaries', async (_, events, message, finish) => {
    for (const seed of [1, 2, 3]) {
      server.enqueue(PROMPT_FILTER + events + annotation + 'data: [DONE]\n\n', {
        seed,
        pieces: 3 + seed * 13,
      });
      const merged = await firstValueFrom(stream(REQ, opts()).pipe(accumulateChunks()));
      expect(merged.choices[0]).toMatchObject({ message, finish_reason: finish });
    }
  });

  it('ends an error event mid-stream with the typed error, keeping what arrived', async () => {
    server.enqueue(
      PROMPT_FILTER +
        chunk({ content: 'Half' }) +
        data({ error: { message: 'Server overloaded', type: 'server_error', code: '500' } }),
    );
    const { error } = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as { partial?: ChatCompletion }).partial?.choices[0].message.content).toBe('Half');
  });

  it('uses the /openai/v1 form with the deployment as model when apiVersion is v1', async () => {
    server.enqueue(chunk({ content: 'x' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
    await collect(stream(REQ, { ...opts(), baseURL: `${server.url}/openai/v1` }));
    expect(server.requests[0].url).toBe('/openai/v1/chat/completions');
    expect(server.requests[0].body.model).toBe('my-gpt4o');
  });

  it('fails before sending without an endpoint or a key', async () => {
    const saved = { e: process.env.AZURE_OPENAI_ENDPOINT, k: process.env.AZURE_OPENAI_API_KEY };
    delete process.env.AZURE_OPENAI_ENDPOINT;
    delete process.env.AZURE_OPENAI_API_KEY;
    try {
      expect((await collect(stream(REQ, { apiKey: KEY }))).error).toBeInstanceOf(ConfigurationError);
      expect((await collect(stream(REQ, { baseURL: server.url }))).error).toBeInstanceOf(ConfigurationError);
      expect(server.requests).toHaveLength(0);
    } finally {
      if (saved.e !== undefined) process.env.AZURE_OPENAI_ENDPOINT = saved.e;
      if (saved.k !== undefined) process.env.AZURE_OPENAI_API_KEY = saved.k;
    }
  });

  it.each([
    [
      'https://r.openai.azure.com/',
      'd',
      '2024-10-21',
      'https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21',
    ],
    ['https://r.openai.azure.com', 'd', 'v1', 'https://r.openai.azure.com/openai/v1/chat/completions'],
    [
      'https://r.openai.azure.com/openai/v1/',
      'd',
      '2024-10-21',
      'https://r.openai.azure.com/openai/v1/chat/completions',
    ],
    [
      'https://r.openai.azure.com/openai',
      'd x',
      '2025-04-01-preview',
      'https://r.openai.azure.com/openai/deployments/d%20x/chat/completions?api-version=2025-04-01-preview',
    ],
  ])('builds the URL for %s, %s, %s', (endpoint, deployment, version, url) => {
    expect(azureURL(endpoint, deployment, version)).toBe(url);
  });
});
