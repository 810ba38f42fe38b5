/**
 * Demo section: one pipeline over every wire format. The mock server answers the same script as OpenAI
 * chat, Azure OpenAI, the Responses API, Anthropic, Gemini and Ollama (NDJSON) would; each provider
 * decodes its own format, and the same `accumulateChunks` pipeline gives the same merged result.
 */
import { lastValueFrom } from 'rxjs';
import { stream, type ChatCompletion } from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { createMockServer, type MockServerScript } from 'rxllm/testing';
import { green, red, runAlone } from './style';

const SCRIPT: MockServerScript = {
  reasoning: 'Lisbon → one weather call.',
  text: 'Checking Lisbon ☀️',
  toolCalls: [{ id: 'call_lisbon', name: 'get_weather', arguments: { city: 'Lisbon' } }],
  usage: { prompt_tokens: 14, completion_tokens: 21, total_tokens: 35 },
  chunkSize: 4,
};

/** Every built-in provider that speaks its own wire format (`compat` stands for OpenAI chat). */
export const WIRE_PROVIDERS = [
  'compat',
  'azure',
  'openai-responses',
  'anthropic',
  'gemini',
  'ollama',
] as const;

/** The part of a merged response that must not depend on the wire format. */
export function essence(response: ChatCompletion): string {
  const { message, finish_reason } = response.choices[0];
  return JSON.stringify({
    content: message.content,
    reasoning: message.reasoning,
    tool_calls: message.tool_calls?.map((c) => [c.id, c.function.name, c.function.arguments]),
    finish_reason,
    usage: [response.usage?.prompt_tokens, response.usage?.completion_tokens],
  });
}

/** An essence as a reader would write it: no JSON string inside a JSON string. */
function describeEssence(essence: string): string {
  const e = JSON.parse(essence) as {
    content: string;
    reasoning: string;
    tool_calls: [string, string, string][];
    finish_reason: string;
    usage: [number, number];
  };
  const calls = e.tool_calls.map(([id, name, args]) => `${name}(${args}) [${id}]`).join(', ');
  return `content "${e.content}", reasoning "${e.reasoning}", tool call ${calls}, finish_reason ${e.finish_reason}, usage ${e.usage[0]}+${e.usage[1]} tokens`;
}

/** Streams the script through every provider; returns each merged response's essence by provider. */
export async function demoWireFormats(print = true): Promise<Record<string, string>> {
  const server = await createMockServer();
  const out: Record<string, string> = {};
  try {
    for (const provider of WIRE_PROVIDERS) {
      server.enqueue(SCRIPT);
      const merged = await lastValueFrom(
        stream(
          { model: `${provider}/demo-model`, messages: [{ role: 'user', content: 'Weather in Lisbon?' }] },
          { baseURL: server.url, apiKey: 'sk-demo-not-a-real-key' },
        ).pipe(accumulateChunks()),
      );
      out[provider] = essence(merged);
      const format = server.requests[server.requests.length - 1];
      if (print) console.log(`   ${provider.padEnd(17)} ${format.format?.padEnd(17)} ${format.path}`);
    }
    const distinct = new Set(Object.values(out));
    if (print) {
      console.log(`   merged by accumulateChunks: ${describeEssence(out.compat)}`);
      console.log(
        `   ${distinct.size === 1 ? `${green('✓')} identical` : `${red('✗')} DIFFERENT`} across ${WIRE_PROVIDERS.length} wire formats`,
      );
    }
    return out;
  } finally {
    await server.close();
  }
}

if (require.main === module) runAlone(demoWireFormats);
