/**
 * accumulateChunks must merge in linear time and memory, snapshots included: 1,000,000 chunks of text
 * (and of tool-call arguments), emitted through a Subject, in 'final' and 'snapshots' mode, at three
 * sizes so the growth is visible (linear: doubling N doubles the time). A naive "join the whole text
 * per chunk" snapshot is measured at small N for comparison.
 *
 * Run: npx tsx --expose-gc bench/accumulate-linear.ts
 */
import { Subject } from 'rxjs';
import type { ChatCompletion, Chunk } from '../src/chunk';
import { accumulateChunks } from '../operators/accumulateChunks';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function textChunk(i: number): Chunk {
  return {
    id: 'bench',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'bench',
    choices: [{ index: 0, delta: { content: `w${i % 10} ` }, finish_reason: null }],
  };
}

function argsChunk(i: number): Chunk {
  return {
    id: 'bench',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'bench',
    choices: [
      {
        index: 0,
        delta: {
          tool_calls: [
            i === 0
              ? { index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '[' } }
              : { index: 0, function: { arguments: `${i % 10},` } },
          ],
        },
        finish_reason: null,
      },
    ],
  };
}

interface Result {
  ms: number;
  heapMB: number;
  length: number;
}

function run(n: number, emit: 'final' | 'snapshots', make: (i: number) => Chunk, keepAll = false): Result {
  gc();
  const before = process.memoryUsage().heapUsed;
  const source = new Subject<Chunk>();
  let last: ChatCompletion | undefined;
  const kept: ChatCompletion[] = [];
  source.pipe(accumulateChunks({ emit })).subscribe((r) => {
    last = r;
    if (keepAll) kept.push(r);
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) source.next(make(i));
  source.complete();
  const message = last!.choices[0].message;
  // Reading the length does not flatten; read one character so the rope is really built once.
  const text = message.content ?? message.tool_calls![0].function.arguments;
  text.charCodeAt(text.length - 1);
  const ms = performance.now() - t0;
  gc();
  const heapMB = (process.memoryUsage().heapUsed - before) / 1e6;
  if (kept.length > 1 && kept[0] === kept[1]) throw new Error('snapshots must be distinct objects');
  return { ms, heapMB, length: text.length };
}

/** The quadratic way, for contrast: rebuild the whole text from its parts for every snapshot. */
function naiveJoin(n: number): number {
  const parts: string[] = [];
  const t0 = performance.now();
  let snapshot = '';
  for (let i = 0; i < n; i++) {
    parts.push(`w${i % 10} `);
    snapshot = parts.join('');
  }
  snapshot.charCodeAt(0);
  return performance.now() - t0;
}

const fmt = (r: Result) =>
  `${r.ms.toFixed(0).padStart(6)} ms  heap +${r.heapMB.toFixed(1).padStart(6)} MB  (${r.length} chars)`;

for (const n of [250_000, 500_000, 1_000_000]) {
  console.log(`N = ${n.toLocaleString('en')}`);
  console.log(`  text  final      ${fmt(run(n, 'final', textChunk))}`);
  console.log(`  text  snapshots  ${fmt(run(n, 'snapshots', textChunk))}`);
  console.log(`  args  final      ${fmt(run(n, 'final', argsChunk))}`);
  console.log(`  args  snapshots  ${fmt(run(n, 'snapshots', argsChunk))}`);
}
console.log('All 250,000 snapshots kept (memory per snapshot):');
const kept = run(250_000, 'snapshots', textChunk, true);
console.log(`  ${fmt(kept)}  = ${((kept.heapMB * 1e6) / 250_000).toFixed(0)} bytes per snapshot`);
console.log('Naive join-per-chunk snapshot, for contrast:');
for (const n of [2_500, 5_000, 10_000]) console.log(`  N = ${n}: ${naiveJoin(n).toFixed(0)} ms`);
