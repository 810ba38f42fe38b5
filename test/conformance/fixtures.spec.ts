/**
 * Conformance: every recorded stream in ../shared/fixtures whose provider is registered is replayed
 * over real HTTP (split at seeded-random byte boundaries, so multi-byte characters and CRLF pairs land
 * across reads), through `stream()` and `accumulateChunks`, and must merge to its expected file.
 * Providers not registered yet (Anthropic, Gemini) are picked up as soon as they are.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ApiError, StreamCutError, stream, type ChatCompletion, type Chunk } from '../../src';
import { listProviders } from '../../src/providers/registry';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { partialToolCallGuard, type GuardedChunk } from '../../operators/partialToolCallGuard';
import { collect } from '../helpers/collect';
import { FIXTURES_DIR as FIXTURES, type FixtureCase } from '../helpers/fixtures';
import { ReplayServer } from '../helpers/replayServer';

type Expected = FixtureCase['expected'];

/** Several splits per file: whole, a few large pieces, many small ones (some mid-character). */
const SPLITS = [
  { seed: 1, pieces: 1 },
  { seed: 2, pieces: 5 },
  { seed: 3, pieces: 41 },
  { seed: 4, pieces: 400 },
];

function cases(dir: string): string[] {
  return fs
    .readdirSync(path.join(FIXTURES, dir))
    .filter((f) => f.endsWith('.sse'))
    .map((f) => f.slice(0, -'.sse'.length))
    .sort();
}

const request = (provider: string) => ({
  model: `${provider}/x` as const,
  messages: [{ role: 'user' as const, content: 'replay' }],
});

/** Compares a merged response with an expected file; Gemini arguments compare as parsed JSON. */
function expectMerged(
  merged: ChatCompletion | undefined,
  expected: Expected,
  provider: string,
  complete: boolean,
) {
  const choice = merged?.choices.find((c) => c.index === 0);
  const message = choice?.message;
  expect(message?.content ?? '').toBe(expected.text);
  expect(message?.reasoning ?? '').toBe(expected.reasoning ?? '');
  expect(message?.refusal ?? '').toBe(expected.refusal ?? '');
  const calls = message?.tool_calls ?? [];
  if (complete) expect(calls).toHaveLength(expected.tool_calls.length);
  expected.tool_calls.slice(0, calls.length).forEach((want, i) => {
    const got = calls[i];
    expect(got.function.name).toBe(want.name);
    if (want.id !== null) expect(got.id).toBe(want.id);
    if (provider === 'gemini') expect(JSON.parse(got.function.arguments)).toEqual(JSON.parse(want.arguments));
    else expect(got.function.arguments).toBe(want.arguments);
  });
  expect(choice?.finish_reason ?? null).toBe(expected.finish_reason);
  const usage = merged?.usage ?? null;
  expect(
    usage && {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    },
  ).toEqual(expected.usage);
}

