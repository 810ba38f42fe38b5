/**
 * A worker PROCESS for the Redis budget tests (run with tsx, not a spec):
 *   budgetWorker <port> <key> <calls> <startAt>: starts <calls> calls at once (mock provider, each
 *     $0.075 on gpt-4o prices) under one budget of $0.10 shared through Redis; prints
 *     {"served": n, "refused": n}.
 */
import Redis from 'ioredis';
import { lastValueFrom, merge, Observable } from 'rxjs';
import { BudgetExceededError, stream } from '../../src';
import { budget } from '../../operators';
import { createRedisBudgetStore } from '../../src/redis';
import { PARALLEL_REQUEST } from './budgetRequest';

async function main(): Promise<void> {
  const [port, key, calls, startAt] = process.argv.slice(2);
  const redis = new Redis({ host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: 1 });
  try {
    const guard = budget({
      maxCost: 0.1,
      store: createRedisBudgetStore(redis, { prefix: 'two-processes:' }),
      key,
      request: PARALLEL_REQUEST,
      model: 'openai/gpt-4o',
    });
    let served = 0;
    let refused = 0;
    const all = Array.from(
      { length: Number(calls) },
      () =>
        new Observable<void>((s) =>
          stream(PARALLEL_REQUEST)
            .pipe(guard)
            .subscribe({
              complete: () => (served++, s.complete()),
              error: (e) => (e instanceof BudgetExceededError ? refused++ : s.error(e), s.complete()),
            }),
        ),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
    await lastValueFrom(merge(...all), { defaultValue: undefined });
    process.stdout.write(JSON.stringify({ served, refused }) + '\n');
  } finally {
    redis.disconnect();
  }
}

main()
  .catch((error) => {
    process.stderr.write(String(error?.stack ?? error) + '\n');
    process.exitCode = 1;
  })
  .finally(() => process.exit());
