import { lastValueFrom, toArray } from 'rxjs';
import { batch, createAgent } from '../src';
import { createMockServer } from '../src/testing';
(async () => {
  for (const [lat, n, c] of [[200, 100, 20], [30, 40, 8], [200, 100, 20]]) {
    const server = await createMockServer();
    const agent = process.env.UNDICI ? new (require('undici').Agent)() : createAgent();
    server.setDefault({ text: 'x', latencyMs: lat });
    const reqs = Array.from({ length: n }, (_, i) => ({ model: 'compat/x', messages: [{ role: 'user' as const, content: 't' + i }] }));
    const t = performance.now();
    await lastValueFrom(batch(reqs, { concurrency: c, options: { baseURL: server.url, apiKey: 'k', dispatcher: agent } }).pipe(toArray()));
    console.log(`lat ${lat} n ${n} c ${c}: ${(performance.now() - t).toFixed(0)} ms, connections ${server.stats.connections}`);
    await agent.close(); await server.close();
  }
})();
