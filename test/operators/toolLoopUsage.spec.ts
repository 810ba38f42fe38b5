/**
 * What a `toolLoop` costs, read after it: each step is a call of its own, billed for its own usage.
 * `trackUsage`, `budget` and `usage()` after the loop count every step, not only the last one (the
 * loop's own `finish` event sums them too). A mock server on 127.0.0.1 answers each step.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import {
  clearPrices,
  createClient,
  createMemoryBudgetStore,
  setPrice,
  type ChatRequest,
  type Usage,
} from 'rxllm';
import { budget, tool, toolLoop, trackUsage, usage, type UsageReport } from 'rxllm/operators';
import { createMockServer, type MockServer } from 'rxllm/testing';

const STEP1: Usage = { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 };
const STEP2: Usage = { prompt_tokens: 200, completion_tokens: 20, total_tokens: 220 };
const request: ChatRequest = {
  model: 'compat/loop-priced',
  messages: [{ role: 'user', content: 'Weather?' }],
};

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
  // USD per million tokens: 1 per prompt token, 2 per completion token.
  setPrice('compat/loop-priced', { input: 1, output: 2 });
});
afterAll(async () => {
  clearPrices();
  await server.close();
});

/** A two-step loop: a tool call (STEP1's usage), then the answer (STEP2's). */
function loop() {
  server.enqueue(
    { toolCalls: [{ name: 'get_weather', arguments: { city: 'Lisbon' } }], usage: STEP1 },
    { text: 'Sunny.', usage: STEP2 },
  );
  return toolLoop(request, {
    client: createClient({ baseURL: server.url }),
    tools: {
      get_weather: tool({
        description: 'Current weather',
        schema: z.object({ city: z.string() }),
        execute: async () => ({ celsius: 21 }),
      }),
    },
  });
}

const BOTH = { prompt_tokens: 300, completion_tokens: 30, total_tokens: 330 };
const BOTH_USD = (300 * 1 + 30 * 2) / 1e6;

describe('toolLoop, read after it', () => {
  it('trackUsage reports the usage and cost of every step', async () => {
    const reports: UsageReport[] = [];
    await lastValueFrom(loop().pipe(trackUsage({ request, onUsage: (r) => reports.push(r) }), toArray()));
    expect(reports).toHaveLength(1);
    expect(reports[0].usage).toEqual(BOTH);
    expect(reports[0].estimated).toBe(false);
    expect(reports[0].cost!.total).toBeCloseTo(BOTH_USD, 15);
  });

  it('usage() sums the steps, as the finish event does', async () => {
    const all = await lastValueFrom(loop().pipe(toArray()));
    const finish = all.find((c) => c.tool_loop?.type === 'finish')!.tool_loop as { usage: Usage };
    expect(finish.usage).toEqual(BOTH);
    expect(await lastValueFrom(loop().pipe(usage()))).toEqual(BOTH);
  });

  it('budget charges every step: the spend is both calls', async () => {
    const store = createMemoryBudgetStore();
    await lastValueFrom(loop().pipe(budget({ maxCost: 1, store, request }), toArray()));
    const day = 86_400_000;
    const spent = await store.spent('default', Math.floor(Date.now() / day) * day);
    expect(spent).toBeCloseTo(BOTH_USD, 15);
  });
});
