/**
 * Demo section: the tool-calling loop. The model (a mock server on 127.0.0.1) asks for the weather in
 * two cities at once; `toolLoop` validates both calls, runs them in parallel, sends the results back
 * and streams the final answer. One `textDeltas()` shows the text of both steps; the loop's own
 * events (step start/end, tool call, tool result) are printed as they happen.
 */
import { lastValueFrom, tap } from 'rxjs';
import { z } from 'zod';
import { createClient } from 'rxllm';
import { isToolLoopEvent, tool, toolLoop, type ToolLoopEvent } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';
import { dim, runAlone } from './style';

const WEATHER: Record<string, { celsius: number; sky: string }> = {
  Lisbon: { celsius: 21, sky: 'sunny' },
  Oslo: { celsius: 4, sky: 'snow' },
};

const getWeather = tool({
  description: 'Current weather for a city',
  schema: z.object({ city: z.string() }),
  // Past 2 s the call's signal is aborted and the model gets an error result instead of a hung loop.
  timeoutMs: 2_000,
  execute: async ({ city }, { signal }) => {
    // A real tool would pass `signal` to fetch(); unsubscribing the loop (or the timeout) aborts it.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, 50);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new Error('aborted'));
        },
        { once: true },
      );
    });
    const weather = WEATHER[city];
    if (!weather) throw new Error(`no weather station in ${city}`);
    return { city, ...weather };
  },
});

function describe(e: ToolLoopEvent): string | undefined {
  switch (e.type) {
    case 'step-start':
      return `[step ${e.step}: calling the model]`;
    case 'tool-call':
      return `[tool call ${e.name}(${e.arguments})${e.valid ? '' : ' — invalid'}]`;
    case 'tool-result':
      return `[tool result ${e.name}: ${e.status} ${e.content}]`;
    case 'step-end':
      return `[step ${e.step} ended: ${e.finishReason}]`;
    case 'finish':
      return `[loop finished (${e.reason}) after ${e.steps} steps, ${e.usage?.total_tokens ?? '?'} tokens]`;
  }
}

/** Runs the two-step weather loop against its own mock server; returns the answer text. */
export async function demoToolLoop(): Promise<string> {
  const server = await createMockServer();
  try {
    server.enqueue(
      {
        text: 'Let me look both up.',
        toolCalls: [
          { name: 'get_weather', arguments: { city: 'Lisbon' } },
          { name: 'get_weather', arguments: { city: 'Oslo' } },
        ],
        chunkSize: 4,
        chunkDelayMs: 15,
      },
      {
        text: 'Lisbon: 21 °C and sunny. Oslo: 4 °C with snow — bring a coat.',
        chunkSize: 4,
        chunkDelayMs: 15,
      },
    );
    let answer = '';
    let midLine = false;
    await lastValueFrom(
      toolLoop(
        {
          model: 'compat/mock-assistant',
          messages: [{ role: 'user', content: 'Weather in Lisbon and Oslo?' }],
        },
        { client: createClient({ baseURL: server.url }), tools: { get_weather: getWeather }, concurrency: 2 },
      ).pipe(
        tap((chunk) => {
          if (isToolLoopEvent(chunk)) {
            const line = describe(chunk.tool_loop);
            if (line) process.stdout.write(`${midLine ? '\n' : ''}   ${dim(line)}\n`);
            midLine = false;
            return;
          }
          const text = chunk.choices[0]?.delta.content ?? '';
          if (text === '') return;
          answer += text;
          process.stdout.write(`${midLine ? '' : '   '}${text}`);
          midLine = true;
        }),
      ),
    );
    if (midLine) process.stdout.write('\n');
    return answer;
  } finally {
    await server.close();
  }
}

if (require.main === module) runAlone(demoToolLoop);
