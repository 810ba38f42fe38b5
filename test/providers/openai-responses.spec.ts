/**
 * OpenAI Responses API provider over real HTTP: our own streams, written from the documented event
 * shapes (responses-streaming reference), replayed split at seeded-random byte boundaries, merged
 * with accumulateChunks and compared whole.
 */
import { firstValueFrom, lastValueFrom } from 'rxjs';
import {
  BadRequestError,
  QuotaExceededError,
  RateLimitError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  complete,
  stream,
  type ChatCompletion,
  type ChatRequest,
} from '../../src';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const KEY = 'sk-test-responses-0123456789abcdef';
const server = new ReplayServer();
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());
const opts = () => ({ baseURL: server.url, apiKey: KEY });
const REQ: ChatRequest = { model: 'openai-responses/gpt-test', messages: [{ role: 'user', content: 'hi' }] };

let seq = 0;
const ev = (type: string, data: object = {}) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
const response = (extra: object = {}) => ({
  id: 'resp_own1',
  object: 'response',
  created_at: 1_760_000_000,
  model: 'gpt-test-2025',
  status: 'in_progress',
  output: [],
  usage: null,
  ...extra,
});
const USAGE = {
  input_tokens: 12,
  input_tokens_details: { cached_tokens: 4 },
  output_tokens: 30,
  output_tokens_details: { reasoning_tokens: 16 },
  total_tokens: 42,
};
const created =
  ev('response.created', { response: response() }) + ev('response.in_progress', { response: response() });
