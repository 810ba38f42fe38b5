/**
 * Run as a process of its own (tsx): a resumable gateway on a mock upstream serves `n` streams at
 * once (argv[2]), then prints the names of the process warnings it saw, one per line, and `done`.
 * Jest's sandboxed `process` does not receive Node's own warnings, hence a process.
 */
import { createClient, startGateway } from '../../src';
import { createMockServer } from '../../src/testing';

async function main() {
  const n = Number(process.argv[2] ?? 12);
  const warnings: string[] = [];
  process.on('warning', (warning) => warnings.push(warning.name));
  const upstream = await createMockServer();
  const gateway = await startGateway({
    port: 0,
    model: 'compat/m',
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-streams-0123456789' }),
    log: () => undefined,
  });
  for (let i = 0; i < n; i++) upstream.enqueue({ text: 'one two three', chunkSize: 4, chunkDelayMs: 50 });
  const body = JSON.stringify({
    model: 'compat/m',
    messages: [{ role: 'user', content: 'x' }],
    stream: true,
  });
  const answers = await Promise.all(
    Array.from({ length: n }, () =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then((r) => r.text()),
    ),
  );
  // Node emits 'warning' on a later tick.
  await new Promise((r) => setTimeout(r, 50));
  await gateway.close(0);
  await upstream.close();
  for (const w of warnings) console.log(w);
  console.log(`done ${answers.filter((a) => a.endsWith('data: [DONE]\n\n')).length}`);
}
void main();
