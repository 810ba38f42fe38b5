/**
 * What resumable streams cost: bytes per stored chunk (memory store: V8 heap and array buffers after
 * GC, for streams still running and ended; Redis store:
 * `INFO memory` used_memory of a redis-server started for the run), and the time a resume adds
 * before its first chunk: replaying a stored chunk (XRANGE on Redis), and following live (a reader
 * blocked in XREAD gets a chunk appended by another connection), each against the memory store,
 * plus the gateway's `GET .../{id}/stream` time to first chunk with each store.
 *
 * Run: node --expose-gc --import tsx bench/resume-cost.ts [streams] [chunksPerStream]
 */
import { Redis } from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { createMemoryResumeStore, resume, startGateway, type ResumeStore } from '../src';
import { createRedisResumeStore } from '../src/redis';
import { startRedis } from '../test/helpers/redisServer';
import { benchChunk as chunk } from './lib/chunk';

const STREAMS = Number(process.argv[2] ?? 200);
const CHUNKS = Number(process.argv[3] ?? 200);
const LATENCY_ROUNDS = 300;

const jsonBytes = Buffer.byteLength(JSON.stringify(chunk(500)));

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

async function fill(store: ResumeStore, prefix: string, end = true) {
  for (let s = 0; s < STREAMS; s++) {
    const id = `${prefix}${s}`;
    await store.create(id, 600_000);
    // In batches, as resumable writes while a call is in flight.
    for (let c = 0; c < CHUNKS; c += 20)
      await store.append(
        id,
        Array.from({ length: Math.min(20, CHUNKS - c) }, (_, k) => ({ seq: c + k + 1, chunk: chunk(c + k) })),
      );
    if (end) await store.end(id, { state: 'complete' });
  }
}

/** What the heap and the array buffers (a store's typed arrays) hold, after a GC. */
function held(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function latencies(store: ResumeStore, writer: ResumeStore, label: string) {
  const replay: number[] = [];
  const follow: number[] = [];
  for (let i = 0; i < LATENCY_ROUNDS; i++) {
    const t0 = performance.now();
    await firstValueFrom(resume(store, `${label}0`, { fromEventId: 100 }));
    replay.push(performance.now() - t0);
  }
  for (let i = 0; i < LATENCY_ROUNDS; i++) {
    const id = `${label}live${i}`;
    await writer.create(id, 60_000);
    const got = firstValueFrom(resume(store, id));
    await new Promise((r) => setTimeout(r, 2)); // the reader is waiting (XREAD BLOCK on Redis)
    const t0 = performance.now();
    await writer.append(id, [{ seq: 1, chunk: chunk(1) }]);
    await got;
    follow.push(performance.now() - t0);
    await writer.end(id, { state: 'complete' });
  }
  return { replay, follow };
}

async function gatewayTtfc(store: ResumeStore) {
  const gateway = await startGateway({ port: 0, log: () => undefined, resume: { store } });
  const times: number[] = [];
  try {
    const first = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'mock/echo',
        messages: [{ role: 'user', content: 'x '.repeat(50) }],
        stream: true,
      }),
    });
    const id = first.headers.get('x-rxllm-stream-id')!;
    await first.text();
    for (let i = 0; i < LATENCY_ROUNDS; i++) {
      const t0 = performance.now();
      const res = await fetch(`${gateway.url}/v1/chat/completions/${id}/stream`, {
        headers: { 'last-event-id': `${id}:3` },
      });
      const reader = res.body!.getReader();
      await reader.read();
      times.push(performance.now() - t0);
      await reader.cancel();
    }
  } finally {
    await gateway.close(0);
  }
  return times;
}

async function main() {
  const ms = (xs: number[]) => `${median(xs).toFixed(2)} / ${p95(xs).toFixed(2)}`;
  console.log(`${STREAMS} streams x ${CHUNKS} chunks; one chunk is ${jsonBytes} bytes of JSON`);

  // Streams still running (a gateway's open answers), then ended (kept for their TTL, trimmed).
  const running = createMemoryResumeStore({ maxStreams: STREAMS });
  let before = held();
  await fill(running, 'r', false);
  const runningBytes = (held() - before) / (STREAMS * CHUNKS);
  console.log(
    `memory store, streams running: ${runningBytes.toFixed(0)} bytes of heap and array buffers per stored chunk`,
  );
  before = held();
  const memory = createMemoryResumeStore({ maxStreams: STREAMS + LATENCY_ROUNDS + 10 });
  await fill(memory, 'm');
  const memoryBytes = (held() - before) / (STREAMS * CHUNKS);
  console.log(
    `memory store, streams ended: ${memoryBytes.toFixed(0)} bytes of heap and array buffers per stored chunk`,
  );
  if (!(await running.read('r0', 0, { waitMs: 0 }))) throw new Error('the running store lost a stream');

  const server = await startRedis();
  const clients = [new Redis({ port: server.port }), new Redis({ port: server.port })];
  const redis = createRedisResumeStore(clients[0]);
  const writer = createRedisResumeStore(clients[1]);
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await clients[0].info('memory'))![1]);
    const start = await used();
    await fill(redis, 'r');
    const redisBytes = ((await used()) - start) / (STREAMS * CHUNKS);
    console.log(`Redis store: ${redisBytes.toFixed(0)} bytes of used_memory per stored chunk`);

    const mem = await latencies(memory, memory, 'm');
    const red = await latencies(redis, writer, 'r');
    console.log('time to the first chunk, median / p95 ms:');
    console.log(`  replay a stored chunk: memory ${ms(mem.replay)}, Redis (XRANGE) ${ms(red.replay)}`);
    console.log(
      `  follow live (append -> reader): memory ${ms(mem.follow)}, Redis (XREAD BLOCK) ${ms(red.follow)}`,
    );
    const gm = await gatewayTtfc(memory);
    const gr = await gatewayTtfc(redis);
    console.log(`  gateway GET .../{id}/stream: memory ${ms(gm)}, Redis ${ms(gr)}`);
  } finally {
    await redis.close();
    await writer.close();
    await Promise.all(clients.map((c) => c.quit()));
    await server.destroy();
  }
}

void main();
