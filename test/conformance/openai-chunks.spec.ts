/**
 * Conformance: every recorded OpenAI-compatible stream in ../shared/fixtures/openai, replayed through
 * the real HTTP path (mock server → undici → SSE parser → provider) split at random byte boundaries.
 * What the chunks say (text, refusal, reasoning, finish reason, usage, tool-call fragments) must
 * match the expected file. Skipped, and says so, where the fixtures are absent.
 */
import { stream, StreamCutError, LlmError } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';
import { fixturesAvailable, loadFixtures, FIXTURES_DIR } from '../helpers/fixtures';

const cases = loadFixtures('openai');
const SPLITS_PER_FILE = 4;

if (!fixturesAvailable()) {
  describe.skip(`openai fixture conformance (skipped: ${FIXTURES_DIR} is absent)`, () => {
    it('needs ../shared/fixtures', () => undefined);
  });
} else {
  describe('openai fixture conformance (chunk level)', () => {
    let server: MockServer;
    beforeAll(async () => {
      server = await createMockServer();
    });
    afterAll(() => server.close());

    it('found the recordings', () => {
      expect(cases.length).toBeGreaterThan(5);
    });

    describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, fixture) => {
      it.each(Array.from({ length: SPLITS_PER_FILE }, (_, i) => i + 1))(
        'matches the expected merge with random split seed %i',
        async (seed) => {
          server.enqueue({ rawSse: fixture.sse, randomSplits: { seed: seed * 7919, pieces: 5 + seed * 11 } });
          const { values, error, completed } = await collect(
            stream(REQUEST, { baseURL: server.url, apiKey: 'test-key' }),
          );
          const got = summarize(values);
          const want = fixture.expected;
          expect(got.text).toBe(want.text);
          expect(got.reasoning).toBe(want.reasoning ?? '');
          expect(got.refusal).toBe(want.refusal ?? '');
          expect(got.finish).toBe(want.finish_reason);
          if (want.usage) expect(got.usage).toMatchObject(want.usage);
          else expect(got.usage).toBeNull();
          // tool-call fragments arrive intact (merging them is accumulateChunks' job)
          expect(got.toolArguments).toBe(want.tool_calls.map((t) => t.arguments).join(''));
          if (want.stream_complete === false) {
            expect(error).toBeInstanceOf(StreamCutError);
          } else if (want.error) {
            expect(error).toBeInstanceOf(LlmError);
          } else {
            expect(error).toBeUndefined();
            expect(completed).toBe(true);
          }
        },
      );
    });
  });
}
