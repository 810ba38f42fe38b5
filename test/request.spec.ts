import { RequestValidationError, validateRequest } from '../src';
import { splitModel } from '../src/request';

describe('validateRequest', () => {
  const ok = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

  it('accepts a multi-turn tool conversation and keeps unknown provider fields', () => {
    const req = validateRequest({
      ...ok,
      reasoning_effort: 'low',
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '12C' },
      ],
    });
    expect(req.messages).toHaveLength(4);
    expect((req as Record<string, unknown>).reasoning_effort).toBe('low');
  });

  it.each([
    ['model without provider', { ...ok, model: 'gpt-4o' }, 'model'],
    ['no messages', { ...ok, messages: [] }, 'messages'],
    ['unknown role', { ...ok, messages: [{ role: 'robot', content: 'x' }] }, 'messages'],
    ['tool message without id', { ...ok, messages: [{ role: 'tool', content: 'x' }] }, 'messages'],
    ['temperature out of range', { ...ok, temperature: 3 }, 'temperature'],
    ['bad tool name', { ...ok, tools: [{ type: 'function', function: { name: 'has space' } }] }, 'tools'],
  ])('rejects %s with a RequestValidationError naming the field', (_label, request, field) => {
    let error: unknown;
    try {
      validateRequest(request);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).issues[0].path[0]).toBe(field);
    expect((error as Error).message).toContain(field);
  });

  it('does not put message contents in the error', () => {
    expect(() =>
      validateRequest({ ...ok, messages: [{ role: 'user', content: 42 }], temperature: 9 }),
    ).toThrow(/^(?!.*42).*$/s);
  });
});

describe('splitModel', () => {
  it('splits at the first slash only', () => {
    expect(splitModel('compat/meta-llama/Llama-3-8B')).toEqual({
      provider: 'compat',
      model: 'meta-llama/Llama-3-8B',
    });
    expect(splitModel('OpenAI/gpt-4o')).toEqual({ provider: 'openai', model: 'gpt-4o' });
  });
});
