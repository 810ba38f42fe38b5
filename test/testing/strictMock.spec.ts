/**
 * The strict mock server (the default) refuses what each provider's real API refuses, with that
 * provider's own status and error body; the closest valid request passes; `strict: false` accepts
 * them all. Final assistant messages are continued only the way the imitated server continues them.
 */
import { Agent, request } from 'undici';
import { BadRequestError, stream } from '../../src';
import { createMockServer, type MockServer, type MockServerOptions } from '../../src/testing';
import { collect } from '../helpers/collect';

const ANTHROPIC = '/messages';
const GEMINI = '/models/m:generateContent';
const GEMINI3 = '/models/gemini-3-pro-preview:generateContent';
const CHAT = '/chat/completions';
const RESPONSES = '/responses';

const anthropicError = (message: string) => ({
  type: 'error',
  error: { type: 'invalid_request_error', message },
});
const geminiError = (message: string) => ({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } });
const openAIError = (message: string, param: string | null, code: string | null = null) => ({
  error: { message, type: 'invalid_request_error', param, code },
});

const user = (content: unknown = 'Hi') => ({ role: 'user', content });
const claude = (messages: unknown[], extra: object = {}) => ({
  model: 'claude',
  max_tokens: 1024,
  messages,
  ...extra,
});
const toolUse = (id: string) => ({ type: 'tool_use', id, name: 'weather', input: { city: 'Bern' } });
const toolResult = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: '3°' });
const thinkingBlock = { type: 'thinking', thinking: 'Bern first.', signature: 'c2ln' };
const THINKING = { thinking: { type: 'enabled', budget_tokens: 1024 }, max_tokens: 4096 };
const THINKING_MESSAGE =
  'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

const text = (t: string) => ({ text: t });
const call = (name = 'weather') => ({ functionCall: { name, args: {} } });
const response = (name = 'weather') => ({ functionResponse: { name, response: { temp: 3 } } });
const toolCall = (id: string) => ({
  id,
  type: 'function',
  function: { name: 'weather', arguments: '{}' },
});

interface Case {
  rule: string;
  path: string;
  body: object;
  headers?: Record<string, string>;
  /** The exact error body the real API sends. */
  error: object;
  /** The closest request the real API accepts. */
  valid: object;
  options?: MockServerOptions;
}

