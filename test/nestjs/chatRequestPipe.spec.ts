import { BadRequestException, NotFoundException } from '@nestjs/common';
import { ChatRequestPipe } from 'rxllm/nestjs';

describe('ChatRequestPipe', () => {
  const messages = [{ role: 'user', content: 'Hi' }];

  it('returns the validated request without stream / stream_options, the model resolved', () => {
    const pipe = new ChatRequestPipe({ resolveModel: (m) => (m === 'gpt' ? 'mock/echo' : undefined) });
    expect(
      pipe.transform({ model: 'gpt', messages, stream: true, stream_options: { include_usage: true } }),
    ).toEqual({
      model: 'mock/echo',
      messages,
    });
  });

  it('a body nested 200,000 levels deep is a 400, not a stack overflow upstream; 60 levels pass', () => {
    const pipe = new ChatRequestPipe();
    const deep = JSON.parse('{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000));
    expect(() => pipe.transform({ model: 'mock/echo', messages, extra: deep })).toThrow(BadRequestException);
    const fine = JSON.parse('{"a":'.repeat(60) + '1' + '}'.repeat(60));
    expect(pipe.transform({ model: 'mock/echo', messages, extra: fine })).toMatchObject({ extra: fine });
  });

  it('an unknown model is a 404 with OpenAI code model_not_found', () => {
    const pipe = new ChatRequestPipe({ resolveModel: () => undefined });
    let error: unknown;
    try {
      pipe.transform({ model: 'nope', messages });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NotFoundException);
    expect((error as NotFoundException).getResponse()).toMatchObject({
      error: { code: 'model_not_found', type: 'invalid_request_error' },
    });
  });

  it('a bad body is a 400 in OpenAI shape listing the problem', () => {
    const pipe = new ChatRequestPipe();
    for (const body of [null, [], 'text', { model: 'mock/echo', messages: [] }]) {
      let error: unknown;
      try {
        pipe.transform(body);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BadRequestException);
      expect((error as BadRequestException).getStatus()).toBe(400);
      expect((error as BadRequestException).getResponse()).toMatchObject({
        error: { type: 'invalid_request_error', param: null, code: null },
      });
    }
  });
});
