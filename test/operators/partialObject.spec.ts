import { from, lastValueFrom, Observable, Subject, take, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import type { Chunk } from '../../src/chunk';
import { ServerError, StructuredOutputError } from '../../src/errors';
import { partialObject, type PartialObjectUpdate } from '../../operators/partialObject';
import { call, chunk, finish, text, tools } from '../quirks/toolCallQuirks';
import { LINEAR_BOUND, ratio4x } from '../helpers/linear';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const Weather = z.object({ city: z.string(), temp: z.number() });

async function failure(source: Observable<unknown>): Promise<StructuredOutputError> {
  const error = await lastValueFrom(source).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StructuredOutputError);
  return error as StructuredOutputError;
}

describe('partialObject', () => {
  const a = text('{"city":"Li');
  const b = text('sbon","temp"');
  const c = text(':21}');
  const f = finish('stop');

  it('emits a growing deep-partial value per chunk, then the validated whole at completion', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--f--|', { a, b, c, f });
      expectObservable(source.pipe(partialObject(Weather))).toBe('--A--B--C-----(D|)', {
        A: { done: false, value: { city: 'Li' } },
        B: { done: false, value: { city: 'Lisbon' } },
        C: { done: false, value: { city: 'Lisbon', temp: 21 } },
        D: { done: true, value: { city: 'Lisbon', temp: 21 } },
      });
      expectSubscriptions(source.subscriptions).toBe('^-------------!');
    });
  });

  it('emits nothing for chunks that do not grow the value', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const role = chunk({ role: 'assistant', content: '' });
      const source = cold('-r-a-n-f-|', { r: role, a: text('{"n":1'), n: text('2'), f: text('}') });
      expectObservable(source.pipe(partialObject())).toBe('---O---F-(D|)', {
        O: { done: false, value: {} },
        F: { done: false, value: { n: 12 } },
        D: { done: true, value: { n: 12 } },
      });
    });
  });

  it('fails an empty source with no-output', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(partialObject())).toBe(
        '#',
        undefined,
        expect.objectContaining({ reason: 'no-output' }),
      );
    });
  });

  it('passes a source error on, after what was emitted', () => {
    const error = new ServerError({ status: 500 });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#', { a }, error).pipe(partialObject())).toBe(
        '-A-#',
        { A: { done: false, value: { city: 'Li' } } },
        error,
      );
    });
  });

  it('stays subscribed and silent on a source that never emits', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Chunk>('-');
      expectObservable(source.pipe(partialObject())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('unsubscribes from the source on early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a, b, c });
      expectObservable(source.pipe(partialObject()), '^--!').toBe('-A-', {
        A: { done: false, value: { city: 'Li' } },
      });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps parser state per subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-a-b-c-|', { a, b, c }).pipe(partialObject(Weather));
      const expected = {
        A: { done: false, value: { city: 'Li' } },
        B: { done: false, value: { city: 'Lisbon' } },
        C: { done: false, value: { city: 'Lisbon', temp: 21 } },
        D: { done: true, value: { city: 'Lisbon', temp: 21 } },
      };
      expectObservable(piped).toBe('-A-B-C-(D|)', expected);
      expectObservable(piped).toBe('-A-B-C-(D|)', expected);
    });
  });

  it('fails at once where the text stops being JSON, unsubscribing the source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-x-c-|', { a, x: text('sbon",}'), c });
      expectObservable(source.pipe(partialObject())).toBe(
        '-A-#',
        { A: { done: false, value: { city: 'Li' } } },
        expect.objectContaining({ reason: 'invalid-json', position: 17, text: '{"city":"Lisbon",}' }),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('fails a value cut at the end (finish length) with incomplete-json and keeps the text', async () => {
    const error = await failure(from([a, b, finish('length')]).pipe(partialObject(Weather)));
    expect(error.reason).toBe('incomplete-json');
    expect(error.text).toBe('{"city":"Lisbon","temp"');
    expect(error.position).toBe(23);
  });

  it('fails whole JSON that does not match the schema with its issues, never repaired', async () => {
    const error = await failure(from([text('{"city":"Lisbon","temp":"warm"}')]).pipe(partialObject(Weather)));
    expect(error.reason).toBe('schema-mismatch');
    expect(error.issues).toEqual([expect.objectContaining({ path: ['temp'], code: 'invalid_type' })]);
    expect(error.message).toContain('temp');
  });

  it('emits the schema output (transforms applied) as the final value', async () => {
    const schema = z.object({ city: z.string().transform((s) => s.toUpperCase()) });
    const updates = await lastValueFrom(
      from([text('{"city":"Oslo"}')]).pipe(partialObject(schema), toArray()),
    );
    expect(updates).toEqual([
      { done: false, value: { city: 'Oslo' } },
      { done: true, value: { city: 'OSLO' } },
    ]);
  });

  it('turns a throwing schema transform into the stream error', async () => {
    const schema = z.object({ city: z.string() }).transform(() => {
      throw new Error('transform failed');
    });
    await expect(lastValueFrom(from([text('{"city":"Oslo"}')]).pipe(partialObject(schema)))).rejects.toThrow(
      'transform failed',
    );
  });

  it('reads the arguments of the first call to the chosen tool, ignoring text and other tools', async () => {
    const chunks = [
      text('Let me file that.'),
      tools(call(0, 'c0', 'lookup', '{"q":')),
      tools(call(1, 'c1', 'create_ticket', '{"title":"Pr')),
      tools(call(0, undefined, undefined, '"x"}')),
      tools(call(1, undefined, undefined, 'inter on fire","priority":2}')),
      tools(call(2, 'c2', 'create_ticket', '{"title":"second"}')),
      finish('tool_calls'),
    ];
    const Ticket = z.object({ title: z.string(), priority: z.number() });
    const updates = await lastValueFrom(
      from(chunks).pipe(partialObject({ schema: Ticket, from: { toolCall: 'create_ticket' } }), toArray()),
    );
    expect(updates).toEqual([
      { done: false, value: { title: 'Pr' } },
      { done: false, value: { title: 'Printer on fire', priority: 2 } },
      { done: true, value: { title: 'Printer on fire', priority: 2 } },
    ]);
  });

  it('fails with no-output carrying the refusal when the model refused', async () => {
    const error = await failure(
      from([chunk({ refusal: "I can't help " }), chunk({ refusal: 'with that.' }), finish('stop')]).pipe(
        partialObject(Weather),
      ),
    );
    expect(error.reason).toBe('no-output');
    expect(error.refusal).toBe("I can't help with that.");
    expect(error.message).toContain("refused instead of answering: I can't help with that.");
  });

  it('fails with no-output when the chosen tool is never called', async () => {
    const error = await failure(
      from([tools(call(0, 'c0', 'lookup', '{}'))]).pipe(
        partialObject({ from: { toolCall: 'create_ticket' } }),
      ),
    );
    expect(error.reason).toBe('no-output');
    expect(error.message).toContain('create_ticket');
  });

  it('starts over after a reset chunk', async () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'cut' } });
    const updates = await lastValueFrom(
      from([text('{"city":"Lis'), reset, text('{"city":"Oslo","temp":3}')]).pipe(
        partialObject(Weather),
        toArray(),
      ),
    );
    expect(updates.at(-1)).toEqual({ done: true, value: { city: 'Oslo', temp: 3 } });
    expect(updates).toHaveLength(3);
  });

  it("reads the new attempt's tool call after a reset chunk (a new call id)", async () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'cut' } });
    const updates = await lastValueFrom(
      from([
        tools(call(0, 'call_1', 'save', '{"city":"Lis')),
        reset,
        tools(call(0, 'call_2', 'save', '{"city":"Oslo",')),
        tools(call(0, undefined, undefined, '"temp":3}')),
      ]).pipe(partialObject({ schema: Weather, from: { toolCall: 'save' } }), toArray()),
    );
    expect(updates.at(-1)).toEqual({ done: true, value: { city: 'Oslo', temp: 3 } });
  });

  it('keeps the identity of finished sub-objects and never changes an emitted value', async () => {
    const updates = await lastValueFrom(
      from([text('{"a":{"x":1},"b":"h'), text('i"'), text(',"c":[1'), text(']}')]).pipe(
        partialObject(),
        toArray(),
      ),
    );
    const values = updates.map((u) => u.value as Record<string, unknown>);
    expect(values[0]).toEqual({ a: { x: 1 }, b: 'h' });
    expect(values[1].a).toBe(values[0].a);
    expect(values[1]).toEqual({ a: { x: 1 }, b: 'hi' });
    expect(values[2]).toEqual({ a: { x: 1 }, b: 'hi', c: [] });
    expect(values[4]).toEqual({ a: { x: 1 }, b: 'hi', c: [1] });
  });

  it('emits a snapshot for every growing chunk while the open containers hold up to 256 entries', async () => {
    const json = JSON.stringify(Array.from({ length: 250 }, (_, i) => i));
    const updates = await lastValueFrom(
      from([...json].map((ch) => text(ch))).pipe(partialObject(), toArray()),
    );
    const partials = updates.filter((u) => !u.done).map((u) => (u.value as number[]).length);
    // '[' gives [], then each number appears at the comma (or bracket) that ends it: one snapshot each.
    expect(partials).toEqual(Array.from({ length: 251 }, (_, i) => i));
  });

  it('emits fewer snapshots than chunks only for huge arrays, and the final value is whole', async () => {
    const json = JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => i) });
    const updates = await lastValueFrom(
      from([...json].map((ch) => text(ch))).pipe(partialObject(), toArray()),
    );
    const partials = updates.filter((u) => !u.done);
    const numbers = json.split(',').length;
    expect(partials.length).toBeLessThan(numbers);
    expect(partials.length).toBeGreaterThan(numbers / 100);
    expect(updates.at(-1)).toEqual({ done: true, value: JSON.parse(json) });
    // Every snapshot is a prefix of the final array.
    const last = partials.at(-1)!.value as { items: number[] };
    expect(last.items).toEqual(JSON.parse(json).items.slice(0, last.items.length));
  });

  it('stops a synchronous source when downstream takes what it needs', async () => {
    let pulled = 0;
    const endless = new Observable<Chunk>((s) => {
      s.next(text('['));
      for (let i = 0; !s.closed; i++) {
        pulled++;
        s.next(text(`${i},`));
      }
    });
    const firsts = await lastValueFrom(endless.pipe(partialObject(), take(2), toArray()));
    expect(firsts).toEqual([
      { done: false, value: [] },
      { done: false, value: [0] },
    ]);
    expect(pulled).toBe(1);
  });

  it('types the final value from a schema given in the config object', async () => {
    const update = await lastValueFrom(
      from([tools(call(0, 'c', 'save', '{"city":"Oslo","temp":3}'))]).pipe(
        partialObject({ schema: Weather, from: { toolCall: 'save' } }),
      ),
    );
    const typed: PartialObjectUpdate<{ city: string; temp: number }> = update;
    expect(typed.done && typed.value.city.toUpperCase()).toBe('OSLO');
  });

  it('types the final value from the schema', async () => {
    const update: PartialObjectUpdate<{ city: string; temp: number }> = await lastValueFrom(
      from([text('{"city":"Oslo","temp":3}')]).pipe(partialObject(Weather)),
    );
    expect(update.done && update.value.temp + 1).toBe(4);
  });

  it.each([
    [null, 'config must be'],
    [{ from: 'tool' }, 'from must be'],
    [{ from: { toolCall: '' } }, 'from must be'],
    [{ choice: -1 }, 'choice must be'],
    [{ schema: {} }, 'schema must be'],
  ])('rejects bad config %j with a TypeError at creation', (config, message) => {
    expect(() => partialObject(config as never)).toThrow(TypeError);
    expect(() => partialObject(config as never)).toThrow(message);
  });
});

