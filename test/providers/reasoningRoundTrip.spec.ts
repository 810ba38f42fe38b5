/**
 * Reasoning that a provider wants back, from its response to its next request body: DeepSeek's
 * `reasoning_content` (every tool-call turn, later user turns included), Anthropic's interleaved
 * thinking blocks in their place and `thinking` left out when it would be switched on mid-turn,
 * Gemini's thought signatures on text parts. Each stays with its own provider.
 */
import type { ChatMessage, ChatRequest, Chunk } from '../../src';
import { toAnthropicBody } from '../../src/providers/anthropic/request';
import { toChatCompletion as anthropicCompletion } from '../../src/providers/anthropic/response';
import { toGeminiBody } from '../../src/providers/gemini/request';
import { toChatCompletion as geminiCompletion } from '../../src/providers/gemini/response';
import { GeminiStreamDecoder } from '../../src/providers/gemini/stream';
import { toOpenAIBody } from '../../src/providers/openai/request';
import { mergeChunks } from '../../operators/accumulateChunks';

type Assistant = Extract<ChatMessage, { role: 'assistant' }>;
const call = (id: string, city = 'Lisbon') => ({
  id,
  type: 'function' as const,
  function: { name: 'weather', arguments: JSON.stringify({ city }) },
});
const request = (messages: ChatMessage[], extra: object = {}) =>
  ({ model: 'p/m', messages, ...extra }) as ChatRequest;

describe('DeepSeek: reasoning goes back as reasoning_content', () => {
  const messages: ChatMessage[] = [
    { role: 'user', content: 'Weather in Lisbon?' },
    { role: 'assistant', content: null, reasoning: 'One lookup.', tool_calls: [call('c1')] },
    { role: 'tool', tool_call_id: 'c1', content: '21' },
    { role: 'assistant', content: 'Lisbon: 21 °C.', reasoning: 'Answer it.' },
    { role: 'user', content: 'And Porto?' },
    // A tool-call turn that came without reasoning (another provider, or thinking off).
    { role: 'assistant', content: null, tool_calls: [call('c2', 'Porto')] },
    { role: 'tool', tool_call_id: 'c2', content: '19' },
  ];

  it('keeps it on every assistant message, earlier user turns included; "" on a tool turn without any', () => {
    const sent = (toOpenAIBody(request(messages), 'deepseek-reasoner', true, true, true) as any).messages;
    expect(sent.map((m: any) => m.reasoning_content)).toEqual([
      undefined,
      'One lookup.',
      undefined,
      'Answer it.',
      undefined,
      '',
      undefined,
    ]);
    expect(sent.some((m: any) => 'reasoning' in m)).toBe(false);
  });

  it('is not sent unless the provider asks for it', () => {
    const sent = (toOpenAIBody(request(messages), 'gpt-test', true) as any).messages;
    expect(sent.some((m: any) => 'reasoning_content' in m || 'reasoning' in m)).toBe(false);
  });
});

describe('Anthropic: interleaved thinking goes back in its place', () => {
  const response = {
    id: 'msg_1',
    model: 'claude-test',
    stop_reason: 'tool_use',
    content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'thinking', thinking: 'Use the tool.', signature: 'c2lnLTE=' },
      { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Lisbon' } },
      { type: 'redacted_thinking', data: 'cmVkYWN0ZWQ=' },
      { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Porto' } },
    ],
  };

  it('a whole response (complete()) goes back block for block', () => {
    const message = anthropicCompletion(response, JSON.stringify(response), 1).choices[0].message;
    expect(message.reasoning_details).toEqual([
      {
        index: 0,
        type: 'thinking',
        text: 'Use the tool.',
        signature: 'c2lnLTE=',
        after: { content: 13, tool_calls: 0 },
      },
      { index: 1, type: 'redacted_thinking', data: 'cmVkYWN0ZWQ=', after: { content: 13, tool_calls: 1 } },
    ]);
    const body = toAnthropicBody(
      request([{ role: 'user', content: 'Weather?' }, message as Assistant]),
      'claude-test',
      false,
    ) as any;
    expect(body.messages[1].content).toEqual(response.content);
  });

  it('a text part cut by a thinking block keeps its cache mark on the last piece', () => {
    const message: Assistant = {
      role: 'assistant',
      content: [{ type: 'text', text: 'AB', cache_control: { type: 'ephemeral' } }],
      reasoning_details: [
        { index: 0, type: 'thinking', text: 't', signature: 's', after: { content: 1, tool_calls: 0 } },
      ],
    };
    const body = toAnthropicBody(request([{ role: 'user', content: 'Hi' }, message]), 'm', false) as any;
    expect(body.messages[1].content).toEqual([
      { type: 'text', text: 'A' },
      { type: 'thinking', thinking: 't', signature: 's' },
      { type: 'text', text: 'B', cache_control: { type: 'ephemeral' } },
    ]);
  });
});

