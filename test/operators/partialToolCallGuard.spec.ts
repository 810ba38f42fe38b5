import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import type { Chunk } from '../../src/chunk';
import { ServerError, ToolCallError } from '../../src/errors';
import { mergeChunks } from '../../operators/accumulateChunks';
import {
  partialToolCallGuard,
  type GuardedChunk,
  type InvalidToolCall,
} from '../../operators/partialToolCallGuard';
import { call, chunk, finish, QUIRKS, text, tools, usageChunk } from '../quirks/toolCallQuirks';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const schemas = {
  get_weather: z.object({ city: z.string() }),
  get_time: z.object({ tz: z.string().optional() }),
  read_file: z.object({ path: z.string() }),
  search: z.object({ q: z.string() }),
};

/** The chunk the guard emits for one released call: written out, not computed by the guard. */
function released(
  index: number,
  id: string,
  name: string,
  args: string,
  input: unknown,
  choice = 0,
): GuardedChunk {
  return {
    id: 'chatcmpl-q',
    object: 'chat.completion.chunk',
    created: 7,
    model: 'quirk-model',
    choices: [
      {
        index: choice,
        delta: {
          tool_calls: [
            {
              index,
              id,
              type: 'function',
              function: { name, arguments: args },
              name,
              input,
              validated: true,
            },
          ],
        },
        finish_reason: null,
      },
    ],
  };
}

function run(chunks: Chunk[], config: Parameters<typeof partialToolCallGuard>[0] = { schemas }) {
  const out: GuardedChunk<any>[] = [];
  let error: unknown;
  let completed = false;
  const source = new Subject<Chunk>();
  source.pipe(partialToolCallGuard(config)).subscribe({
    next: (c) => out.push(c),
    error: (e) => (error = e),
    complete: () => (completed = true),
  });
  chunks.forEach((c) => source.next(c));
  return {
    out,
    source,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
  };
}

const validCalls = (out: GuardedChunk<any>[]) =>
  out.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
const invalidCalls = (out: GuardedChunk<any>[]): InvalidToolCall[] =>
  out.flatMap((c) => c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []));

