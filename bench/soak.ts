/**
 * Soak test (not part of the unit suite): 2,000 streamed requests, concurrency 50, ~5 % injected
 * faults of every kind, hostile responses included (HTML 200, JSON 200, a JSON error 200, gzip,
 * endless keep-alive comments, a 20 MB line, the API key echoed in every header and the body).
 * Checks that every request ends exactly once (success or typed failure), that each failure has
 * the class its last attempt's fault calls for, that no 8-character fragment of the key appears in
 * any error, that no text is duplicated, and that memory stays flat. Prints the counts.
 *
 *   npx tsx --expose-gc bench/soak.ts [requests] [concurrency]
 */
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import { from, lastValueFrom, tap } from 'rxjs';
import { createAgent, LlmError, stream, type ChatRequest } from '../src';
import { createMockServer, seededRandom, type MockServerScript } from '../src/testing';
import { accumulateChunks, mapConcurrent, retryBackoff, timeouts } from '../operators';

const TOTAL = Number(process.argv[2] ?? 2000);
const CONCURRENCY = Number(process.argv[3] ?? 50);
const FAULT_RATE = 0.05;

const FAULTS: Record<string, MockServerScript> = {
  '429': { status: 429, headers: { 'retry-after-ms': '50' } },
  '500': { status: 500 },
  '502': { status: 502 },
  '503': { status: 503 },
  resetBeforeHeaders: { resetBeforeHeaders: true },
  cutMidStream: { cutAfterChunks: 3 },
  stallBeforeHeaders: { stall: 'before-headers' },
  stallMidStream: { stall: { afterChunks: 3 } },
  malformed: { malformedAfterChunks: 3 },
  inBandBefore: {
    inBandError: { afterChunks: 0, error: { error: { type: 'overloaded_error', message: 'Overloaded' } } },
  },
  inBandAfter: {
    inBandError: { afterChunks: 3, error: { error: { type: 'server_error', message: 'boom' } } },
  },
};
/** The API key every request sends; the `echoKey` fault sends it back everywhere. */
const KEY = 'sk-soak-7QbX2mLr9VtE4nKc8ZpW3yHs6JdF1gUa';

/** A whole SSE answer for `text`, built by hand (for the gzip fault). */
function sseAnswer(text: string): string {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'gz', object: 'chat.completion.chunk', created: 1, model: 'soak', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return (
    chunk({ role: 'assistant', content: text.slice(0, 10) }, null) +
    chunk({ content: text.slice(10) }, 'stop') +
    'data: [DONE]\n\n'
  );
}

let hugeLine: Buffer | undefined;
/** One SSE event of 20 MB (past the 16 MB event limit): allocated once, on first use. */
const twentyMbLine = () =>
  (hugeLine ??= Buffer.concat([
    Buffer.from('data: {"x":"'),
    Buffer.alloc(20 * 1024 * 1024, 0x61),
    Buffer.from('"}\n\n'),
  ]));

/** Hostile responses: each is built per request (some need the prompt's answer). */
const HOSTILE: Record<string, (text: string) => MockServerScript> = {
  html200: () => ({
    rawSse: '<html><body>502 Bad Gateway</body></html>',
    headers: { 'content-type': 'text/html' },
  }),
  json200: (text) => ({
    rawSse: JSON.stringify({
      object: 'chat.completion',
      choices: [{ index: 0, message: { content: text } }],
    }),
    headers: { 'content-type': 'application/json' },
  }),
  jsonError200: () => ({
    rawSse: JSON.stringify({ error: { type: 'overloaded_error', message: 'Overloaded' } }),
    headers: { 'content-type': 'application/json' },
  }),
  gzip: (text) => ({
    rawSse: gzipSync(sseAnswer(text)),
    randomSplits: { seed: 7, pieces: 5 },
    headers: { 'content-encoding': 'gzip' },
  }),
  endlessComments: () => ({ keepAliveOnly: { afterChunks: 2, everyMs: 20 } }),
  hugeLine: () => ({ rawSse: twentyMbLine() }),
  echoKey: () => ({
    status: 401,
    headers: { 'x-echo-key': KEY, 'x-request-id': KEY, 'x-debug': `Bearer ${KEY}` },
    errorBody: { error: { message: `${'x'.repeat(280)}${KEY} is not valid`, type: KEY } },
  }),
};

/** The class a request ends with when its last attempt met this fault (and retries ran out). */
const EXPECTED: Record<string, string> = {
  '429': 'RateLimitError',
  '500': 'ServerError',
  '502': 'ServerError',
  '503': 'ServerError',
  resetBeforeHeaders: 'ConnectionError',
  cutMidStream: 'StreamCutError',
  stallBeforeHeaders: 'TimeoutError',
  stallMidStream: 'TimeoutError',
  malformed: 'StreamParseError',
  inBandBefore: 'ServerError',
  inBandAfter: 'ServerError',
  html200: 'UnexpectedResponseError',
  json200: 'UnexpectedResponseError',
  jsonError200: 'ServerError',
  endlessComments: 'TimeoutError',
  hugeLine: 'StreamParseError',
  echoKey: 'AuthenticationError',
};
const KINDS = [...Object.keys(FAULTS), ...Object.keys(HOSTILE)];

