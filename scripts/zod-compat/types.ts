// Type-checked (tsc --strict, skipLibCheck false) by scripts/pack-check.sh against the packed rxllm
// with each zod of the peer range; `./z` re-exports `z` from `zod` or `zod/v4`. Every input type must
// be inferred: each `@ts-expect-error` below fails to compile when its value degrades to `any`, and
// the plain assignments next to them fail when it degrades to `unknown`.
import { z } from './z';
import type { Observable } from 'rxjs';
import { createClient, type ChatRequest, type ChatMessage, type Chunk } from 'rxllm';
import {
  arrayElements,
  partialObject,
  partialToolCallGuard,
  tool,
  toolLoop,
  type ToolLoopChunk,
} from 'rxllm/operators';
import { ChatRequestSchema } from 'rxllm/schemas';

const weather = tool({
  description: 'Current weather for a city',
  schema: z.object({ city: z.string(), days: z.number().optional() }),
  execute: async (input) => {
    const city: string = input.city;
    const days: number | undefined = input.days;
    // @ts-expect-error city is a string
    const wrong: number = input.city;
    return { city, days, wrong };
  },
});

const loop: Observable<ToolLoopChunk> = toolLoop(
  { model: 'compat/mock', messages: [{ role: 'user', content: 'Weather?' }] },
  { client: createClient({ baseURL: 'http://127.0.0.1:1' }), tools: { get_weather: weather } },
);

declare const source: Observable<Chunk>;

const Weather = z.object({ city: z.string(), temp: z.number() });
source.pipe(partialObject(Weather)).subscribe((update) => {
  if (!update.done) return;
  const temp: number = update.value.temp;
  // @ts-expect-error temp is a number
  const wrong: string = update.value.temp;
  void [temp, wrong];
});
source.pipe(partialObject({ schema: Weather, from: { toolCall: 'answer' } })).subscribe((update) => {
  if (update.done) void (update.value.city satisfies string);
});

source.pipe(arrayElements({ schema: z.object({ name: z.string() }), key: 'elements' })).subscribe((hero) => {
  const name: string = hero.name;
  // @ts-expect-error name is a string
  const wrong: boolean = hero.name;
  void [name, wrong];
});

source
  .pipe(partialToolCallGuard({ schemas: { get_weather: z.object({ city: z.string() }) } }))
  .subscribe((chunk) => {
    for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
      const city: string = call.input.city;
      // @ts-expect-error city is a string
      const wrong: number = call.input.city;
      void [city, wrong];
    }
  });

// The request types come from rxllm's own schemas, built with the app's zod (zod/v4).
const message: ChatMessage = { role: 'user', content: 'hi' };
const request: ChatRequest = { model: 'openai/gpt-4o-mini', messages: [message] };
// @ts-expect-error messages must be an array of messages
const badRequest: ChatRequest = { model: 'openai/gpt-4o-mini', messages: 'hi' };
const parsed = ChatRequestSchema.parse(request);
const model: string = parsed.model;
// @ts-expect-error model is a string
const wrongModel: number = parsed.model;

export { loop, request, badRequest, model, wrongModel };
