/**
 * What the Redis resume store's write path costs: `create` (+ `end`) per stream and `append` per
 * chunk, one call awaited at a time (a producer writing as chunks come), against a redis-server
 * started for the run. With `RESUME_STORE_BASELINE=<module>` (a file exporting another
 * `createRedisResumeStore`, e.g. the previous version copied beside src/redis/resumeStore.ts) both
 * run in the same process, alternating round by round, so load on the machine hits both alike.
 *
 * Also counts the scripts each store runs per stream (create + appends + end). With
 * `RESUME_MAX_STREAMS=<n>` the stores hold at most n streams, so every `create` past the n-th makes
 * room (the current store takes a finished stream's place; a baseline without that refuses).
 *
 * Run: node --import tsx bench/resume-append.ts [rounds] [streams] [chunksPerStream]
 */
import { Redis } from 'ioredis';
import { resolve } from 'node:path';
import { createRedisResumeStore } from '../src/redis';
import { startRedis } from '../test/helpers/redisServer';
import { benchChunk as chunk } from './lib/chunk';

const ROUNDS = Number(process.argv[2] ?? 6);
const STREAMS = Number(process.argv[3] ?? 40);
const CHUNKS = Number(process.argv[4] ?? 100);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

type Make = typeof createRedisResumeStore;

interface Times {
  create: number[];
  append: number[];
  end: number[];
  /** Scripts run (EVALSHA / EVAL), in all. */
  scripts: number;
}

async function round(make: Make, client: Redis, tag: string, times: Times) {
  // Counts the scripts the store runs: what a chunk costs Redis, whatever the machine's load.
  const counting = {
    evalsha: (...args: Parameters<Redis['evalsha']>) => (times.scripts++, client.evalsha(...args)),
    eval: (...args: Parameters<Redis['eval']>) => (times.scripts++, client.eval(...args)),
    duplicate: () => client.duplicate(),
  };
  const maxStreams = Number(process.env.RESUME_MAX_STREAMS) || undefined;
  const store = make(counting as unknown as Redis, { prefix: `bench:${tag}:`, maxStreams });
  try {
    for (let s = 0; s < STREAMS; s++) {
      const id = `${tag}-${s}`;
      let t0 = performance.now();
      await store.create(id, 600_000);
      times.create.push(performance.now() - t0);
      for (let c = 1; c <= CHUNKS; c++) {
        t0 = performance.now();
        await store.append(id, [{ seq: c, chunk: chunk(c) }]);
        times.append.push(performance.now() - t0);
      }
      t0 = performance.now();
      await store.end(id, { state: 'complete' });
      times.end.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }
}

async function main() {
  const variants: [string, Make][] = [['current', createRedisResumeStore]];
  const baseline = process.env.RESUME_STORE_BASELINE;
  if (baseline) {
    const mod = (await import(resolve(baseline))) as { createRedisResumeStore: Make };
    variants.unshift(['baseline', mod.createRedisResumeStore]);
  }
  const server = await startRedis();
  const client = new Redis({ port: server.port });
  const times = new Map<string, Times>(
    variants.map(([name]) => [name, { create: [], append: [], end: [], scripts: 0 }]),
  );
  try {
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, make] of r % 2 ? [...variants].reverse() : variants)
        await round(make, client, `${name}${r}`, times.get(name)!);
    console.log(`${ROUNDS} rounds x ${STREAMS} streams x ${CHUNKS} chunks, one append awaited at a time`);
    for (const [name, t] of times) {
      const us = (xs: number[]) => `${(median(xs) * 1000).toFixed(0)} / ${(p95(xs) * 1000).toFixed(0)} µs`;
      const perStream = t.scripts / (ROUNDS * STREAMS);
      console.log(
        `  ${name}: append ${us(t.append)} (median / p95), create ${us(t.create)}, end ${us(t.end)}; ${perStream.toFixed(2)} scripts per stream of ${CHUNKS} appends`,
      );
    }
  } finally {
    await client.quit();
    await server.destroy();
  }
}

void main();
