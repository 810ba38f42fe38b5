/**
 * Demo section: streaming basics against an in-process mock server (no key, no network): a poem
 * chunk by chunk, merged while it flows, with its finish reason, usage and time to first chunk.
 */
import { lastValueFrom, share, tap } from 'rxjs';
import { stream, type Chunk } from 'rxllm';
import { accumulateChunks, usage } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';
import { green, red, runAlone } from './style';

const POEM = '床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。';

export async function demoBasics(): Promise<void> {
  const server = await createMockServer();
  try {
    // The mock server answers like an OpenAI-compatible API: a role chunk, content chunks (40 ms
    // apart here, so you can watch them arrive), a finish chunk, then the usage chunk.
    server.setDefault({ text: POEM, chunkSize: 2, chunkDelayMs: 40, latencyMs: 150 });
    const request = {
      model: 'compat/mock-poet' as const,
      messages: [{ role: 'user' as const, content: '写一首四句五言诗' }],
    };

    process.stdout.write('   ');
    const started = performance.now();
    let firstChunkMs: number | undefined;
    let streamed = '';
    const chunks$ = stream(request, { baseURL: server.url }).pipe(
      tap((chunk: Chunk) => {
        firstChunkMs ??= performance.now() - started;
        // Null-safe: a chunk's content may be null or absent (role, finish and usage chunks).
        const text = chunk.choices[0]?.delta.content ?? '';
        streamed += text;
        process.stdout.write(text.replaceAll('\n', '\n   '));
      }),
      share(),
    );

    // The same stream, merged while it flows: full text, finish reason and usage in one object.
    const [merged, reported] = await Promise.all([
      lastValueFrom(chunks$.pipe(accumulateChunks())),
      lastValueFrom(chunks$.pipe(usage())),
    ]);
    const choice = merged.choices[0];
    const rebuilt = choice.message.content ?? '';
    console.log('\n');
    console.log(
      `   merged while streaming (accumulateChunks): ${rebuilt === streamed ? green('✓') : red('✗')} the same ${rebuilt.split('\n').length} lines, ${[...rebuilt].length} characters`,
    );
    console.log(`   finish reason: ${choice.finish_reason}`);
    console.log(
      `   usage from the stream: ${reported ? `${reported.prompt_tokens} prompt + ${reported.completion_tokens} completion = ${reported.total_tokens} tokens` : 'none reported'}`,
    );
    console.log(
      `   time to first chunk: ${firstChunkMs?.toFixed(0)} ms (150 ms of it is the mock's latency); ${server.stats.connections} connection`,
    );
  } finally {
    await server.close();
  }
}

if (require.main === module) runAlone(demoBasics);
