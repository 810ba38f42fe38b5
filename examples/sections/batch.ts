/**
 * The classic batch: 100 "classify this ticket" requests, concurrency 20, 3 retries, 15 s timeout,
 * against a local mock server with 200 ms latency and injected 429s/500s. Prints the wall time next
 * to the sequential time and the retry counts, under a progress bar drawn from `onProgress`. Run it
 * with `npm run demo` (or `npx tsx examples/sections/batch.ts`).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { batch, createAgent, type BatchProgress, type ChatRequest } from '../../src';
import type { RetryInfo } from '../../operators';
import { createMockServer, type MockChatBody } from '../../src/testing';
import { bar, runAlone } from './style';

const TICKETS = 100;
const CONCURRENCY = 20;
const LATENCY_MS = 200;

export async function demoBatch(): Promise<void> {
  const server = await createMockServer();
  const agent = createAgent();
  let n = 0;
  // Every 10th request gets a 429 with a 300 ms Retry-After, every 15th a 500: ~16 % faults.
  server.setDefault((req) => {
    n++;
    if (n % 10 === 3) return { status: 429, headers: { 'retry-after-ms': '300' } };
    if (n % 15 === 7) return { status: 500 };
    const ticket = String((req.body as MockChatBody | undefined)?.messages?.[1]?.content ?? '');
    return { text: /refund|charge/i.test(ticket) ? 'billing' : 'technical', latencyMs: LATENCY_MS };
  });

  const requests: ChatRequest[] = Array.from({ length: TICKETS }, (_, i) => ({
    model: 'compat/classifier',
    messages: [
      {
        role: 'system',
        content: 'Classify the support ticket as billing or technical. Answer with one word.',
      },
      {
        role: 'user',
        content:
          i % 3 === 0 ? `Ticket ${i}: please refund my last charge` : `Ticket ${i}: the app crashes on start`,
      },
    ],
    max_tokens: 5,
  }));
  const retriesBy = new Map<string, number>();
  const onRetry = ({ error }: RetryInfo) => {
    const name = error instanceof Error ? error.constructor.name : 'unknown';
    retriesBy.set(name, (retriesBy.get(name) ?? 0) + 1);
  };

  // On a terminal the bar is redrawn in place after every start, success, failure and retry;
  // piped (a log, CI), only its last state is printed, since `\r` redraws would garble the file.
  const tty = process.stdout.isTTY === true;
  const line = (p: BatchProgress) =>
    `   ${bar(p.done + p.failed, TICKETS)} ${p.done + p.failed}/${TICKETS} done, ${p.inFlight} in flight, ${p.retries} retries`;
  let last: BatchProgress | undefined;
  const onProgress = (p: BatchProgress) => {
    last = p;
    if (tty) process.stdout.write(`\r${line(p)}\x1b[K`);
  };

  try {
    console.log(
      `   ${TICKETS} tickets, concurrency ${CONCURRENCY}, 3 retries, 15 s timeout, ${LATENCY_MS} ms latency, ~16 % injected 429s and 500s`,
    );
    const started = performance.now();
    const results = await lastValueFrom(
      batch(requests, {
        concurrency: CONCURRENCY,
        retry: { maxRetries: 3, onRetry },
        timeout: 15_000,
        ordered: true,
        onProgress,
        options: { baseURL: server.url, apiKey: 'demo-key', dispatcher: agent },
      }).pipe(toArray()),
    );
    const wall = performance.now() - started;
    if (last) process.stdout.write(tty ? '\n' : `${line(last)}\n`);
    const ok = results.filter((r) => r.ok);
    const labels = new Map<string, number>();
    for (const r of ok) {
      const label = r.ok ? (r.value.choices[0].message.content ?? '') : '';
      labels.set(label, (labels.get(label) ?? 0) + 1);
    }
    const sequential = TICKETS * LATENCY_MS;
    const ideal = Math.ceil(TICKETS / CONCURRENCY) * LATENCY_MS;
    console.log(
      `   wall time   ${(wall / 1000).toFixed(2)} s (ideal without faults ${(ideal / 1000).toFixed(1)} s; sequential would be ${(sequential / 1000).toFixed(1)} s)`,
    );
    console.log(
      `   results     ${ok.length} ok, ${results.length - ok.length} failed; ${[...labels].map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    );
    console.log(
      `   retries     ${[...retriesBy].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'} (${server.stats.requests} HTTP requests)`,
    );
    console.log(`   connections ${server.stats.connections} opened for ${CONCURRENCY} slots`);
  } finally {
    await agent.close();
    await server.close();
  }
}

if (require.main === module) runAlone(demoBatch);
