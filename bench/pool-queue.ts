/**
 * Probe for issue 10 (the pool): with 2 connections, one 3 s stream and three 100 ms requests sent
 * right after it, when does each short request finish? A queued request must go to the first free
 * socket (expected ~0.1 / 0.2 / 0.3-0.4 s), not wait behind the long stream (3.2 s before the fix).
 * Run: npx tsx bench/pool-queue.ts
 */
import { lastValueFrom } from 'rxjs';
import { Agent } from 'undici';
import { ReusePool, stream, type ChatRequest } from '../src';
import { createMockServer } from '../src/testing';

const REQUEST: ChatRequest = { model: 'compat/probe', messages: [{ role: 'user', content: 'hi' }] };

async function probe(name: string, dispatcher: ReusePool | Agent): Promise<void> {
  const server = await createMockServer();
  server.enqueue({ text: 'long', latencyMs: 3000 });
  server.setDefault({ text: 'short', latencyMs: 100 });
  const started = performance.now();
  const call = () => lastValueFrom(stream(REQUEST, { baseURL: server.url, dispatcher }));
  const long = call();
  await new Promise((r) => setTimeout(r, 10));
  const shorts = [0, 1, 2].map(() => call().then(() => (performance.now() - started) / 1000));
  const times = await Promise.all(shorts);
  await long;
  console.log(`${name}: short requests finished at ${times.map((t) => t.toFixed(2) + ' s').join(', ')}`);
  await dispatcher.close();
  await server.close();
}

async function main() {
  await probe('ReusePool({ connections: 2 })', new ReusePool({ connections: 2 }));
  await probe('undici Agent({ connections: 2 })', new Agent({ connections: 2 }));
}
void main();
