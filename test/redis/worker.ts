/**
 * A worker PROCESS for the Redis tests (run with tsx, not a spec):
 *   acquire <port> <key> <rpm> <durationMs>: prints "ready", reads the start time (epoch ms) from
 *     stdin, then takes permits of a shared limiter as fast as they come from then until start +
 *     durationMs and until it has seen the bucket empty; prints {"grants":[ms, ...]}.
 *   burst <port> <key> <tpm> <cost> <n> <startAt> <durationMs>: at startAt (epoch ms) subscribes n
 *     acquire(cost) at once on one limiter, gives up the ones still waiting after durationMs; prints
 *     {"grants":[ms, ...]}.
 *   route <port> <failingUrl> <healthyUrl>: one routed call with a Redis cooldown store; prints
 *     {"served": deployment, "attempts": [...]}.
 *   create-streams <port> <prefix> <maxStreams> <n>: prints "ready", reads the start time (epoch ms)
 *     from stdin, then creates n resumable streams at once on a Redis resume store; prints
 *     {"created": k, "full": m, "other": [messages]}.
 */
import Redis from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { createRateLimiter, createRouter } from '../../src';
import { createRedisCooldownStore, createRedisRateLimitStore, createRedisResumeStore } from '../../src/redis';

async function main(): Promise<void> {
  const [mode, port, ...rest] = process.argv.slice(2);
  const redis = new Redis({ host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: 1 });
  try {
    if (mode === 'acquire') {
      const [key, rpm, durationMs] = rest;
      const limiter = createRateLimiter({
        requestsPerMinute: Number(rpm),
        store: createRedisRateLimitStore(redis),
        key,
      });
      await redis.ping(); // connected: what is left before the first permit is one round trip
      process.stdout.write('ready\n');
      const startAt = await firstLine();
      await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
      const deadline = Number(startAt) + Number(durationMs);
      const grants: number[] = [];
      // Until the deadline and, however slow the machine, until this process has seen the shared
      // bucket empty: then the two processes together took at least the whole burst.
      let drained = false;
      while (Date.now() < deadline || !drained) {
        await lastValueFrom(limiter.acquire(), { defaultValue: undefined });
        grants.push(Date.now());
        drained ||= (await lastValueFrom(limiter.state())).requests < 1;
      }
      process.stdout.write(JSON.stringify({ grants }) + '\n');
    } else if (mode === 'burst') {
      const [key, tpm, cost, n, startAt, durationMs] = rest.map((v, i) => (i === 0 ? v : Number(v))) as [
        string,
        ...number[],
      ];
      const limiter = createRateLimiter({
        tokensPerMinute: tpm,
        store: createRedisRateLimitStore(redis),
        key,
      });
      await redis.ping();
      await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
      const grants: number[] = [];
      const subs = Array.from({ length: n }, () =>
        limiter.acquire(cost).subscribe(() => grants.push(Date.now())),
      );
      await new Promise((r) => setTimeout(r, durationMs));
      subs.forEach((sub) => sub.unsubscribe());
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
    } else if (mode === 'create-streams') {
      const [prefix, maxStreams, n] = rest;
      const store = createRedisResumeStore(redis, { prefix, maxStreams: Number(maxStreams) });
      await redis.ping();
      process.stdout.write('ready\n');
      const startAt = Number(await firstLine());
      await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
      const outcomes = await Promise.allSettled(
        Array.from({ length: Number(n) }, (_, i) => store.create(`${process.pid}-${i}`, 60_000)),
      );
      const reasons = outcomes.map((o) => (o.status === 'fulfilled' ? 'created' : o.reason?.reason));
      process.stdout.write(
        JSON.stringify({
          created: reasons.filter((r) => r === 'created').length,
          full: reasons.filter((r) => r === 'full').length,
          other: outcomes.flatMap((o) =>
            o.status === 'rejected' && o.reason?.reason !== 'full' ? [String(o.reason)] : [],
          ),
        }) + '\n',
      );
      await store.close();
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
  } finally {
    redis.disconnect();
  }
}

/** The first line on stdin. */
function firstLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\n');
      if (end >= 0) {
        process.stdin.pause();
        resolve(text.slice(0, end));
      }
    });
    process.stdin.once('end', () => reject(new Error('stdin closed before the start line')));
  });
}

main()
  .catch((error) => {
    process.stderr.write(String(error?.stack ?? error) + '\n');
    process.exitCode = 1;
  })
  // Keep-alive sockets of the default agent would hold the process for seconds.
  .finally(() => process.exit());
