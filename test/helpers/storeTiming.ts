/**
 * Timing helpers of the Redis availability tests: how a store call settled and after how long, a
 * client that counts the commands it sends, and a logger that keeps its lines.
 */
import type { RedisScriptClient } from 'rxllm/redis';

export const LIMIT_MS = 300;
/** A 300 ms limit must end well before this, even on a busy machine. */
export const BOUND_MS = 3000;

export interface Outcome {
  ms: number;
  pending: boolean;
  value?: unknown;
  error?: unknown;
}

/** How `p` settled and after how long, or `pending` after `bound` ms (the bound's timer is cleared). */
export function timed(p: Promise<unknown> | unknown, bound = BOUND_MS): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ms: Date.now() - started, pending: true }), bound);
    Promise.resolve(p).then(
      (value) => {
        clearTimeout(timer);
        resolve({ ms: Date.now() - started, pending: false, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ms: Date.now() - started, pending: false, error });
      },
    );
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that forwards to `inner` and counts the commands sent (one per script run). */
export function counting(inner: RedisScriptClient) {
  const counter = { sent: 0 };
  const client: RedisScriptClient = {
    evalsha: (...args) => {
      counter.sent++;
      return inner.evalsha(...args);
    },
    eval: (...args) => {
      counter.sent++;
      return inner.eval(...args);
    },
  };
  return { counter, client };
}

export function capture() {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) } };
}