describe('partialToolCallGuard', () => {
  const t = text('Checking.');
  const a = tools(call(0, 'call_1', 'get_weather', '{"ci'));
  const b = tools(call(0, undefined, undefined, 'ty":"Oslo"'));
  const c = tools(call(0, undefined, undefined, '}'));
  const f = finish('tool_calls');
  const u = usageChunk(10, 5);
  const whole = released(0, 'call_1', 'get_weather', '{"city":"Oslo"}', { city: 'Oslo' });

  it('passes text at once and releases the whole call, parsed, just before the finish chunk', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--t--a--b--c--f-----u--|', { t, a, b, c, f, u });
      expectObservable(source.pipe(partialToolCallGuard({ schemas }))).toBe('--t-----------(Wf)--u--|', {
        t,
        W: whole,
        f,
        u,
      });
      expectSubscriptions(source.subscriptions).toBe('^----------------------!');
    });
  });

  it('passes chunks without tool calls through as the same objects', () => {
    const { out } = run([t, f]);
    expect(out[0]).toBe(t);
    expect(out[1]).toBe(f);
  });

  it('releases a call when the next call of the choice starts', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const n = tools(call(1, 'call_2', 'get_time', '{}'));
      const source = cold('-a-b-c-n-f---|', { a, b, c, n, f });
      expectObservable(source.pipe(partialToolCallGuard({ schemas }))).toBe('-------W-(Nf)|', {
        W: whole,
        N: released(1, 'call_2', 'get_time', '{}', {}),
        f,
      });
    });
  });

  it('completes at once for an empty source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(partialToolCallGuard({ schemas }))).toBe('|');
    });
  });

  it('holds fragments and stays subscribed while the source never ends', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-', { a, b });
      expectObservable(source.pipe(partialToolCallGuard({ schemas }))).toBe('-----');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('unsubscribes from the source on early unsubscribe and releases nothing', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-t-a-b-c-f-|', { t, a, b, c, f });
      expectObservable(source.pipe(partialToolCallGuard({ schemas })), '^----!').toBe('-t----', { t });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('on a source error releases held calls as truncated, then passes the error on', () => {
    const error = new ServerError({ status: 500 });
    const r = run([a, b]);
    r.source.error(error);
    expect(validCalls(r.out)).toEqual([]);
    expect(invalidCalls(r.out)).toEqual([
      expect.objectContaining({
        reason: 'truncated',
        id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Oslo"',
      }),
    ]);
    expect(r.error).toBe(error);
  });

  it('releases a call cut by finish_reason length as invalid, never as valid', () => {
    const r = run([a, b, c, finish('length')]);
    expect(validCalls(r.out)).toEqual([]);
    expect(invalidCalls(r.out)).toEqual([
      expect.objectContaining({ reason: 'truncated', arguments: '{"city":"Oslo"}', index: 0 }),
    ]);
    expect(r.out[r.out.length - 1].choices[0].finish_reason).toBe('length');
  });

  it('releases a call whose stream ended without a finish reason as truncated', () => {
    const r = run([a, b, c]);
    r.source.complete();
    expect(r.completed).toBe(true);
    expect(validCalls(r.out)).toEqual([]);
    expect(invalidCalls(r.out).map((i) => i.reason)).toEqual(['truncated']);
  });

  it('refuses arguments that are not strict JSON, without repairing them', () => {
    const r = run([tools(call(0, 'call_1', 'get_weather', "{'city': 'Oslo',}")), f]);
    expect(validCalls(r.out)).toEqual([]);
    expect(invalidCalls(r.out)).toEqual([
      expect.objectContaining({ reason: 'invalid-json', arguments: "{'city': 'Oslo',}", issues: [] }),
    ]);
  });

  it('refuses input that fails its schema, with the zod issues', () => {
    const r = run([tools(call(0, 'call_1', 'get_weather', '{"city":42}')), f]);
    const [invalid] = invalidCalls(r.out);
    expect(invalid.reason).toBe('schema-mismatch');
    expect(invalid.issues).toEqual([expect.objectContaining({ path: ['city'], code: 'invalid_type' })]);
    expect(validCalls(r.out)).toEqual([]);
  });

  it('refuses an unknown tool by default and accepts it JSON-parsed with unknownTool accept', () => {
    const chunks = [tools(call(0, 'call_1', 'delete_all', '{"really":true}')), f];
    expect(invalidCalls(run(chunks).out).map((i) => i.reason)).toEqual(['unknown-tool']);
    expect(invalidCalls(run(chunks, { schemas, unknownTool: 'invalid' }).out)).toHaveLength(1);
    const accepted = validCalls(run(chunks, { schemas, unknownTool: 'accept' }).out);
    expect(accepted).toEqual([
      expect.objectContaining({ name: 'delete_all', input: { really: true }, validated: false }),
    ]);
  });

  it('does not treat Object.prototype names as known tools', () => {
    const r = run([tools(call(0, 'call_1', 'toString', '{}')), f]);
    expect(invalidCalls(r.out).map((i) => i.reason)).toEqual(['unknown-tool']);
  });

  it("fails with a typed ToolCallError when onInvalid is 'error'", () => {
    const r = run([tools(call(0, 'call_1', 'get_weather', '{"city":42}')), f, u], {
      schemas,
      onInvalid: 'error',
    });
    expect(r.error).toBeInstanceOf(ToolCallError);
    const error = r.error as ToolCallError;
    expect([error.reason, error.toolName, error.toolCallId, error.arguments, error.choiceIndex]).toEqual([
      'schema-mismatch',
      'get_weather',
      'call_1',
      '{"city":42}',
      0,
    ]);
    expect(error.issues).toHaveLength(1);
    expect(r.out).toEqual([]);
  });

  it('drops held fragments on a reset chunk and passes the reset on', () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'retry' } });
    const r = run([tools(call(0, 'call_x', 'get_weather', '{"ci')), reset, a, b, c, f]);
    expect(r.out[0]).toBe(reset);
    expect(validCalls(r.out)).toEqual([whole.choices[0].delta.tool_calls![0]]);
    expect(invalidCalls(r.out)).toEqual([]);
  });

  it('keeps state per subscription', () => {
    const source = new Subject<Chunk>();
    const guarded = source.pipe(partialToolCallGuard({ schemas }));
    const first: GuardedChunk<any>[] = [];
    const second: GuardedChunk<any>[] = [];
    guarded.subscribe((x) => first.push(x));
    source.next(a);
    source.next(b);
    guarded.subscribe((x) => second.push(x));
    source.next(c);
    source.next(f);
    expect(validCalls(first).map((x) => x.input)).toEqual([{ city: 'Oslo' }]);
    // The second subscriber saw only the last fragment (no id, no name): never a valid call.
    expect(validCalls(second)).toEqual([]);
    expect(invalidCalls(second).map((i) => [i.reason, i.arguments])).toEqual([['unknown-tool', '}']]);
  });

  it('holds calls per choice with n > 1 and releases each when its own choice finishes', () => {
    const r = run([
      chunk([{ index: 1, delta: { tool_calls: [call(0, 'b1', 'search', '{"q":"b"}')] } }]),
      chunk([{ index: 0, delta: { tool_calls: [call(0, 'a1', 'search', '{"q":')] } }]),
      chunk([{ index: 1, delta: {}, finish_reason: 'tool_calls' }]),
      chunk([{ index: 0, delta: { tool_calls: [call(0, undefined, undefined, '"a"}')] } }]),
      chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
    ]);
    const order = r.out.map((o) => [
      o.choices[0].index,
      o.choices[0].delta.tool_calls?.[0]?.id ?? o.choices[0].finish_reason,
    ]);
    expect(order).toEqual([
      [1, 'b1'],
      [1, 'tool_calls'],
      [0, 'a1'],
      [0, 'tool_calls'],
    ]);
  });

  it('holds a call whose JSON is not whole yet when the next starts (calls interleaved by id)', () => {
    const r = run([
      tools(call(undefined, 'call_a', 'get_weather', '{"city":')),
      tools(call(undefined, 'call_b', 'get_time', '{"tz":"CET"}')),
      tools(call(undefined, 'call_c', 'search', '{"q":"x"}')),
      tools(call(undefined, 'call_a', undefined, '"Paris"}')),
      f,
    ]);
    expect(validCalls(r.out).map((x) => [x.id, x.input])).toEqual([
      ['call_b', { tz: 'CET' }],
      ['call_a', { city: 'Paris' }],
      ['call_c', { q: 'x' }],
    ]);
    expect(invalidCalls(r.out)).toEqual([]);
  });

  it('refuses fragments that arrive for a call already released', () => {
    const r = run([
      a,
      b,
      c,
      tools(call(1, 'call_2', 'get_time', '{}')),
      tools(call(0, undefined, undefined, ',"x":1}')),
      f,
    ]);
    expect(validCalls(r.out).map((x) => x.id)).toEqual(['call_1', 'call_2']);
    expect(invalidCalls(r.out)).toEqual([expect.objectContaining({ id: 'call_1', reason: 'late-fragment' })]);
  });

  it('keeps text that shares a chunk with fragments, and drops chunks that held only fragments', () => {
    const r = run([
      chunk({ content: 'Hi', tool_calls: [call(0, 'call_1', 'get_weather', '{"city":"Oslo"}')] }),
      f,
    ]);
    expect(r.out.map((o) => o.choices[0].delta.content ?? o.choices[0].finish_reason ?? 'call')).toEqual([
      'Hi',
      'call',
      'tool_calls',
    ]);
    expect(run([a]).out).toEqual([]);
  });

  it('throws a TypeError for a bad config when created', () => {
    expect(() => partialToolCallGuard({ schemas: { f: {} as never } })).toThrow(TypeError);
    expect(() => partialToolCallGuard({ onInvalid: 'repair' as never })).toThrow(TypeError);
    expect(() => partialToolCallGuard({ unknownTool: 'allow' as never })).toThrow(TypeError);
  });

  it('narrows input by tool name (compile-time check)', () => {
    const r = run([a, b, c, f]);
    for (const tc of validCalls(r.out) as GuardedChunk<never>['choices'][number]['delta']['tool_calls'] & [])
      void tc;
    const source = new Subject<Chunk>();
    let city = '';
    source.pipe(partialToolCallGuard({ schemas })).subscribe((x) => {
      for (const tc of x.choices[0]?.delta.tool_calls ?? [])
        if (tc.name === 'get_weather') city = tc.input.city;
    });
    [a, b, c, f].forEach((x) => source.next(x));
    expect(city).toBe('Oslo');
  });

  describe('own quirk streams: each expected call released once, whole and valid', () => {
    it.each(QUIRKS.map((q) => [q.name, q] as const))('%s', (_name, quirk) => {
      const r = run(quirk.chunks, { schemas, unknownTool: 'accept' });
      r.source.complete();
      expect(invalidCalls(r.out)).toEqual([]);
      expect(
        validCalls(r.out).map((x) => ({ id: x.id, name: x.name, arguments: x.function.arguments })),
      ).toEqual(quirk.expected.tool_calls);
      // The guarded stream is still a chunk stream that merges to the same response.
      const merged = mergeChunks(r.out);
      expect(merged.choices[0].finish_reason).toBe(quirk.expected.finish_reason);
      expect(merged.choices[0].message.content ?? '').toBe(quirk.expected.text);
      expect(merged.usage).toEqual(quirk.expected.usage);
      const finishAt = r.out.findIndex((o) => o.choices.some((ch) => ch.finish_reason != null));
      const lastCall = r.out.map((o) => (o.choices[0]?.delta.tool_calls ? 1 : 0)).lastIndexOf(1);
      if (lastCall >= 0) expect(lastCall).toBeLessThan(finishAt);
    });
  });
});

