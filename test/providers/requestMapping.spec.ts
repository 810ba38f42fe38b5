/**
 * One multi-turn conversation — thinking + tools over two turns, two parallel calls answered out of
 * order, an image, structured output, cache-control marks — sent to OpenAI chat (and Azure, the same
 * body) and Gemini: exactly the body each provider documents. Anthropic, the Responses API and
 * Ollama have theirs in their own spec files.
 */
import { lastValueFrom } from 'rxjs';
import { stream, validateRequest, type ChatMessage, type ChatRequest } from '../../src';
import { toAnthropicBody } from '../../src/providers/anthropic/request';
import { toGeminiBody } from '../../src/providers/gemini/request';
import { toOllamaBody } from '../../src/providers/ollama/request';
import { toResponsesBody } from '../../src/providers/openai-responses/request';
import { toOpenAIBody } from '../../src/providers/openai/request';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const SCHEMA = {
  type: 'object',
  properties: { summary: { type: 'string' } },
  required: ['summary'],
  additionalProperties: false,
};
const TOOLS: ChatRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'weather',
      description: 'Weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
    cache_control: { type: 'ephemeral' },
  },
];
/** What `accumulateChunks` gave back on turn 1 (an Anthropic thinking turn, or Gemini's signed calls), pushed as is. */
const ASSISTANT = {
  role: 'assistant',
  content: null,
  refusal: null,
  reasoning: 'Two cities.',
  reasoning_details: [{ index: 0, type: 'thinking', text: 'Two cities.', signature: 'c2ln' }],
  tool_calls: [
    {
      id: 'call_1',
      type: 'function',
      function: { name: 'weather', arguments: '{"city":"Bern"}' },
      extra_content: { google: { thought_signature: 'R2Vt' } },
    },
    { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
  ],
} as ChatMessage;
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'Weather in Bern and Oslo? Compare with this.' },
      {
        type: 'image_url',
        image_url: { url: 'data:image/png;base64,iVBORw0K' },
        cache_control: { type: 'ephemeral' },
      },
    ],
  },
  ASSISTANT,
  { role: 'tool', tool_call_id: 'call_2', content: '{"temp":1}' },
  { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
];
const REQUEST = (provider: string): ChatRequest => ({
  model: `${provider}/m`,
  messages: MESSAGES,
  tools: TOOLS,
  response_format: { type: 'json_schema', json_schema: { name: 'report', schema: SCHEMA, strict: true } },
  max_tokens: 500,
});

async function sent(provider: string) {
  server.enqueue('{"summary":"ok"}');
  await lastValueFrom(stream(REQUEST(provider), { baseURL: server.url, apiKey: 'sk-test-map-0123456789' }));
  return server.requests[0].body;
}

const OPENAI_BODY = {
  model: 'm',
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Weather in Bern and Oslo? Compare with this.' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'weather', arguments: '{"city":"Bern"}' },
          extra_content: { google: { thought_signature: 'R2Vt' } },
        },
        { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_2', content: '{"temp":1}' },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'weather',
        description: 'Weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ],
  response_format: { type: 'json_schema', json_schema: { name: 'report', schema: SCHEMA, strict: true } },
  max_tokens: 500,
  stream: true,
  stream_options: { include_usage: true },
};

describe('request mapping: the same conversation, each provider’s documented body', () => {
  it('OpenAI chat: the neutral request minus Anthropic-only fields (reasoning, cache_control)', async () => {
    expect(await sent('compat')).toEqual(OPENAI_BODY);
  });

  it('Azure OpenAI: the same body as OpenAI chat', async () => {
    expect(await sent('azure')).toEqual(OPENAI_BODY);
  });

  it('Gemini: contents with the signed call and ids, results paired by id, inline image, JSON Schema as is', async () => {
    expect(await sent('gemini')).toEqual({
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'Weather in Bern and Oslo? Compare with this.' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0K' } },
          ],
        },
        {
          role: 'model',
          parts: [
            {
              functionCall: { id: 'call_1', name: 'weather', args: { city: 'Bern' } },
              thoughtSignature: 'R2Vt',
            },
            { functionCall: { id: 'call_2', name: 'weather', args: { city: 'Oslo' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { id: 'call_2', name: 'weather', response: { temp: 1 } } },
            { functionResponse: { id: 'call_1', name: 'weather', response: { temp: 3 } } },
          ],
        },
      ],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      tools: [
        {
          functionDeclarations: [
            {
              name: 'weather',
              description: 'Weather',
              parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
            },
          ],
        },
      ],
      generationConfig: {
        maxOutputTokens: 500,
        responseMimeType: 'application/json',
        responseJsonSchema: SCHEMA,
      },
    });
  });
});

