/**
 * Linearity as a ratio measured in one run, never as a time: `run` at `size` and at 4x `size`, each
 * the best of `runs` (the machine is shared: the best run is the one least disturbed). A linear
 * `run` gives about 4 (less when fixed costs dominate); a quadratic one about 16.
 */
export function ratio4x(run: (size: number) => void, size: number, runs = 3): number {
  run(size); // warm-up: the first call pays for the JIT
  const best = (n: number) => {
    let min = Infinity;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      run(n);
      min = Math.min(min, performance.now() - t0);
    }
    return min;
  };
  const one = best(size);
  return best(4 * size) / one;
}

/**
 * The bound the specs use for {@link ratio4x}: 4x the input may take at most this many times as
 * long. Wide, so it holds on a busy 2-core machine, yet far below the ~16 of a quadratic cost.
 */
export const LINEAR_BOUND = 8;
