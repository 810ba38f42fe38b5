/**
 * What the Redis stores need from a client, and how they run their Lua scripts. Any ioredis 5
 * `Redis` or `Cluster` fits as it is; nothing here imports ioredis at runtime.
 */
import { createHash } from 'node:crypto';
import { StoreError } from '../errors';

/** The two commands the stores use (ioredis `Redis` satisfies it). */
export interface RedisScriptClient {
  evalsha(sha: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Options every Redis store takes. */
export interface RedisStoreOptions {
  /** Prefix of every key the store writes. @defaultValue 'rxllm:' */
  prefix?: string;
  /**
   * How long an operation keeps retrying while Redis is unreachable (a restart, a failover)
   * before it fails with a `StoreError`, in ms. Retries of a write are idempotent (each write has
   * an id), so a write whose reply was lost is never applied twice. @defaultValue 2000
   */
  retryMs?: number;
}

/** Defaults of the Redis stores. */
export const REDIS_STORE_DEFAULTS = { prefix: 'rxllm:', retryMs: 2000 } as const;

/** A Lua script run with EVALSHA, loaded with EVAL when Redis does not know it (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisScriptClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test(String((error as Error)?.message))) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A reply error (a bug in a script or a wrong key type) is not retried; connection errors are. */
function isReplyError(error: unknown): boolean {
  return (
    (error as Error | null)?.name === 'ReplyError' &&
    !/LOADING|BUSY|TRYAGAIN|CLUSTERDOWN/.test(String((error as Error).message))
  );
}

/**
 * Runs `op`, retrying for `retryMs` while Redis is unreachable; then a `StoreError` naming the
 * store, what was not done and the cause (never the connection string: it may hold a password).
 */
export async function withRetry<T>(
  store: string,
  what: string,
  retryMs: number,
  op: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + retryMs;
  let wait = 25;
  for (;;) {
    try {
      return await op();
    } catch (error) {
      if (isReplyError(error)) {
        throw new StoreError(store, `Redis ${store} store: ${what} failed: ${(error as Error).message}`, {
          cause: error,
          retryable: false,
        });
      }
      if (Date.now() + wait > deadline) {
        throw new StoreError(
          store,
          `Redis ${store} store: ${what} failed, Redis unreachable for ${retryMs} ms (${(error as Error)?.message ?? String(error)}). Nothing was changed; retry when Redis is back.`,
          { cause: error },
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 250);
    }
  }
}

/** Checks a client and the common options; returns the resolved options. */
export function resolveOptions(
  name: string,
  client: RedisScriptClient,
  options: RedisStoreOptions | undefined,
): Required<RedisStoreOptions> {
  if (!client || typeof client.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new TypeError(
      `${name}: pass an ioredis client (new Redis(...)) or any object with eval and evalsha.`,
    );
  }
  const { prefix = REDIS_STORE_DEFAULTS.prefix, retryMs = REDIS_STORE_DEFAULTS.retryMs } = options ?? {};
  if (typeof prefix !== 'string') throw new TypeError(`${name}: prefix must be a string.`);
  if (typeof retryMs !== 'number' || !(retryMs >= 0))
    throw new TypeError(`${name}: retryMs must be a number >= 0.`);
  return { prefix, retryMs };
}
