/**
 * `toolLoop` over real HTTP in each wire format: the exact body of the second model call, and the
 * provider's own rule for a tool-calling turn checked on it (what the provider rejects with a 400
 * when broken). Step 1 answers are the mock server's own rendering where it can say what the test
 * needs (Anthropic thinking with a signature), else hand-written SSE replayed byte for byte (Gemini
 * thought signatures, Responses reasoning items with encrypted content, an OpenAI-compatible server
 * without call ids).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import { createClient, type ChatRequest } from '../../src';
import { MOCK_THINKING_SIGNATURE } from '../../src/providers/anthropic/mockWire';
import { createMockServer, type MockServer } from '../../src/testing';
import { isToolLoopEvent, toolLoop, type ToolLoopChunk, type ToolLoopEvent } from '../../operators/toolLoop';
import { tool } from '../../operators/tool';

const PARAMETERS = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
};
const STATIONS: Record<string, number> = { Lisbon: 21 };
const getWeather = tool({
  description: 'Current weather for a city',
  schema: z.object({ city: z.string() }),
  parameters: PARAMETERS,
  execute: ({ city }) => {
    if (!(city in STATIONS)) throw new Error(`no weather station in ${city}`);
    return { city, celsius: STATIONS[city] };
  },
});
const tools = { get_weather: getWeather };
const LISBON = '{"city":"Lisbon","celsius":21}';
const PORTO_ERROR = 'Error: no weather station in Porto';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

const client = () => createClient({ baseURL: server.url, apiKey: 'sk-test-loop-wire-0123456789' });

async function run(request: ChatRequest): Promise<ToolLoopEvent[]> {
  const chunks: ToolLoopChunk[] = await lastValueFrom(
    toolLoop(request, { client: client(), tools }).pipe(toArray()),
  );
  return chunks.filter(isToolLoopEvent).map((c) => c.tool_loop);
}

const second = () => {
  expect(server.requests).toHaveLength(2);
  return server.requests[1].body as any;
};

const sse = (events: object[], named = false) =>
  events.map((e: any) => `${named ? `event: ${e.type}\n` : ''}data: ${JSON.stringify(e)}\n\n`).join('');

describe('toolLoop over the Anthropic Messages wire format', () => {
  it('sends each thinking block back, with its signature, before the tool_use blocks (two steps)', async () => {
    server.enqueue(
      {
        reasoning: 'Two cities: two calls.',
        text: 'Checking.',
        toolCalls: [
          { id: 'toolu_lisbon', name: 'get_weather', arguments: { city: 'Lisbon' } },
          { id: 'toolu_porto', name: 'get_weather', arguments: { city: 'Porto' } },
        ],
      },
      { reasoning: 'Lisbon known, Porto not.', text: 'Lisbon: 21 °C. Porto: no data.' },
    );
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    const events = await run({
      model: 'anthropic/claude-test',
      messages: [{ role: 'user', content: 'Weather in Lisbon and Porto?' }],
      thinking,
    } as ChatRequest);
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });

    const body = second();
    expect(body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Lisbon and Porto?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two cities: two calls.', signature: MOCK_THINKING_SIGNATURE },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_lisbon', name: 'get_weather', input: { city: 'Lisbon' } },
            { type: 'tool_use', id: 'toolu_porto', name: 'get_weather', input: { city: 'Porto' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_lisbon', content: LISBON },
            { type: 'tool_result', tool_use_id: 'toolu_porto', content: PORTO_ERROR, is_error: true },
          ],
        },
      ],
      tools: [{ name: 'get_weather', description: 'Current weather for a city', input_schema: PARAMETERS }],
      thinking,
      stream: true,
    });

    // The rule (extended-thinking docs, "preserving thinking blocks"): with thinking on, an assistant
    // turn holding tool_use starts with its thinking block, signature included; every tool_result
    // answers a tool_use of the turn just before it.
    const [, assistant, results] = body.messages;
    expect(assistant.content[0]).toMatchObject({ type: 'thinking', signature: expect.stringMatching(/.+/) });
    const uses = assistant.content.filter((b: any) => b.type === 'tool_use').map((b: any) => b.id);
    expect(results.content.map((b: any) => b.tool_use_id)).toEqual(uses);
    expect(new Set(uses).size).toBe(uses.length);
  });
});

describe('toolLoop over the Gemini wire format', () => {
  it('sends the thought signature back on the functionCall part it came with', async () => {
    const head = { responseId: 'resp-g1', modelVersion: 'gemini-test' };
    server.enqueue(
      {
        rawSse: sse([
          {
            candidates: [
              { content: { role: 'model', parts: [{ text: 'Two lookups.', thought: true }] }, index: 0 },
            ],
            ...head,
          },
          {
            candidates: [
              {
                content: {
                  role: 'model',
                  // Parallel calls: only the first part carries the signature (function-calling docs,
                  // "thought signatures").
                  parts: [
                    {
                      functionCall: { id: 'fc-lisbon', name: 'get_weather', args: { city: 'Lisbon' } },
                      thoughtSignature: 'c2lnLWxpc2Jvbg==',
                    },
                    { functionCall: { id: 'fc-porto', name: 'get_weather', args: { city: 'Porto' } } },
                  ],
                },
                finishReason: 'STOP',
                index: 0,
              },
            ],
            usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 6, totalTokenCount: 15 },
            ...head,
          },
        ]),
        headers: { 'content-type': 'text/event-stream' },
      },
      'Lisbon: 21 °C. Porto: no data.',
    );
    const events = await run({
      model: 'gemini/gemini-test',
      messages: [{ role: 'user', content: 'Weather in Lisbon and Porto?' }],
    });
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });

    const body = second();
    expect(server.requests[1].path).toContain('gemini-test:streamGenerateContent');
    expect(body).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Lisbon and Porto?' }] },
        {
          role: 'model',
          parts: [
            {
              functionCall: { id: 'fc-lisbon', name: 'get_weather', args: { city: 'Lisbon' } },
              thoughtSignature: 'c2lnLWxpc2Jvbg==',
            },
            { functionCall: { id: 'fc-porto', name: 'get_weather', args: { city: 'Porto' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { id: 'fc-lisbon', name: 'get_weather', response: JSON.parse(LISBON) } },
            // An error result goes under the "error" key (FunctionResponse.response docs).
            { functionResponse: { id: 'fc-porto', name: 'get_weather', response: { error: PORTO_ERROR } } },
          ],
        },
      ],
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Current weather for a city',
              parametersJsonSchema: PARAMETERS,
            },
          ],
        },
      ],
    });

    // The rule: the first functionCall part of a model turn carries the signature it was given, and
    // every functionResponse answers a call of that turn by id and name.
    const [, model, answers] = body.contents;
    expect(model.parts[0].thoughtSignature).toBe('c2lnLWxpc2Jvbg==');
    const calls = model.parts.map((p: any) => [p.functionCall.id, p.functionCall.name]);
    expect(answers.parts.map((p: any) => [p.functionResponse.id, p.functionResponse.name])).toEqual(calls);
  });
});

describe('toolLoop over the OpenAI Responses wire format', () => {
  it('sends the reasoning item (with encrypted_content) back before its function_call', async () => {
    let seq = 0;
    const ev = (type: string, data: object) => ({ type, sequence_number: seq++, ...data });
    const response = { id: 'resp_1', object: 'response', created_at: 1, model: 'gpt-test' };
    const reasoning = {
      id: 'rs_1',
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Need the weather.' }],
      encrypted_content: 'gAAAAB-encrypted-reasoning',
    };
    const call = {
      id: 'fc_1',
      type: 'function_call',
      call_id: 'call_lisbon',
      name: 'get_weather',
      arguments: '{"city":"Lisbon"}',
    };
    server.enqueue(
      {
        rawSse: sse(
          [
            ev('response.created', { response: { ...response, status: 'in_progress', output: [] } }),
            ev('response.output_item.added', {
              output_index: 0,
              item: { id: 'rs_1', type: 'reasoning', summary: [] },
            }),
            ev('response.reasoning_summary_text.delta', {
              item_id: 'rs_1',
              output_index: 0,
              summary_index: 0,
              delta: 'Need the weather.',
            }),
            ev('response.output_item.done', { output_index: 0, item: reasoning }),
            ev('response.output_item.added', { output_index: 1, item: { ...call, arguments: '' } }),
            ev('response.function_call_arguments.delta', {
              item_id: 'fc_1',
              output_index: 1,
              delta: call.arguments,
            }),
            ev('response.output_item.done', { output_index: 1, item: { ...call, status: 'completed' } }),
            ev('response.completed', {
              response: {
                ...response,
                status: 'completed',
                output: [reasoning, call],
                usage: { input_tokens: 9, output_tokens: 12, total_tokens: 21 },
              },
            }),
          ],
          true,
        ),
      },
      'Lisbon: 21 °C.',
    );
    const include = ['reasoning.encrypted_content'];
    const events = await run({
      model: 'openai-responses/gpt-test',
      messages: [{ role: 'user', content: 'Weather in Lisbon?' }],
      store: false,
      include,
    } as ChatRequest);
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });

    const body = second();
    expect(body).toEqual({
      model: 'gpt-test',
      input: [
        { type: 'message', role: 'user', content: 'Weather in Lisbon?' },
        {
          type: 'reasoning',
          id: 'rs_1',
          summary: [{ type: 'summary_text', text: 'Need the weather.' }],
          encrypted_content: 'gAAAAB-encrypted-reasoning',
        },
        {
          type: 'function_call',
          call_id: 'call_lisbon',
          name: 'get_weather',
          arguments: '{"city":"Lisbon"}',
        },
        { type: 'function_call_output', call_id: 'call_lisbon', output: LISBON },
      ],
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: PARAMETERS,
          strict: false,
        },
      ],
      store: false,
      include,
      stream: true,
    });

    // The rule: a function_call that came after a reasoning item goes back after that item (without
    // it, a reasoning model's function_call is rejected), and each output answers a call by call_id.
    const types = body.input.map((i: any) => i.type);
    expect(types.indexOf('reasoning')).toBeLessThan(types.indexOf('function_call'));
    const callIds = body.input.filter((i: any) => i.type === 'function_call').map((i: any) => i.call_id);
    const outputIds = body.input
      .filter((i: any) => i.type === 'function_call_output')
      .map((i: any) => i.call_id);
    expect(outputIds).toEqual(callIds);
  });
});

describe('toolLoop over an OpenAI-compatible server that sends no call ids, or the same one', () => {
  const chunk = (delta: object, finish: string | null = null) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'local-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const stream = (ids: [string | undefined, string | undefined]) =>
    sse([
      chunk({ role: 'assistant', content: '' }),
      chunk({
        tool_calls: [
          {
            index: 0,
            ...(ids[0] !== undefined && { id: ids[0] }),
            type: 'function',
            function: { name: 'get_weather', arguments: '' },
          },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Lisbon"}' } }] }),
      chunk({
        tool_calls: [
          {
            index: 1,
            ...(ids[1] !== undefined && { id: ids[1] }),
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Porto"}' },
          },
        ],
      }),
      chunk({}, 'tool_calls'),
    ]) + 'data: [DONE]\n\n';

  it.each([
    ['no id at all', [undefined, undefined], ['call_rxllm_1', 'call_rxllm_2']],
    ['an empty id', ['', ''], ['call_rxllm_1', 'call_rxllm_2']],
    ['one id for both calls', ['call_0', 'call_0'], ['call_0', 'call_rxllm_1']],
  ] as const)('gives each call its own id and pairs each result with it (%s)', async (_, sent, ids) => {
    server.enqueue({ rawSse: stream([...sent]) }, 'Lisbon: 21 °C. Porto: no data.');
    const events = await run({
      model: 'compat/local-model',
      messages: [{ role: 'user', content: 'Weather in Lisbon and Porto?' }],
    });
    // The tools ran with the right arguments, each result under its call's id (in the order they ended).
    const calls = events.filter((e) => e.type === 'tool-call');
    expect(calls.map((c) => [c.toolCallId, 'input' in c.call && c.call.input])).toEqual([
      [ids[0], { city: 'Lisbon' }],
      [ids[1], { city: 'Porto' }],
    ]);
    const results = events.filter((e) => e.type === 'tool-result');
    expect(Object.fromEntries(results.map((r) => [r.toolCallId, r.status]))).toEqual({
      [ids[0]]: 'ok',
      [ids[1]]: 'error',
    });

    const body = second();
    expect(body).toEqual({
      model: 'local-model',
      messages: [
        { role: 'user', content: 'Weather in Lisbon and Porto?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: ids[0],
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' },
            },
            {
              id: ids[1],
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Porto"}' },
            },
          ],
        },
        // No error flag in chat completions: the text says it.
        { role: 'tool', tool_call_id: ids[0], content: LISBON },
        { role: 'tool', tool_call_id: ids[1], content: PORTO_ERROR },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather for a city',
            parameters: PARAMETERS,
          },
        },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });

    // The rule: call ids are unique and every tool message answers exactly one call of the turn before.
    const callIds = body.messages[1].tool_calls.map((c: any) => c.id);
    expect(new Set(callIds).size).toBe(2);
    expect(callIds.every((id: string) => id !== '')).toBe(true);
    expect(body.messages.slice(2).map((m: any) => m.tool_call_id)).toEqual(callIds);
  });

  it('runs parallel calls sent whole under one index and no id as two calls (Gemini’s OpenAI-compatible endpoint)', async () => {
    const whole = (city: string) =>
      chunk({
        tool_calls: [
          { index: 0, type: 'function', function: { name: 'get_weather', arguments: `{"city":"${city}"}` } },
        ],
      });
    server.enqueue(
      {
        rawSse:
          sse([chunk({ role: 'assistant' }), whole('Lisbon'), whole('Porto'), chunk({}, 'tool_calls')]) +
          'data: [DONE]\n\n',
      },
      'Lisbon: 21 °C. Porto: no data.',
    );
    const events = await run({
      model: 'compat/local-model',
      messages: [{ role: 'user', content: 'Weather in Lisbon and Porto?' }],
    });
    const calls = events.filter((e) => e.type === 'tool-call');
    expect(calls.map((c) => [c.toolCallId, 'input' in c.call && c.call.input])).toEqual([
      ['call_rxllm_1', { city: 'Lisbon' }],
      ['call_rxllm_2', { city: 'Porto' }],
    ]);
    const body = second();
    expect(body.messages[1].tool_calls.map((c: any) => [c.id, c.function.arguments])).toEqual([
      ['call_rxllm_1', '{"city":"Lisbon"}'],
      ['call_rxllm_2', '{"city":"Porto"}'],
    ]);
    expect(body.messages.slice(2).map((m: any) => [m.tool_call_id, m.content])).toEqual([
      ['call_rxllm_1', LISBON],
      ['call_rxllm_2', PORTO_ERROR],
    ]);
  });
});