/** 8-character fragments of the key found in everything a user can see of `error`. */
function keyFragments(error: unknown): number {
  const seen: string[] = [
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: 20, showHidden: true }),
  ];
  for (let e = (error as { cause?: unknown })?.cause, i = 0; e !== undefined && i < 10; i++) {
    seen.push(inspect(e, { depth: 20 }));
    e = (e as { cause?: unknown })?.cause;
  }
  const all = seen.join('\n');
  let n = 0;
  for (let i = 0; i + 8 <= KEY.length; i++) if (all.includes(KEY.slice(i, i + 8))) n++;
  return n;
}

const answer = (prompt: string) => `Answer to ${prompt}: the quick brown fox jumps over the lazy dog.`;

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1e6;
}

async function main(): Promise<void> {
  const server = await createMockServer();
  const agent = createAgent();
  const random = seededRandom(42);
  const injected = new Map<string, number>();
  /** Per request index, the fault of its latest attempt (`undefined`: none). */
  const lastFault: (string | undefined)[] = [];
  server.setDefault((req) => {
    const prompt = String(req.body?.messages?.[0]?.content ?? '');
    const index = Number(prompt.split(' ')[1]);
    const base: MockServerScript = { text: answer(prompt), chunkDelayMs: 2, latencyMs: 5 };
    lastFault[index] = undefined;
    if (random() >= FAULT_RATE) return base;
    const kind = KINDS[Math.floor(random() * KINDS.length)];
    injected.set(kind, (injected.get(kind) ?? 0) + 1);
    lastFault[index] = kind;
    return kind in FAULTS ? { ...base, ...FAULTS[kind] } : { ...base, ...HOSTILE[kind](answer(prompt)) };
  });

  const requests: ChatRequest[] = Array.from({ length: TOTAL }, (_, i) => ({
    model: 'compat/soak',
    messages: [{ role: 'user', content: `request ${i}` }],
  }));
  const ends = new Uint8Array(TOTAL);
  const failures = new Map<string, number>();
  let ok = 0;
  let duplicates = 0;
  let retries = 0;
  let wrongClass = 0;
  let leaks = 0;
  const wrongClasses: string[] = [];
  const heap: number[] = [heapMb()];

  const started = performance.now();
  await lastValueFrom(
    from(requests).pipe(
      mapConcurrent(
        (request) =>
          // The transport's idle limit (250 ms here, 300 s by default) ends the keep-alive-only streams
          // before the operator's (300 ms): only chunks reset it.
          stream(request, {
            baseURL: server.url,
            apiKey: KEY,
            dispatcher: agent,
            timeouts: { idle: 250 },
          }).pipe(
            timeouts({ firstChunk: 500, idle: 300 }),
            retryBackoff({ maxRetries: 4, initialDelayMs: 20, resume: 'restart', onRetry: () => retries++ }),
            accumulateChunks(),
          ),
        {
          concurrency: CONCURRENCY,
          settle: true,
          onProgress: (p) => {
            if ((p.done + p.failed) % 500 === 0 && p.inFlight === CONCURRENCY - 1) {
              // The mock server records every request; drop them so the heap shows the client side.
              (server.requests as unknown[]).length = 0;
              heap.push(heapMb());
            }
          },
        },
      ),
      tap((r) => {
        ends[r.index]++;
        if (r.ok) {
          ok++;
          if (r.value.choices[0].message.content !== answer(`request ${r.index}`)) duplicates++;
        } else {
          const name = r.error instanceof LlmError ? r.error.constructor.name : `untyped ${String(r.error)}`;
          failures.set(name, (failures.get(name) ?? 0) + 1);
          const fault = lastFault[r.index];
          if (fault === undefined || EXPECTED[fault] !== name) {
            wrongClass++;
            wrongClasses.push(`request ${r.index}: ${fault ?? 'no fault'} -> ${name}`);
          }
          leaks += keyFragments(r.error);
        }
      }),
    ),
    { defaultValue: undefined },
  );
  const wall = performance.now() - started;
  await agent.close();
  for (let n = 1; n <= server.stats.requests; n++) await server.waitForRequestClose(n);
  // The server sees the client's FINs a moment after the agent closed its sockets.
  for (let i = 0; i < 100 && server.stats.openConnections > 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  heap.push(heapMb());

  const endedOnce = ends.every((e) => e === 1);
  console.log(`soak: ${TOTAL} requests, concurrency ${CONCURRENCY}, ${(wall / 1000).toFixed(1)} s`);
  console.log(`  injected faults  ${[...injected].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  console.log(
    `  outcomes         ${ok} ok, ${TOTAL - ok} failed (${[...failures].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'})`,
  );
  console.log(
    `  ended once       ${endedOnce ? 'yes, every request' : 'NO'}; duplicated or wrong texts: ${duplicates}`,
  );
  console.log(
    `  right class      ${wrongClass === 0 ? 'yes, every failure' : `NO: ${wrongClass} (${wrongClasses.slice(0, 5).join('; ')})`}; key fragments in errors: ${leaks}`,
  );
  console.log(
    `  retries          ${retries}; HTTP requests ${server.stats.requests}; aborted by client ${server.stats.abortedRequests}`,
  );
  console.log(
    `  connections      ${server.stats.connections} opened, ${server.stats.openConnections} open after close`,
  );
  console.log(
    `  heap (MB)        ${heap.map((h) => h.toFixed(1)).join(' -> ')}${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for exact numbers)'}`,
  );
  await server.close();
  if (!endedOnce || duplicates > 0 || wrongClass > 0 || leaks > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