const message = (index: number, parts: string[]) =>
  ev('response.output_item.added', {
    output_index: index,
    item: { id: `msg_${index}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
  }) +
  ev('response.content_part.added', {
    item_id: `msg_${index}`,
    output_index: index,
    content_index: 0,
    part: { type: 'output_text', text: '', annotations: [] },
  }) +
  parts
    .map((delta) =>
      ev('response.output_text.delta', {
        item_id: `msg_${index}`,
        output_index: index,
        content_index: 0,
        delta,
      }),
    )
    .join('') +
  ev('response.output_text.done', {
    item_id: `msg_${index}`,
    output_index: index,
    content_index: 0,
    text: parts.join(''),
  }) +
  ev('response.output_item.done', {
    output_index: index,
    item: { id: `msg_${index}`, type: 'message', status: 'completed' },
  });
const reasoning = (index: number, parts: string[]) =>
  ev('response.output_item.added', {
    output_index: index,
    item: { id: `rs_${index}`, type: 'reasoning', summary: [] },
  }) +
  parts
    .map((delta) =>
      ev('response.reasoning_summary_text.delta', {
        item_id: `rs_${index}`,
        output_index: index,
        summary_index: 0,
        delta,
      }),
    )
    .join('') +
  ev('response.output_item.done', {
    output_index: index,
    item: {
      id: `rs_${index}`,
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: parts.join('') }],
      encrypted_content: 'gAAAA-enc',
    },
  });
const call = (index: number, callId: string, name: string, args: string[]) =>
  ev('response.output_item.added', {
    output_index: index,
    item: {
      id: `fc_${index}`,
      type: 'function_call',
      status: 'in_progress',
      call_id: callId,
      name,
      arguments: '',
    },
  }) +
  args
    .map((delta) =>
      ev('response.function_call_arguments.delta', { item_id: `fc_${index}`, output_index: index, delta }),
    )
    .join('') +
  ev('response.function_call_arguments.done', {
    item_id: `fc_${index}`,
    output_index: index,
    arguments: args.join(''),
  }) +
  ev('response.output_item.done', {
    output_index: index,
    item: {
      id: `fc_${index}`,
      type: 'function_call',
      status: 'completed',
      call_id: callId,
      name,
      arguments: args.join(''),
    },
  });
const completed = ev('response.completed', { response: response({ status: 'completed', usage: USAGE }) });

const expected = (
  message: ChatCompletion['choices'][number]['message'],
  finish: string,
  raw: string,
): ChatCompletion => ({
  id: 'resp_own1',
  object: 'chat.completion',
  created: 1_760_000_000,
  model: 'gpt-test-2025',
  choices: [{ index: 0, message, finish_reason: finish as 'stop', raw_finish_reason: raw }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 30,
    total_tokens: 42,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: { reasoning_tokens: 16 },
  },
});
const msg = (extra: object) => ({
  role: 'assistant' as const,
  content: null,
  refusal: null,
  reasoning: null,
  ...extra,
});

const CASES: [string, string, ChatCompletion][] = [
  [
    'text',
    created + message(0, ['Grüße ', '🌸 ', 'aus Köln']) + completed,
    expected(msg({ content: 'Grüße 🌸 aus Köln' }), 'stop', 'completed'),
  ],
  [
    'reasoning then text',
    created + reasoning(0, ['**Plan** ', 'add 2+2']) + message(1, ['4']) + completed,
    expected(
      msg({
        content: '4',
        reasoning: '**Plan** add 2+2',
        reasoning_details: [
          { index: 0, type: 'openai.reasoning', id: 'rs_0', text: '**Plan** add 2+2', data: 'gAAAA-enc' },
        ],
      }),
      'stop',
      'completed',
    ),
  ],
  [
    'one tool call',
    created + call(0, 'call_A', 'weather', ['{"city":', '"Zürich"}']) + completed,
    expected(
      msg({
        tool_calls: [
          { id: 'call_A', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } },
        ],
      }),
      'tool_calls',
      'completed',
    ),
  ],
  [
    'two tool calls after text',
    created +
      message(0, ['Checking.']) +
      call(1, 'call_A', 'weather', ['{"city":"Bern"}']) +
      call(2, 'call_B', 'weather', ['{"city":', '"Oslo"}']) +
      completed,
    expected(
      msg({
        content: 'Checking.',
        tool_calls: [
          { id: 'call_A', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
          { id: 'call_B', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
        ],
      }),
      'tool_calls',
      'completed',
    ),
  ],
  [
    'length (max_output_tokens)',
    created +
      message(0, ['Once upon']) +
      ev('response.incomplete', {
        response: response({
          status: 'incomplete',
          incomplete_details: { reason: 'max_output_tokens' },
          usage: USAGE,
        }),
      }),
    expected(msg({ content: 'Once upon' }), 'length', 'max_output_tokens'),
  ],
  [
    'content filter',
    created +
      message(0, ['Well']) +
      ev('response.incomplete', {
        response: response({
          status: 'incomplete',
          incomplete_details: { reason: 'content_filter' },
          usage: USAGE,
        }),
      }),
    expected(msg({ content: 'Well' }), 'content_filter', 'content_filter'),
  ],
  [
    'refusal',
    created +
      ev('response.refusal.delta', {
        item_id: 'msg_0',
        output_index: 0,
        content_index: 0,
        delta: "I can't ",
      }) +
      ev('response.refusal.delta', { item_id: 'msg_0', output_index: 0, content_index: 0, delta: 'help.' }) +
      completed,
    expected(msg({ refusal: "I can't help." }), 'stop', 'completed'),
  ],
];

describe('openai-responses stream(): own streams split at random byte boundaries', () => {
  it.each(CASES)('%s', async (_, bytes, want) => {
    for (const seed of [1, 2, 3, 4]) {
      server.enqueue(bytes, { seed, pieces: 3 + seed * 17 });
      const merged = await firstValueFrom(stream(REQ, opts()).pipe(accumulateChunks()));
      expect(merged).toEqual(want);
    }
    expect(server.requests[0].url).toBe('/v1/responses');
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
    expect(server.requests[0].body.stream).toBe(true);
  });

  it('ends with the typed error of an error event mid-stream, keeping what arrived', async () => {
    server.enqueue(
      created +
        message(0, ['Half']).split('event: response.output_text.done')[0] +
        ev('error', { code: 'rate_limit_exceeded', message: 'Slow down', param: null }),
    );
    const { error } = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as Error).message).toContain('Slow down');
    expect((error as { partial?: ChatCompletion }).partial?.choices[0].message.content).toBe('Half');
  });

  it('reads an error event that nests its fields (as the live API sends a quota error): message and code kept, not retryable', async () => {
    server.enqueue(
      created +
        ev('error', {
          error: {
            type: 'insufficient_quota',
            code: 'insufficient_quota',
            message: 'You exceeded your current quota, please check your plan and billing details.',
            param: null,
          },
        }),
    );
    const { values, error } = await collect(stream(REQ, opts()));
    expect(values.length).toBe(1);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'insufficient_quota', retryable: false });
    expect((error as Error).message).toBe(
      'The provider sent an error inside the stream (insufficient_quota): You exceeded your current quota, please check your plan and billing details.',
    );
    expect((error as Error).message).not.toContain('unknown error');
  });

  it.each([
    ['flat', { code: 'rate_limit_exceeded', message: 'Slow down', param: null }],
    ['nested', { error: { type: 'requests', code: 'rate_limit_exceeded', message: 'Slow down' } }],
  ])('reads a %s rate-limit error event the same way: a retryable RateLimitError', async (_shape, fields) => {
    server.enqueue(created + ev('error', fields));
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).not.toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ status: 429, retryable: true });
    expect((error as Error).message).toContain(': Slow down');
  });

  it('reads a nested server error without a code by its type, and a flat one without a code as a 500', async () => {
    server.enqueue(created + ev('error', { error: { type: 'invalid_request_error', message: 'Bad input' } }));
    const nested = (await collect(stream(REQ, opts()))).error;
    expect(nested).toBeInstanceOf(BadRequestError);
    expect(nested).toMatchObject({ status: 400, code: 'invalid_request_error' });
    expect((nested as Error).message).toContain('Bad input');
    server.enqueue(created + ev('error', { code: null, message: 'Something broke' }));
    const flat = (await collect(stream(REQ, opts()))).error;
    expect(flat).toBeInstanceOf(ServerError);
    expect(flat).toMatchObject({ status: 500, code: undefined, retryable: true });
    expect((flat as Error).message).toContain('Something broke');
  });

  it('maps a response.failed quota code through the shared table (not a retryable 500)', async () => {
    server.enqueue(
      created +
        ev('response.failed', {
          response: response({
            status: 'failed',
            error: { code: 'insufficient_quota', message: 'No credit' },
          }),
        }),
    );
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ status: 429, retryable: false });
  });

  it('ends response.failed with the typed error its code implies', async () => {
    server.enqueue(
      created +
        ev('response.failed', {
          response: response({ status: 'failed', error: { code: 'server_error', message: 'Boom' } }),
        }),
    );
    const failed = await collect(stream(REQ, opts()));
    expect(failed.error).toBeInstanceOf(ServerError);
    expect((failed.error as ServerError).retryable).toBe(true);
    server.enqueue(
      created +
        ev('response.failed', {
          response: response({ status: 'failed', error: { code: 'invalid_prompt', message: 'No' } }),
        }),
    );
    expect((await collect(stream(REQ, opts()))).error).toBeInstanceOf(BadRequestError);
  });

  it.each([
    [
      'a non-string text delta',
      ev('response.output_text.delta', { item_id: 'm', output_index: 0, delta: 7 }),
    ],
    [
      'a function_call item without a name',
      ev('response.output_item.added', { output_index: 0, item: { type: 'function_call', call_id: 'c' } }),
    ],
    [
      'a non-string arguments delta',
      ev('response.function_call_arguments.delta', { item_id: 'fc', output_index: 0, delta: {} }),
    ],
    ['an event that is not an object', 'event: x\ndata: [1,2]\n\n'],
  ])('ends %s with a StreamParseError', async (_, bad) => {
    server.enqueue(created + bad + completed);
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(StreamParseError);
  });

  it('is cut (StreamCutError) when the body ends before a terminal event', async () => {
    server.enqueue(created + message(0, ['abc']));
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(StreamCutError);
  });
});

describe('openai-responses request body', () => {
  const whole = () => created + message(0, ['ok']) + completed;
  const sent = async (request: ChatRequest) => {
    server.enqueue(whole());
    const { error } = await collect(stream(request, opts()));
    expect(error).toBeUndefined();
    return server.requests[server.requests.length - 1].body;
  };

  it('maps a multi-turn conversation with two parallel calls, their results, an image and tools', async () => {
    const body = await sent({
      model: 'openai-responses/gpt-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather here?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'call_A', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
            { id: 'call_B', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_B', content: '{"temp":1}' },
        { role: 'tool', tool_call_id: 'call_A', content: '{"temp":3}' },
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
      tool_choice: { type: 'function', function: { name: 'weather' } },
      max_tokens: 300,
      temperature: 0.2,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'w', schema: { type: 'object' }, strict: true },
      },
      reasoning_effort: 'low',
    } as ChatRequest);
    expect(body).toEqual({
      model: 'gpt-test',
      instructions: 'Be brief.\n\nUse tools.',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'Weather here?' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0K', detail: 'low' },
          ],
        },
        { type: 'message', role: 'assistant', content: 'Checking.' },
        { type: 'function_call', call_id: 'call_A', name: 'weather', arguments: '{"city":"Bern"}' },
        { type: 'function_call', call_id: 'call_B', name: 'weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_B', output: '{"temp":1}' },
        { type: 'function_call_output', call_id: 'call_A', output: '{"temp":3}' },
      ],
      tools: [
        {
          type: 'function',
          name: 'weather',
          description: 'Weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          strict: false,
        },
      ],
      tool_choice: { type: 'function', name: 'weather' },
      max_output_tokens: 300,
      temperature: 0.2,
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true } },
      stream: true,
    });
  });

  it('reads the same key and base URL as openai (OPENAI_API_KEY, OPENAI_BASE_URL)', async () => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    process.env.OPENAI_API_KEY = 'sk-test-env-key-0123456789';
    process.env.OPENAI_BASE_URL = server.url;
    try {
      server.enqueue(whole());
      const { completed } = await collect(stream(REQ));
      expect(completed).toBe(true);
    } finally {
      for (const [k, v] of [
        ['OPENAI_API_KEY', saved.key],
        ['OPENAI_BASE_URL', saved.url],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test-env-key-0123456789');
  });

  it('sends the reasoning item of a thinking + tools turn back before its call (two turns)', async () => {
    const messages: ChatRequest['messages'] = [{ role: 'user', content: 'Weather in Bern?' }];
    server.enqueue(
      created +
        reasoning(0, ['Need weather.']) +
        call(1, 'call_A', 'weather', ['{"city":"Bern"}']) +
        completed,
    );
    const first = await firstValueFrom(stream({ ...REQ, messages }, opts()).pipe(accumulateChunks()));
    messages.push(first.choices[0].message as (typeof messages)[number]);
    messages.push({ role: 'tool', tool_call_id: 'call_A', content: '{"temp":3}' });
    await sent({ ...REQ, messages, include: ['reasoning.encrypted_content'], store: false } as ChatRequest);
    const body = server.requests[1].body;
    expect(body.input).toEqual([
      { type: 'message', role: 'user', content: 'Weather in Bern?' },
      {
        type: 'reasoning',
        id: 'rs_0',
        summary: [{ type: 'summary_text', text: 'Need weather.' }],
        encrypted_content: 'gAAAA-enc',
      },
      { type: 'function_call', call_id: 'call_A', name: 'weather', arguments: '{"city":"Bern"}' },
      { type: 'function_call_output', call_id: 'call_A', output: '{"temp":3}' },
    ]);
    expect(body.include).toEqual(['reasoning.encrypted_content']);
    expect(body.store).toBe(false);
  });

  it('refuses a request with no input (only system text) before sending, unless it continues a stored response', async () => {
    const systemOnly: ChatRequest = { ...REQ, messages: [{ role: 'system', content: 'Be brief.' }] };
    const { error } = await collect(stream(systemOnly, opts()));
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).issues).toEqual([
      {
        path: ['messages'],
        message: expect.stringContaining('at least one user, assistant or tool message'),
      },
    ]);
    expect(server.requests).toHaveLength(0);
    server.enqueue(created + ev('response.completed', { response: response({ status: 'completed' }) }));
    const continued = await collect(
      stream({ ...systemOnly, previous_response_id: 'resp_prev' } as ChatRequest, opts()),
    );
    expect(continued.error).toBeUndefined();
    expect(server.requests[0].body).toMatchObject({
      input: [],
      instructions: 'Be brief.',
      previous_response_id: 'resp_prev',
    });
  });

  it('rejects n > 1 before sending', async () => {
    const { error } = await collect(stream({ ...REQ, n: 2 }, opts()));
    expect(error).toBeInstanceOf(RequestValidationError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('openai-responses complete()', () => {
  it('uses the non-streaming call and returns the same ChatCompletion shape', async () => {
    server.enqueueResponse({
      headers: { 'content-type': 'application/json' },
      pieces: [
        Buffer.from(
          JSON.stringify(
            response({
              status: 'completed',
              usage: USAGE,
              output: [
                { id: 'rs_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Think.' }] },
                {
                  id: 'msg_1',
                  type: 'message',
                  role: 'assistant',
                  content: [{ type: 'output_text', text: 'Calling.', annotations: [] }],
                },
                {
                  id: 'fc_2',
                  type: 'function_call',
                  call_id: 'call_A',
                  name: 'weather',
                  arguments: '{"city":"Bern"}',
                },
              ],
            }),
          ),
        ),
      ],
    });
    const result = await lastValueFrom(complete(REQ, opts()));
    expect(server.requests[0].body.stream).toBeUndefined();
    expect(result).toEqual(
      expected(
        {
          role: 'assistant',
          content: 'Calling.',
          reasoning: 'Think.',
          reasoning_details: [{ index: 0, type: 'openai.reasoning', id: 'rs_0', text: 'Think.' }],
          tool_calls: [
            { id: 'call_A', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
          ],
        },
        'tool_calls',
        'completed',
      ),
    );
  });
});
