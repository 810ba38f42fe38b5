/**
 * A conversation moved between providers mid-way (issue 13): tool calls made on one provider,
 * answered and continued on another, each request in that provider's own documented shape. All
 * against the mock server, which speaks every wire format.
 */
import { firstValueFrom } from 'rxjs';
import { stream, type ChatMessage, type ChatRequest } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
const opts = { apiKey: 'sk-test-cross-0123456789' };

const TOOLS: ChatRequest['tools'] = [
  {
    type: 'function',
    function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
  },
];

async function turn(provider: string, messages: ChatMessage[], extra: object = {}) {
  const merged = await firstValueFrom(
    stream({ model: `${provider}/m`, messages, tools: TOOLS, ...extra } as ChatRequest, {
      ...opts,
      baseURL: server.url,
    }).pipe(accumulateChunks()),
  );
  const message = merged.choices[0].message;
  messages.push(message as ChatMessage);
  return { message, body: server.requests[server.requests.length - 1].body as any };
}

describe('a conversation moved between providers', () => {
  it('Gemini calls → Anthropic (thinking) → OpenAI-compatible → Responses → Ollama, each body in its own shape', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Weather in Bern and Oslo, then in Rome?' }];

    // 1. Gemini makes two parallel calls of one function.
    server.enqueue({
      toolCalls: [
        { id: 'gem-1', name: 'weather', arguments: { city: 'Bern' } },
        { id: 'gem-2', name: 'weather', arguments: { city: 'Oslo' } },
      ],
    });
    const g = await turn('gemini', messages);
    expect(g.message.tool_calls?.map((t) => t.id)).toEqual(['gem-1', 'gem-2']);
    messages.push({ role: 'tool', tool_call_id: 'gem-2', content: '{"temp":1}' });
    messages.push({ role: 'tool', tool_call_id: 'gem-1', content: '{"temp":3}' });
    // Gemini closes its turn: thinking may only be switched on between turns (Anthropic rejects a
    // tool loop whose first assistant message has no thinking block:
    // https://platform.claude.com/docs/build-with-claude/thinking-tool-workflows).
    server.enqueue({ text: 'Bern 3°, Oslo 1°.' });
    await turn('gemini', messages);
    messages.push({ role: 'user', content: 'And Rome?' });

    // 2. Anthropic, thinking on, reads Gemini's calls and makes its own.
    server.enqueue({
      reasoning: 'Rome next.',
      toolCalls: [{ id: 'toolu_rome', name: 'weather', arguments: { city: 'Rome' } }],
    });
    const a = await turn('anthropic', messages, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(a.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Bern and Oslo, then in Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'gem-1', name: 'weather', input: { city: 'Bern' } },
          { type: 'tool_use', id: 'gem-2', name: 'weather', input: { city: 'Oslo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'gem-2', content: '{"temp":1}' },
          { type: 'tool_result', tool_use_id: 'gem-1', content: '{"temp":3}' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'Bern 3°, Oslo 1°.' }] },
      { role: 'user', content: [{ type: 'text', text: 'And Rome?' }] },
    ]);
    expect(a.message.reasoning_details).toEqual([
      { index: 0, type: 'thinking', text: 'Rome next.', signature: expect.any(String) },
    ]);
    messages.push({ role: 'tool', tool_call_id: 'toolu_rome', content: '{"temp":20}' });

    // 3. Anthropic again: its thinking block goes back before its tool_use (turn 2 of the loop).
    server.enqueue({ text: 'Noted.' });
    const a2 = await turn('anthropic', messages, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(a2.body.messages[5]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Rome next.', signature: expect.any(String) },
        { type: 'tool_use', id: 'toolu_rome', name: 'weather', input: { city: 'Rome' } },
      ],
    });

    // 4. An OpenAI-compatible server gets plain OpenAI messages: no reasoning fields.
    server.enqueue({ text: 'Summary.' });
    const o = await turn('compat', messages);
    const assistants = o.body.messages.filter((m: { role: string }) => m.role === 'assistant');
    expect(assistants[2]).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'toolu_rome', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ],
    });
    expect(JSON.stringify(o.body)).not.toContain('reasoning');

    // 5. The Responses API: calls and results as items, paired by call_id.
    server.enqueue({ text: 'Done.' });
    const r = await turn('openai-responses', messages);
    const items = r.body.input.filter((i: { type: string }) => i.type !== 'message');
    expect(items.map((i: { type: string; call_id: string }) => [i.type, i.call_id])).toEqual([
      ['function_call', 'gem-1'],
      ['function_call', 'gem-2'],
      ['function_call_output', 'gem-2'],
      ['function_call_output', 'gem-1'],
      ['function_call', 'toolu_rome'],
      ['function_call_output', 'toolu_rome'],
    ]);

    // 6. Ollama: object arguments, results named by their function.
    server.enqueue({ text: 'Bye.' });
    const l = await turn('ollama', messages);
    const tools = l.body.messages.filter((m: { role: string }) => m.role === 'tool');
    expect(tools).toEqual([
      { role: 'tool', content: '{"temp":1}', tool_name: 'weather' },
      { role: 'tool', content: '{"temp":3}', tool_name: 'weather' },
      { role: 'tool', content: '{"temp":20}', tool_name: 'weather' },
    ]);
    expect(l.message.content).toBe('Bye.');

    // 7. And back to Gemini: every call id goes back with its call and its result.
    server.enqueue({ text: 'Ciao.' });
    const g2 = await turn('gemini', messages);
    const responses = g2.body.contents.flatMap((c: { parts: { functionResponse?: { id: string } }[] }) =>
      c.parts.filter((p) => p.functionResponse).map((p) => p.functionResponse!.id),
    );
    expect(responses).toEqual(['gem-2', 'gem-1', 'toolu_rome']);
  });
});
