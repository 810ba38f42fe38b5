/** `rxllm serve --no-resume / --resume-ttl / --redis`: resumable answers from the command line. */
import Redis from 'ioredis';
import type { Gateway } from '../../src';
import { durationFlag, runServe, type ServeControl } from '../../src/cli/serve';
import { createRedisResumeStore } from '../../src/redis';
import { redisAvailable, startRedis } from '../helpers/redisServer';
import { readSse } from '../helpers/sseEvents';

function io() {
  const err: string[] = [];
  return {
    io: { stdout: { write: () => undefined }, stderr: { write: (t: string) => err.push(t) }, env: {} },
    err: () => err.join(''),
  };
}

/** Runs `rxllm serve` with `args`, hands the gateway to `use`, then stops it; resolves the exit code. */
async function serving(args: string[], use: (g: Gateway) => Promise<void>, control: ServeControl = {}) {
  const stop = new AbortController();
  let gateway: Gateway | undefined;
  const exit = runServe(['--port', '0', ...args], io().io, {
    ...control,
    stop: stop.signal,
    graceMs: 0,
    onListening: (g) => (gateway = g),
  });
  while (!gateway) await new Promise((r) => setTimeout(r, 5));
  try {
    await use(gateway);
  } finally {
    stop.abort();
  }
  return exit;
}

const body = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }], stream: true };

describe('rxllm serve and resumable answers', () => {
  it('reads --resume-ttl as seconds or with a unit', () => {
    expect([durationFlag('600'), durationFlag('90s'), durationFlag('10m'), durationFlag('1h')]).toEqual([
      600_000, 90_000, 600_000, 3_600_000,
    ]);
    expect([durationFlag('500ms'), durationFlag('0'), durationFlag('1.5m'), durationFlag('m')]).toEqual([
      500,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('refuses a bad --resume-ttl and --no-resume with --redis (exit 2)', async () => {
    const bad = io();
    expect(await runServe(['--resume-ttl', 'soon'], bad.io)).toBe(2);
    expect(bad.err()).toContain('--resume-ttl must be a duration');
    const both = io();
    expect(await runServe(['--no-resume', '--redis', 'redis://127.0.0.1:1'], both.io)).toBe(2);
    expect(both.err()).toContain('--no-resume cannot go with --redis');
  });

  it('streams resumable answers by default and plain ones with --no-resume', async () => {
    expect(
      await serving([], async (g) => {
        const answer = await readSse(`${g.url}/v1/chat/completions`, { body });
        const id = answer.headers.get('x-rxllm-stream-id');
        expect(id).toBeTruthy();
        expect(answer.events[0].id).toBe(`${id}:1`);
      }),
    ).toBe(0);
    expect(
      await serving(['--no-resume'], async (g) => {
        const answer = await readSse(`${g.url}/v1/chat/completions`, { body });
        expect(answer.headers.get('x-rxllm-stream-id')).toBeNull();
        expect(answer.events[0].id).toBeUndefined();
      }),
    ).toBe(0);
  });

  (redisAvailable() ? it : it.skip)('--redis keeps the answers in Redis for --resume-ttl', async () => {
    const redis = await startRedis();
    const url = `redis://127.0.0.1:${redis.port}`;
    const probe = new Redis(url);
    let closed = false;
    try {
      const exit = await serving(
        ['--redis', url, '--resume-ttl', '90s'],
        async (g) => {
          const answer = await readSse(`${g.url}/v1/chat/completions`, { body });
          const id = answer.headers.get('x-rxllm-stream-id')!;
          const ttl = await probe.pttl(`rxllm:resume:{${id}}:m`);
          expect(ttl).toBeGreaterThan(0);
          expect(ttl).toBeLessThanOrEqual(90_000);
          const replay = await readSse(`${g.url}/v1/chat/completions/${id}/stream`);
          expect(replay.events).toEqual(answer.events);
        },
        {
          redisResumeStore: (given) => {
            const client = new Redis(given);
            const store = createRedisResumeStore(client);
            return {
              store,
              close: async () => {
                await store.close();
                await client.quit();
                closed = true;
              },
            };
          },
        },
      );
      expect(exit).toBe(0);
      expect(closed).toBe(true);
    } finally {
      await probe.quit();
      await redis.destroy();
    }
  });
});
