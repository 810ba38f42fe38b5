/**
 * Linearity as a ratio measured in one run, never as a time: `run` at `size` and at 4x `size`. A
 * linear `run` gives about 4 (less when fixed costs dominate); a quadratic one about 16.
 *
 * The machine is shared, so one slow sample must not fail a linear cost: each round times the two sizes
 * interleaved (a burst of load hits both), keeps the best of `runs` for each, and counts this process's
 * CPU time rather than wall time (other processes on the machine then count for little). Up to
 * `rounds` rounds are measured and the lowest ratio is returned, stopping at the first round under
 * {@link LINEAR_BOUND}: a quadratic cost is over the bound in every round, a noisy linear one is not.
 */
export function ratio4x(run: (size: number) => void, size: number, runs = 3, rounds = 3): number {
  run(size); // warm-up: the first call pays for the JIT
  run(4 * size);
  const cpuMs = (n: number) => {
    const t0 = process.cpuUsage();
    run(n);
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000;
  };
  let lowest = Infinity;
  for (let round = 0; round < rounds && lowest >= LINEAR_BOUND; round++) {
    let one = Infinity;
    let four = Infinity;
    for (let i = 0; i < runs; i++) {
      one = Math.min(one, cpuMs(size));
      four = Math.min(four, cpuMs(4 * size));
    }
    lowest = Math.min(lowest, four / Math.max(one, 0.001));
  }
  return lowest;
}

/**
 * The bound the specs use for {@link ratio4x}: 4x the input may take at most this many times as
 * long. Wide, so it holds on a busy 2-core machine, yet far below the ~16 of a quadratic cost.
 */
export const LINEAR_BOUND = 8;
