import { map, filter } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Chunk } from '../../src/chunk';
import { chunkMarbles, mockStream, reasoningOf, scriptToChunks, textOf } from '../../src/testing';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('chunkMarbles', () => {
  it('puts every chunk and the completion in one group without delays', () => {
    const { marbles, values } = chunkMarbles('Hi');
    expect(marbles).toBe('(abcd|)');
    expect(Object.values(values)).toEqual(scriptToChunks('Hi'));
  });

  it('uses dashes for short gaps and time progressions for long ones', () => {
    expect(chunkMarbles('Hi', { delayMs: 2 }).marbles).toBe('--a-b-c-(d|)');
    expect(chunkMarbles('Hi', { delayMs: 10 }).marbles).toBe('10ms a 9ms b 9ms c 9ms (d|)');
  });

  it('returns the errorAfter error for #', () => {
    const error = new Error('x');
    const result = chunkMarbles({ text: 'abcdefgh', errorAfter: { chunks: 1, error } }, { delayMs: 1 });
    expect(result.marbles).toBe('-a#');
    expect(result.error).toBe(error);
    expect(Object.keys(result.values)).toEqual(['a']);
  });

  it('has no terminal for a script that never finishes', () => {
    expect(chunkMarbles({ text: 'abc', finishReason: null }).marbles).toBe('(ab)');
  });

  it('matches mockStream for long streams that need more than 52 letters', () => {
    const script = { text: 'x'.repeat(120), chunkSize: 1 };
    const { marbles, values } = chunkMarbles(script, { delayMs: 1 });
    expect(Object.keys(values)).toHaveLength(123);
    newScheduler().run(({ expectObservable }) => {
      expectObservable(mockStream(script, { delayMs: 1 })).toBe(marbles, values);
    });
  });

  it('feeds cold() to marble-test a pipeline', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const { marbles, values } = chunkMarbles({ text: 'Hello', chunkSize: 2 }, { delayMs: 5 });
      const source = cold(marbles, values);
      const text = source.pipe(
        map((c: Chunk) => c.choices[0]?.delta.content),
        filter((t): t is string => !!t),
      );
      expectObservable(text).toBe('10ms a 4ms b 4ms c 9ms |', { a: 'He', b: 'll', c: 'o' });
    });
  });
});

describe('textOf / reasoningOf', () => {
  it('concatenates the content of one choice', () => {
    const chunks = scriptToChunks({ text: 'Hello 世界', reasoning: 'hmm', n: 2, chunkSize: 3 });
    expect(textOf(chunks)).toBe('Hello 世界');
    expect(textOf(chunks, 1)).toBe('Hello 世界');
    expect(reasoningOf(chunks)).toBe('hmm');
    expect(textOf([])).toBe('');
  });

  it('starts over after a reset chunk', () => {
    const [role, first] = scriptToChunks('abandoned');
    const reset: Chunk = { ...role, choices: [], reset: { attempt: 1, reason: 'cut' } };
    expect(textOf([role, first, reset, ...scriptToChunks('kept')])).toBe('kept');
  });
});
