import { from, lastValueFrom, Observable, toArray } from 'rxjs';
import { z } from 'zod';
import * as zm from 'zod/mini';
import { z as z3 } from 'zod/v3';
import type { ChatRequest, Chunk } from '../../src';
import { ConfigurationError } from '../../src/errors';
import type { StandardSchemaV1 } from '../../src/standardSchema';
import { tool, type ToolDefinition } from '../../operators/tool';
import { isToolLoopEvent, toolLoop } from '../../operators/toolLoop';
import { call, finish, text, tools } from '../quirks/toolCallQuirks';

const request: ChatRequest = { model: 'compat/mock', messages: [{ role: 'user', content: 'Weather?' }] };

/** A client that records each request and answers with a tool call, then with text. */
function recording() {
  const requests: ChatRequest[] = [];
  const answers: Chunk[][] = [
    [tools(call(0, 'call_1', 'get_weather', '{"city":"Lisbon"}')), finish('tool_calls')],
    [text('Sunny.'), finish('stop')],
  ];
  return {
    requests,
    client: {
      stream: (body: ChatRequest) =>
        new Observable<Chunk>((subscriber) => {
          requests.push(structuredClone(body));
          return from(answers.shift() ?? []).subscribe(subscriber);
        }),
    },
  };
}

/** The JSON Schema the model was sent for each tool, by name. */
async function declared(schema: StandardSchemaV1, extra: Partial<ToolDefinition> = {}) {
  const { client, requests } = recording();
  const inputs: unknown[] = [];
  const get_weather = { schema, execute: (input: unknown) => (inputs.push(input), 'ok'), ...extra };
  const chunks = await lastValueFrom(toolLoop(request, { client, tools: { get_weather } }).pipe(toArray()));
  const results = chunks.filter(isToolLoopEvent).filter((c) => c.tool_loop.type === 'tool-result');
  return { parameters: requests[0].tools?.[0].function.parameters, results: results.length, inputs };
}

describe('toolLoop: the JSON Schema of each tool', () => {
  it('is the zod 4 schema’s own toJSONSchema(), as before', async () => {
    const schema = z.object({ city: z.string().describe('The city'), days: z.number().default(1) });
    const { parameters, inputs } = await declared(schema);
    expect(parameters).toEqual(schema.toJSONSchema());
    expect(inputs).toEqual([{ city: 'Lisbon', days: 1 }]);
  });

  it('converts a zod 4 core schema without the method (zod/mini here; zod 4.0/4.1, zod 3.25 zod/v4) with the installed zod', async () => {
    const schema = zm.object({ city: zm.string() });
    expect((schema as { toJSONSchema?: unknown }).toJSONSchema).toBeUndefined();
    const { parameters, inputs } = await declared(schema);
    expect(parameters).toEqual(z.toJSONSchema(schema));
    expect(parameters).toMatchObject({ properties: { city: { type: 'string' } }, required: ['city'] });
    expect(inputs).toEqual([{ city: 'Lisbon' }]);
  });

  it("reads metadata through the schema's own meta(): an ESM app's zod keeps another registry than the one rxllm requires", async () => {
    const city = Object.assign(zm.string(), { meta: () => ({ description: 'From its own registry' }) });
    const { parameters } = await declared(zm.object({ city }));
    expect(parameters).toMatchObject({
      properties: { city: { type: 'string', description: 'From its own registry' } },
    });
  });

  it("uses Standard JSON Schema's input form when the schema offers it", async () => {
    const input = jest.fn(() => ({ type: 'object', properties: { city: { type: 'string' } } }));
    const schema = {
      '~standard': {
        version: 1 as const,
        vendor: 'other',
        validate: (value: unknown) => ({ value }),
        jsonSchema: { input, output: () => ({}) },
      },
    };
    const { parameters } = await declared(schema);
    expect(input).toHaveBeenCalledWith({ target: 'draft-2020-12' });
    expect(parameters).toEqual({ type: 'object', properties: { city: { type: 'string' } } });
  });

  it('throws a TypeError naming the tool for a zod 3 classic schema without parameters; with them it runs', async () => {
    const schema = z3.object({ city: z3.string() });
    const { client } = recording();
    expect(() =>
      toolLoop(request, { client, tools: { get_weather: { schema, execute: () => 'ok' } } }),
    ).toThrow(
      new TypeError(
        "toolLoop: tools.get_weather.schema (zod) gives no JSON Schema for the model (zod 3 schemas have none): pass `parameters` (the input's JSON Schema) with tools.get_weather, or build the schema with zod 4 or `import { z } from 'zod/v4'`.",
      ),
    );
    const parameters = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const run = await declared(schema, { parameters });
    expect(run.parameters).toEqual(parameters);
    expect(run.inputs).toEqual([{ city: 'Lisbon' }]);
  });

  it('needs no JSON Schema when the request brings its own tools', async () => {
    const schema = z3.object({ city: z3.string() });
    const { client, requests } = recording();
    const own: ChatRequest = { ...request, tools: [{ type: 'function', function: { name: 'get_weather' } }] };
    const typed = tool({ schema, execute: ({ city }) => city.toUpperCase() });
    const chunks = await lastValueFrom(
      toolLoop(own, { client, tools: { get_weather: typed } }).pipe(toArray()),
    );
    expect(requests[0].tools).toEqual(own.tools);
    const results = chunks.filter(isToolLoopEvent).map((c) => c.tool_loop);
    expect(results).toContainEqual(expect.objectContaining({ type: 'tool-result', content: 'LISBON' }));
  });

  it('throws a TypeError for a schema of another library that gives no JSON Schema, naming the tool and its vendor', () => {
    const schema = {
      '~standard': { version: 1 as const, vendor: 'valibot', validate: (value: unknown) => ({ value }) },
    };
    expect(() =>
      toolLoop(request, { client: recording().client, tools: { lookup: { schema, execute: () => 1 } } }),
    ).toThrow(/^toolLoop: tools\.lookup\.schema \(valibot\) gives no JSON Schema/);
  });

  it('turns "zod cannot be loaded here" (a browser) into a TypeError asking for parameters', () => {
    jest.isolateModules(() => {
      jest.doMock('../../src/lazyZod', () => ({
        loadZod: () => {
          throw new ConfigurationError('no zod here');
        },
      }));
      const { toolLoop: isolated } =
        jest.requireActual<typeof import('../../operators/toolLoop')>('../../operators/toolLoop');
      const schema = zm.object({ city: zm.string() });
      expect(() =>
        isolated(request, {
          client: recording().client,
          tools: { get_weather: { schema, execute: () => 1 } },
        }),
      ).toThrow(
        /^toolLoop: tools\.get_weather\.schema needs zod to become JSON Schema and zod could not be loaded here: pass `parameters`/,
      );
    });
    jest.dontMock('../../src/lazyZod');
  });

  it('throws what the converter throws (a transform has no JSON Schema), at creation, as before', () => {
    const schema = z.object({ n: z.string().transform(Number) });
    expect(() =>
      toolLoop(request, { client: recording().client, tools: { n: { schema, execute: () => 1 } } }),
    ).toThrow(/Transforms cannot be represented in JSON Schema/);
  });
});
