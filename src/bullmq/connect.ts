/**
 * The CLI's way to a queue: a `redis://` URL and a queue name. Not exported: programs make their own
 * `Queue` with the connection settings they need.
 */
import { redactAndCut } from '../redact';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

/** How long the CLI waits for Redis to answer before it says it cannot reach it. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Opens `name` on the Redis at `url` with the client settings BullMQ workers require; rejects with a
 * message naming the host (never the URL: it may hold a password) when Redis cannot be reached.
 */
export async function openQueue(
  url: string,
  name: string,
): Promise<{ queue: Queue; close(): Promise<void> }> {
  let host: string;
  try {
    if (!/^rediss?:\/\//.test(url)) throw new Error();
    host = new URL(url).host;
  } catch {
    throw new TypeError(`--queue must be a redis:// or rediss:// URL, got "${redactAndCut(url, 100)}".`);
  }
  // maxRetriesPerRequest: null is what BullMQ requires of a worker's connection (commands wait for a
  // reconnect instead of failing: https://docs.bullmq.io/guide/going-to-production#maxretriesperrequest);
  // so a Redis that is not there would make every command wait forever: check it answers first.
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('error', onError);
      // Later connection errors are reported by the command that needed Redis; ioredis would also
      // print each reconnect attempt's error as an unhandled 'error' event.
      connection.on('error', () => {});
      if (!error) return resolve();
      connection.disconnect();
      reject(error);
    };
    const onReady = () => done();
    const onError = (error: Error) => done(new Error(`cannot reach Redis at ${host}: ${error.message}`));
    const timer = setTimeout(
      () => done(new Error(`cannot reach Redis at ${host}: no answer within ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    connection.once('ready', onReady);
    connection.once('error', onError);
  });
  const queue = new Queue(name, { connection });
  return {
    queue,
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}