describe('partialToolCallGuard keeps what the chunk model carries on a call', () => {
  it("releases a call with its extra_content (Gemini's thought_signature) and other provider fields", async () => {
    const signature = { google: { thought_signature: 'c2lnbmF0dXJl' } };
    const first = { ...call(0, 'call_1', 'get_weather', '{"city":'), extra_content: signature };
    const rest = { ...call(0, undefined, undefined, '"Paris"}'), vendor_field: 7 };
    const out: GuardedChunk[] = [];
    const source = new Subject<Chunk>();
    source.pipe(partialToolCallGuard({ schemas })).subscribe((c) => out.push(c as GuardedChunk));
    source.next(tools(first));
    source.next(tools(rest));
    source.next(finish('tool_calls'));
    source.complete();
    const calls = out.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls).toEqual([
      {
        index: 0,
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
        extra_content: signature,
        vendor_field: 7,
        name: 'get_weather',
        input: { city: 'Paris' },
        validated: true,
      },
    ]);
    // And it survives the merge into the message sent back on the next turn.
    expect(mergeChunks(out).choices[0].message.tool_calls?.[0].extra_content).toEqual(signature);
  });

  it('fails the stream, not the process, when a schema transform throws', () => {
    const boom = new Error('transform failed');
    const seen: unknown[] = [];
    let failed: unknown;
    const source = new Subject<Chunk>();
    source
      .pipe(
        partialToolCallGuard({
          schemas: {
            get_weather: z.object({ city: z.string() }).transform(() => {
              throw boom;
            }),
          },
        }),
      )
      .subscribe({ next: (c) => seen.push(c), error: (e) => (failed = e) });
    source.next(text('Checking'));
    source.next(tools(call(0, 'call_1', 'get_weather', '{"city":"Paris"}')));
    source.next(finish('tool_calls'));
    expect(failed).toBe(boom);
    expect(seen).toHaveLength(1);
    expect(source.observed).toBe(false);
  });
});
