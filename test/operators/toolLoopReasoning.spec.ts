/**
 * `toolLoop` over real HTTP, for the reasoning each provider wants back on the next step: DeepSeek's
 * `reasoning_content` in thinking mode, Anthropic's interleaved thinking blocks in the place they
 * came, Gemini's thought signatures on text parts, and thinking switched on in the middle of an
 * Anthropic tool loop. The strict mock server refuses each broken body as the provider does.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import { createClient, type ChatRequest } from '../../src';
import { MOCK_THOUGHT_SIGNATURE } from '../../src/providers/gemini/mockWire';
import { createMockServer, type MockServer, type MockServerOptions } from '../../src/testing';
import {
  isToolLoopEvent,
  toolLoop,
  type ToolLoopChunk,
  type ToolLoopConfig,
  type ToolLoopEvent,
} from '../../operators/toolLoop';
import { tool } from '../../operators/tool';

const getWeather = tool({
  description: 'Current weather for a city',
  schema: z.object({ city: z.string() }),
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  execute: ({ city }) => ({ city, celsius: 21 }),
});
const tools = { get_weather: getWeather };
const LISBON = '{"city":"Lisbon","celsius":21}';

let server: MockServer;
async function start(options: MockServerOptions = {}) {
  server = await createMockServer(options);
}
afterEach(() => server?.close());

async function run(request: ChatRequest, extra: Partial<ToolLoopConfig<typeof tools>> = {}) {
  const client = createClient({ baseURL: server.url, apiKey: 'sk-test-loop-reasoning-0123456789' });
  const chunks: ToolLoopChunk[] = await lastValueFrom(
    toolLoop(request, { client, tools, ...extra }).pipe(toArray()),
  );
  return chunks.filter(isToolLoopEvent).map((c) => c.tool_loop) as ToolLoopEvent[];
}

/** The body of the second model call; the strict server took it. */
const second = () => {
  expect(server.requests).toHaveLength(2);
  expect(server.requests[1].rejected).toBeUndefined();
  return server.requests[1].body as any;
};

const sse = (events: object[], named = false) =>
  events.map((e: any) => `${named ? `event: ${e.type}\n` : ''}data: ${JSON.stringify(e)}\n\n`).join('');
const user = { role: 'user' as const, content: 'Weather in Lisbon?' };

describe('toolLoop on DeepSeek in thinking mode', () => {
  it('sends the reasoning back as reasoning_content on the tool-call turn', async () => {
    await start({ openaiCompat: 'deepseek' });
    server.enqueue(
      {
        reasoning: 'Lisbon: one lookup.',
        toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: { city: 'Lisbon' } }],
      },
      'Lisbon: 21 °C.',
    );
    const events = await run({ model: 'deepseek/deepseek-reasoner', messages: [user] });
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    expect(second().messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'Lisbon: one lookup.',
        tool_calls: [
          {
            id: 'call_0',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_0', content: LISBON },
    ]);
  });

  it('the same turn on OpenAI carries no reasoning_content (OpenAI does not know the field)', async () => {
    await start();
    server.enqueue(
      {
        reasoning: 'Lisbon: one lookup.',
        toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: { city: 'Lisbon' } }],
      },
      'Lisbon: 21 °C.',
    );
    await run({ model: 'openai/gpt-test', messages: [user] });
    expect(second().messages[1]).not.toHaveProperty('reasoning_content');
  });
});

