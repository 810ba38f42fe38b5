/**
 * Anthropic, as its API expects (issue 13): the natural thinking + tools loop over two turns, prompt
 * caching marks, structured output and values Anthropic rejects. Our own SSE bytes, over real HTTP.
 */
import { firstValueFrom } from 'rxjs';
import { RequestValidationError, stream, type ChatMessage, type ChatRequest } from '../../src';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const server = new ReplayServer();
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());
const opts = () => ({ baseURL: server.url, apiKey: 'sk-ant-test-0123456789abcdef' });

const ev = (data: { type: string; [k: string]: unknown }) =>
  `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
const block = (index: number, content_block: object) =>
  ev({ type: 'content_block_start', index, content_block });
const delta = (index: number, d: object) => ev({ type: 'content_block_delta', index, delta: d });
const stop = (index: number) => ev({ type: 'content_block_stop', index });
const start = ev({
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-own',
    content: [],
    usage: { input_tokens: 5, output_tokens: 1 },
  },
});
const finish = (reason: string) =>
  ev({ type: 'message_delta', delta: { stop_reason: reason }, usage: { output_tokens: 9 } }) +
  ev({ type: 'message_stop' });

/** Turn 1: thinking (signed), redacted thinking, then two parallel tool calls. */
const TURN_1 =
  start +
  block(0, { type: 'thinking', thinking: '', signature: '' }) +
  delta(0, { type: 'thinking_delta', thinking: 'Two cities, ' }) +
  delta(0, { type: 'thinking_delta', thinking: 'two calls.' }) +
  delta(0, { type: 'signature_delta', signature: 'EqQBCgIYAhIM' }) +
  stop(0) +
  block(1, { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va' }) +
  stop(1) +
  block(2, { type: 'tool_use', id: 'toolu_01', name: 'weather', input: {} }) +
  delta(2, { type: 'input_json_delta', partial_json: '{"city":' }) +
  delta(2, { type: 'input_json_delta', partial_json: '"Bern"}' }) +
  stop(2) +
  block(3, { type: 'tool_use', id: 'toolu_02', name: 'weather', input: {} }) +
  delta(3, { type: 'input_json_delta', partial_json: '{"city":"Oslo"}' }) +
  stop(3) +
  finish('tool_use');
const TURN_2 =
  start +
  block(0, { type: 'text', text: '' }) +
  delta(0, { type: 'text_delta', text: 'Bern 3°, Oslo 1°.' }) +
  stop(0) +
  finish('end_turn');

const TOOLS: ChatRequest['tools'] = [
  {
    type: 'function',
    function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    cache_control: { type: 'ephemeral' },
  },
];
const THINKING = { thinking: { type: 'enabled', budget_tokens: 2000 } };

describe('anthropic: thinking + tools over two turns (the natural loop)', () => {
  it('sends the accumulated assistant message back with its signed and redacted thinking blocks first', async () => {
    const messages: ChatMessage[] = [
      {
        role: 'system',
        content: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      },
      { role: 'user', content: 'Weather in Bern and Oslo?' },
    ];
    const request = (): ChatRequest => ({
      model: 'anthropic/claude-test',
      messages,
      tools: TOOLS,
      ...THINKING,
    });
    server.enqueue(TURN_1, { seed: 11, pieces: 60 });
    const first = await firstValueFrom(stream(request(), opts()).pipe(accumulateChunks()));
    const assistant = first.choices[0].message;
    // The user's loop: push the message as it came, answer each call (out of order), call again.
    messages.push(assistant as ChatMessage);
    messages.push({ role: 'tool', tool_call_id: 'toolu_02', content: '{"temp":1}' });
    messages.push({ role: 'tool', tool_call_id: 'toolu_01', content: '{"temp":3}' });
    server.enqueue(TURN_2);
    const second = await firstValueFrom(stream(request(), opts()).pipe(accumulateChunks()));
    expect(second.choices[0].message.content).toBe('Bern 3°, Oslo 1°.');

    expect(server.requests[1].body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Bern and Oslo?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'EqQBCgIYAhIM' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va' },
            { type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Bern' } },
            { type: 'tool_use', id: 'toolu_02', name: 'weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_02', content: '{"temp":1}' },
            { type: 'tool_result', tool_use_id: 'toolu_01', content: '{"temp":3}' },
          ],
        },
      ],
      tools: [
        {
          name: 'weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
          cache_control: { type: 'ephemeral' },
        },
      ],
      thinking: { type: 'enabled', budget_tokens: 2000 },
      stream: true,
    });
  });
});

describe('anthropic request body', () => {
  const whole =
    start +
    block(0, { type: 'text', text: '' }) +
    delta(0, { type: 'text_delta', text: '{}' }) +
    stop(0) +
    finish('end_turn');
  const sent = async (request: Partial<ChatRequest> & object) => {
    server.enqueue(whole);
    const { error } = await collect(
      stream(
        {
          model: 'anthropic/claude-test',
          messages: [{ role: 'user', content: 'hi' }],
          ...request,
        } as ChatRequest,
        opts(),
      ),
    );
    expect(error).toBeUndefined();
    return server.requests[server.requests.length - 1].body;
  };

  it('keeps cache_control on user text and image parts', async () => {
    const body = await sent({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Long document…', cache_control: { type: 'ephemeral', ttl: '1h' } },
            {
              type: 'image_url',
              image_url: { url: 'data:image/png;base64,iVBORw0K' },
              cache_control: { type: 'ephemeral' },
            },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Long document…', cache_control: { type: 'ephemeral', ttl: '1h' } },
          {
            type: 'image',
            source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' },
            cache_control: { type: 'ephemeral' },
          },
        ],
      },
    ]);
  });

  it('maps response_format json_schema to output_config.format', async () => {
    const schema = {
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    };
    const body = await sent({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    expect(body.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(body.response_format).toBeUndefined();
  });

  it('merges a caller’s output_config with the format, and marks strict tools', async () => {
    const schema = { type: 'object', properties: {}, additionalProperties: false };
    const request = {
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
      output_config: { effort: 'low' },
      tools: [{ type: 'function', function: { name: 'f', parameters: schema, strict: true } }],
    };
    const body = await sent(request as object);
    expect(body.output_config).toEqual({ effort: 'low', format: { type: 'json_schema', schema } });
    expect(body.tools).toEqual([{ name: 'f', input_schema: schema, strict: true }]);
    expect(request.output_config).toEqual({ effort: 'low' }); // the caller's request is not changed
  });

  it('chooses a max_tokens above a thinking budget larger than the default', async () => {
    const body = await sent({ thinking: { type: 'enabled', budget_tokens: 10_000 } } as object);
    expect(body.max_tokens).toBe(10_000 + 4096);
  });

  it.each([
    ['temperature above 1', { temperature: 1.5 }, 'temperature'],
    ['json_object without a schema', { response_format: { type: 'json_object' } }, 'response_format'],
    [
      'a budget at or above max_tokens',
      { max_tokens: 1000, thinking: { type: 'enabled', budget_tokens: 1000 } },
      'budget_tokens',
    ],
  ])('fails before sending on %s', async (_, extra, word) => {
    const { error } = await collect(
      stream(
        {
          model: 'anthropic/claude-test',
          messages: [{ role: 'user', content: 'hi' }],
          ...extra,
        } as ChatRequest,
        opts(),
      ),
    );
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as Error).message).toContain(word);
    expect(server.requests).toHaveLength(0);
  });
});
