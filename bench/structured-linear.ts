/**
 * partialObject / arrayElements must stay linear: JSON documents of 100 KB, 1 MB and 4 MB arrive in
 * 1-character content deltas (one chunk per character, through a Subject), and the time per MB must
 * not grow with the size. Measured: the bare incremental parser, partialObject (a deep-partial
 * snapshot emitted per growing chunk) and arrayElements (each element of "items" once complete).
 *
 * Each figure is the median of 3 runs.
 *
 * Run: npx tsx --expose-gc bench/structured-linear.ts
 */
import { Subject } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { StreamingJsonParser } from '../src/json/streamingJson';
import { partialObject } from '../operators/partialObject';
import { arrayElements } from '../operators/arrayElements';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** A structured-output-like document of about `bytes` characters: a title and an array of records. */
function document(bytes: number): string {
  const items: unknown[] = [];
  let size = 40;
  for (let i = 0; size < bytes; i++) {
    const item = {
      id: i,
      name: `Item ${i} — ünïcödé 写 😀`,
      tags: ['alpha', 'beta', `t${i % 7}`],
      score: (i % 100) / 7,
      ok: i % 3 === 0,
      note: i % 5 === 0 ? null : 'a somewhat longer description with "quotes" and \\ escapes\n',
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return JSON.stringify({ title: 'Benchmark document', items });
}

const chunkCache = new Map<string, Chunk>();

/** One chunk per distinct character, reused (operators never change a chunk): 4 M deltas fit in memory. */
function chunkOf(ch: string): Chunk {
  let chunk = chunkCache.get(ch);
  if (!chunk) chunkCache.set(ch, (chunk = makeChunk(ch)));
  return chunk;
}

function makeChunk(ch: string): Chunk {
  return {
    id: 'bench',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'bench',
    choices: [{ index: 0, delta: { content: ch }, finish_reason: null }],
  };
}

interface Result {
  ms: number;
  emitted: number;
}

const RUNS = 3;

/** The median of `RUNS` runs (the machine is shared: one run is noisy). */
function time(run: () => number): Result {
  const results: Result[] = [];
  for (let i = 0; i < RUNS; i++) {
    gc();
    const t0 = performance.now();
    const emitted = run();
    results.push({ ms: performance.now() - t0, emitted });
  }
  return results.sort((a, b) => a.ms - b.ms)[Math.floor(RUNS / 2)];
}

/** The parser alone, one character at a time, no snapshots: the floor. */
function parseOnly(json: string): Result {
  return time(() => {
    const parser = new StreamingJsonParser();
    for (let i = 0; i < json.length; i++) parser.write(json[i]);
    parser.end();
    return 0;
  });
}

/**
 * For contrast: a snapshot after every change, without partialObject's copy budget. Each snapshot
 * copies the open "items" array, so the cost grows with the square of the size.
 */
function snapshotEveryChange(json: string): Result {
  return time(() => {
    const parser = new StreamingJsonParser();
    let snapshots = 0;
    for (let i = 0; i < json.length; i++) {
      parser.write(json[i]);
      if (parser.dirty) {
        parser.snapshot();
        snapshots++;
      }
    }
    parser.end();
    return snapshots;
  });
}

function operator(json: string, which: 'partialObject' | 'arrayElements', chunks: Chunk[]): Result {
  return time(() => {
    const source = new Subject<Chunk>();
    let emitted = 0;
    let failed: unknown;
    const op = which === 'partialObject' ? partialObject() : arrayElements({ key: 'items' });
    source.pipe(op).subscribe({ next: () => emitted++, error: (e) => (failed = e) });
    for (const chunk of chunks) source.next(chunk);
    source.complete();
    if (failed) throw failed;
    return emitted;
  });
}

const perMB = (r: Result, bytes: number) => (r.ms / (bytes / 1e6)).toFixed(0).padStart(5);
const row = (label: string, r: Result, bytes: number) =>
  `  ${label.padEnd(16)} ${r.ms.toFixed(0).padStart(7)} ms  ${perMB(r, bytes)} ms/MB  ${r.emitted.toLocaleString('en').padStart(10)} emitted`;

// Warm-up, so the first size does not pay for the JIT.
{
  const json = document(100_000);
  const chunks = Array.from(json, (ch) => chunkOf(ch));
  parseOnly(json);
  operator(json, 'partialObject', chunks);
  operator(json, 'arrayElements', chunks);
}

for (const bytes of [100_000, 1_000_000, 4_000_000]) {
  const json = document(bytes);
  const chunks = Array.from(json, (ch) => chunkOf(ch));
  console.log(
    `${(json.length / 1e6).toFixed(2)} MB of JSON, ${chunks.length.toLocaleString('en')} one-character deltas`,
  );
  console.log(row('parse only', parseOnly(json), json.length));
  console.log(row('partialObject', operator(json, 'partialObject', chunks), json.length));
  console.log(row('arrayElements', operator(json, 'arrayElements', chunks), json.length));
  // 4 MB without the budget takes minutes (measured once: 225 s); the two smaller sizes show the trend.
  if (bytes <= 1_000_000) console.log(row('no copy budget', snapshotEveryChange(json), json.length));
}
