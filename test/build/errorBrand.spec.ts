import * as copyA from '../../src/errors';

/** A second, independent copy of src/errors.ts, as when Node loads rxllm's ESM and CommonJS builds. */
function loadOtherCopy(): typeof copyA {
  let other: typeof copyA | undefined;
  jest.isolateModules(() => {
    other = jest.requireActual<typeof copyA>('../../src/errors');
  });
  if (!other) throw new Error('no second copy');
  return other;
}

describe('instanceof across two copies of rxllm (ESM and CommonJS builds in one process)', () => {
  const copyB = loadOtherCopy();

  it('really has two distinct sets of classes', () => {
    expect(copyB.LlmError).not.toBe(copyA.LlmError);
    expect(copyB.RateLimitError).not.toBe(copyA.RateLimitError);
  });

  it('an error of one copy is an instance of the same class and its bases in the other', () => {
    const fromB = new copyB.RateLimitError({ status: 429, headers: { 'retry-after': '2' } });
    expect(fromB instanceof copyA.RateLimitError).toBe(true);
    expect(fromB instanceof copyA.ApiError).toBe(true);
    expect(fromB instanceof copyA.LlmError).toBe(true);
    const fromA = new copyA.TimeoutError('idle', 50);
    expect(fromA instanceof copyB.TimeoutError).toBe(true);
    expect(fromA instanceof copyB.LlmError).toBe(true);
  });

  it('is not an instance of a sibling class of the other copy', () => {
    const fromB = new copyB.RateLimitError({ status: 429 });
    expect(fromB instanceof copyA.AuthenticationError).toBe(false);
    expect(fromB instanceof copyA.ServerError).toBe(false);
    expect(fromB instanceof copyA.TimeoutError).toBe(false);
    expect(new copyB.ConnectionError('x') instanceof copyA.ApiError).toBe(false);
  });

  it('ApiError.fromResponse of one copy gives classes the other recognizes', () => {
    const e = copyB.ApiError.fromResponse({ status: 503 });
    expect(e instanceof copyA.ServerError).toBe(true);
    expect(e instanceof copyA.RateLimitError).toBe(false);
  });

  it('a user subclass keeps plain instanceof and is recognized as LlmError by the other copy', () => {
    class MyError extends copyB.LlmError {}
    const mine = new MyError('mine');
    expect(mine instanceof MyError).toBe(true);
    expect(mine instanceof copyA.LlmError).toBe(true);
    expect(new copyA.LlmError('base') instanceof MyError).toBe(false);
  });

  it('an unbranded error of the same name is not an rxllm error', () => {
    class LlmError extends Error {}
    class RateLimitError extends Error {}
    expect(new LlmError('x') instanceof copyA.LlmError).toBe(false);
    expect(new RateLimitError('x') instanceof copyA.RateLimitError).toBe(false);
    expect(new Error('x') instanceof copyA.LlmError).toBe(false);
    for (const v of [null, undefined, 1, 'LlmError', {}, Object.create(null)])
      expect(v instanceof copyA.LlmError).toBe(false);
  });
});
