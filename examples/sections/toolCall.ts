/**
 * Demo section: a streamed tool call. Text is shown while it streams; the tool call is held back by
 * `partialToolCallGuard` and printed once, whole, parsed and validated by its zod schema. Then the
 * same answer with the connection cut inside the call: the call is refused, never run half-written.
 */
import { lastValueFrom, tap, toArray } from 'rxjs';
import { z } from 'zod';
import { stream } from 'rxllm';
import { finishReasonWarn, partialToolCallGuard, type InvalidToolCall } from 'rxllm/operators';
import { createMockServer, type MockServerScript } from 'rxllm/testing';
import { silentLogger, type LlmError } from 'rxllm';
import { dim, green, red, runAlone } from './style';

const schemas = {
  get_weather: z.object({ city: z.string(), unit: z.enum(['celsius', 'fahrenheit']) }),
};

const SCRIPT: MockServerScript = {
  text: 'Let me check the weather in Lisbon for you.',
  toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: { city: 'Lisbon', unit: 'celsius' } }],
  chunkSize: 3,
  chunkDelayMs: 25,
};

/** What the demo saw: the streamed text, the validated calls and the refused ones. */
export interface ToolCallDemoResult {
  text: string;
  calls: { id: string; name: string; input: unknown }[];
  refused: InvalidToolCall[];
}

async function run(baseURL: string, label: string): Promise<ToolCallDemoResult> {
  const result: ToolCallDemoResult = { text: '', calls: [], refused: [] };
  const request = {
    model: 'compat/mock-assistant' as const,
    messages: [{ role: 'user' as const, content: 'What is the weather in Lisbon?' }],
    tools: [
      {
        type: 'function' as const,
        function: { name: 'get_weather', parameters: z.toJSONSchema(schemas.get_weather) },
      },
    ],
  };
  process.stdout.write(`   ${label}\n     `);
  try {
    await lastValueFrom(
      stream(request, { baseURL }).pipe(
        // The demo prints the finish reason itself; production code would pass its logger here.
        finishReasonWarn({ logger: silentLogger }),
        partialToolCallGuard({ schemas }),
        tap((chunk) => {
          for (const choice of chunk.choices) {
            const text = choice.delta.content ?? '';
            result.text += text;
            process.stdout.write(text);
            for (const call of choice.delta.tool_calls ?? []) {
              // `call.input` is typed from the schema: { city: string; unit: 'celsius' | 'fahrenheit' }.
              result.calls.push({ id: call.id, name: call.name, input: call.input });
              console.log(
                `\n     ${green('✓')} tool call ${call.name}(${JSON.stringify(call.input)}) ${dim(`[${call.id}]`)}, validated`,
              );
            }
            for (const refused of choice.delta.invalid_tool_calls ?? []) {
              result.refused.push(refused);
              console.log(
                `\n     ${red('✗')} refused ${refused.name}: ${refused.reason} (the raw arguments: ${refused.arguments})`,
              );
            }
            if (choice.finish_reason) console.log(`     finish_reason: ${choice.finish_reason}`);
          }
        }),
        toArray(),
      ),
    );
  } catch (error) {
    console.log(
      `     the stream failed: ${(error as Error).name} (retryable: ${(error as LlmError).retryable})`,
    );
  }
  return result;
}

/** Runs the tool-call demo against its own mock server on 127.0.0.1 and returns what it saw. */
export async function demoToolCall(): Promise<ToolCallDemoResult> {
  const server = await createMockServer();
  try {
    // Role chunk + 15 text chunks + 6 argument fragments, then the connection drops mid-call.
    server.enqueue(SCRIPT, { ...SCRIPT, chunkDelayMs: 5, cutAfterChunks: 22 });
    const whole = await run(server.url, 'Text as it arrives, the call once, whole and validated:');
    const cut = await run(
      server.url,
      'The same answer, the connection cut inside the call: refused, never run half-written:',
    );
    return { text: whole.text, calls: whole.calls, refused: cut.refused };
  } finally {
    await server.close();
  }
}

if (require.main === module) runAlone(demoToolCall);
