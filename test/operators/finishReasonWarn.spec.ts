import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Chunk } from '../../src/chunk';
import { FinishReasonError, ServerError } from '../../src/errors';
import type { Logger } from '../../src/logger';
import { finishReasonWarn, type FinishReasonWarning } from '../../operators/finishReasonWarn';
import { chunk, finish, text } from '../quirks/toolCallQuirks';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function recorder() {
  const warnings: FinishReasonWarning[] = [];
  return { warnings, onWarn: (w: FinishReasonWarning) => warnings.push(w) };
}

describe('finishReasonWarn', () => {
  const a = text('Hi');
  const s = finish('stop');
  const l = finish('length');

  it('passes chunks through unchanged and does not warn on stop', () => {
    const { warnings, onWarn } = recorder();
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-s-|', { a, s });
      expectObservable(source.pipe(finishReasonWarn({ onWarn }))).toBe('-a-s-|', { a, s });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    expect(warnings).toEqual([]);
  });

  it('warns once when a choice is truncated by length, telling to raise max_tokens', () => {
    const { warnings, onWarn } = recorder();
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-l-|', { a, l }).pipe(finishReasonWarn({ onWarn }))).toBe('-a-l-|', { a, l });
    });
    expect(warnings).toEqual([
      { choiceIndex: 0, finishReason: 'length', message: expect.stringContaining('raise max_tokens') },
    ]);
  });

  it('warns on content_filter and unusual reasons, with the provider value', () => {
    const { warnings, onWarn } = recorder();
    const cf = chunk([{ delta: {}, finish_reason: 'content_filter', raw_finish_reason: 'SAFETY' }]);
    const fc = chunk([{ index: 1, delta: {}, finish_reason: 'function_call' }]);
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-c-f-|', { c: cf, f: fc }).pipe(finishReasonWarn({ onWarn }))).toBe('-c-f-|', {
        c: cf,
        f: fc,
      });
    });
    expect(warnings.map((w) => [w.choiceIndex, w.finishReason, w.rawFinishReason])).toEqual([
      [0, 'content_filter', 'SAFETY'],
      [1, 'function_call', undefined],
    ]);
    expect(warnings[0].message).toContain('content filter');
  });

  it('writes one line through the injected logger by default', () => {
    const lines: string[] = [];
    const logger: Logger = { warn: (m) => lines.push(m), error: () => undefined };
    const source = new Subject<Chunk>();
    source.pipe(finishReasonWarn({ logger })).subscribe();
    source.next(l);
    source.complete();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toContain('"length"');
  });

  it("fails with a FinishReasonError after the chunk when errorOn has 'length'", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-l-|', { a, l });
      expectObservable(source.pipe(finishReasonWarn({ errorOn: ['length'], onWarn: () => undefined }))).toBe(
        '-a-(l#)',
        { a, l },
        new FinishReasonError(
          'length',
          0,
          'Choice 0 finished with "length": the output was truncated; raise max_tokens or shorten the prompt.',
        ),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
    const source = new Subject<Chunk>();
    let received: unknown;
    source
      .pipe(finishReasonWarn({ errorOn: ['length', 'content_filter'] }))
      .subscribe({ error: (e) => (received = e) });
    source.next(finish('content_filter'));
    expect(received).toBeInstanceOf(FinishReasonError);
    expect([
      (received as FinishReasonError).finishReason,
      (received as FinishReasonError).choiceIndex,
    ]).toEqual(['content_filter', 0]);
  });

  it('warns when the stream completes with no finish reason at all', () => {
    const { warnings, onWarn } = recorder();
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-|', { a }).pipe(finishReasonWarn({ onWarn }))).toBe('-a-|', { a });
    });
    expect(warnings).toEqual([
      { choiceIndex: null, finishReason: null, message: expect.stringContaining('without') },
    ]);
  });

  it('warns for each choice that never finished when others did (n > 1)', () => {
    const { warnings, onWarn } = recorder();
    const source = new Subject<Chunk>();
    source.pipe(finishReasonWarn({ onWarn })).subscribe();
    source.next(
      chunk([
        { index: 0, delta: { content: 'x' } },
        { index: 1, delta: { content: 'y' } },
      ]),
    );
    source.next(s);
    source.complete();
    expect(warnings.map((w) => [w.choiceIndex, w.finishReason])).toEqual([[1, null]]);
  });

  it('warns on empty completion but can be told not to', () => {
    const { warnings, onWarn } = recorder();
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('|').pipe(finishReasonWarn({ onWarn }))).toBe('|');
      expectObservable(cold<Chunk>('|').pipe(finishReasonWarn({ onWarn, warnOnMissing: false }))).toBe('|');
    });
    expect(warnings).toHaveLength(1);
  });

  it('passes errors on without warning', () => {
    const { warnings, onWarn } = recorder();
    const error = new ServerError({ status: 500 });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#', { a }, error).pipe(finishReasonWarn({ onWarn }))).toBe(
        '-a-#',
        { a },
        error,
      );
    });
    expect(warnings).toEqual([]);
  });

  it('never warns for a source that never ends, nor after early unsubscribe', () => {
    const { warnings, onWarn } = recorder();
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const never = cold('-a-', { a });
      expectObservable(never.pipe(finishReasonWarn({ onWarn }))).toBe('-a-', { a });
      expectSubscriptions(never.subscriptions).toBe('^');
      const source = cold('-a-l-|', { a, l });
      expectObservable(source.pipe(finishReasonWarn({ onWarn })), '^-!').toBe('-a-', { a });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    expect(warnings).toEqual([]);
  });

  it('keeps state per subscription and clears it on reset', () => {
    const { warnings, onWarn } = recorder();
    const source = new Subject<Chunk>();
    const warned = source.pipe(finishReasonWarn({ onWarn }));
    warned.subscribe();
    source.next(s);
    warned.subscribe();
    source.complete();
    // The first saw a finish; the second did not.
    expect(warnings.map((w) => w.finishReason)).toEqual([null]);

    const again = recorder();
    const src2 = new Subject<Chunk>();
    src2.pipe(finishReasonWarn({ onWarn: again.onWarn })).subscribe();
    src2.next(s);
    src2.next(chunk([], { reset: { attempt: 1, reason: 'retry' } }));
    src2.next(a);
    src2.complete();
    expect(again.warnings.map((w) => w.choiceIndex)).toEqual([null]);
  });

  it('throws a TypeError for a bad config when created', () => {
    expect(() => finishReasonWarn({ errorOn: ['stop' as never] })).toThrow(TypeError);
    expect(() => finishReasonWarn({ logger: {} as never })).toThrow(TypeError);
    expect(() => finishReasonWarn({ onWarn: 'x' as never })).toThrow(TypeError);
  });
});
