/**
 * Decoding cost per wire format: the same answer (20,000 text pieces) as each provider streams it,
 * fed to its body sink in 16 KiB reads (as a socket delivers it), counting chunks out. Compares
 * the NDJSON framing (Ollama) with SSE (OpenAI chat, Responses, Anthropic, Gemini). No network:
 * this measures framing + JSON + normalization only.
 *
 * Run: npx tsx --expose-gc bench/wire-decode.ts
 */
import { Subscriber } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { scriptToChunks } from '../src/providers/mock';
import { anthropicMockWire } from '../src/providers/anthropic/mockWire';
import { AnthropicStreamDecoder } from '../src/providers/anthropic/stream';
import { geminiMockWire } from '../src/providers/gemini/mockWire';
import { geminiSseSink } from '../src/providers/gemini/stream';
import { ollamaMockWire } from '../src/providers/ollama/mockWire';
import { OllamaStreamDecoder } from '../src/providers/ollama/stream';
import { openAIMockWire } from '../src/providers/openai/mockWire';
import { OpenAIStreamDecoder } from '../src/providers/openai/stream';
import { responsesMockWire } from '../src/providers/openai-responses/mockWire';
import { ResponsesStreamDecoder } from '../src/providers/openai-responses/stream';
import type { BodySink } from '../src/transport/bodySink';
import { ndjsonSink } from '../src/transport/ndjson';
import { sseSink } from '../src/transport/sse';
import type { MockWireFormat } from '../src/providers/mockWire';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const PIECES = 20_000;
const READ = 16 * 1024;
const chunks = scriptToChunks({ text: 'wörd '.repeat(PIECES), chunkSize: 5 });

const formats: [string, MockWireFormat, (s: Subscriber<Chunk>) => BodySink][] = [
  ['OpenAI chat (SSE)', openAIMockWire, (s) => sseSink(s, new OpenAIStreamDecoder())],
  ['Responses API (SSE)', responsesMockWire, (s) => sseSink(s, new ResponsesStreamDecoder('m'))],
  ['Anthropic (SSE)', anthropicMockWire, (s) => sseSink(s, new AnthropicStreamDecoder(1))],
  ['Gemini (SSE)', geminiMockWire, (s) => geminiSseSink(s, 'm', true)],
  ['Ollama (NDJSON)', ollamaMockWire, (s) => ndjsonSink(s, new OllamaStreamDecoder('m'))],
];

function run(body: Buffer, make: (s: Subscriber<Chunk>) => BodySink): { ms: number; out: number } {
  let out = 0;
  const subscriber = new Subscriber<Chunk>({
    next: () => void out++,
    error: (e) => {
      throw e;
    },
    complete: () => undefined,
  });
  const sink = make(subscriber);
  const start = performance.now();
  for (let i = 0; i < body.length; i += READ) sink.data(body.subarray(i, i + READ));
  const error = sink.end();
  if (error) throw error;
  return { ms: performance.now() - start, out };
}

console.log(`| wire format | body MB | chunks out | ms (median of 7) | MB/s | µs / chunk |`);
console.log(`|---|---|---|---|---|---|`);
for (const [name, wire, make] of formats) {
  const body = Buffer.from(wire.encode(chunks, true).join(''));
  for (let i = 0; i < 3; i++) run(body, make); // warm-up
  const times: number[] = [];
  let out = 0;
  for (let i = 0; i < 7; i++) {
    gc();
    const r = run(body, make);
    times.push(r.ms);
    out = r.out;
  }
  times.sort((a, b) => a - b);
  const ms = times[3];
  const mb = body.length / 1e6;
  console.log(
    `| ${name} | ${mb.toFixed(2)} | ${out} | ${ms.toFixed(1)} | ${(mb / (ms / 1000)).toFixed(0)} | ${((ms * 1000) / out).toFixed(2)} |`,
  );
}