describe('a gateway’s own reasoning_details (OpenRouter’s reasoning.*)', () => {
  const chunk = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

  it('are merged, pushed back to the gateway as they came, and dropped for Anthropic', async () => {
    const detail = (text: string, extra: object = {}) => ({
      reasoning_details: [
        { type: 'reasoning.text', index: 0, format: 'anthropic-claude-v1', text, ...extra },
      ],
    });
    server.enqueue({
      rawSse:
        chunk({ role: 'assistant', ...detail('Think ') }) +
        chunk(detail('more.', { signature: 'sig-or' })) +
        chunk({ content: 'Done.' }) +
        chunk({}, 'stop') +
        'data: [DONE]\n\n',
      randomSplits: { seed: 7, pieces: 12 },
    });
    const options = { baseURL: server.url, apiKey: 'sk-test-map-0123456789' };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    const merged = await lastValueFrom(
      stream({ model: 'compat/m', messages }, options).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.reasoning_details).toEqual([
      {
        type: 'reasoning.text',
        index: 0,
        format: 'anthropic-claude-v1',
        text: 'Think more.',
        signature: 'sig-or',
      },
    ]);
    messages.push(merged.choices[0].message as ChatMessage, { role: 'user', content: 'Again' });
    server.enqueue('ok', 'ok');
    await lastValueFrom(stream({ model: 'compat/m', messages }, options));
    expect((server.requests[1].body as MockChatBody).messages[1]).toHaveProperty(
      'reasoning_details',
      merged.choices[0].message.reasoning_details,
    );
    await lastValueFrom(stream({ model: 'anthropic/m', messages }, options));
    expect((server.requests[2].body as MockChatBody).messages[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: 'Done.' }],
    });
  });
});

describe('an error tool result (`is_error`, as toolLoop sends it)', () => {
  const request: ChatRequest = {
    model: 'any/m',
    messages: [
      { role: 'user', content: 'Weather in Porto?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Porto"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'Error: no station', is_error: true },
    ],
  };
  const validated = validateRequest(request);

  it('survives validation', () => {
    expect(validated.messages[2]).toEqual(request.messages[2]);
  });

  it('is Anthropic’s tool_result is_error and Gemini’s response.error', () => {
    expect((toAnthropicBody(validated, 'm', true) as any).messages[2].content).toEqual([
      { type: 'tool_result', tool_use_id: 'c1', content: 'Error: no station', is_error: true },
    ]);
    expect((toGeminiBody(validated) as any).contents[2].parts).toEqual([
      { functionResponse: { id: 'c1', name: 'weather', response: { error: 'Error: no station' } } },
    ]);
  });

  it('is the text alone where the wire format has no flag (OpenAI chat, Responses, Ollama)', () => {
    expect((toOpenAIBody(validated, 'm', true) as any).messages[2]).toEqual({
      role: 'tool',
      tool_call_id: 'c1',
      content: 'Error: no station',
    });
    expect((toResponsesBody(validated, 'm', true) as any).input[2]).toEqual({
      type: 'function_call_output',
      call_id: 'c1',
      output: 'Error: no station',
    });
    expect((toOllamaBody(validated, 'm', true) as any).messages[2]).toEqual({
      role: 'tool',
      content: 'Error: no station',
      tool_name: 'weather',
    });
  });
});