describe('toolLoop on Anthropic with interleaved thinking', () => {
  const ev = (type: string, data: object = {}) => ({ type, ...data });
  const block = (index: number, content_block: object, deltas: object[]) => [
    ev('content_block_start', { index, content_block }),
    ...deltas.map((delta) => ev('content_block_delta', { index, delta })),
    ev('content_block_stop', { index }),
  ];
  // thinking → text → thinking → tool_use, as Claude streams it with interleaved thinking.
  const interleaved = sse(
    [
      ev('message_start', {
        message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', content: [] },
      }),
      ...block(0, { type: 'thinking', thinking: '', signature: '' }, [
        { type: 'thinking_delta', thinking: 'Lisbon needs a lookup.' },
        { type: 'signature_delta', signature: 'c2lnLTE=' },
      ]),
      ...block(1, { type: 'text', text: '' }, [{ type: 'text_delta', text: 'Let me check.' }]),
      ...block(2, { type: 'thinking', thinking: '', signature: '' }, [
        { type: 'thinking_delta', thinking: 'Use get_weather.' },
        { type: 'signature_delta', signature: 'c2lnLTI=' },
      ]),
      ...block(3, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }, [
        { type: 'input_json_delta', partial_json: '{"city":"Lisbon"}' },
      ]),
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } }),
      ev('message_stop'),
    ],
    true,
  );
  const thinking = { type: 'enabled', budget_tokens: 1024 };

  it('sends the thinking blocks back in the order they came, between the text and the tool_use', async () => {
    await start();
    server.enqueue({ rawSse: interleaved }, 'Lisbon: 21 °C.');
    const events = await run(
      { model: 'anthropic/claude-test', messages: [user], thinking } as ChatRequest,
      {},
    );
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    expect(second().messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Lisbon needs a lookup.', signature: 'c2lnLTE=' },
        { type: 'text', text: 'Let me check.' },
        { type: 'thinking', thinking: 'Use get_weather.', signature: 'c2lnLTI=' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Lisbon' } },
      ],
    });
  });

  it('thinking switched on after a step without it is left out for the rest of the turn', async () => {
    await start();
    server.enqueue(
      { toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: { city: 'Lisbon' } }] },
      'Lisbon: 21 °C.',
    );
    // Step 1 without thinking, step 2 asks for it: one assistant turn would change thinking mode.
    const events = await run(
      { model: 'anthropic/claude-test', messages: [user] },
      {
        prepareStep: ({ step }) => (step === 2 ? ({ thinking } as Partial<ChatRequest>) : undefined),
      },
    );
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    const body = second();
    expect(body).not.toHaveProperty('thinking');
    // No budget to make room for: the default max_tokens.
    expect(body.max_tokens).toBe(4096);
  });
});

describe('toolLoop on Gemini with thought signatures', () => {
  it('sends a text part’s signature back on that text, the call’s on the call (Gemini 3)', async () => {
    await start();
    const head = { responseId: 'resp-g1', modelVersion: 'gemini-3-test' };
    const candidate = (parts: object[], finish?: string) => ({
      candidates: [{ content: { role: 'model', parts }, index: 0, ...(finish && { finishReason: finish }) }],
      ...head,
    });
    server.enqueue(
      {
        rawSse: sse([
          candidate([{ text: 'Let me ' }]),
          candidate([{ text: 'check.', thoughtSignature: 'dGV4dC1zaWc=' }]),
          candidate(
            [
              {
                functionCall: { id: 'fc-1', name: 'get_weather', args: { city: 'Lisbon' } },
                thoughtSignature: 'Y2FsbC1zaWc=',
              },
            ],
            'STOP',
          ),
        ]),
        headers: { 'content-type': 'text/event-stream' },
      },
      'Lisbon: 21 °C.',
    );
    const events = await run({ model: 'gemini/gemini-3-test', messages: [user] });
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    expect(second().contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Let me check.', thoughtSignature: 'dGV4dC1zaWc=' },
        {
          functionCall: { id: 'fc-1', name: 'get_weather', args: { city: 'Lisbon' } },
          thoughtSignature: 'Y2FsbC1zaWc=',
        },
      ],
    });
  });

  it('a Gemini 3 loop on the mock server’s own answers keeps the signature it was given', async () => {
    await start();
    server.enqueue(
      { toolCalls: [{ id: 'fc-1', name: 'get_weather', arguments: { city: 'Lisbon' } }] },
      'Lisbon: 21 °C.',
    );
    const events = await run({ model: 'gemini/gemini-3-test', messages: [user] });
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    expect(second().contents[1].parts[0].thoughtSignature).toBe(MOCK_THOUGHT_SIGNATURE);
  });
});
