/**
 * Each strategy spreads load as documented: shuffle by weight, least-busy by calls in flight,
 * lowest-latency to the fastest measured deployment.
 */
import { lastValueFrom, Subscription, toArray } from 'rxjs';
import {
  createAgent,
  createMemoryRateLimitStore,
  createRouter,
  orderDeployments,
  type ChatRequest,
} from 'rxllm';
import { createMockServer, seededRandom, type MockServer } from 'rxllm/testing';

const ask = (extra: Record<string, unknown> = {}) =>
  ({ model: 'g', messages: [{ role: 'user', content: 'hi' }], ...extra }) as ChatRequest;

describe('routing strategies', () => {
  it("'shuffle' sends traffic in proportion to the weights", async () => {
    const router = createRouter({
      groups: {
        g: [
          { model: 'mock/heavy', weight: 3 },
          { model: 'mock/light', weight: 1 },
        ],
      },
      random: seededRandom(7),
    });
    const served = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const [r] = await lastValueFrom(router.complete(ask()).pipe(toArray()));
      served.set(r.route.deployment, (served.get(r.route.deployment) ?? 0) + 1);
    }
    const heavy = served.get('mock/heavy') ?? 0;
    // Expected 300 of 400; a binomial sd is ~8.7, so 260-340 is ±4.6 sd.
    expect(heavy).toBeGreaterThan(260);
    expect(heavy).toBeLessThan(340);
    expect(heavy + (served.get('mock/light') ?? 0)).toBe(400);
  });

  it("'shuffle' breaks ties in config order and leaves its input unchanged", () => {
    const deps = [
      { id: 'a', index: 0, weight: 1, inFlight: 0, latencyMs: undefined },
      { id: 'b', index: 1, weight: 1, inFlight: 0, latencyMs: undefined },
    ];
    const order = orderDeployments('shuffle', deps, () => 0.5).map((d) => d.id);
    expect(order).toEqual(['a', 'b']);
    expect(deps.map((d) => d.id)).toEqual(['a', 'b']);
  });

  it("'least-busy' sends each call to the deployment with the fewest calls in flight", () => {
    const router = createRouter({
      groups: {
        g: {
          strategy: 'least-busy',
          deployments: [{ model: 'mock/a' }, { model: 'mock/b' }, { model: 'mock/c' }],
        },
      },
    });
    const subs = new Subscription();
    // Streams that never finish: each stays in flight.
    for (let i = 0; i < 7; i++)
      subs.add(router.stream(ask({ mock_response: { text: 'x', finishReason: null } })).subscribe());
    const inFlight = router.deployments().map((d) => [d.id, d.inFlight]);
    expect(inFlight).toEqual([
      ['mock/a', 3],
      ['mock/b', 2],
      ['mock/c', 2],
    ]);
    subs.unsubscribe();
    expect(router.deployments().every((d) => d.inFlight === 0)).toBe(true);
  });

  it('holds calls to a deployment over its rpm until a permit refills (a shared store shares the limit)', async () => {
    const store = createMemoryRateLimitStore();
    const make = () =>
      createRouter({
        groups: { g: [{ model: 'mock/limited', id: 'limited', rpm: 2 }] },
        rateLimitStore: store,
      });
    const [a, b] = [make(), make()];
    let done = 0;
    const subs = [a, b, a].map((r) => r.complete(ask()).subscribe(() => done++));
    // 2 per minute, shared by both routers: the third call waits ~30 s for a permit.
    while (done < 2) await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(2);
    expect(a.deployments()[0].inFlight).toBe(1);
    subs.forEach((s) => s.unsubscribe());
    expect(a.deployments()[0].inFlight).toBe(0);
  });

  it('prefers a deployment with rpm permits left over one that would make the call wait', async () => {
    const router = createRouter({
      groups: {
        g: {
          strategy: 'least-busy',
          deployments: [{ model: 'mock/small', id: 'small', rpm: 1 }, { model: 'mock/big' }],
        },
      },
    });
    const served: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [r] = await lastValueFrom(router.complete(ask()).pipe(toArray()));
      served.push(r.route.deployment);
    }
    // 'small' comes first in config order (least-busy ties), but after its one permit it goes last.
    expect(served).toEqual(['small', 'mock/big', 'mock/big']);
  });

  describe("'lowest-latency'", () => {
    let fast: MockServer;
    let slow: MockServer;
    const agent = createAgent();
    beforeAll(async () => {
      // Far apart, so a busy machine's stall during a fast call cannot make it measure slower.
      fast = await createMockServer({ defaultScript: { text: 'fast', latencyMs: 5 } });
      slow = await createMockServer({ defaultScript: { text: 'slow', latencyMs: 1500 } });
    });
    afterAll(async () => {
      await agent.close();
      await fast.close();
      await slow.close();
    });

    it('measures every deployment once, then sends calls to the fastest', async () => {
      const router = createRouter({
        groups: {
          g: {
            strategy: 'lowest-latency',
            deployments: [
              { model: 'compat/slow', options: { baseURL: slow.url, apiKey: 'sk-test', dispatcher: agent } },
              { model: 'compat/fast', options: { baseURL: fast.url, apiKey: 'sk-test', dispatcher: agent } },
            ],
          },
        },
      });
      const order: string[] = [];
      for (let i = 0; i < 8; i++) {
        const chunks = await lastValueFrom(router.stream(ask()).pipe(toArray()));
        order.push(chunks[0].route.deployment);
      }
      expect(order).toEqual(['compat/slow', 'compat/fast', ...Array(6).fill('compat/fast')]);
      const latency = Object.fromEntries(router.deployments().map((d) => [d.id, d.latencyMs]));
      expect(latency['compat/slow']).toBeGreaterThan(latency['compat/fast']!);
    });
  });
});