const CASES: Case[] = [
  {
    rule: 'Anthropic: temperature above 1',
    path: ANTHROPIC,
    body: claude([user()], { temperature: 1.5 }),
    error: anthropicError('temperature: range: 0..1'),
    valid: claude([user()], { temperature: 1 }),
  },
  {
    rule: 'Anthropic: thinking budget not below max_tokens',
    path: ANTHROPIC,
    body: claude([user()], { thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 2048 }),
    error: anthropicError(
      '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
    ),
    valid: claude([user()], { thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 2049 }),
  },
  {
    rule: 'Anthropic: tool_result without its tool_use',
    path: ANTHROPIC,
    body: claude([user(), { role: 'assistant', content: 'Checking.' }, user([toolResult('toolu_1')])]),
    error: anthropicError(
      'messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
    ),
    valid: claude([
      user(),
      { role: 'assistant', content: [toolUse('toolu_1')] },
      user([toolResult('toolu_1')]),
    ]),
  },
  {
    rule: 'Anthropic: tool_use without its tool_result',
    path: ANTHROPIC,
    body: claude([
      user(),
      { role: 'assistant', content: [toolUse('toolu_1'), toolUse('toolu_2')] },
      user([toolResult('toolu_1')]),
    ]),
    error: anthropicError(
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_2. Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    ),
    valid: claude([
      user(),
      { role: 'assistant', content: [toolUse('toolu_1'), toolUse('toolu_2')] },
      user([toolResult('toolu_2'), toolResult('toolu_1')]),
    ]),
  },
  {
    rule: 'Anthropic: tool turn without its thinking block when thinking is on',
    path: ANTHROPIC,
    body: claude(
      [user(), { role: 'assistant', content: [toolUse('toolu_1')] }, user([toolResult('toolu_1')])],
      THINKING,
    ),
    error: anthropicError(THINKING_MESSAGE),
    valid: claude(
      [
        user(),
        { role: 'assistant', content: [thinkingBlock, toolUse('toolu_1')] },
        user([toolResult('toolu_1')]),
      ],
      THINKING,
    ),
  },
  {
    rule: 'Anthropic: final assistant message ending in whitespace',
    path: ANTHROPIC,
    body: claude([user(), { role: 'assistant', content: [{ type: 'text', text: 'The answer is ' }] }]),
    error: anthropicError('messages: final assistant content cannot end with trailing whitespace'),
    valid: claude([user(), { role: 'assistant', content: [{ type: 'text', text: 'The answer is' }] }]),
  },
  {
    rule: 'Gemini: empty contents',
    path: GEMINI,
    body: { contents: [] },
    error: geminiError('* GenerateContentRequest.contents: contents is not specified\n'),
    valid: { contents: [{ role: 'user', parts: [text('Hi')] }] },
  },
  {
    rule: 'Gemini: empty parts and empty text, every problem listed',
    path: GEMINI,
    body: {
      contents: [
        { role: 'user', parts: [text('Hi')] },
        { role: 'model', parts: [] },
        { role: 'user', parts: [text('Go on'), text('')] },
      ],
    },
    error: geminiError(
      "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n* GenerateContentRequest.contents[2].parts[1].data: required oneof field 'data' must have one initialized field\n",
    ),
    valid: {
      contents: [
        { role: 'user', parts: [text('Hi')] },
        { role: 'model', parts: [text('Hello')] },
        { role: 'user', parts: [text('Go on')] },
      ],
    },
  },
  {
    rule: 'Gemini: function response not right after its call',
    path: GEMINI,
    body: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call()] },
        { role: 'user', parts: [text('Well?')] },
        { role: 'user', parts: [response()] },
      ],
    },
    error: geminiError(
      'Please ensure that function response turn comes immediately after a function call turn.',
    ),
    valid: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call()] },
        { role: 'user', parts: [response()] },
      ],
    },
  },
  {
    rule: 'Gemini: fewer function responses than calls',
    path: GEMINI,
    body: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call(), call()] },
        { role: 'user', parts: [response()] },
      ],
    },
    error: geminiError(
      'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
    ),
    valid: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call(), call()] },
        { role: 'user', parts: [response(), response()] },
      ],
    },
  },
  {
    rule: 'OpenAI: tool message without a preceding tool_calls message',
    path: CHAT,
    body: { model: 'm', messages: [user(), { role: 'tool', tool_call_id: 'call_1', content: '3°' }] },
    error: openAIError(
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
      'messages.[1].role',
    ),
    valid: {
      model: 'm',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
      ],
    },
  },
  {
    rule: 'OpenAI: tool message whose id matches no call',
    path: CHAT,
    body: {
      model: 'm',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_9', content: '3°' },
      ],
    },
    error: openAIError(
      "Invalid parameter: 'tool_call_id' of 'call_9' not found in 'tool_calls' of previous message.",
      'messages.[2].tool_call_id',
    ),
    valid: {
      model: 'm',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
      ],
    },
  },
  {
    rule: 'OpenAI: tool_calls not answered for each id',
    path: CHAT,
    body: {
      model: 'm',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1'), toolCall('call_2')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
        user('And?'),
      ],
    },
    error: openAIError(
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_2",
      'messages.[1].role',
    ),
    valid: {
      model: 'm',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1'), toolCall('call_2')] },
        { role: 'tool', tool_call_id: 'call_2', content: '1°' },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
        user('And?'),
      ],
    },
  },
  {
    rule: 'DeepSeek: tool message without a preceding tool_calls message (its own wording)',
    path: CHAT,
    options: { openaiCompat: 'deepseek' },
    body: {
      model: 'deepseek-chat',
      messages: [user(), { role: 'tool', tool_call_id: 'call_1', content: '3°' }],
    },
    error: openAIError(
      "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
      null,
      'invalid_request_error',
    ),
    valid: { model: 'deepseek-chat', messages: [user()] },
  },
  {
    rule: 'DeepSeek: a tool-call turn without its reasoning_content in thinking mode',
    path: CHAT,
    options: { openaiCompat: 'deepseek' },
    body: {
      model: 'deepseek-reasoner',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
      ],
    },
    error: openAIError(
      'The `reasoning_content` in the thinking mode must be passed back to the API.',
      null,
      'invalid_request_error',
    ),
    valid: {
      model: 'deepseek-reasoner',
      messages: [
        user(),
        { role: 'assistant', content: null, reasoning_content: '', tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
      ],
    },
  },
  {
    rule: 'Gemini 3: a function call of the current turn without its thought signature',
    path: GEMINI3,
    body: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call()] },
        { role: 'user', parts: [response()] },
      ],
    },
    error: geminiError(
      'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:weather` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.',
    ),
    valid: {
      contents: [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [{ ...call(), thoughtSignature: 'c2ln' }] },
        { role: 'user', parts: [response()] },
      ],
    },
  },
  {
    rule: 'OpenAI: n above 128',
    path: CHAT,
    body: { model: 'm', messages: [user()], n: 129 },
    error: openAIError(
      "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead.",
      'n',
      'integer_above_max_value',
    ),
    valid: { model: 'm', messages: [user()], n: 128 },
  },
  {
    rule: 'Responses: function_call_output without its call',
    path: RESPONSES,
    body: {
      model: 'm',
      input: [
        { type: 'message', role: 'user', content: 'Weather?' },
        { type: 'function_call_output', call_id: 'call_1', output: '3°' },
      ],
    },
    error: openAIError('No tool call found for function call output with call_id call_1.', 'input'),
    valid: {
      model: 'm',
      input: [
        { type: 'message', role: 'user', content: 'Weather?' },
        { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: '3°' },
      ],
    },
  },
  {
    rule: 'DeepSeek: deepseek-reasoner ending with an assistant message outside prefix mode',
    path: CHAT,
    options: { openaiCompat: 'deepseek' },
    body: { model: 'deepseek-reasoner', messages: [user(), { role: 'assistant', content: 'The' }] },
    error: openAIError(
      'The last message of deepseek-reasoner must be a user message, or an assistant message with prefix mode on (refer to https://api-docs.deepseek.com/guides/chat_prefix_completion).',
      null,
      'invalid_request_error',
    ),
    valid: { model: 'deepseek-reasoner', messages: [user()] },
  },
  {
    rule: 'vLLM: continue_final_message with the default add_generation_prompt',
    path: CHAT,
    options: { openaiCompat: 'vllm' },
    body: {
      model: 'm',
      messages: [user(), { role: 'assistant', content: 'The' }],
      continue_final_message: true,
    },
    error: {
      error: {
        message:
          'continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you want the model to continue the final message, and add_generation_prompt when you want to add a header that will prompt it to start a new assistant message instead.',
        type: 'BadRequestError',
        param: null,
        code: 400,
      },
    },
    valid: {
      model: 'm',
      messages: [user(), { role: 'assistant', content: 'The' }],
      continue_final_message: true,
      add_generation_prompt: false,
    },
  },
  {
    rule: 'vLLM: continue_final_message and add_generation_prompt both true',
    path: CHAT,
    options: { openaiCompat: 'vllm' },
    body: {
      model: 'm',
      messages: [user(), { role: 'assistant', content: 'The' }],
      continue_final_message: true,
      add_generation_prompt: true,
    },
    error: {
      error: {
        message: 'Cannot set both `continue_final_message` and `add_generation_prompt` to True.',
        type: 'BadRequestError',
        param: null,
        code: 400,
      },
    },
    valid: {
      model: 'm',
      messages: [user(), { role: 'assistant', content: 'The' }],
      continue_final_message: true,
      add_generation_prompt: false,
    },
  },
];

