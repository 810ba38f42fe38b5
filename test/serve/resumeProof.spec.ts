/**
 * Proof that resumption holds over real sockets: a TCP proxy between `fetchSse` and the gateway cuts
 * every client connection after 5-50 events (plus a few random bytes, so often inside an event), 200
 * times; each answer must arrive whole, every chunk once, in order, with one upstream call. Then two
 * gateway instances sharing a real redis-server: start on A, resume on B, stop through B.
 */
import net from 'node:net';
import Redis from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { createClient, startGateway, type Chunk, type Gateway } from '../../src';
import { fetchSse } from '../../src/browser';
import { createRedisResumeStore, type RedisResumeStore } from '../../src/redis';
import { createMockServer, seededRandom, type MockServer } from '../../src/testing';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { readSse } from '../helpers/sseEvents';

const MODEL = 'compat/test-model';
const KEY = 'sk-test-resume-proof-0123456789';

/** A TCP proxy to `port` that destroys each connection after 5-50 SSE events and 0-60 more bytes. */
async function cuttingProxy(port: number, random: () => number) {
  const stats = { cuts: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const events = 5 + Math.floor(random() * 46);
    const extraBytes = Math.floor(random() * 60);
    let seen = 0;
    let tail = -1;
    const cut = () => {
      stats.cuts++;
      client.destroy();
      upstream.destroy();
    };
    upstream.on('data', (data: Buffer) => {
      let text = data.toString('latin1');
      if (tail < 0) {
        for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n', i + 2)) {
          if (++seen === events) {
            tail = extraBytes;
            text = text.slice(0, i + 2 + extraBytes);
            break;
          }
        }
      } else text = text.slice(0, tail);
      if (tail >= 0) {
        client.write(Buffer.from(text, 'latin1'));
        return cut();
      }
      client.write(data);
    });
    client.on('data', (d) => upstream.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    stats,
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const body = (content: string) => ({ model: MODEL, messages: [{ role: 'user', content }], stream: true });
const textOf = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('resumption through a proxy that cuts every connection', () => {
  let upstream: MockServer;
  let gateway: Gateway;
  beforeAll(async () => {
    upstream = await createMockServer();
    gateway = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: upstream.url, apiKey: KEY }),
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await gateway.close(0);
    await upstream.close();
  });

  it('200 answers arrive byte-identical to the uncut answer, each with one upstream call', async () => {
    const random = seededRandom(23);
    const proxy = await cuttingProxy(gateway.port, random);
    const answers = Array.from({ length: 200 }, (_, i) => `answer ${i}: ${'ab€😀 '.repeat(10 + (i % 40))}.`);
    upstream.setDefault((req) => {
      const i = Number(
        /^q(\d+)$/.exec(
          String((req.body as { messages?: { content?: string }[] }).messages?.at(-1)?.content ?? ''),
        )?.[1],
      );
      return { text: answers[i], chunkSize: 3, chunkDelayMs: i % 3 };
    });
    try {
      const results: { i: number; chunks: Chunk[]; streamId?: string }[] = [];
      const run = async (i: number) => {
        let streamId: string | undefined;
        const chunks = await lastValueFrom(
          fetchSse(`${proxy.url}/v1/chat/completions`, {
            body: body(`q${i}`),
            reconnect: { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 10 },
            onStreamId: (id) => (streamId = id),
          }).pipe(toArray()),
        );
        results.push({ i, chunks, streamId });
      };
      // 10 at a time: a busy machine still finishes within the test timeout.
      for (let start = 0; start < 200; start += 10)
        await Promise.all(Array.from({ length: 10 }, (_, k) => run(start + k)));

      expect(upstream.stats.requests).toBe(200);
      expect(upstream.stats.abortedRequests).toBe(0);
      expect(proxy.stats.cuts).toBeGreaterThanOrEqual(200);
      for (const { i, chunks, streamId } of results) {
        expect(textOf(chunks)).toBe(answers[i]);
        // The uncut answer: the whole stream as stored, read straight from the gateway.
        const uncut = await readSse(`${gateway.url}/v1/chat/completions/${streamId}/stream`);
        const wire = uncut.events.filter((e) => e.data !== '[DONE]').map((e) => e.data);
        expect(chunks.map((c) => JSON.stringify(c))).toEqual(wire);
      }
    } finally {
      await proxy.close();
    }
  }, 300_000);
});

const withRedis = redisAvailable() ? describe : describe.skip;

