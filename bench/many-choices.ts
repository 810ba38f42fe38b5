/**
 * accumulateChunks with many choices: the time to open each new choice must not grow with the
 * number already open (it used to re-sort every choice on each new index: 20,000 choices took
 * 2.7 s). Choices are capped at MAX_CHOICES (128), so this measures the merge of 128-choice streams
 * whose choices first appear in ascending, descending and shuffled order, per stream and per chunk,
 * against the former "re-sort on every new index" kept here as a baseline.
 *
 * Run: npx tsx bench/many-choices.ts
 */
import type { Chunk } from '../src/chunk';
import { MAX_CHOICES } from '../src/request';
import { mergeChunks } from '../operators/accumulateChunks';
import { seededRandom } from '../src/testing';

const STREAMS = 2000;
const chunk = (index: number): Chunk => ({
  id: 'b',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'b',
  choices: [{ index, delta: { content: 'x' }, finish_reason: null }],
});

function orders(): Record<string, number[]> {
  const asc = Array.from({ length: MAX_CHOICES }, (_, i) => i);
  const random = seededRandom(1);
  const shuffled = [...asc];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  return { ascending: asc, descending: [...asc].reverse(), shuffled };
}

/** The former data structure: a Map plus a full re-sort whenever a new index appears. */
function resortBaseline(chunks: Chunk[]): number {
  const map = new Map<number, { index: number; text: string }>();
  let ordered: { index: number; text: string }[] = [];
  for (const c of chunks) {
    for (const choice of c.choices) {
      let s = map.get(choice.index);
      if (!s) {
        s = { index: choice.index, text: '' };
        map.set(choice.index, s);
        ordered = [...map.values()].sort((a, b) => a.index - b.index);
      }
      s.text += choice.delta.content ?? '';
    }
  }
  return ordered.length;
}

function time(run: () => unknown): number {
  for (let i = 0; i < 500; i++) run(); // warm up
  const start = performance.now();
  for (let i = 0; i < STREAMS; i++) run();
  return (performance.now() - start) / STREAMS;
}

console.log(`${STREAMS} streams of ${MAX_CHOICES} choices (one chunk each, then one more chunk per choice)`);
console.log('| first-appearance order | mergeChunks µs / stream | ns / chunk | former re-sort µs / stream |');
console.log('|---|---|---|---|');
for (const [name, order] of Object.entries(orders())) {
  const chunks = [...order, ...order].map(chunk);
  const now = time(() => mergeChunks(chunks));
  const before = time(() => resortBaseline(chunks));
  console.log(
    `| ${name} | ${(now * 1000).toFixed(1)} | ${((now * 1e6) / chunks.length).toFixed(0)} | ${(before * 1000).toFixed(1)} |`,
  );
}
