/**
 * The gateway's shared stores on Redis (`rxllm serve --redis URL`): the router's rate limits and
 * cooldowns and the keys' rates and budgets, so every gateway on one Redis holds one limit. The
 * integration (`src/redis`, ioredis) is loaded here with a dynamic `import()`, only when a Redis URL
 * is given: the core entry stays free of it (the import-graph rule allows exactly this file that
 * lazy edge, see .dependency-cruiser.cjs).
 */
import { redactAndCut } from '../redact';
import type { BudgetStore } from '../cost/budgetStore';
import { ConfigurationError } from '../errors';
import type { RateLimitStore } from '../rateLimit/store';
import type { CooldownStore } from '../router/cooldown';
import { requireOptional } from './moduleLocation';

/** The stores of one gateway on one Redis connection. */
export interface GatewayRedisStores {
  rateLimit: RateLimitStore;
  cooldown: CooldownStore;
  budget: BudgetStore;
  /** `PING` (readiness). */
  ping(): Promise<unknown>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** The part of an ioredis client the gateway uses. */
interface RedisConnection {
  evalsha(sha: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  ping(): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Connects to Redis and builds the stores. The URL (it may hold a password) never appears in an
 * error. `log` gets connection errors, once per kind (ioredis reconnects on its own).
 */
export async function connectRedisStores(
  url: string,
  options: { prefix?: string; log?: (line: string) => void } = {},
): Promise<GatewayRedisStores> {
  if (!/^rediss?:\/\//.test(url))
    throw new ConfigurationError('--redis must be a redis:// or rediss:// URL.');
  let Redis: new (url: string, options: object) => RedisConnection;
  try {
    ({ Redis } = requireOptional<{ Redis: typeof Redis }>('ioredis'));
  } catch {
    throw new ConfigurationError('--redis needs the optional package "ioredis": npm install ioredis.');
  }
  const redis = await import('../redis');
  // maxRetriesPerRequest 1: a command fails fast while Redis is down; the stores' own time limit
  // (withRetry) then answers with a StoreError and the gateway fails closed.
  let client: RedisConnection;
  try {
    client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
  } catch {
    // The URL parser's error carries the URL (its `input`), password included: not passed on.
    throw new ConfigurationError(`--redis is not a valid redis:// URL: "${redactAndCut(url, 100)}".`);
  }
  const seen = new Set<string>();
  client.on('error', (error) => {
    const kind = (error as NodeJS.ErrnoException).code ?? error.name;
    if (seen.has(kind)) return;
    seen.add(kind);
    options.log?.(`rxllm serve: Redis: ${kind} (reconnecting)`);
  });
  const storeOptions = { prefix: options.prefix ?? 'rxllm:' };
  return {
    rateLimit: redis.createRedisRateLimitStore(client, storeOptions),
    cooldown: redis.createRedisCooldownStore(client, storeOptions),
    budget: redis.createRedisBudgetStore(client, storeOptions),
    ping: () => client.ping(),
    // QUIT lets Redis finish what it was sent; with Redis down it would wait for a reconnection, so
    // after a second the connection is dropped instead.
    close: async () => {
      await Promise.race([
        client.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      client.disconnect();
    },
  };
}
