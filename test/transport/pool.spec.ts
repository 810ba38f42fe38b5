import { from, lastValueFrom, mergeMap, toArray } from 'rxjs';
import { request } from 'undici';
import { stream } from '../../src';
import { ReusePool } from '../../src/transport/pool';
import { createAgent } from '../../src/transport/agent';
import { createMockServer, type MockServer } from '../../src/testing';
import { REQUEST } from '../helpers/collect';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

describe('ReusePool', () => {
  it('uses exactly N sockets for N concurrent slots (not 2N)', async () => {
    const agent = createAgent();
    server.setDefault({ text: 'slot', latencyMs: 30 });
    const before = server.stats.connections;
    await lastValueFrom(
      from(Array.from({ length: 60 })).pipe(
        mergeMap(() => stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray()), 10),
        toArray(),
      ),
    );
    expect(server.stats.requests).toBe(60);
    expect(server.stats.connections - before).toBe(10);
    await agent.close();
  });

  it('reuses one socket for sequential calls after an aborted one', async () => {
    const agent = createAgent();
    server.enqueue({ stall: 'before-headers' });
    const sub = stream(REQUEST, { baseURL: server.url, dispatcher: agent }).subscribe();
    await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    await server.waitForRequestClose(1);
    server.setDefault({ text: 'again' });
    const before = server.stats.connections;
    for (let i = 0; i < 10; i++)
      await lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }));
    expect(server.stats.connections - before).toBe(1);
    await agent.close();
  });

  it('caps sockets per origin and queues the rest', async () => {
    const agent = new ReusePool({ connections: 2 });
    server.setDefault({ text: 'cap', latencyMs: 20 });
    const before = server.stats.connections;
    await lastValueFrom(
      from(Array.from({ length: 8 })).pipe(
        mergeMap(() => stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray()), 8),
        toArray(),
      ),
    );
    expect(server.stats.connections - before).toBe(2);
    expect(agent.clientCount).toBe(2);
    await agent.close();
  });

  it("serves undici's own request() (legacy handler style) too", async () => {
    const agent = createAgent();
    const res = await request(`${server.url}/models`, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { object: string }).object).toBe('list');
    await agent.destroy();
  });
});