const agent = new Agent();
afterAll(() => agent.close());

async function post(server: MockServer, path: string, body: object, headers: Record<string, string> = {}) {
  const res = await request(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

/** Runs `fn` against a fresh server with these options, then closes it. */
async function withServer<T>(options: MockServerOptions, fn: (server: MockServer) => Promise<T>): Promise<T> {
  const server = await createMockServer(options);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

describe('strict mock server: each rule', () => {
  it.each(CASES.map((c) => [c.rule, c] as const))(
    '%s: refused with the provider status and error body, recorded as rejected',
    (_rule, c) =>
      withServer(c.options ?? {}, async (server) => {
        const res = await post(server, c.path, c.body, c.headers);
        expect(res).toEqual({ status: 400, body: c.error });
        expect(server.requests).toHaveLength(1);
        expect(server.requests[0].rejected).toEqual({ status: 400, body: c.error });
        expect(server.requests[0].body).toEqual(c.body);
      }),
  );

  it.each(CASES.map((c) => [c.rule, c] as const))('%s: the closest valid request passes', (_rule, c) =>
    withServer(c.options ?? {}, async (server) => {
      const res = await post(server, c.path, c.valid, c.headers);
      expect(res.status).toBe(200);
      expect(server.requests[0].rejected).toBeUndefined();
    }),
  );

  it('strict: false accepts every refused request', () =>
    Promise.all(
      CASES.map((c) =>
        withServer({ ...c.options, strict: false }, async (server) => {
          const res = await post(server, c.path, c.body, c.headers);
          expect([c.rule, res.status]).toEqual([c.rule, 200]);
          expect(server.requests[0].rejected).toBeUndefined();
        }),
      ),
    ));
});

describe('strict mock server: details of the rules', () => {
  it('Anthropic: interleaved thinking (beta header) lets the budget reach max_tokens', () =>
    withServer({}, async (server) => {
      const body = claude([user()], { thinking: { type: 'enabled', budget_tokens: 4096 }, max_tokens: 2048 });
      expect((await post(server, ANTHROPIC, body)).status).toBe(400);
      const res = await post(server, ANTHROPIC, body, {
        'anthropic-beta': 'interleaved-thinking-2025-05-14',
      });
      expect(res.status).toBe(200);
    }));

  it('Anthropic: a later step of a thinking tool loop needs no thinking block, the first one does', () =>
    withServer({}, async (server) => {
      const loop = (first: object[]) =>
        claude(
          [
            user(),
            { role: 'assistant', content: first },
            user([toolResult('toolu_1')]),
            { role: 'assistant', content: [toolUse('toolu_2')] },
            user([toolResult('toolu_2')]),
          ],
          THINKING,
        );
      expect((await post(server, ANTHROPIC, loop([thinkingBlock, toolUse('toolu_1')]))).status).toBe(200);
      expect(await post(server, ANTHROPIC, loop([toolUse('toolu_1')]))).toEqual({
        status: 400,
        body: anthropicError(THINKING_MESSAGE),
      });
    }));

  it('Anthropic: a new user turn starts a new assistant turn that needs no earlier thinking block', () =>
    withServer({}, async (server) => {
      const body = claude(
        [
          user(),
          { role: 'assistant', content: [toolUse('toolu_1')] },
          user([toolResult('toolu_1')]),
          { role: 'assistant', content: 'Done.' },
          user('Thanks. Now Oslo?'),
        ],
        THINKING,
      );
      expect((await post(server, ANTHROPIC, body)).status).toBe(200);
    }));

  it('Anthropic: adaptive thinking needs no thinking block in a tool turn (the model may skip thinking)', () =>
    withServer({}, async (server) => {
      const body = claude(
        [user(), { role: 'assistant', content: [toolUse('toolu_1')] }, user([toolResult('toolu_1')])],
        { thinking: { type: 'adaptive' } },
      );
      expect((await post(server, ANTHROPIC, body)).status).toBe(200);
    }));

  it('DeepSeek: reasoning_content is checked only in thinking mode, on every tool-call turn', () =>
    withServer({ openaiCompat: 'deepseek' }, async (server) => {
      const turns = [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
        { role: 'tool', tool_call_id: 'call_1', content: '3°' },
        { role: 'assistant', content: 'Done.' },
        user('And tomorrow?'),
      ];
      const status = async (model: string, extra: object = {}) =>
        (await post(server, CHAT, { model, messages: turns, ...extra })).status;
      // A tool turn of an earlier user turn still needs it (V4 thinking is on by default).
      expect(await status('deepseek-reasoner')).toBe(400);
      expect(await status('deepseek-v4-pro')).toBe(400);
      expect(await status('deepseek-chat', { thinking: { type: 'enabled' } })).toBe(400);
      expect(await status('deepseek-chat')).toBe(200);
      expect(await status('deepseek-v4-flash', { thinking: { type: 'disabled' } })).toBe(200);
    }));

  it('DeepSeek’s reasoning_content rule is not OpenAI’s', () =>
    withServer({}, async (server) => {
      const res = await post(server, CHAT, {
        model: 'deepseek-reasoner',
        messages: [
          user(),
          { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
          { role: 'tool', tool_call_id: 'call_1', content: '3°' },
        ],
      });
      expect(res.status).toBe(200);
    }));

  it('Gemini 3: only the current turn is checked, only the first of parallel calls, not Gemini 2.5', () =>
    withServer({}, async (server) => {
      const earlier = [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call()] },
        { role: 'user', parts: [response()] },
        { role: 'model', parts: [text('3°.')] },
        { role: 'user', parts: [text('And tomorrow?')] },
      ];
      expect((await post(server, GEMINI3, { contents: earlier })).status).toBe(200);
      const parallel = [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [{ ...call(), thoughtSignature: 'c2ln' }, call()] },
        { role: 'user', parts: [response(), response()] },
      ];
      expect((await post(server, GEMINI3, { contents: parallel })).status).toBe(200);
      const unsigned = [
        { role: 'user', parts: [text('Weather?')] },
        { role: 'model', parts: [call()] },
        { role: 'user', parts: [response()] },
      ];
      expect(
        (await post(server, '/models/gemini-2.5-flash:generateContent', { contents: unsigned })).status,
      ).toBe(200);
    }));

  it('OpenAI: a final assistant tool_calls message without results is refused too', () =>
    withServer({}, async (server) => {
      const res = await post(server, CHAT, {
        model: 'm',
        messages: [user(), { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] }],
      });
      expect(res.body.error.message).toMatch(/did not have response messages: call_1$/);
    }));

  it('vLLM accepts unpaired tool messages (it renders whatever its chat template takes)', () =>
    withServer({ openaiCompat: 'vllm' }, async (server) => {
      const res = await post(server, CHAT, {
        model: 'm',
        messages: [user(), { role: 'tool', tool_call_id: 'call_1', content: '3°' }],
      });
      expect(res.status).toBe(200);
    }));

  it('Responses: an output whose call is in the stored previous response passes', () =>
    withServer({}, async (server) => {
      const res = await post(server, RESPONSES, {
        model: 'm',
        previous_response_id: 'resp_1',
        input: [{ type: 'function_call_output', call_id: 'call_1', output: '3°' }],
      });
      expect(res.status).toBe(200);
    }));

  it('a refused request still takes its script from the queue: scripts stay one per request', () =>
    withServer({}, async (server) => {
      server.enqueue('first', 'second');
      await post(server, CHAT, { model: 'm', messages: [user()], n: 200 });
      const res = await post(server, CHAT, { model: 'm', messages: [user()] });
      expect(res.body.choices[0].message.content).toBe('second');
    }));

  it('an unknown openaiCompat or a strict that is not a boolean is a TypeError at creation', async () => {
    await expect(createMockServer({ openaiCompat: 'mistral' as never })).rejects.toThrow(TypeError);
    await expect(createMockServer({ strict: 'false' as never })).rejects.toThrow(
      /strict must be true or false/,
    );
  });

  it('reaches a user as a BadRequestError carrying the provider message', () =>
    withServer({}, async (server) => {
      // A tool result whose call is in no assistant message: Anthropic refuses it.
      const result = await collect(
        stream(
          {
            model: 'anthropic/claude',
            messages: [
              { role: 'user', content: 'Hi' },
              { role: 'tool', tool_call_id: 'toolu_lost', content: '3°' },
            ],
          },
          { baseURL: server.url, apiKey: 'sk-test-strict-0123456789' },
        ),
      );
      expect(result.error).toBeInstanceOf(BadRequestError);
      expect((result.error as BadRequestError).status).toBe(400);
      expect((result.error as Error).message).toContain(
        'unexpected `tool_use_id` found in `tool_result` blocks',
      );
    }));
});

