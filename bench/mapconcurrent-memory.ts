/**
 * mapConcurrent({ ordered: true }) must keep memory bounded by the items in flight on a long-lived
 * source (issue 10: +69 MB after 600k items when the buffer entry of an item that had waited for its
 * turn was never deleted). Pairs of items run at once; the second emits while the first is still
 * running (its value is buffered), then the first ends, then the second: the pattern that leaked.
 * All synchronous, through Subjects, so only the operator's own memory is measured.
 *
 * Run: npx tsx --expose-gc bench/mapconcurrent-memory.ts
 */
import { Subject } from 'rxjs';
import { mapConcurrent } from '../operators/mapConcurrent';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1e6;
}

function run(items: number, settle: boolean): { emitted: number; growthMb: number } {
  const source = new Subject<number>();
  const inners = new Map<number, Subject<number>>();
  let emitted = 0;
  const sub = source
    .pipe(
      mapConcurrent(
        (i: number) => {
          const s = new Subject<number>();
          inners.set(i, s);
          return s;
        },
        settle ? { concurrency: 2, ordered: true, settle: true } : { concurrency: 2, ordered: true },
      ),
    )
    .subscribe(() => emitted++);
  const before = heapMb();
  for (let i = 0; i < items; i += 2) {
    source.next(i);
    source.next(i + 1);
    const first = inners.get(i)!;
    const second = inners.get(i + 1)!;
    inners.delete(i);
    inners.delete(i + 1);
    second.next(i + 1); // ahead of its turn: buffered
    first.next(i);
    first.complete(); // the second's turn: its buffer is flushed while it still runs
    second.complete(); // ends in order
  }
  const growthMb = heapMb() - before;
  sub.unsubscribe();
  return { emitted, growthMb };
}

for (const settle of [false, true]) {
  for (const n of [150_000, 300_000, 600_000]) {
    const { emitted, growthMb } = run(n, settle);
    if (emitted !== n) throw new Error(`expected ${n} values, got ${emitted}`);
    console.log(
      `ordered${settle ? ' + settle' : ''}: ${n.toLocaleString('en')} items -> heap growth ${growthMb.toFixed(1)} MB`,
    );
  }
}
