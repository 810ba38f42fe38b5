/**
 * What the Redis stores need from a client, how they run their Lua scripts, and the time limit every
 * store call keeps. Any ioredis 5 `Redis` or `Cluster` fits as it is; nothing here imports ioredis at
 * runtime.
 */
import { scrubError } from '../redact';
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
   * Time limit of each store call, in ms: it ends with its answer or a retryable `StoreError` within
   * it, whatever the client's own retry settings (ioredis `maxRetriesPerRequest: null`, which BullMQ
   * requires, queues a command until Redis is back, however long that takes). Within the limit a
   * connection error is retried; writes carry an id, so a retried write is never applied twice.
   * @defaultValue 2000
   */
  timeoutMs?: number;
  /** @deprecated The old name of `timeoutMs` (used when `timeoutMs` is not given). */
  retryMs?: number;
}

/** Defaults of the Redis stores. */
export const REDIS_STORE_DEFAULTS = { prefix: 'rxllm:', timeoutMs: 2000 } as const;

/** The options a store works with once checked. */
export interface ResolvedRedisStoreOptions {
  prefix: string;
  timeoutMs: number;
  /** Same as `timeoutMs`: retries happen within the time limit. */
  retryMs: number;
}

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

/** A reply error (a bug in a script or a wrong key type) is not retried; connection errors are. */
function isReplyError(error: unknown): boolean {
  return (
    (error as Error | null)?.name === 'ReplyError' &&
    !/LOADING|BUSY|TRYAGAIN|CLUSTERDOWN/.test(String((error as Error).message))
  );
}

const messageOf = (error: unknown): string => (error as Error)?.message ?? String(error);

/**
 * Runs `op` within `limitMs`: retries it (25 ms, doubling to 250 ms) while it fails with a
 * connection error, and ends with a `StoreError` naming the store, what was not done and the last
 * cause (never the connection string: it may hold a password) when the limit is reached, even if the
 * client still holds the command. Both timers are cleared as soon as the call ends, so nothing is
 * left running.
 */
export function withRetry<T>(store: string, what: string, limitMs: number, op: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = Date.now() + limitMs;
    let lastError: unknown;
    let wait = 25;
    let pause: ReturnType<typeof setTimeout> | undefined;
    let ended = false;
    const end = (settle: () => void) => {
      if (ended) return;
      ended = true;
      clearTimeout(limit);
      clearTimeout(pause);
      settle();
    };
    // A command the client still holds (queued while disconnected, or sent to a stalled server) may
    // run once Redis answers; writes carry an id, so it is then applied once, never twice.
    const timedOut = () =>
      new StoreError(
        store,
        `Redis ${store} store: ${what} failed: no answer within ${limitMs} ms (${lastError === undefined ? 'no reply' : `last error: ${messageOf(lastError)}`}). ` +
          'Retry when Redis is back; a write sent may still be applied once, never twice.',
        { cause: lastError === undefined ? undefined : scrubError(lastError) },
      );
    const limit = setTimeout(() => end(() => reject(timedOut())), limitMs);
    const attempt = () => {
      let result: Promise<T>;
      try {
        result = Promise.resolve(op());
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (value) => end(() => resolve(value)),
        (error: unknown) => {
          if (ended) return; // the limit already answered; this late failure changes nothing
          if (isReplyError(error)) {
            return end(() =>
              reject(
                new StoreError(store, `Redis ${store} store: ${what} failed: ${messageOf(error)}`, {
                  // ioredis puts the command on its errors (an AUTH's password among its args): scrubbed.
                  cause: scrubError(error),
                  retryable: false,
                }),
              ),
            );
          }
          lastError = error;
          // No time for another try: answer now rather than idle until the limit.
          if (Date.now() + wait >= deadline) return end(() => reject(timedOut()));
          pause = setTimeout(attempt, wait);
          wait = Math.min(wait * 2, 250);
        },
      );
    };
    attempt();
  });
}

/** Checks a client and the common options; returns the resolved options. */
export function resolveOptions(
  name: string,
  client: RedisScriptClient,
  options: RedisStoreOptions | undefined,
): ResolvedRedisStoreOptions {
  if (!client || typeof client.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new TypeError(
      `${name}: pass an ioredis client (new Redis(...)) or any object with eval and evalsha.`,
    );
  }
  const { prefix = REDIS_STORE_DEFAULTS.prefix, retryMs } = options ?? {};
  const { timeoutMs = retryMs ?? REDIS_STORE_DEFAULTS.timeoutMs } = options ?? {};
  if (typeof prefix !== 'string') throw new TypeError(`${name}: prefix must be a string.`);
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))
    throw new TypeError(`${name}: timeoutMs must be a finite number of ms > 0, got ${String(timeoutMs)}.`);
  return { prefix, timeoutMs, retryMs: timeoutMs };
}