/** True when `value` and every object and array inside it are frozen. */
function deepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

describe('partialObject: partials are frozen', () => {
  const User = z.object({ user: z.object({ name: z.string(), tags: z.array(z.string()) }), n: z.number() });
  const pieces = ['{"user":{"name":"Ad', 'a","tags":["x"', ',"y"]},"n":', '1}'];

  it('hands out deep-frozen partials, so a consumer cannot change the value the schema then checks', async () => {
    const refused: unknown[] = [];
    const updates = await lastValueFrom(
      from(pieces.map((p) => text(p))).pipe(
        partialObject(User),
        tap((update) => {
          if (update.done) return;
          expect(deepFrozen(update.value)).toBe(true);
          // What a careless consumer might do; the spec files are strict mode, so it throws.
          const value = update.value as { user?: { name?: string; tags?: string[] } };
          for (const mutate of [
            () => (value.user!.name = 'Mallory'),
            () => value.user!.tags?.push('z'),
            () => delete value.user,
          ]) {
            try {
              mutate();
            } catch (error) {
              refused.push(error);
            }
          }
        }),
        toArray(),
      ),
    );
    const partials = updates.filter((u) => !u.done);
    expect(partials.map((u) => u.value)).toEqual([
      { user: { name: 'Ad' } },
      { user: { name: 'Ada', tags: ['x'] } },
      { user: { name: 'Ada', tags: ['x', 'y'] } },
      { user: { name: 'Ada', tags: ['x', 'y'] }, n: 1 },
    ]);
    // Two mutations per partial touch an existing object (the tags push only once tags exist).
    expect(refused.length).toBe(partials.length * 2 + partials.length - 1);
    for (const error of refused) expect(error).toBeInstanceOf(TypeError);
    expect(updates.at(-1)).toEqual({ done: true, value: { user: { name: 'Ada', tags: ['x', 'y'] }, n: 1 } });
  });

  it('freezes the final value too when there is no schema; a schema gives its own fresh objects', async () => {
    const bare = await lastValueFrom(from(pieces.map((p) => text(p))).pipe(partialObject()));
    expect(bare.done && deepFrozen(bare.value)).toBe(true);
    const checked = await lastValueFrom(from(pieces.map((p) => text(p))).pipe(partialObject(User)));
    expect(checked.done).toBe(true);
    // zod builds new objects and arrays: the final value is the consumer's to change.
    expect(Object.isFrozen(checked.value)).toBe(false);
    expect(Object.isFrozen((checked.value as z.output<typeof User>).user.tags)).toBe(false);
    // What the schema passes through as is stays the frozen partial tree.
    const Loose = z.object({ meta: z.unknown() });
    const loose = await lastValueFrom(from([text('{"meta":{"a":[1]}}')]).pipe(partialObject(Loose)));
    expect(Object.isFrozen(loose.value)).toBe(false);
    expect(deepFrozen((loose.value as { meta: unknown }).meta)).toBe(true);
  });
});

