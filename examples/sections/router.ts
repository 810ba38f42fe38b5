/**
 * The router: a primary deployment that fails (a 500, a 429 with Retry-After, a stream cut after a
 * few chunks) and a healthy fallback, on two local mock servers. Shows the invisible switch before
 * the first chunk, the reset chunk after it, the cooldown, and the cost of every call from
 * `trackUsage`. Run it with `npm run demo` (or `npx tsx examples/sections/router.ts`).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { createAgent, createRouter, type RouterAttempt } from '../../src';
import { mergeChunks, trackUsage, type UsageReport } from '../../operators';
import { createMockServer } from '../../src/testing';
import { dim, runAlone } from './style';

export async function demoRouter(): Promise<void> {
  const primary = await createMockServer();
  const fallback = await createMockServer();
  const agent = createAgent();
  const key = { apiKey: 'demo-key', dispatcher: agent };
  const attempts: RouterAttempt[] = [];
  const reports: UsageReport[] = [];
  const onUsage = (r: UsageReport) => reports.push(r);
  fallback.setDefault({ text: 'Paris is the capital of France.', latencyMs: 30 });
  try {
    const router = createRouter({
      groups: {
        smart: [{ model: 'openai/gpt-4o', options: { ...key, baseURL: primary.url } }],
        backup: [{ model: 'openai/gpt-4o-mini', options: { ...key, baseURL: fallback.url } }],
      },
      fallbacks: { smart: ['backup'] },
      afterFirstChunk: 'restart',
      cooldown: { allowedFails: 3, windowMs: 60_000, cooldownMs: 5_000 },
      onAttempt: (a) => attempts.push(a),
    });
    const ask = { model: 'smart', messages: [{ role: 'user' as const, content: 'Capital of France?' }] };

    console.log(
      '   group "smart" = openai/gpt-4o on a failing server, fallback group "backup" = openai/gpt-4o-mini',
    );
    primary.enqueue({ status: 500 });
    let chunks = await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray()));
    console.log(
      `   500 before the first chunk: switched invisibly; ${chunks.length} chunks, all from ${chunks[0].route.deployment}`,
    );

    primary.enqueue({ text: 'The capital of France is Paris, a city of', chunkSize: 6, cutAfterChunks: 3 });
    chunks = await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray()));
    const reset = chunks.find((c) => c.reset);
    const merged = mergeChunks(chunks);
    console.log(
      `   cut after 3 chunks: a reset chunk ("${reset?.reset?.reason.slice(0, 40)}..."), then the fallback's whole answer; merged: "${merged.choices[0].message.content}"`,
    );

    primary.enqueue({ status: 429, headers: { 'retry-after': '30' } });
    await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray()));
    const before = primary.stats.requests;
    await lastValueFrom(router.stream(ask).pipe(trackUsage({ onUsage }), toArray()));
    console.log(
      `   429 with Retry-After 30: the primary cools down; the next call went straight to the fallback (${primary.stats.requests - before} requests to the primary)`,
    );

    console.log('   attempts:');
    for (const a of attempts)
      console.log(
        dim(
          `     ${a.deployment.padEnd(20)} ${a.outcome.padEnd(8)} ${(a.errorClass ?? '').padEnd(16)} ${a.durationMs.toFixed(0)} ms`,
        ),
      );
    const total = reports.reduce((sum, r) => sum + (r.cost?.total ?? 0), 0);
    console.log(
      `   cost: ${reports.map((r) => `${r.deployment} $${r.cost?.total.toFixed(7) ?? '?'}`).join(', ')}; total $${total.toFixed(7)}`,
    );
  } finally {
    await agent.close();
    await primary.close();
    await fallback.close();
  }
}

if (require.main === module) runAlone(demoRouter);
