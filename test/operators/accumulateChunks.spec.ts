import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ChatCompletion, Chunk } from '../../src/chunk';
import { LlmError, ServerError } from '../../src/errors';
import { accumulateChunks, mergeChunks } from '../../operators/accumulateChunks';
import { call, chunk, finish, QUIRKS, text, tools, usageChunk } from '../quirks/toolCallQuirks';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** The merged response a stream of `text` pieces must give: written out, not computed by the code under test. */
function response(
  content: string | null,
  extra: Partial<ChatCompletion> = {},
  finishReason: any = null,
): ChatCompletion {
  return {
    id: 'chatcmpl-q',
    object: 'chat.completion',
    created: 7,
    model: 'quirk-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, reasoning: null },
        finish_reason: finishReason,
      },
    ],
    usage: null,
    ...extra,
  };
}

const EMPTY: ChatCompletion = {
  id: '',
  object: 'chat.completion',
  created: 0,
  model: '',
  choices: [],
  usage: null,
};

describe('accumulateChunks', () => {
  const a = text('Hel');
  const b = text('lo');
  const c = chunk([{ delta: {}, finish_reason: 'stop' }], {
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  });
  const usage5 = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

  it('emits one merged response when the source completes (default mode)', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--|', { a, b, c });
      expectObservable(source.pipe(accumulateChunks())).toBe('-----------(r|)', {
        r: response('Hello', { usage: usage5 }, 'stop'),
      });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('emits a snapshot of the whole response after every chunk in snapshots mode', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('--a--b--c--|', { a, b, c });
      expectObservable(source.pipe(accumulateChunks({ emit: 'snapshots' }))).toBe('--A--B--C--|', {
        A: response('Hel'),
        B: response('Hello'),
        C: response('Hello', { usage: usage5 }, 'stop'),
      });
    });
  });

  it('emits an empty response (no choices, usage null) for an empty source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(accumulateChunks())).toBe('(e|)', { e: EMPTY });
      expectObservable(cold<Chunk>('|').pipe(accumulateChunks({ emit: 'snapshots' }))).toBe('|');
    });
  });

  it('emits nothing and stays subscribed while the source never emits', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Chunk>('-');
      expectObservable(source.pipe(accumulateChunks())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('unsubscribes from the source when the subscriber leaves early', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--|', { a, b, c });
      expectObservable(source.pipe(accumulateChunks({ emit: 'snapshots' })), '^---!').toBe('--A-', {
        A: response('Hel'),
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('passes a source error on with the same class and the partial response attached', () => {
    const error = new ServerError({ status: 529, message: 'overloaded' });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('--a--b--#', { a, b }, error).pipe(accumulateChunks())).toBe(
        '--------#',
        undefined,
        error,
      );
    });
    expect(error).toBeInstanceOf(ServerError);
    expect(error.partial).toEqual(response('Hello'));
  });

  it('leaves an error untouched when nothing was received before it', () => {
    const error = new ServerError({ status: 500 });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('#', {}, error).pipe(accumulateChunks())).toBe('#', undefined, error);
    });
    expect(error.partial).toBeUndefined();
  });

  it('wraps a non-object error in an LlmError that keeps it as cause and carries the partial', () => {
    const source = new Subject<Chunk>();
    let received: unknown;
    source.pipe(accumulateChunks()).subscribe({ error: (e) => (received = e) });
    source.next(a);
    source.error('boom');
    expect(received).toBeInstanceOf(LlmError);
    expect((received as LlmError).cause).toBe('boom');
    expect((received as LlmError).partial?.choices[0].message.content).toBe('Hel');
  });

  it('keeps state per subscription', () => {
    const source = new Subject<Chunk>();
    const merged = source.pipe(accumulateChunks({ emit: 'snapshots' }));
    const first: (string | null)[] = [];
    const second: (string | null)[] = [];
    merged.subscribe((r) => first.push(r.choices[0].message.content));
    source.next(a);
    merged.subscribe((r) => second.push(r.choices[0].message.content));
    source.next(b);
    expect(first).toEqual(['Hel', 'Hello']);
    expect(second).toEqual(['lo']);
  });

  it('merges n > 1 choices by index with interleaved chunks, sorted by index', () => {
    const chunks = [
      chunk([{ index: 1, delta: { content: 'B1' } }]),
      chunk([{ index: 0, delta: { content: 'A1' } }]),
      chunk([
        { index: 1, delta: { content: 'B2', tool_calls: [call(0, 'call_b', 'f', '{}')] } },
        { index: 0, delta: { content: 'A2' } },
      ]),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      chunk([{ index: 1, delta: {}, finish_reason: 'tool_calls' }]),
    ];
    const merged = mergeChunks(chunks);
    expect(merged.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'A1A2', 'stop'],
      [1, 'B1B2', 'tool_calls'],
    ]);
    expect(merged.choices[0].message.tool_calls).toBeUndefined();
    expect(merged.choices[1].message.tool_calls).toEqual([
      { id: 'call_b', type: 'function', function: { name: 'f', arguments: '{}' } },
    ]);
  });

  it('merges refusal and reasoning apart from content, null when none arrived', () => {
    const merged = mergeChunks([
      chunk({ role: 'assistant', content: null, refusal: '' }),
      chunk({ reasoning: 'Think' }),
      chunk({ reasoning: 'ing.', refusal: "I can't" }),
      chunk({ refusal: ' help.' }),
    ]);
    expect(merged.choices[0].message).toEqual({
      role: 'assistant',
      content: null,
      refusal: "I can't help.",
      reasoning: 'Thinking.',
    });
  });

  it('takes id, model and created from the first chunk that has them (Azure sends an empty first chunk)', () => {
    const merged = mergeChunks([chunk([], { id: '', model: '', created: 0 }), text('x', {})]);
    expect([merged.id, merged.model, merged.created]).toEqual(['chatcmpl-q', 'quirk-model', 7]);
  });

  it('discards everything merged before a reset chunk', () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'connection reset' } });
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-u-r-b-|', { a, u: usageChunk(9, 9), r: reset, b });
      expectObservable(source.pipe(accumulateChunks())).toBe('---------(x|)', { x: response('lo') });
      expectObservable(source.pipe(accumulateChunks({ emit: 'snapshots' }))).toBe('-A-U-R-B-|', {
        A: response('Hel'),
        U: response('Hel', { usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } }),
        R: EMPTY,
        B: response('lo'),
      });
    });
  });

  it('never changes an emitted snapshot when later chunks arrive', () => {
    const snapshots: ChatCompletion[] = [];
    const source = new Subject<Chunk>();
    source.pipe(accumulateChunks({ emit: 'snapshots' })).subscribe((s) => snapshots.push(s));
    source.next(tools(call(0, 'call_a', 'f', '{"a"')));
    const before = JSON.stringify(snapshots[0]);
    source.next(tools(call(0, undefined, undefined, ':1}')));
    source.next(text('after'));
    expect(JSON.stringify(snapshots[0])).toBe(before);
    expect(snapshots[1].choices[0].message.tool_calls?.[0].function.arguments).toBe('{"a":1}');
    expect(snapshots[2].choices[0].message.content).toBe('after');
  });

  it('keeps the last finish reason and the raw provider finish reason', () => {
    const merged = mergeChunks([
      text('a'),
      chunk([{ delta: {}, finish_reason: 'length', raw_finish_reason: 'MAX_TOKENS' }]),
    ]);
    expect(merged.choices[0].finish_reason).toBe('length');
    expect(merged.choices[0].raw_finish_reason).toBe('MAX_TOKENS');
  });

  it('matches the pure function on the same chunks', () => {
    const chunks = QUIRKS.flatMap((q) => q.chunks);
    let fromOperator: ChatCompletion | undefined;
    const source = new Subject<Chunk>();
    source.pipe(accumulateChunks()).subscribe((r) => (fromOperator = r));
    chunks.forEach((c) => source.next(c));
    source.complete();
    expect(fromOperator).toEqual(mergeChunks(chunks));
  });

  it('throws a TypeError for a bad config when created', () => {
    expect(() => accumulateChunks({ emit: 'all' as never })).toThrow(TypeError);
    expect(() => accumulateChunks(null as never)).toThrow(TypeError);
  });

  describe('tool-call rules (own quirk streams)', () => {
    it.each(QUIRKS.map((q) => [q.name, q] as const))('%s', (_name, quirk) => {
      const merged = mergeChunks(quirk.chunks);
      const message = merged.choices[0].message;
      expect(message.content ?? '').toBe(quirk.expected.text);
      expect(
        (message.tool_calls ?? []).map((t) => ({
          id: t.id,
          name: t.function.name,
          arguments: t.function.arguments,
        })),
      ).toEqual(quirk.expected.tool_calls);
      expect(merged.choices[0].finish_reason).toBe(quirk.expected.finish_reason);
      expect(merged.usage).toEqual(quirk.expected.usage);
    });

    it('leaves tool_calls out when there are none and never invents an id', () => {
      expect(mergeChunks([text('hi'), finish('stop')]).choices[0].message).not.toHaveProperty('tool_calls');
      const merged = mergeChunks([tools(call(0, undefined, 'f', '{}'))]);
      expect(merged.choices[0].message.tool_calls?.[0].id).toBe('');
    });
  });
});

describe('accumulateChunks: provider extras on tool calls', () => {
  it('keeps extra_content (Gemini thought signatures) so the call can be sent back', () => {
    const base = { id: 'c', object: 'chat.completion.chunk' as const, created: 0, model: 'm' };
    const merged = mergeChunks([
      {
        ...base,
        choices: [
          {
            index: 0,
            finish_reason: null,
            delta: {
              tool_calls: [
                {
                  index: 0,
                  id: 'call_0',
                  type: 'function' as const,
                  function: { name: 'f', arguments: '{}' },
                  extra_content: { google: { thought_signature: 'sig' } },
                },
              ],
            },
          },
        ],
      },
      { ...base, choices: [{ index: 0, finish_reason: 'tool_calls' as const, delta: {} }] },
    ]);
    expect(merged.choices[0].message.tool_calls?.[0].extra_content).toEqual({
      google: { thought_signature: 'sig' },
    });
  });
});
