import { from, lastValueFrom, Observable, take, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import type { Chunk } from '../../src/chunk';
import { ServerError, StructuredOutputError } from '../../src/errors';
import { arrayElements } from '../../operators/arrayElements';
import { call, chunk, finish, text, tools } from '../quirks/toolCallQuirks';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const N = z.object({ n: z.number() });

describe('arrayElements', () => {
  const a = text('[{"n":1},{"n"');
  const b = text(':2}');
  const c = text(']');

  it('emits each element once its closing character arrives', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--|', { a, b, c });
      expectObservable(source.pipe(arrayElements(N))).toBe('--A--B-----|', { A: { n: 1 }, B: { n: 2 } });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('fails an element that does not match the schema, after the valid ones', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--x--c--|', { a, x: text(':2},{"m":true}'), c });
      expectObservable(source.pipe(arrayElements(N))).toBe(
        '--A--(B#)',
        { A: { n: 1 }, B: { n: 2 } },
        expect.objectContaining({
          reason: 'schema-mismatch',
          issues: [expect.objectContaining({ path: [2, 'n'] })],
        }),
      );
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('fails an empty source with no-output', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(arrayElements())).toBe(
        '#',
        undefined,
        expect.objectContaining({ reason: 'no-output' }),
      );
    });
  });

  it('passes a source error on after the elements already complete', () => {
    const error = new ServerError({ status: 503 });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#', { a }, error).pipe(arrayElements())).toBe('-A-#', { A: { n: 1 } }, error);
    });
  });

  it('stays subscribed and silent on a source that never emits', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Chunk>('-');
      expectObservable(source.pipe(arrayElements())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('unsubscribes from the source on early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a, b, c });
      expectObservable(source.pipe(arrayElements()), '^--!').toBe('-A-', { A: { n: 1 } });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps parser state per subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-a-b-c-|', { a, b, c }).pipe(arrayElements(N));
      expectObservable(piped).toBe('-A-B---|', { A: { n: 1 }, B: { n: 2 } });
      expectObservable(piped).toBe('-A-B---|', { A: { n: 1 }, B: { n: 2 } });
    });
  });

  it('reads the array under a top-level key and ignores other arrays', async () => {
    const json = '{"note":[9],"elements":[{"n":1},{"n":2}],"more":[{"n":3}]}';
    const out = await lastValueFrom(
      from([...json].map((ch) => text(ch))).pipe(arrayElements({ schema: N, key: 'elements' }), toArray()),
    );
    expect(out).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('reads the arguments of a tool call', async () => {
    const out = await lastValueFrom(
      from([
        tools(call(0, 'c0', 'add_rows', '[{"n":1}')),
        tools(call(0, undefined, undefined, ',{"n":2}]')),
        finish('tool_calls'),
      ]).pipe(arrayElements({ schema: N, from: { toolCall: 'add_rows' } }), toArray()),
    );
    expect(out).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('fails a cut array with incomplete-json after emitting the complete elements', async () => {
    const seen: unknown[] = [];
    const error = await lastValueFrom(from([a, finish('length')]).pipe(arrayElements(N), toArray())).catch(
      (e: unknown) => e,
    );
    from([a])
      .pipe(arrayElements(N))
      .subscribe({ next: (v) => seen.push(v), error: () => undefined });
    expect(seen).toEqual([{ n: 1 }]);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect((error as StructuredOutputError).reason).toBe('incomplete-json');
    expect((error as StructuredOutputError).text).toBe('[{"n":1},{"n"');
  });

  it('fails when the value is not an array', async () => {
    const error = await lastValueFrom(from([text('{"n":1}')]).pipe(arrayElements())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect((error as StructuredOutputError).reason).toBe('schema-mismatch');
    const keyed = await lastValueFrom(
      from([text('{"x":[]}')]).pipe(arrayElements({ key: 'elements' })),
    ).catch((e: unknown) => e);
    expect((keyed as StructuredOutputError).issues[0].path).toEqual(['elements']);
  });

  it('emits the elements complete before a syntax error, then fails with invalid-json', async () => {
    const seen: unknown[] = [];
    let error: unknown;
    from([text('[1,2,}')])
      .pipe(arrayElements())
      .subscribe({ next: (v) => seen.push(v), error: (e) => (error = e) });
    expect(seen).toEqual([1, 2]);
    expect((error as StructuredOutputError).reason).toBe('invalid-json');
  });

  it('starts over after a reset chunk', async () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'cut' } });
    const out = await lastValueFrom(
      from([text('[{"n":1},'), reset, text('[{"n":5}]')]).pipe(arrayElements(N), toArray()),
    );
    expect(out).toEqual([{ n: 1 }, { n: 5 }]);
  });

  it("reads the new attempt's tool call after a reset chunk (a new call id)", async () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'cut' } });
    const out = await lastValueFrom(
      from([
        tools(call(0, 'call_1', 'emit', '[{"n":1},')),
        reset,
        tools(call(0, 'call_2', 'emit', '[{"n":5},')),
        tools(call(0, undefined, undefined, '{"n":6}]')),
      ]).pipe(arrayElements({ schema: N, from: { toolCall: 'emit' } }), toArray()),
    );
    expect(out).toEqual([{ n: 1 }, { n: 5 }, { n: 6 }]);
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
    expect(await lastValueFrom(endless.pipe(arrayElements(), take(2), toArray()))).toEqual([0, 1]);
    expect(pulled).toBe(2);
  });

  it('turns a throwing element transform into the stream error', async () => {
    const schema = z.number().transform(() => {
      throw new Error('element transform failed');
    });
    await expect(lastValueFrom(from([text('[1]')]).pipe(arrayElements(schema)))).rejects.toThrow(
      'element transform failed',
    );
  });

  it('hands each element over: a consumer that changes one changes nothing else', async () => {
    const seen: unknown[] = [];
    const source = from(['{"items":[{"t":[1]},', '{"t":[1]}', ',{"t":[1]}]}'].map((p) => text(p)));
    await lastValueFrom(
      source.pipe(
        arrayElements({ key: 'items' }),
        tap((element) => {
          // Not frozen and not shared with the next element or the parser.
          (element as { t: unknown[] }).t.push('mine');
          seen.push(structuredClone(element));
        }),
        toArray(),
      ),
    );
    expect(seen).toEqual([{ t: [1, 'mine'] }, { t: [1, 'mine'] }, { t: [1, 'mine'] }]);
  });

  it.each([
    [{ key: 3 }, 'key must be'],
    [{ from: 'nope' }, 'from must be'],
    [{ choice: 1.5 }, 'choice must be'],
  ])('rejects bad config %j with a TypeError at creation', (config, message) => {
    expect(() => arrayElements(config as never)).toThrow(message);
  });
});
