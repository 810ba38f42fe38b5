/**
 * Run as a process of its own (tsx): `n` calls at once (argv[2]) share one AbortSignal, through
 * `stream()` against a mock upstream, each with `retryBackoff({ signal })` on the same signal;
 * prints the names of the process warnings it saw, one per line, then `done <completed>`.
 * Jest's sandboxed `process` does not receive Node's own warnings, hence a process.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { retryBackoff } from '../../operators';
import { createClient } from '../../src';
import { createMockServer } from '../../src/testing';

async function main() {
  const n = Number(process.argv[2] ?? 12);
  const warnings: string[] = [];
  process.on('warning', (warning) => warnings.push(warning.name));
  const upstream = await createMockServer();
  const client = createClient({ baseURL: upstream.url, apiKey: 'sk-test-shared-signal-0123456789' });
  for (let i = 0; i < n; i++) upstream.enqueue({ text: 'one two three', chunkSize: 4, chunkDelayMs: 30 });
  // One signal for every call, as an app's shutdown signal would be.
  const shutdown = new AbortController();
  const answers = await Promise.all(
    Array.from({ length: n }, () =>
      lastValueFrom(
        client
          .stream(
            { model: 'compat/m', messages: [{ role: 'user', content: 'x' }] },
            { signal: shutdown.signal },
          )
          .pipe(retryBackoff({ signal: shutdown.signal }), toArray()),
      ),
    ),
  );
  // Node emits 'warning' on a later tick.
  await new Promise((r) => setTimeout(r, 50));
  await upstream.close();
  for (const w of warnings) console.log(w);
  console.log(`done ${answers.filter((a) => a.length > 0).length}`);
}

void main();