if (!fs.existsSync(FIXTURES)) {
  describe.skip(`recorded fixtures: skipped, ${FIXTURES} is absent`, () => {
    it('replays ../shared/fixtures when present', () => undefined);
  });
} else {
  describe('recorded fixtures, replayed over HTTP at random byte splits, then accumulateChunks', () => {
    const server = new ReplayServer();
    beforeAll(() => server.start());
    afterAll(() => server.close());

    const dirs = fs
      .readdirSync(FIXTURES, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();

    for (const dir of dirs) {
      if (!listProviders().includes(dir)) {
        it.skip(`skipped: no ${dir} provider yet`, () => undefined);
        continue;
      }
      describe(dir, () => {
        for (const name of cases(dir)) {
          const expectedFile = path.join(FIXTURES, dir, `${name}.expected.json`);
          if (!fs.existsSync(expectedFile)) continue;
          const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8')) as Expected;
          const bytes = fs.readFileSync(path.join(FIXTURES, dir, `${name}.sse`));
          const outcome =
            expected.error !== undefined
              ? 'ApiError'
              : expected.stream_complete === false
                ? 'StreamCutError'
                : 'whole';

          it(`${name}: merges to the expected response (${outcome}) at every split`, async () => {
            for (const split of SPLITS) {
              server.enqueue(bytes, split);
              const options = { baseURL: server.url, apiKey: 'test-key' };
              const result = await collect(stream(request(dir), options).pipe(accumulateChunks()));
              if (outcome === 'whole') {
                expect(result.error).toBeUndefined();
                expect(result.values).toHaveLength(1);
                expectMerged(result.values[0], expected, dir, true);
              } else {
                expect(result.error).toBeInstanceOf(outcome === 'ApiError' ? ApiError : StreamCutError);
                expectMerged((result.error as ApiError).partial, expected, dir, false);
              }
            }
          });

          if (expected.tool_calls.length > 0) {
            it(`${name}: partialToolCallGuard releases exactly the expected calls, each once`, async () => {
              const schemas = Object.fromEntries(
                expected.tool_calls.map((t) => [t.name, z.record(z.string(), z.unknown())]),
              );
              for (const split of SPLITS.slice(1, 3)) {
                server.enqueue(bytes, split);
                const options = { baseURL: server.url, apiKey: 'test-key' };
                const result = await collect(
                  stream(request(dir), options).pipe(partialToolCallGuard({ schemas })),
                );
                const valid = result.values.flatMap((c) =>
                  c.choices.flatMap((ch) => ch.delta.tool_calls ?? []),
                );
                const invalid = result.values.flatMap((c) =>
                  c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []),
                );
                expect(invalid).toEqual([]);
                expect(valid.map((v) => v.name)).toEqual(expected.tool_calls.map((t) => t.name));
                valid.forEach((v, i) =>
                  expect(v.input).toEqual(JSON.parse(expected.tool_calls[i].arguments)),
                );
                expect(lastReleaseBeforeFinish(result.values)).toBe(true);
              }
            });

            // The cut is made in the OpenAI wire format; other providers have their own quirk tests.
            (dir === 'openai' ? it : it.skip)(
              `${name}, cut inside its last call: the guard releases it as invalid, never as valid`,
              async () => {
                const cut = cutInsideLastCall(bytes, expected.tool_calls[expected.tool_calls.length - 1]);
                expect(cut).toBeDefined();
                if (cut === undefined) return;
                const schemas = Object.fromEntries(
                  expected.tool_calls.map((t) => [t.name, z.record(z.string(), z.unknown())]),
                );
                server.enqueue(cut, { seed: 5, pieces: 9 });
                const options = { baseURL: server.url, apiKey: 'test-key' };
                const result = await collect(
                  stream(request(dir), options).pipe(partialToolCallGuard({ schemas })),
                );
                expect(result.error).toBeInstanceOf(StreamCutError);
                const valid = result.values.flatMap((c) =>
                  c.choices.flatMap((ch) => ch.delta.tool_calls ?? []),
                );
                const invalid = result.values.flatMap((c) =>
                  c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []),
                );
                const last = expected.tool_calls[expected.tool_calls.length - 1];
                expect(valid.map((v) => v.name)).toEqual(expected.tool_calls.slice(0, -1).map((t) => t.name));
                expect(invalid).toEqual([expect.objectContaining({ name: last.name, reason: 'truncated' })]);
                expect(last.arguments.startsWith(invalid[0].arguments)).toBe(true);
                expect(invalid[0].arguments).not.toBe(last.arguments);
              },
            );
          }
        }
      });
    }
  });
}

/** True when no released call comes after the chunk that finishes its choice. */
function lastReleaseBeforeFinish(chunks: GuardedChunk<any>[]): boolean {
  const finishAt = chunks.findIndex((c) => c.choices.some((ch) => ch.finish_reason != null));
  const lastCall = chunks.map((c) => c.choices.some((ch) => ch.delta.tool_calls)).lastIndexOf(true);
  return finishAt === -1 || lastCall < finishAt;
}

/**
 * The stream's bytes up to the end of the first event that carries part (not all) of the last call's
 * arguments, so the connection ends inside that call. OpenAI wire format (`data:` chunks) only.
 */
function cutInsideLastCall(bytes: Buffer, last: { name: string; arguments: string }): Buffer | undefined {
  let offset = 0;
  let inLast = false;
  let got = '';
  for (const event of bytes.toString('utf8').split(/(?<=\r?\n\r?\n)/)) {
    offset += Buffer.byteLength(event);
    const line = event.split(/\r?\n/).find((l) => l.startsWith('data:'));
    let value: Chunk | undefined;
    try {
      value = line ? (JSON.parse(line.slice(5)) as Chunk) : undefined;
    } catch {
      value = undefined;
    }
    for (const tc of value?.choices?.[0]?.delta?.tool_calls ?? []) {
      if (tc.function?.name === last.name) inLast = true;
      if (inLast) got += tc.function?.arguments ?? '';
    }
    if (inLast && got.length > 0 && got.length < last.arguments.length) return bytes.subarray(0, offset);
  }
  return undefined;
}
