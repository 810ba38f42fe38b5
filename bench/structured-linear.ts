/**
 * partialObject / arrayElements must stay linear: JSON documents of 100 KB, 1 MB and 4 MB arrive in
 * 1-character content deltas (one chunk per character, through a Subject), and the time per MB must
 * not grow with the size. Measured: the bare incremental parser, partialObject (a deep-partial
 * snapshot emitted per growing chunk) and arrayElements (each element of "items" once complete).
 *
 * The other sections feed inputs that used to be quadratic, each at 1x and 4x the size (linear: the
 * 4x run takes about 4x the time): strings whose surrogate pairs are split between deltas (escaped
 * `\ud83d` | `\ude00`, and raw emoji cut into single UTF-16 units), the cost of freezing partials,
 * and smoothText on long runs without a boundary (a paragraph without a newline for `'line'`,
 * unbroken base64 for `'word'`, one huge grapheme for `'grapheme'`).
 *
 * Each figure is the median of 3 runs.
 *
 * The `pacing` section is not a timing: it runs smoothText in virtual time (a source of 200 words,
 * one per 5 ms, against `delayMs: 20`) and reports the largest number of pieces emitted in one
 * frame (a burst) and how far behind the source a piece went out.
 *
 * Run: npx tsx --expose-gc bench/structured-linear.ts [json] [surrogates] [freeze] [smooth] [pacing]
 * (no argument: all sections)
 */
import { interval, map, Subject, take, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Chunk } from '../src/chunk';
import { StreamingJsonParser } from '../src/json/streamingJson';
import { partialObject } from '../operators/partialObject';
import { arrayElements } from '../operators/arrayElements';
import { smoothText } from '../operators/smoothText';

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

const sections = new Set(process.argv.slice(2));
const wanted = (name: string) => sections.size === 0 || sections.has(name);

if (wanted('json')) {
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
}

/**
 * `text` cut into deltas of `size` UTF-16 units (surrogate pairs may be cut: that is the point),
 * after a `before` delta and before an `after` one (so the cuts fall where `text` says).
 */
function deltas(text: string, size: number, before = '', after = ''): Chunk[] {
  const out: Chunk[] = before ? [makeChunk(before)] : [];
  for (let i = 0; i < text.length; i += size) out.push(makeChunk(text.slice(i, i + size)));
  if (after) out.push(makeChunk(after));
  return out;
}

/** Pipes `chunks` through `op` synchronously; the number of values emitted. */
function through(chunks: Chunk[], op: () => OperatorFunction<Chunk, unknown>): number {
  const source = new Subject<Chunk>();
  let emitted = 0;
  let failed: unknown;
  source.pipe(op()).subscribe({ next: () => emitted++, error: (e) => (failed = e) });
  for (const chunk of chunks) source.next(chunk);
  source.complete();
  if (failed) throw failed;
  return emitted;
}

/** Beyond this, the 4x size is not run (a quadratic case would take minutes). */
const SKIP_AFTER_MS = 8_000;

/** One case at 1x and 4x: times, emitted values and the 4x / 1x ratio (linear: about 4). */
function scaling(
  label: string,
  sizes: [number, number],
  make: (size: number) => Chunk[],
  op: () => OperatorFunction<Chunk, unknown>,
) {
  const cells: string[] = [];
  const ms: number[] = [];
  for (const size of sizes) {
    if (ms.length > 0 && ms[0] > SKIP_AFTER_MS) {
      cells.push(`${kb(size)}: not run`);
      continue;
    }
    const chunks = make(size);
    const r = time(() => through(chunks, op));
    ms.push(r.ms);
    cells.push(`${kb(size)}: ${r.ms.toFixed(0).padStart(6)} ms (${r.emitted.toLocaleString('en')} emitted)`);
  }
  const ratio = ms.length === 2 ? `${(ms[1] / ms[0]).toFixed(1)}x` : '-';
  console.log(`  ${label.padEnd(44)} ${cells.join('   ')}   4x/1x ${ratio}`);
}

const kb = (size: number) => `${size / 1024} KB`;
/** A JSON string value in deltas of `size`, cut where `inner` says. */
const json = (inner: string, size: number) => deltas(inner, size, '{"s":"', '"}');

if (wanted('surrogates')) {
  console.log('Surrogate pairs split between deltas (partialObject, one string of the given size):');
  const escapedPair = '\\ud83d\\ude00';
  const pairs = (size: number) => escapedPair.repeat(size / escapedPair.length);
  // Warm-up.
  through(json(pairs(64 * 1024), 6), () => partialObject());
  scaling(
    'escaped pairs, 12-character deltas (unsplit)',
    [128 * 1024, 512 * 1024],
    (n) => json(pairs(n), 12),
    () => partialObject(),
  );
  scaling(
    'escaped pairs, 6-character deltas (split)',
    [128 * 1024, 512 * 1024],
    (n) => json(pairs(n), 6),
    () => partialObject(),
  );
  const sparse = (size: number) => {
    const plain = 'x'.repeat(200 - escapedPair.length - 1);
    const unit = `${plain}${escapedPair} `;
    return unit.repeat(size / unit.length);
  };
  scaling(
    'an escaped pair per 200 chars, 4-char deltas',
    [256 * 1024, 1024 * 1024],
    (n) => json(sparse(n), 4),
    () => partialObject(),
  );
  scaling(
    'plain ASCII, 4-char deltas (for contrast)',
    [256 * 1024, 1024 * 1024],
    (n) => json('x'.repeat(n), 4),
    () => partialObject(),
  );
  const emoji = (size: number) => '😀'.repeat(size / 2);
  scaling(
    'raw emoji, 1-unit deltas (pairs cut)',
    [128 * 1024, 512 * 1024],
    (n) => json(emoji(n), 1),
    () => partialObject(),
  );
}