describe('partialObject: invalid versus cut JSON', () => {
  it.each([['01'], ['{"n":-01'], ['[1.2.'], ['{"n":00}']])(
    'fails %j with invalid-json as it arrives: no continuation could make it JSON',
    async (json) => {
      const error = await failure(from([text(json), text('}')]).pipe(partialObject()));
      expect(error.reason).toBe('invalid-json');
      expect(error.text).toBe(json); // failed before the next chunk
    },
  );

  it.each([['-'], ['{"n":1.'], ['[1e+'], ['tru']])(
    'fails %j with incomplete-json at the end (it was cut)',
    async (json) => {
      const error = await failure(from([text(json)]).pipe(partialObject()));
      expect(error.reason).toBe('incomplete-json');
    },
  );
});

describe('partialObject: linear on every input', () => {
  /** A JSON string of about `size` characters of `inner` repeated, in deltas of `delta` UTF-16 units. */
  const run = (inner: string, delta: number) => (size: number) => {
    const body = inner.repeat(Math.ceil(size / inner.length));
    const source = new Subject<Chunk>();
    let last: unknown;
    source.pipe(partialObject()).subscribe((u) => (last = u));
    source.next(text('{"s":"'));
    for (let i = 0; i < body.length; i += delta) source.next(text(body.slice(i, i + delta)));
    source.next(text('"}'));
    source.complete();
    expect(last).toMatchObject({ done: true });
  };

  it('stays linear when deltas split escaped surrogate pairs (\\ud83d | \\ude00)', () => {
    // Every delta ends after the escaped high surrogate: its low half comes with the next delta.
    const inner = `\\ude00${'x'.repeat(52)}\\ud83d`;
    expect(ratio4x(run(inner, inner.length), 256 * 1024)).toBeLessThan(LINEAR_BOUND);
  });

  it('stays linear when deltas split raw emoji into single UTF-16 units', () => {
    expect(ratio4x(run('😀', 1), 32 * 1024)).toBeLessThan(LINEAR_BOUND);
  });

  it('never shows half a pair, and emits nothing for a delta that is only a high surrogate', async () => {
    const updates = await lastValueFrom(
      from(['{"s":"a', '\ud83d', '\ude00', 'b\\ud83d', '\\ude00"}'].map((p) => text(p))).pipe(
        partialObject(),
        toArray(),
      ),
    );
    expect(updates.map((u) => (u.value as { s: string }).s)).toEqual([
      'a',
      'a😀',
      'a😀b',
      'a😀b😀',
      'a😀b😀',
    ]);
  });
});
