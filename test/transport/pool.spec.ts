import { from, lastValueFrom, mergeMap, toArray } from 'rxjs';
import { request } from 'undici';
import { stream } from '../../src';
import { ReusePool } from '../../src/transport/pool';
import { createAgent } from '../../src/transport/agent';
import { createMockServer, textOf, type MockServer } from '../../src/testing';
import { collect, REQUEST } from '../helpers/collect';
import { ConnectionError } from '../../src/errors';

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
    // Abort once the server holds the request (not after a fixed sleep): aborted before it arrives,
    // the request never takes the stalling script, which would then hang the next call.
    while (server.stats.requests < 1) await new Promise((r) => setTimeout(r, 5));
    sub.unsubscribe();
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
    server.setDefault({ text: 'again' });
    for (let i = 0; i < 10; i++)
      await lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }));
    // The aborted request's socket is destroyed (HTTP/1.1 cannot cancel a request on a live socket).
    // undici opens its replacement right after the abort or at the next call, depending on timing, so
    // "new sockets since the abort" is 0 or 1; the total is not: one aborted + one for all ten calls.
    expect(server.stats.requests).toBe(11);
    expect(server.stats.connections).toBe(2);
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

describe('ReusePool: an upgrade through the pool (modern handler style)', () => {
  it('hands the caller its upgraded socket and frees the slot for the next request', async () => {
    const http = await import('node:http');
    const upgrades = http.createServer((_req, res) => res.end('plain'));
    upgrades.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    });
    await new Promise<void>((r) => upgrades.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upgrades.address() as { port: number }).port}`;
    // One socket: the second request gets it only if the upgrade released its slot.
    const agent = createAgent({ connections: 1 });
    try {
      const upgraded = await new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
        agent.dispatch(
          { origin, path: '/', method: 'GET', upgrade: 'echo' },
          {
            onRequestStart: () => undefined,
            onRequestUpgrade: (_ctrl, status, _headers, socket) => {
              socket.destroy();
              resolve({ status, socket });
            },
            onResponseError: (_ctrl, error) => reject(error),
          },
        );
      });
      expect(upgraded.status).toBe(101);
      expect(upgraded.socket).toBeDefined();
      const next = await request(origin, { dispatcher: agent });
      expect(await next.body.text()).toBe('plain');
    } finally {
      await agent.destroy();
      await new Promise((r) => upgrades.close(r));
    }
  });
});

describe('ReusePool queue (issue 10: one dispatch path, first free slot)', () => {
  const firstChunk = (o: ReturnType<typeof stream>) =>
    new Promise<{ unsubscribe(): void; done: () => boolean }>((resolve, reject) => {
      let completed = false;
      const sub = o.subscribe({
        next: () => resolve({ unsubscribe: () => sub.unsubscribe(), done: () => completed }),
        error: reject,
        complete: () => (completed = true),
      });
    });

  it('sends a queued request to the first client that frees up, not one chosen up front', async () => {
    const agent = new ReusePool({ connections: 2 });
    // A long stream: one chunk, then the response stays open until the client leaves.
    server.enqueue({ text: 'long', stall: { afterChunks: 1 } });
    const long = await firstChunk(stream(REQUEST, { baseURL: server.url, dispatcher: agent }));
    server.setDefault({ text: 'short', latencyMs: 20 });
    const shorts = [1, 2, 3].map(() =>
      lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray())),
    );
    // Two of them wait for a free client; all three finish on the second socket while the long
    // stream still holds the first (before: the third waited for the long one to end).
    expect(agent.queuedCount).toBe(2);
    const results = await Promise.all(shorts);
    expect(results.map((chunks) => textOf(chunks))).toEqual(['short', 'short', 'short']);
    expect(long.done()).toBe(false);
    expect(agent.inFlightCount).toBe(1);
    expect(server.stats.connections).toBe(2);
    expect(server.stats.requests).toBe(4);
    long.unsubscribe();
    await agent.destroy();
  });

  it('forgets a queued request unsubscribed before its turn and keeps the healthy socket', async () => {
    const agent = new ReusePool({ connections: 1 });
    server.setDefault({ text: 'a', latencyMs: 50 });
    const first = lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray()));
    const queued = stream(REQUEST, { baseURL: server.url, dispatcher: agent }).subscribe();
    expect(agent.inFlightCount).toBe(1);
    expect(agent.queuedCount).toBe(1);
    queued.unsubscribe();
    expect(agent.queuedCount).toBe(0);
    expect(agent.inFlightCount).toBe(1);
    await first;
    expect(agent.inFlightCount).toBe(0);
    await lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }));
    // The unsubscribed request never reached the server, and its abort destroyed no socket.
    expect(server.stats.requests).toBe(2);
    expect(server.stats.connections).toBe(1);
    expect(server.stats.abortedRequests).toBe(0);
    await agent.close();
  });

  it("aborts a queued legacy-style request (undici's request() with a signal) without a socket", async () => {
    const agent = new ReusePool({ connections: 1 });
    server.setDefault({ text: 'b', latencyMs: 50 });
    const first = request(`${server.url}/models`, { dispatcher: agent });
    const controller = new AbortController();
    const second = request(`${server.url}/models`, { dispatcher: agent, signal: controller.signal });
    expect(agent.queuedCount).toBe(1);
    controller.abort(new Error('changed my mind'));
    await expect(second).rejects.toThrow('changed my mind');
    expect(agent.queuedCount).toBe(0);
    expect((await first).statusCode).toBe(200);
    const third = await request(`${server.url}/models`, { dispatcher: agent });
    await third.body.text();
    expect(third.statusCode).toBe(200);
    expect(server.stats.connections).toBe(1);
    await agent.close();
  });

  it('close() lets queued requests finish; destroy() fails them', async () => {
    const agent = new ReusePool({ connections: 1 });
    server.setDefault({ text: 'c', latencyMs: 30 });
    const a = lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray()));
    const b = lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher: agent }).pipe(toArray()));
    await agent.close();
    expect((await a).length).toBeGreaterThan(1);
    expect((await b).length).toBeGreaterThan(1);

    const doomed = new ReusePool({ connections: 1 });
    server.setDefault({ stall: 'before-headers' });
    const c = collect(stream(REQUEST, { baseURL: server.url, dispatcher: doomed }));
    const d = collect(stream(REQUEST, { baseURL: server.url, dispatcher: doomed }));
    expect(doomed.queuedCount).toBe(1);
    while (server.stats.requests < 3) await new Promise((r) => setTimeout(r, 5));
    await doomed.destroy();
    const [rc, rd] = await Promise.all([c, d]);
    expect(rc.error).toBeInstanceOf(ConnectionError);
    expect(rd.error).toBeInstanceOf(ConnectionError);
    expect(server.stats.requests).toBe(3);
  });

  it('rejects a connection cap below 1', () => {
    expect(() => new ReusePool({ connections: 0 })).toThrow(TypeError);
  });
});