describe('Anthropic: thinking switched on in the middle of an assistant turn', () => {
  const enabled = { thinking: { type: 'enabled', budget_tokens: 8192 } };
  const loop = (first: Partial<Assistant>, extra: object = enabled, after: ChatMessage[] = []) =>
    toAnthropicBody(
      request(
        [
          { role: 'user', content: 'Weather in Lisbon?' },
          { role: 'assistant', content: null, tool_calls: [call('toolu_1')], ...first } as Assistant,
          { role: 'tool', tool_call_id: 'toolu_1', content: '21' },
          ...after,
        ],
        extra,
      ),
      'claude-test',
      true,
    ) as any;
  const thinkingBlock = { index: 0, type: 'thinking', text: 'Look it up.', signature: 'c2ln' };

  it('is left out when the turn’s first assistant message has no thinking block', () => {
    const body = loop({});
    expect(body).not.toHaveProperty('thinking');
    expect(body.max_tokens).toBe(4096);
  });

  it('is left out too when a later step of that turn has a thinking block (the turn’s first decides)', () => {
    const later: ChatMessage[] = [
      { role: 'assistant', content: null, tool_calls: [call('toolu_2')], reasoning_details: [thinkingBlock] },
      { role: 'tool', tool_call_id: 'toolu_2', content: '19' },
    ];
    expect(loop({}, enabled, later)).not.toHaveProperty('thinking');
  });

  it('is kept when the turn starts with a thinking or redacted_thinking block', () => {
    expect(loop({ reasoning_details: [thinkingBlock] }).thinking).toEqual(enabled.thinking);
    const redacted = loop({ reasoning_details: [{ index: 0, type: 'redacted_thinking', data: 'eA==' }] });
    expect(redacted.thinking).toEqual(enabled.thinking);
    // The budget still sets the default max_tokens.
    expect(redacted.max_tokens).toBe(8192 + 4096);
  });

  it('is kept once a new user message starts a new turn', () => {
    const body = loop({}, enabled, [
      { role: 'assistant', content: '21 °C.' },
      { role: 'user', content: 'Porto?' },
    ]);
    expect(body.thinking).toEqual(enabled.thinking);
  });

  it('adaptive thinking is kept (the model may skip thinking in any step)', () => {
    expect(loop({}, { thinking: { type: 'adaptive' } }).thinking).toEqual({ type: 'adaptive' });
  });
});

describe('Gemini: thought signatures of text parts go back where they came', () => {
  const candidate = (parts: object[], finishReason?: string) => ({
    candidates: [{ content: { role: 'model', parts }, index: 0, ...(finishReason && { finishReason }) }],
    responseId: 'r1',
    modelVersion: 'gemini-3-test',
  });
  const streamed = (events: object[]): Chunk[] => {
    const decoder = new GeminiStreamDecoder('gemini-3-test', 1);
    const chunks: Chunk[] = [];
    for (const e of events) decoder.event({ data: JSON.stringify(e) } as any, (c) => chunks.push(c));
    const finish = decoder.finishChunk();
    if (finish) chunks.push(finish);
    return chunks;
  };
  const resent = (message: unknown) =>
    (toGeminiBody(request([{ role: 'user', content: 'Hi' }, message as Assistant])) as any).contents[1];

  it('a streamed answer ending on an empty signed part goes back as one signed text part', () => {
    const message = mergeChunks(
      streamed([
        candidate([{ text: 'Hel' }]),
        candidate([{ text: 'lo.' }]),
        candidate([{ text: '', thoughtSignature: 'c2ln' }], 'STOP'),
      ]),
    ).choices[0].message;
    expect(resent(message)).toEqual({ role: 'model', parts: [{ text: 'Hello.', thoughtSignature: 'c2ln' }] });
  });

  it('a whole response (complete()) keeps each part with its signature: text, then the signed call', () => {
    const value = candidate(
      [
        { text: 'Checking.', thoughtSignature: 'dGV4dA==' },
        {
          functionCall: { id: 'fc-1', name: 'weather', args: { city: 'Lisbon' } },
          thoughtSignature: 'Y2FsbA==',
        },
      ],
      'STOP',
    );
    const message = geminiCompletion(value, 'gemini-3-test', JSON.stringify(value), 1).choices[0].message;
    expect(resent(message).parts).toEqual(value.candidates[0].content.parts);
  });

  it('a signature on an empty part after a signed call is left out (an empty text part is refused)', () => {
    const message = mergeChunks(
      streamed([
        candidate(
          [{ functionCall: { id: 'fc-1', name: 'weather', args: {} }, thoughtSignature: 'Y2FsbA==' }],
          'STOP',
        ),
        candidate([{ text: '', thoughtSignature: 'ZW1wdHk=' }]),
      ]),
    ).choices[0].message;
    expect(resent(message).parts).toEqual([
      { functionCall: { id: 'fc-1', name: 'weather', args: {} }, thoughtSignature: 'Y2FsbA==' },
    ]);
  });

  it('a signature on an empty part after an unsigned call goes on that call', () => {
    const message = mergeChunks(
      streamed([
        candidate([{ text: 'On it.' }, { functionCall: { id: 'fc-1', name: 'weather', args: {} } }]),
        candidate([{ text: '', thoughtSignature: 'c2ln' }], 'STOP'),
      ]),
    ).choices[0].message;
    expect(resent(message).parts).toEqual([
      { text: 'On it.' },
      { functionCall: { id: 'fc-1', name: 'weather', args: {} }, thoughtSignature: 'c2ln' },
    ]);
  });

  it('stays with Gemini: OpenAI chat and Anthropic bodies carry none of it', () => {
    const message = mergeChunks(streamed([candidate([{ text: 'Hi.', thoughtSignature: 'c2ln' }], 'STOP')]))
      .choices[0].message as Assistant;
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }, message];
    expect((toOpenAIBody(request(messages), 'm') as any).messages[1]).toEqual({
      role: 'assistant',
      content: 'Hi.',
      refusal: null,
    });
    expect((toAnthropicBody(request(messages), 'm', false) as any).messages[1].content).toEqual([
      { type: 'text', text: 'Hi.' },
    ]);
  });
});
