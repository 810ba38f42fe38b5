/**
 * The cost of the transport's idle limit on the hot path (one `performance.now()` and one extra
 * subscriber call per chunk): a 200,000-chunk stream from the mock server, merged with
 * accumulateChunks, with the default idle limit and with `idle: Infinity` (no wrapper, no timer),
 * alternated over rounds in one process. Reports the median wall and CPU time of each.
 *
 * Run: npx tsx bench/idle-overhead.ts [rounds]
 */
import { lastValueFrom } from 'rxjs';
import { createAgent, stream } from '../src';
import { accumulateChunks } from '../operators';
import { createMockServer } from '../src/testing';

const ROUNDS = Number(process.argv[2] ?? 7);
const CHUNKS = 200_000;

async function main(): Promise<void> {
  const server = await createMockServer();
  const agent = createAgent();
  server.setDefault({ text: 'ab'.repeat(CHUNKS), chunkSize: 2, chunksPerWrite: 4000, usage: null });
  const request = { model: 'compat/bench', messages: [{ role: 'user' as const, content: 'go' }] };
  const run = async (idle: number | undefined) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const result = await lastValueFrom(
      stream(request, {
        baseURL: server.url,
        dispatcher: agent,
        timeouts: idle === undefined ? {} : { idle },
      }).pipe(accumulateChunks()),
    );
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    if (result.choices[0].message.content?.length !== CHUNKS * 2) throw new Error('wrong text');
    return { wall, cpu: (used.user + used.system) / 1000 };
  };
  const results: Record<string, { wall: number; cpu: number }[]> = { default: [], off: [] };
  await run(undefined); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    results.default.push(await run(undefined));
    results.off.push(await run(Infinity));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${CHUNKS} chunks per stream, ${ROUNDS} rounds, medians`);
  console.log('| idle limit | wall (ms) | CPU (ms) |');
  console.log('|---|---|---|');
  for (const [name, rs] of Object.entries(results)) {
    console.log(
      `| ${name === 'default' ? 'default (300 s)' : 'Infinity (off)'} | ${median(rs.map((x) => x.wall)).toFixed(0)} | ${median(rs.map((x) => x.cpu)).toFixed(0)} |`,
    );
  }
  await agent.close();
  await server.close();
}

void main();
