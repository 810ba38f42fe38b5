/**
 * A worker PROCESS for the Redis tests (run with tsx, not a spec):
 *   acquire <port> <key> <rpm> <startAt> <durationMs>: takes permits of a shared limiter as fast
 *     as they come until the deadline; prints {"grants":[ms, ...]}.
 *   route <port> <failingUrl> <healthyUrl>: one routed call with a Redis cooldown store; prints
 *     {"served": deployment, "attempts": [...]}.
 */
import Redis from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { createRateLimiter, createRouter } from '../../src';
import { createRedisCooldownStore, createRedisRateLimitStore } from '../../src/redis';

async function main(): Promise<void> {
  const [mode, port, ...rest] = process.argv.slice(2);
  const redis = new Redis({ host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: 1 });
  try {
    if (mode === 'acquire') {
      const [key, rpm, startAt, durationMs] = rest;
      const limiter = createRateLimiter({
        requestsPerMinute: Number(rpm),
        store: createRedisRateLimitStore(redis),
        key,
      });
      await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
      const deadline = Number(startAt) + Number(durationMs);
      const grants: number[] = [];
      while (Date.now() < deadline) {
        await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
        if (Date.now() < deadline) grants.push(Date.now());
      }
      process.stdout.write(JSON.stringify({ grants }) + '\n');
    } else if (mode === 'route') {
      const [failingUrl, healthyUrl] = rest;
      const attempts: { deployment: string; outcome: string; errorClass?: string }[] = [];
      const router = createRouter({
        groups: {
          main: [
            { model: 'compat/primary', id: 'primary', options: { baseURL: failingUrl, apiKey: 'sk-test' } },
          ],
          backup: [
            { model: 'compat/backup', id: 'backup', options: { baseURL: healthyUrl, apiKey: 'sk-test' } },
          ],
        },
        fallbacks: { main: ['backup'] },
        cooldownStore: createRedisCooldownStore(redis),
        onAttempt: (a) =>
          attempts.push({ deployment: a.deployment, outcome: a.outcome, errorClass: a.errorClass }),
      });
      const chunks = await lastValueFrom(
        router.stream({ model: 'main', messages: [{ role: 'user', content: 'hi' }] }).pipe(toArray()),
      );
      process.stdout.write(JSON.stringify({ served: chunks[0].route.deployment, attempts }) + '\n');
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
  } finally {
    redis.disconnect();
  }
}

main()
  .catch((error) => {
    process.stderr.write(String(error?.stack ?? error) + '\n');
    process.exitCode = 1;
  })
  // Keep-alive sockets of the default agent would hold the process for seconds.
  .finally(() => process.exit());
