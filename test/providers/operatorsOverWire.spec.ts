/**
 * The operators work unchanged with the new providers: retry after a 503 in the provider's own error
 * body, a tool call validated whole by partialToolCallGuard, text and reasoning deltas, usage, a
 * length finish reported by finishReasonWarn — over each wire format the mock server speaks.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import { complete, stream, type ChatRequest } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import {
  accumulateChunks,
  collectText,
  finishReasonWarn,
  partialToolCallGuard,
  reasoningDeltas,
  retryBackoff,
  textDeltas,
  usage,
} from '../../operators';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());
const opts = () => ({ baseURL: server.url, apiKey: 'sk-test-ops-0123456789' });
const PROVIDERS = ['openai-responses', 'ollama', 'azure', 'anthropic', 'gemini'];
const req = (provider: string): ChatRequest => ({
  model: `${provider}/m`,
  messages: [{ role: 'user', content: 'hi' }],
});

describe.each(PROVIDERS)('operators over %s', (provider) => {
  it('retries a 503 then validates the tool call whole with partialToolCallGuard', async () => {
    server.enqueue(
      { status: 503 },
      {
        text: 'Looking.',
        toolCalls: [{ id: 'call_1', name: 'weather', arguments: { city: 'Lisbon' } }],
        chunkSize: 2,
      },
    );
    const schemas = { weather: z.object({ city: z.string() }) };
    const chunks = await lastValueFrom(
      stream(req(provider), opts()).pipe(
        retryBackoff({ initialDelayMs: 1, jitter: 0 }),
        partialToolCallGuard({ schemas }),
        toArray(),
      ),
    );
    const calls = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ id: 'call_1', name: 'weather', input: { city: 'Lisbon' } });
    expect(server.requests).toHaveLength(2);
  });

  it('textDeltas, reasoningDeltas, collectText and usage read the same stream', async () => {
    const script = {
      reasoning: 'Hmm.',
      text: 'Olá 🌍',
      chunkSize: 2,
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    };
    server.enqueue(script, script, script, script);
    expect((await lastValueFrom(stream(req(provider), opts()).pipe(textDeltas(), toArray()))).join('')).toBe(
      'Olá 🌍',
    );
    expect(
      (await lastValueFrom(stream(req(provider), opts()).pipe(reasoningDeltas(), toArray()))).join(''),
    ).toBe('Hmm.');
    expect(await lastValueFrom(stream(req(provider), opts()).pipe(collectText()))).toBe('Olá 🌍');
    expect(await lastValueFrom(stream(req(provider), opts()).pipe(usage()))).toMatchObject({
      prompt_tokens: 3,
      completion_tokens: 4,
    });
  });

  it('finishReasonWarn reports a length finish; complete() returns the same text', async () => {
    server.enqueue({ text: 'cut sho', finishReason: 'length' }, { text: 'whole' });
    const warnings: unknown[] = [];
    const merged = await lastValueFrom(
      stream(req(provider), opts()).pipe(
        finishReasonWarn({ onWarn: (w) => warnings.push(w) }),
        accumulateChunks(),
      ),
    );
    expect(merged.choices[0].finish_reason).toBe('length');
    expect(warnings).toHaveLength(1);
    expect((await lastValueFrom(complete(req(provider), opts()))).choices[0].message.content).toBe('whole');
  });
});
