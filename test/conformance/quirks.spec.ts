/**
 * Our own quirk streams (test/quirks), one per tool-call and merge rule, replayed as SSE bytes through
 * the mock server and the real HTTP path at random byte splits: the suite proves the rules without
 * ../shared/fixtures.
 */
import { z } from 'zod';
import { StreamCutError, stream, type Chunk } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { partialToolCallGuard } from '../../operators/partialToolCallGuard';
import { collect } from '../helpers/collect';
import { call, chunk, QUIRKS, text, tools } from '../quirks/toolCallQuirks';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const REQUEST = { model: 'compat/x' as const, messages: [{ role: 'user' as const, content: 'quirk' }] };
const options = () => ({ baseURL: server.url, apiKey: 'test-key' });
const toSse = (chunks: Chunk[], done = true) =>
  chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');

describe('own quirk streams over HTTP, then accumulateChunks', () => {
  it.each(QUIRKS.map((q) => [q.name, q] as const))('%s', async (_name, quirk) => {
    for (const seed of [11, 12, 13]) {
      server.enqueue({ rawSse: toSse(quirk.chunks), randomSplits: { seed, pieces: 9 } });
      const { values, error } = await collect(stream(REQUEST, options()).pipe(accumulateChunks()));
      expect(error).toBeUndefined();
      const message = values[0].choices[0].message;
      expect(message.content ?? '').toBe(quirk.expected.text);
      const calls = (message.tool_calls ?? []).map((t) => ({
        id: t.id,
        name: t.function.name,
        arguments: t.function.arguments,
      }));
      expect(calls).toEqual(quirk.expected.tool_calls);
      expect(values[0].choices[0].finish_reason).toBe(quirk.expected.finish_reason);
      expect(values[0].usage).toEqual(quirk.expected.usage);
    }
  });
});

describe('truncated tool calls over HTTP', () => {
  const schemas = { get_weather: z.object({ city: z.string() }) };
  const start = [text('One moment.'), tools(call(0, 'call_w', 'get_weather', '{"city":"Ber'))];

  it('a call cut by finish_reason length is released as invalid, never valid, and merges as received', async () => {
    const chunks = [...start, chunk([{ delta: {}, finish_reason: 'length' }])];
    server.enqueue({ rawSse: toSse(chunks), randomSplits: { seed: 21, pieces: 7 } });
    const guarded = await collect(stream(REQUEST, options()).pipe(partialToolCallGuard({ schemas })));
    const valid = guarded.values.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    const invalid = guarded.values.flatMap((c) =>
      c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []),
    );
    expect(valid).toEqual([]);
    expect(invalid).toEqual([
      expect.objectContaining({ id: 'call_w', reason: 'truncated', arguments: '{"city":"Ber' }),
    ]);
    expect(guarded.values.map((c) => c.choices[0]?.delta.content).filter(Boolean)).toEqual(['One moment.']);
  });

  it('a connection cut inside a call: StreamCutError, the guard refuses the call, the merge keeps what came', async () => {
    server.enqueue({ rawSse: toSse(start, false), randomSplits: { seed: 22, pieces: 5 } });
    const guarded = await collect(stream(REQUEST, options()).pipe(partialToolCallGuard({ schemas })));
    expect(guarded.error).toBeInstanceOf(StreamCutError);
    const invalid = guarded.values.flatMap((c) =>
      c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []),
    );
    expect(invalid.map((i) => i.reason)).toEqual(['truncated']);
    expect(guarded.values.some((c) => c.choices.some((ch) => ch.delta.tool_calls))).toBe(false);

    server.enqueue({ rawSse: toSse(start, false), randomSplits: { seed: 23, pieces: 5 } });
    const merged = await collect(stream(REQUEST, options()).pipe(accumulateChunks()));
    expect(merged.error).toBeInstanceOf(StreamCutError);
    const partial = (merged.error as StreamCutError).partial!;
    expect(partial.choices[0].message.content).toBe('One moment.');
    expect(partial.choices[0].message.tool_calls?.[0].function.arguments).toBe('{"city":"Ber');
    expect(partial.choices[0].finish_reason).toBeNull();
  });
});
