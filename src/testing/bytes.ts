/**
 * Byte helpers for transport tests: split a recorded stream at chosen or seeded-random offsets, so a
 * test can replay the same "packet" boundaries (mid-UTF-8 character, mid-`\r\n`) every run.
 */

/**
 * A seeded PRNG (mulberry32) returning numbers in [0, 1). Same seed, same sequence.
 *
 * @example
 * import { seededRandom } from 'rxllm/testing';
 * const random = seededRandom(42);
 * random(); // always the same first value for seed 42
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where to split: explicit byte offsets, or `pieces` pieces at offsets drawn from a seeded PRNG. */
export interface SplitOptions {
  splitAt?: number[];
  randomSplits?: { seed: number; pieces: number };
}

/**
 * Splits bytes into pieces that concatenate back to the input exactly. Offsets outside `(0, length)`
 * and duplicates are ignored. Without options the input is one piece.
 *
 * @example
 * import { splitBytes } from 'rxllm/testing';
 * splitBytes(Buffer.from('data: {}\n\n'), { splitAt: [3, 9] }); // ['dat', 'a: {}\n', '\n']
 */
export function splitBytes(input: string | Uint8Array, options: SplitOptions = {}): Buffer[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  let offsets: number[] = options.splitAt ?? [];
  if (options.randomSplits) {
    const { seed, pieces } = options.randomSplits;
    if (!Number.isInteger(pieces) || pieces < 1)
      throw new TypeError(`randomSplits.pieces must be an integer >= 1, got ${pieces}.`);
    const random = seededRandom(seed);
    offsets = Array.from(
      { length: pieces - 1 },
      () => 1 + Math.floor(random() * Math.max(1, bytes.length - 1)),
    );
  }
  const cuts = [...new Set(offsets.filter((o) => Number.isInteger(o) && o > 0 && o < bytes.length))].sort(
    (a, b) => a - b,
  );
  const out: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(start, cut));
    start = cut;
  }
  return out;
}