withRedis('two gateway instances sharing a redis-server', () => {
  let redis: RedisProcess;
  let upstream: MockServer;
  const gateways: Gateway[] = [];
  const stores: RedisResumeStore[] = [];
  const clients: Redis[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    upstream = await createMockServer();
    for (let i = 0; i < 2; i++) {
      const client = new Redis({ port: redis.port, host: '127.0.0.1' });
      const store = createRedisResumeStore(client, { prefix: 'proof:' });
      clients.push(client);
      stores.push(store);
      gateways.push(
        await startGateway({
          port: 0,
          model: MODEL,
          client: createClient({ baseURL: upstream.url, apiKey: KEY }),
          log: () => undefined,
          resume: { store },
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close(0)));
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(clients.map((c) => c.quit()));
    await upstream?.close();
    await redis?.destroy();
  });
  beforeEach(() => upstream.reset());

  it('a client that starts on A and reconnects to B gets the rest exactly once', async () => {
    const [a, b] = gateways;
    const text = 'Ünïcode ✓ '.repeat(30);
    upstream.enqueue({ text, chunkSize: 2, chunkDelayMs: 3 });
    const first = await readSse(`${a.url}/v1/chat/completions`, { body: body('x'), stopAfter: 7 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    const rest = await readSse(`${b.url}/v1/chat/completions/${id}/stream`, {
      headers: { 'last-event-id': first.events[6].id! },
    });
    const all = [...first.events, ...rest.events];
    expect(all.map((e) => e.id).filter(Boolean)).toEqual(
      all.filter((e) => e.data !== '[DONE]').map((_, n) => `${id}:${n + 1}`),
    );
    const got = all
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data).choices[0]?.delta.content ?? '')
      .join('');
    expect(got).toBe(text);
    expect(rest.events.at(-1)?.data).toBe('[DONE]');
    expect(upstream.stats.requests).toBe(1);
  });

  it('Redis stalled mid-answer past the store time limit: the live client still gets the whole answer, from one upstream call', async () => {
    // The answer loses its resumability (its writes fail with StoreError), not its reader.
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const store = createRedisResumeStore(client, { prefix: 'stall:', timeoutMs: 300 });
    const lines: string[] = [];
    const gateway = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: upstream.url, apiKey: KEY }),
      log: (line) => lines.push(line),
      resume: { store },
    });
    try {
      const text = 'steady words '.repeat(60);
      upstream.enqueue({ text, chunkSize: 4, chunkDelayMs: 8 }); // ~1.5 s of chunks
      const reading = readSse(`${gateway.url}/v1/chat/completions`, { body: body('x') });
      await new Promise((r) => setTimeout(r, 200));
      await clients[0].call('CLIENT', 'PAUSE', '1500', 'ALL'); // every write waits 1.5 s: > 300 ms
      const answer = await reading;
      const got = answer.events
        .filter((e) => e.data !== '[DONE]')
        .map((e) => JSON.parse(e.data) as { choices: { delta: { content?: string } }[]; error?: unknown });
      expect(got.filter((e) => e.error)).toEqual([]);
      expect(got.map((e) => e.choices[0]?.delta.content ?? '').join('')).toBe(text);
      expect(answer.events.at(-1)?.data).toBe('[DONE]');
      expect(upstream.stats.requests).toBe(1);
      expect(upstream.stats.abortedRequests).toBe(0);
      // The operator learns why a reconnect would fail: one line for the answer.
      const id = answer.headers.get('x-rxllm-stream-id')!;
      const unstored = lines.filter((l) => l.includes('goes on unstored'));
      expect(unstored).toHaveLength(1);
      expect(unstored[0]).toContain(
        `rxllm serve: answer ${id} goes on unstored (it cannot be resumed): Redis`,
      );
    } finally {
      await gateway.close(0);
      await store.close();
      client.disconnect();
    }
  }, 30_000);

  it('stop sent to B aborts the upstream call running on A', async () => {
    const [a, b] = gateways;
    upstream.enqueue({ text: 'w'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the stop
    const first = await readSse(`${a.url}/v1/chat/completions`, { body: body('x'), stopAfter: 3 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    const stop = await fetch(`${b.url}/v1/chat/completions/${id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(202);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    const replay = await readSse(`${b.url}/v1/chat/completions/${id}/stream`);
    expect(JSON.parse(replay.events.at(-1)!.data).error.type).toBe('RequestAbortedError');
  });
});
