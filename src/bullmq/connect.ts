/**
 * The CLI's way to a queue: a `redis://` URL and a queue name. Not exported: programs make their own
 * `Queue` with the connection settings they need.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

/** Opens `name` on the Redis at `url` with the client settings BullMQ workers require. */
export function openQueue(url: string, name: string): { queue: Queue; close(): Promise<void> } {
  if (!/^rediss?:\/\//.test(url))
    throw new TypeError(`--queue must be a redis:// or rediss:// URL, got "${url.slice(0, 100)}".`);
  // maxRetriesPerRequest: null is what BullMQ requires of a worker's connection (commands wait for a
  // reconnect instead of failing: https://docs.bullmq.io/guide/going-to-production#maxretriesperrequest).
  const connection = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  // A failed connection is reported by the command that needed it; ioredis would also print it on
  // every reconnect attempt as an unhandled 'error' event.
  connection.on('error', () => {});
  const queue = new Queue(name, { connection });
  return {
    queue,
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}
