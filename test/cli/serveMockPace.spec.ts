/**
 * `rxllm serve` with no flags streams its mock a chunk every SERVE_MOCK_DELAY_MS, so the chat page
 * shows text arriving. Only lower bounds on time are checked: a busy machine makes gaps longer,
 * never shorter.
 */
import { lastValueFrom, map, toArray } from 'rxjs';
import type { Gateway } from 'rxllm';
import { fetchSse } from 'rxllm/browser';
import { runServe, SERVE_MOCK_DELAY_MS } from '../../src/cli/serve';

const quiet = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };

async function withServe(argv: string[], body: (gateway: Gateway) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let gateway: Gateway | undefined;
  const exit = runServe(argv, quiet, { stop: stop.signal, onListening: (g) => (gateway = g) });
  while (!gateway) await new Promise((r) => setTimeout(r, 5));
  try {
    await body(gateway);
  } finally {
    stop.abort();
    expect(await exit).toBe(0);
  }
}

/** Arrival times (ms) of the chunks that carry text. */
function textTimes(url: string, body: Record<string, unknown>): Promise<number[]> {
  const times = fetchSse(`${url}/v1/chat/completions`, {
    body: { model: 'mock/echo', stream: true, ...body },
  }).pipe(
    map((chunk) => (chunk.choices[0]?.delta.content ? performance.now() : undefined)),
    toArray(),
  );
  return lastValueFrom(times).then((all) => all.filter((t): t is number => t !== undefined));
}

describe('rxllm serve: the default mock streams visibly', () => {
  it('paces the mock with no --model; a request that sets mock_delay_ms keeps its own', async () => {
    await withServe(['--port', '0'], async (gateway) => {
      // "Mock reply to: " + 25 characters = 40 characters: 10 text chunks of 4.
      const paced = await textTimes(gateway.url, { messages: [{ role: 'user', content: 'a'.repeat(25) }] });
      expect(paced).toHaveLength(10);
      // Timers may fire a millisecond early; 9 gaps of 30 ms are at least 9 x 25 ms.
      expect(paced[9] - paced[0]).toBeGreaterThanOrEqual(9 * (SERVE_MOCK_DELAY_MS - 5));
      const own = await textTimes(gateway.url, {
        messages: [{ role: 'user', content: 'b' }],
        mock_delay_ms: 150,
      });
      // "Mock reply to: b": 4 text chunks, 3 gaps of 150 ms.
      expect(own).toHaveLength(4);
      expect(own[3] - own[0]).toBeGreaterThanOrEqual(3 * 140);
    });
  });
});
