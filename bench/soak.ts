/**
 * Soak test (not part of the unit suite): 2,000 streamed requests, concurrency 50, ~5 % injected
 * faults of every kind. Checks that every request ends exactly once (success or typed failure),
 * that no text is duplicated, and that memory stays flat. Prints the counts.
 *
 *   npx tsx --expose-gc bench/soak.ts [requests] [concurrency]
 */
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
const KINDS = Object.keys(FAULTS);

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
  server.setDefault((req) => {
    const prompt = String(req.body?.messages?.[0]?.content ?? '');
    const base: MockServerScript = { text: answer(prompt), chunkDelayMs: 2, latencyMs: 5 };
    if (random() >= FAULT_RATE) return base;
    const kind = KINDS[Math.floor(random() * KINDS.length)];
    injected.set(kind, (injected.get(kind) ?? 0) + 1);
    return { ...base, ...FAULTS[kind] };
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
  const heap: number[] = [heapMb()];

  const started = performance.now();
  await lastValueFrom(
    from(requests).pipe(
      mapConcurrent(
        (request) =>
          stream(request, { baseURL: server.url, apiKey: 'soak-key', dispatcher: agent }).pipe(
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
    `  retries          ${retries}; HTTP requests ${server.stats.requests}; aborted by client ${server.stats.abortedRequests}`,
  );
  console.log(
    `  connections      ${server.stats.connections} opened, ${server.stats.openConnections} open after close`,
  );
  console.log(
    `  heap (MB)        ${heap.map((h) => h.toFixed(1)).join(' -> ')}${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for exact numbers)'}`,
  );
  await server.close();
  if (!endedOnce || duplicates > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
