import { isPlainValidRequest } from '../src/requestFastPath';
import { requestSchemas } from '../src/requestSchema';

const user = { role: 'user', content: 'hi' };

/** Requests the fast path must accept by itself (no zod). */
const plain: unknown[] = [
  { model: 'openai/gpt-4o-mini', messages: [user] },
  { model: 'mock/x', messages: [{ role: 'system', content: 's', name: 'n' }, user], stream: true },
  {
    model: 'compat/llama',
    messages: [user, { role: 'assistant', content: 'a' }, { role: 'tool', content: 'r', tool_call_id: 'c1' }],
    max_tokens: 10,
    temperature: 2,
    top_p: 0,
    n: 128,
    seed: -3,
    presence_penalty: -2,
    frequency_penalty: 2,
    user: 'u',
    parallel_tool_calls: false,
    reasoning_effort: 'low', // unknown top-level fields pass, as in the schema
    mock_response: 'Hello',
  },
];

/** Requests it must hand to zod (some valid, some not). */
const handedOn: unknown[] = [
  null,
  [],
  'x',
  { model: 'gpt-4o', messages: [user] },
  { model: 'openai/x', messages: [] },
  { model: 'openai/x', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] },
  { model: 'openai/x', messages: [{ role: 'user', content: 'hi', extra: 1 }] },
  { model: 'openai/x', messages: [{ role: 'assistant', content: null, tool_calls: [] }] },
  { model: 'openai/x', messages: [{ role: 'tool', content: 'r' }] },
  { model: 'openai/x', messages: [{ role: 'wizard', content: 'r' }] },
  { model: 'openai/x', messages: [{ role: 'user', content: 'hi', name: 3 }] },
  { model: 'openai/x', messages: [user], tools: [] },
  { model: 'openai/x', messages: [user], stop: 'x' },
  { model: 'openai/x', messages: [user], response_format: { type: 'text' } },
  { model: 'openai/x', messages: [user], max_tokens: 0 },
  { model: 'openai/x', messages: [user], max_tokens: 1.5 },
  { model: 'openai/x', messages: [user], temperature: 2.01 },
  { model: 'openai/x', messages: [user], temperature: NaN },
  { model: 'openai/x', messages: [user], top_p: Infinity },
  { model: 'openai/x', messages: [user], n: 129 },
  { model: 'openai/x', messages: [user], user: 5 },
];

describe('the request fast path (validation without zod)', () => {
  it.each(plain.map((r) => [JSON.stringify(r).slice(0, 60), r]))('accepts %s by itself', (_, request) => {
    expect(isPlainValidRequest(request)).toBe(true);
  });

  it.each(handedOn.map((r) => [JSON.stringify(r)?.slice(0, 60) ?? String(r), r]))(
    'hands %s to zod',
    (_, request) => {
      expect(isPlainValidRequest(request)).toBe(false);
    },
  );

  it('never accepts what the zod schema rejects, and zod would return the request unchanged', () => {
    for (const request of [...plain, ...handedOn]) {
      if (!isPlainValidRequest(request)) continue;
      const result = requestSchemas().ChatRequestSchema.safeParse(request);
      expect(result.success).toBe(true);
      expect(result.data).toEqual(request);
    }
  });
});