if (wanted('freeze')) {
  /**
   * partialObject's emission rule (a snapshot when the open containers hold at most 256 entries plus 8
   * per character since the last one) on the bare parser, with and without freezing the snapshots.
   */
  const budgeted = (json: string, freeze: boolean): Result =>
    time(() => {
      const parser = new StreamingJsonParser({ freeze });
      let snapshots = 0;
      let since = 0;
      for (let i = 0; i < json.length; i++) {
        parser.write(json[i]);
        since++;
        if (parser.dirty && parser.pathWidth <= 256 + 8 * since) {
          since = 0;
          parser.snapshot();
          snapshots++;
        }
      }
      parser.end();
      return snapshots;
    });
  console.log('Freezing partials (parser with the copy budget, one-character deltas):');
  budgeted(document(100_000), true); // warm-up
  for (const bytes of [1_000_000, 4_000_000]) {
    const json = document(bytes);
    const plain = budgeted(json, false);
    const frozen = budgeted(json, true);
    console.log(row(`${bytes / 1e6} MB, no freeze`, plain, json.length));
    console.log(row(`${bytes / 1e6} MB, freeze`, frozen, json.length));
    console.log(`  freeze / no freeze: ${(frozen.ms / plain.ms).toFixed(2)}x`);
  }
}

if (wanted('smooth')) {
  console.log('smoothText({ delayMs: 0 }) on long runs without a boundary, 4-character deltas:');
  const prose = (size: number) => 'lorem ipsum dolor sit amet, '.repeat(Math.ceil(size / 28)).slice(0, size);
  const base64 = (size: number) => {
    // Letters and digits only: one word-like segment from start to end.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let seed = 1;
    let out = '';
    for (let i = 0; i < size; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      out += alphabet[seed % alphabet.length];
    }
    return out;
  };
  const smooth = (chunking: 'word' | 'line' | 'grapheme') => () => smoothText({ delayMs: 0, chunking });
  through(deltas(prose(64 * 1024), 4), smooth('line'));
  scaling(
    "'line', a paragraph without a newline",
    [64 * 1024, 256 * 1024],
    (n) => deltas(prose(n), 4),
    smooth('line'),
  );
  scaling(
    "'line', the same with a newline per 80 chars",
    [256 * 1024, 1024 * 1024],
    (n) => deltas(prose(n).replace(/(.{79})./g, '$1\n'), 4),
    smooth('line'),
  );
  scaling("'word', unbroken base64", [16 * 1024, 64 * 1024], (n) => deltas(base64(n), 4), smooth('word'));
  scaling(
    "'word', prose (for contrast)",
    [256 * 1024, 1024 * 1024],
    (n) => deltas(prose(n), 4),
    smooth('word'),
  );
  // One grapheme: a letter with thousands of combining acute accents (U+0301).
  scaling(
    "'grapheme', one letter and its combining marks",
    [16 * 1024, 64 * 1024],
    (n) => deltas(`a${'\u0301'.repeat(n - 1)}`, 4),
    smooth('grapheme'),
  );
  scaling(
    "'grapheme', prose (for contrast)",
    [64 * 1024, 256 * 1024],
    (n) => deltas(prose(n), 4),
    smooth('grapheme'),
  );
}

if (wanted('pacing')) {
  console.log('smoothText pacing, virtual time: 200 words, one per 5 ms, delayMs: 20:');
  for (const maxLagMs of [500, 1000, Infinity]) {
    const ts = new TestScheduler(() => undefined);
    const at: number[] = [];
    ts.run(() => {
      interval(5)
        .pipe(
          take(200),
          map((i) => makeChunk(`w${i} `)),
          smoothText({ delayMs: 20, maxLagMs }),
        )
        .subscribe(() => at.push(ts.now()));
    });
    const perFrame = new Map<number, number>();
    for (const t of at) perFrame.set(t, (perFrame.get(t) ?? 0) + 1);
    // Word i is whole when word i + 1 starts (at 5 (i + 2)); the last one when the source ends (1000).
    const lag = Math.max(...at.map((t, i) => t - (i < at.length - 1 ? 5 * (i + 2) : 1000)));
    console.log(
      `  maxLagMs ${String(maxLagMs).padEnd(8)} ${at.length} pieces, at most ${Math.max(...perFrame.values())} in one frame, last at ${at.at(-1)} ms, at most ${lag} ms behind`,
    );
  }
}
