/**
 * The mock server speaks every wire format: one script, streamed through each provider against the
 * same server, merges to the same response; each format's error body and in-band error event reach
 * the user as the same typed errors.
 */
import { firstValueFrom, lastValueFrom } from 'rxjs';
import {
  AuthenticationError,
  RateLimitError,
  ServerError,
  StreamParseError,
  complete,
  stream,
  type ChatCompletion,
  type ChatRequest,
} from '../../src';
import { createMockServer, type MockServer, type MockServerScript } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect } from '../helpers/collect';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const PROVIDERS = [
  ['compat', 'openai'],
  ['azure', 'openai'],
  ['openai-responses', 'openai-responses'],
  ['anthropic', 'anthropic'],
  ['gemini', 'gemini'],
  ['ollama', 'ollama'],
] as const;
const opts = () => ({ baseURL: server.url, apiKey: 'sk-test-wire-0123456789' });
const request = (provider: string): ChatRequest => ({
  model: `${provider}/mock-model`,
  messages: [{ role: 'user', content: 'Weather in Bern and Oslo?' }],
});

const SCRIPT: MockServerScript = {
  reasoning: 'Two cities → two calls.',
  text: 'Checking 🌦️',
  toolCalls: [
    { id: 'call_bern', name: 'weather', arguments: { city: 'Bern' } },
    { id: 'call_oslo', name: 'weather', arguments: { city: 'Oslo' } },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 20, total_tokens: 32 },
  chunkSize: 3,
};

/** What must be the same whatever the wire format. */
const essence = (c: ChatCompletion) => ({
  content: c.choices[0].message.content,
  reasoning: c.choices[0].message.reasoning,
  tool_calls: c.choices[0].message.tool_calls?.map((t) => ({ id: t.id, ...t.function })),
  finish_reason: c.choices[0].finish_reason,
  usage: { prompt: c.usage?.prompt_tokens, completion: c.usage?.completion_tokens },
});
const WANT = {
  content: 'Checking 🌦️',
  reasoning: 'Two cities → two calls.',
  tool_calls: [
    { id: 'call_bern', name: 'weather', arguments: '{"city":"Bern"}' },
    { id: 'call_oslo', name: 'weather', arguments: '{"city":"Oslo"}' },
  ],
  finish_reason: 'tool_calls',
  usage: { prompt: 12, completion: 20 },
};

describe('mock server: every wire format', () => {
  it.each(PROVIDERS)(
    '%s streams a script as its own wire format, merging to the same response',
    async (provider, format) => {
      server.enqueue(SCRIPT);
      const merged = await firstValueFrom(stream(request(provider), opts()).pipe(accumulateChunks()));
      expect(essence(merged)).toEqual(WANT);
      expect(server.requests[0].format).toBe(format);
    },
  );

  it.each(PROVIDERS)('%s: complete() gets the same answer from the non-streaming route', async (provider) => {
    server.enqueue(SCRIPT);
    const whole = await lastValueFrom(complete(request(provider), opts()));
    expect(essence(whole)).toEqual(WANT);
  });

  it.each(PROVIDERS)(
    '%s: an error status comes in the provider’s own body and becomes the typed error',
    async (provider) => {
      server.enqueue({ status: 429, headers: { 'retry-after': '0' } }, { status: 401 });
      expect((await collect(stream(request(provider), opts()))).error).toBeInstanceOf(RateLimitError);
      expect((await collect(stream(request(provider), opts()))).error).toBeInstanceOf(AuthenticationError);
    },
  );

  it.each(PROVIDERS)(
    '%s: an in-band error event mid-stream becomes a ServerError, after what arrived',
    async (provider) => {
      server.enqueue({
        text: 'abcdefghij',
        chunkSize: 2,
        inBandError: {
          afterChunks: 3,
          error: { message: 'Overloaded', type: 'overloaded_error', code: 503 },
        },
      });
      const { values, error } = await collect(stream(request(provider), opts()));
      expect(error).toBeInstanceOf(ServerError);
      expect((error as Error).message).toContain('Overloaded');
      expect(values.length).toBeGreaterThan(0);
    },
  );

  it.each(PROVIDERS)('%s: a malformed event is a StreamParseError', async (provider) => {
    server.enqueue({ text: 'abcdef', chunkSize: 2, malformedAfterChunks: 2 });
    expect((await collect(stream(request(provider), opts()))).error).toBeInstanceOf(StreamParseError);
  });

  it('answers a request carrying mock_response with that script, leaving the queue alone', async () => {
    server.enqueue('queued');
    const own = await firstValueFrom(
      stream({ ...request('compat'), mock_response: { text: 'own script' } } as ChatRequest, opts()).pipe(
        accumulateChunks(),
      ),
    );
    expect(own.choices[0].message.content).toBe('own script');
    const next = await firstValueFrom(stream(request('compat'), opts()).pipe(accumulateChunks()));
    expect(next.choices[0].message.content).toBe('queued');
  });
});

describe('mock server: replayed bytes on a non-SSE route', () => {
  it('replays NDJSON bytes to Ollama as application/x-ndjson, split where asked', async () => {
    const lines = [
      {
        model: 'm',
        created_at: '2025-01-01T00:00:00Z',
        message: { role: 'assistant', content: 'Grüße 🌸' },
        done: false,
      },
      {
        model: 'm',
        created_at: '2025-01-01T00:00:00Z',
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: 1,
        eval_count: 2,
      },
    ];
    server.enqueue({
      rawSse: lines.map((l) => JSON.stringify(l)).join('\r\n') + '\r\n',
      randomSplits: { seed: 3, pieces: 25 },
    });
    const meta: string[] = [];
    const merged = await firstValueFrom(
      stream(request('ollama'), {
        ...opts(),
        onResponse: (m) => void meta.push(m.headers['content-type'] ?? ''),
      }).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.content).toBe('Grüße 🌸');
    expect(meta).toEqual(['application/x-ndjson']);
  });
});
