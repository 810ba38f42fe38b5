/**
 * The seed benchmark through the router (issue 14): 100 classification requests, 20 at once,
 * 3 retries, a primary deployment that fails 20 % of its requests (HTTP 500 after 50 ms) and a
 * healthy fallback, both mock servers on 127.0.0.1 with 200 ms latency. Counts successes, wall time
 * against the ideal (5 waves of 200 ms = 1.0 s), which deployment served what, and the cost
 * totalled by trackUsage. Baseline: the same batch on the primary alone with retries, no router.
 *
 *   npx tsx bench/router-batch.ts [--rounds 5]
 */
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { batch, complete, createAgent, createRouter, type ChatCompletion, type ChatRequest } from '../src';
import { trackUsage, type UsageReport } from '../operators';
import { createMockServer } from '../src/testing';

const REQUESTS = 100;
const CONCURRENCY = 20;
const LATENCY_MS = 200;
const FAIL_EVERY = 5; // 20 %
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;

const requests = (model: string): ChatRequest[] =>
  Array.from({ length: REQUESTS }, (_, i) => ({
    model,
    messages: [
      {
        role: 'system',
        content: 'Classify the support ticket as billing or technical. Answer with one word.',
      },
      {
        role: 'user',
        content: i % 3 === 0 ? `Ticket ${i}: refund my last charge` : `Ticket ${i}: the app crashes`,
      },
    ],
    max_tokens: 5,
  }));

interface Run {
  ok: number;
  wall: number;
  cost: number;
  unpriced: number;
  served: Record<string, number>;
  primaryRequests: number;
  fallbackRequests: number;
  retries: number;
}

type Mode = 'router' | 'router-no-cooldown' | 'retries-only';
const LABELS: Record<Mode, string> = {
  router: 'router: primary + fallback group (default cooldown)',
  'router-no-cooldown': 'router, cooldown off (every failure falls back)',
  'retries-only': 'primary alone, retries only (no router)',
};

async function once(mode: Mode): Promise<Run> {
  const primary = await createMockServer();
  const fallback = await createMockServer();
  const agent = createAgent();
  let n = 0;
  const answer = (req: { body: any }) => ({
    text: /refund|charge/.test(String(req.body?.messages?.[1]?.content)) ? 'billing' : 'technical',
    latencyMs: LATENCY_MS,
  });
  primary.setDefault((req) => (++n % FAIL_EVERY === 0 ? { status: 500, latencyMs: 50 } : answer(req)));
  fallback.setDefault(answer);
  const key = { apiKey: 'sk-test-bench', dispatcher: agent };
  let cost = 0;
  let unpriced = 0;
  let retries = 0;
  const served: Record<string, number> = {};
  const onUsage = (r: UsageReport) => {
    if (r.ending !== 'completed') return;
    if (r.cost) cost += r.cost.total;
    else unpriced++;
    served[r.deployment ?? r.model ?? '?'] = (served[r.deployment ?? r.model ?? '?'] ?? 0) + 1;
  };
  try {
    const router = createRouter({
      groups: {
        classify: [{ model: 'openai/gpt-4o-mini', options: { ...key, baseURL: primary.url } }],
        backup: [{ model: 'openai/gpt-4.1-nano', options: { ...key, baseURL: fallback.url } }],
      },
      fallbacks: { classify: ['backup'] },
      cooldown: mode === 'router-no-cooldown' ? false : undefined,
    });
    const call =
      mode !== 'retries-only'
        ? (req: ChatRequest) =>
            router.complete(req).pipe(trackUsage({ onUsage })) as Observable<ChatCompletion>
        : (req: ChatRequest) =>
            complete(req, { ...key, baseURL: primary.url }).pipe(
              trackUsage({ model: 'openai/gpt-4o-mini', onUsage }),
            );
    const started = performance.now();
    const results = await lastValueFrom(
      batch(requests(mode !== 'retries-only' ? 'classify' : 'openai/gpt-4o-mini'), {
        concurrency: CONCURRENCY,
        retry: { maxRetries: 3, onRetry: () => retries++ },
        call,
      }).pipe(toArray()),
    );
    const wall = (performance.now() - started) / 1000;
    return {
      ok: results.filter((r) => r.ok).length,
      wall,
      cost,
      unpriced,
      served,
      primaryRequests: primary.stats.requests,
      fallbackRequests: fallback.stats.requests,
      retries,
    };
  } finally {
    await agent.close();
    await primary.close();
    await fallback.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const runs: Record<Mode, Run[]> = { router: [], 'router-no-cooldown': [], 'retries-only': [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of Object.keys(runs) as Mode[]) runs[mode].push(await once(mode));
  }
  console.log(
    `node ${process.version}, ${rounds} rounds, ${REQUESTS} requests, concurrency ${CONCURRENCY}, 3 retries, ${LATENCY_MS} ms latency, primary fails 1 in ${FAIL_EVERY}; ideal wall ${(Math.ceil(REQUESTS / CONCURRENCY) * LATENCY_MS) / 1000} s\n`,
  );
  console.log(
    '| setup | succeeded | wall (s) median (min–max) | HTTP requests primary / fallback | retries | served by | cost (USD) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [mode, list] of Object.entries(runs) as [Mode, Run[]][]) {
    const walls = list.map((x) => x.wall);
    const last = list[list.length - 1];
    const servedBy = Object.entries(last.served)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    console.log(
      `| ${LABELS[mode]} | ${list.map((x) => x.ok).join(', ')} of ${REQUESTS} | ${median(walls).toFixed(3)} (${Math.min(...walls).toFixed(3)}–${Math.max(...walls).toFixed(3)}) | ${last.primaryRequests} / ${last.fallbackRequests} | ${last.retries} | ${servedBy} | ${last.cost.toFixed(6)}${last.unpriced ? ` (+${last.unpriced} unpriced)` : ''} |`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