describe('strict mock server: continuing a final assistant message', () => {
  const PARTIAL = 'The capital of';
  const REST = ' France is Paris.';
  const chat = (extra: object = {}, last: object = { role: 'assistant', content: PARTIAL }) => ({
    model: 'deepseek-chat',
    messages: [user('Capital of France?'), last],
    ...extra,
  });
  const answer = async (options: MockServerOptions, path: string, body: object) =>
    withServer(options, async (server) => {
      server.enqueue(REST);
      const res = await post(server, path, body);
      expect(res.status).toBe(200);
      return res.body.choices[0].message.content as string;
    });

  it('OpenAI never continues: the fresh answer restates the partial message before the script', async () => {
    expect(await answer({}, CHAT, chat())).toBe(PARTIAL + REST);
  });

  it('DeepSeek continues with prefix: true on the beta path; the script is the continuation', async () => {
    const options: MockServerOptions = { openaiCompat: 'deepseek' };
    const prefixed = { role: 'assistant', content: PARTIAL, prefix: true };
    expect(await answer(options, `/beta${CHAT}`, chat({}, prefixed))).toBe(REST);
    // Without the flag, or off the beta endpoint, a new answer starts.
    expect(await answer(options, `/beta${CHAT}`, chat())).toBe(PARTIAL + REST);
    expect(await answer(options, CHAT, chat({}, prefixed))).toBe(PARTIAL + REST);
    // deepseek-reasoner continues in prefix mode too.
    expect(await answer(options, `/beta${CHAT}`, { ...chat({}, prefixed), model: 'deepseek-reasoner' })).toBe(
      REST,
    );
  });

  it('vLLM continues with continue_final_message and add_generation_prompt: false', async () => {
    const options: MockServerOptions = { openaiCompat: 'vllm' };
    const flags = { continue_final_message: true, add_generation_prompt: false };
    expect(await answer(options, CHAT, chat(flags))).toBe(REST);
    expect(await answer(options, CHAT, chat())).toBe(PARTIAL + REST);
  });

  it('a final user message is answered with the script as it is', async () => {
    expect(await answer({}, CHAT, chat({}, user('Well?')))).toBe(REST);
  });

  it('strict: false answers the script as it is', async () => {
    expect(await answer({ strict: false }, CHAT, chat())).toBe(REST);
  });
});
