/**
 * Demo part 1: streaming basics against an in-process mock server (no key, no network).
 */
import { lastValueFrom, share, tap } from 'rxjs';
import { stream, type Chunk } from 'rxllm';
import { accumulateChunks, usage } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';

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

    console.log('1) Streaming a poem, chunk by chunk (null-safe: content may be null or absent):\n');
    const started = performance.now();
    let firstChunkMs: number | undefined;
    const chunks$ = stream(request, { baseURL: server.url }).pipe(
      tap((chunk: Chunk) => {
        firstChunkMs ??= performance.now() - started;
        process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      }),
      share(),
    );

    // The same stream, merged while it flows: full text, finish reason and usage in one object.
    const [merged, reported] = await Promise.all([
      lastValueFrom(chunks$.pipe(accumulateChunks())),
      lastValueFrom(chunks$.pipe(usage())),
    ]);
    const choice = merged.choices[0];
    console.log('\n');
    console.log(`2) Rebuilt while streaming: ${JSON.stringify(choice.message.content)}`);
    console.log(`3) Finish reason: ${choice.finish_reason}`);
    console.log(
      `4) Usage from the stream: ${reported ? `${reported.prompt_tokens} prompt + ${reported.completion_tokens} completion = ${reported.total_tokens} tokens` : 'none reported'}`,
    );
    console.log(
      `5) Time to first chunk: ${firstChunkMs?.toFixed(0)} ms (150 ms of it is the mock's latency)`,
    );
    console.log(`   One request, ${server.stats.connections} connection.\n`);
  } finally {
    await server.close();
  }
}
