// Run by scripts/pack-check.sh against the packed rxllm with each zod of the peer range; `./z.mjs`
// re-exports `z` from `zod` or `zod/v4`. A toolLoop against the mock server (the tool's JSON Schema as
// the model gets it, `execute` given the validated input), a partialObject, a refused tool input, and
// rxllm's own request schemas (zod/v4 of the app's zod).
import { lastValueFrom, toArray } from 'rxjs';
import { createClient, validateRequest, RequestValidationError } from 'rxllm';
import { partialObject, partialToolCallGuard, tool, toolLoop, isToolLoopEvent } from 'rxllm/operators';
import { createMockServer, mockStream } from 'rxllm/testing';
import { z } from './z.mjs';

const zodVersion = process.argv[2];
const fail = (message) => {
  throw new Error(`zod ${zodVersion}: ${message}`);
};
// Keys sorted: zod versions write JSON Schema keys in different orders.
const canon = (value) =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
  );
const equal = (actual, expected, what) => {
  if (canon(actual) !== canon(expected))
    fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
};
// zod 3's classic schemas have no JSON Schema converter: toolLoop asks for `parameters`.
const classic = z.object({})._zod === undefined;

const schema = z.object({ city: z.string().describe('The city'), days: z.number().int().optional() });
const parameters = {
  type: 'object',
  properties: { city: { description: 'The city', type: 'string' }, days: { type: 'integer' } },
  required: ['city'],
};
const seen = [];
const weather = tool({
  description: 'Current weather for a city',
  schema,
  ...(classic && { parameters }),
  execute: async (input) => {
    seen.push(input);
    return { city: input.city, celsius: 21 };
  },
});

const server = await createMockServer();
try {
  const request = { model: 'compat/mock', messages: [{ role: 'user', content: 'Weather in Lisbon?' }] };
  const client = createClient({ baseURL: server.url });
  if (classic) {
    let error;
    try {
      toolLoop(request, { client, tools: { get_weather: { ...weather, parameters: undefined } } });
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TypeError) || !error.message.includes('tools.get_weather'))
      fail(`toolLoop without parameters should throw a TypeError naming the tool, got ${error}`);
  }
  server.enqueue(
    { toolCalls: [{ name: 'get_weather', arguments: { city: 'Lisbon', days: 2 } }] },
    { toolCalls: [{ name: 'get_weather', arguments: { city: 7 } }] },
    { text: 'It is 21 °C in Lisbon.' },
  );
  const chunks = await lastValueFrom(
    toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
  );
  const results = chunks.filter(isToolLoopEvent).filter((c) => c.tool_loop.type === 'tool-result');
  equal(seen, [{ city: 'Lisbon', days: 2 }], 'execute input');
  equal(
    results.map((c) => c.tool_loop.status),
    ['ok', 'invalid'],
    'tool results',
  );
  const declared = server.requests[0].body.tools[0].function;
  equal(declared.name, 'get_weather', 'declared tool');
  const properties = declared.parameters?.properties;
  equal(
    properties?.city,
    { description: 'The city', type: 'string' },
    'JSON Schema of city (description kept)',
  );
  equal(declared.parameters.required, ['city'], 'JSON Schema required');

  // A refused input lists zod's issues with their paths.
  const guarded = await lastValueFrom(
    mockStream({ toolCalls: [{ name: 'get_weather', arguments: { city: 7 } }] }).pipe(
      partialToolCallGuard({ schemas: { get_weather: schema } }),
      toArray(),
    ),
  );
  const invalid = guarded.flatMap((c) => c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []));
  equal(
    invalid.map((i) => [i.reason, i.issues.map((x) => x.path)]),
    [['schema-mismatch', [['city']]]],
    'refused input',
  );

  // partialObject: partial values, then the whole value checked (and transformed) by the schema.
  const Weather = z.object({ city: z.string(), temp: z.number().transform((t) => t + 0.5) });
  const updates = await lastValueFrom(
    createClient({ baseURL: server.url })
      .stream({
        model: 'compat/mock',
        messages: [{ role: 'user', content: 'as JSON' }],
        mock_response: { text: '{"city":"Lisbon","temp":21}', chunkSize: 5 },
      })
      .pipe(partialObject(Weather), toArray()),
  );
  equal(updates.at(-1), { done: true, value: { city: 'Lisbon', temp: 21.5 } }, 'partialObject final');
  if (updates.length < 3) fail(`partialObject gave ${updates.length} updates`);

  // rxllm's own schemas, on the app's zod/v4: a request with tools takes the zod path.
  const checked = validateRequest({
    ...request,
    tools: [{ type: 'function', function: { name: 'f', parameters } }],
  });
  equal(checked.tools[0].function.name, 'f', 'validateRequest');
  let bad;
  try {
    validateRequest({ model: 'nomodel', messages: [], tools: [] });
  } catch (e) {
    bad = e;
  }
  if (!(bad instanceof RequestValidationError))
    fail(`validateRequest should throw RequestValidationError, got ${bad}`);
  const { ChatRequestSchema } = await import('rxllm/schemas');
  if (
    ChatRequestSchema.safeParse({
      model: 'x/y',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }],
    }).success !== true
  )
    fail('ChatRequestSchema refused a valid request');
} finally {
  await server.close();
}
console.log(`zod ${zodVersion}: toolLoop, partialToolCallGuard, partialObject, request schemas ok`);
