/**
 * The marble diagrams in the TSDoc of `timeouts`, `mapConcurrent`, `retryBackoff` and `batch`, run as marble tests: each
 * diagram is read from the source file (test/helpers/docMarbles.ts), so a diagram that does not
 * match what the operator does fails here.
 */
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  mapConcurrent,
  retryBackoff,
  timeouts,
  type MapConcurrentConfig,
  type RetryBackoffConfig,
  type TimeoutsConfig,
} from 'rxllm/operators';
import {
  BadRequestError,
  batch,
  RateLimitError,
  ServerError,
  TimeoutError,
  type BatchResult,
  type Chunk,
} from 'rxllm';
import { docDiagrams, type Diagram } from '../helpers/docMarbles';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** The subscription marble of a cold observable drawn at `offset`: subscribed there, ended at its `|` or `#`. */
function subscribed(offset: number, marble: string): string {
  const end = TestScheduler.parseMarbles(marble, undefined, undefined, undefined, true).find(
    (m) => m.notification.kind !== 'N',
  )!.frame;
  return '-'.repeat(offset) + '^' + '-'.repeat(end - 1) + '!';
}

function line(d: Diagram, label: string) {
  const l = d.lines.get(label);
  if (!l) throw new Error(`diagram under "${d.header}" has no ${label}: line`);
  return l;
}

describe('timeouts TSDoc diagrams', () => {
  const diagrams = docDiagrams('operators/timeouts.ts', 'timeouts');
  const configs: Record<string, TimeoutsConfig> = {
    'timeouts({ firstChunk: 5, idle: 3 })': { firstChunk: 5, idle: 3 },
  };

  it('has diagrams, each under a header this spec knows', () => {
    expect(diagrams.length).toBeGreaterThanOrEqual(2);
    for (const d of diagrams) expect(Object.keys(configs)).toContain(d.header);
  });

  it.each(diagrams.map((d, i) => [i, d] as const))('diagram %i runs as drawn', (_i, d) => {
    const config = configs[d.header];
    const result = line(d, 'result');
    const kind = /TimeoutError '(\w+)'/.exec(result.note)?.[1] as 'firstChunk' | 'idle' | 'total';
    expect(kind).toBeDefined();
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold(line(d, 'source').marble);
      expectObservable(source.pipe(timeouts(config))).toBe(
        result.marble,
        undefined,
        new TimeoutError(kind, config[kind] as number),
      );
    });
  });
});

describe('mapConcurrent TSDoc diagrams', () => {
  const diagrams = docDiagrams('operators/mapConcurrent.ts', 'mapConcurrent');
  const configs: Record<string, MapConcurrentConfig> = {
    'mapConcurrent(x => call(x), { concurrency: 2, ordered: true })': { concurrency: 2, ordered: true },
    'mapConcurrent(x => call(x), { concurrency: 2, settle: true })': { concurrency: 2, settle: true },
  };

  it('has diagrams, each under a header this spec knows', () => {
    expect(diagrams.length).toBe(Object.keys(configs).length);
    for (const d of diagrams) expect(Object.keys(configs)).toContain(d.header);
  });

  it.each(diagrams.map((d) => [d.header, d] as const))('%s runs as drawn', (_h, d) => {
    const config = configs[d.header]!;
    const settle = config.settle === true;
    const items = [...line(d, 'source').marble].filter((c) => /[a-z]/.test(c));
    const result = line(d, 'result');
    // Result values: a capital letter is the value of the item with that lower-case letter; in settle
    // mode it stands for `{ ok: true, value }`, and the note spells out the failure (`x = {...}`).
    const values: Record<string, unknown> = {};
    for (const item of items) {
      const value = item.toUpperCase();
      const index = items.indexOf(item);
      values[value] = settle ? { ok: true, index, item, value } : value;
    }
    const failure = /(\w) = \{ ok: false, index: (\d+), item: '(\w)', error \}/.exec(result.note);
    if (settle) {
      expect(failure).not.toBeNull();
      const [, letter, index, item] = failure!;
      values[letter] = { ok: false, index: Number(index), item, error: 'error' };
    }
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const inners: Record<string, Observable<string>> = {};
      const cols: Record<string, ReturnType<typeof cold<string>>> = {};
      for (const item of items) inners[item] = cols[item] = cold(line(d, item).marble);
      const piped = cold(line(d, 'source').marble).pipe(
        mapConcurrent((x: string) => inners[x], config as { concurrency: number }),
      );
      expectObservable(piped).toBe(result.marble, values);
      // The indentation of each inner line is when it is subscribed.
      for (const item of items) {
        const { offset, marble } = line(d, item);
        expectSubscriptions(cols[item].subscriptions).toBe(subscribed(offset, marble));
      }
    });
  });
});

describe('retryBackoff TSDoc diagrams', () => {
  const diagrams = docDiagrams('operators/retryBackoff.ts', 'retryBackoff');
  const configs: Record<string, RetryBackoffConfig> = {
    'retryBackoff({ initialDelayMs: 3, jitter: 0 })': { initialDelayMs: 3, jitter: 0 },
  };
  /** The error a line's note names. */
  const errorOf = (note: string): Error | undefined => {
    const ms = /429 with retryAfterMs (\d+)/.exec(note)?.[1];
    if (ms !== undefined) return new RateLimitError({ status: 429, headers: { 'retry-after-ms': ms } });
    if (/\b500\b/.test(note)) return new ServerError({ status: 500 });
    return undefined;
  };
  const chunkOf = (content: string): Chunk => ({
    id: 'doc',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  });

  it('has diagrams, each under a header this spec knows', () => {
    expect(diagrams.length).toBe(2);
    for (const d of diagrams) expect(Object.keys(configs)).toContain(d.header);
  });

  it.each(diagrams.map((d, i) => [i, d] as const))('diagram %i runs as drawn', (_i, d) => {
    const attempts = [...d.lines.values()].filter((l) => l.label !== 'result');
    const values: Record<string, Chunk> = {};
    for (const l of attempts) for (const c of l.marble.match(/[a-z]/g) ?? []) values[c] = chunkOf(c);
    const errors = attempts.map((l) => errorOf(l.note));
    const result = line(d, 'result');
    // A failing result fails with the last attempt's error (partial attached to that same object).
    const lastError = errors[errors.length - 1];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const sources = attempts.map((l, i) => cold(l.marble, values, errors[i]));
      let n = 0;
      const source = new Observable<Chunk>((s) => sources[n++].subscribe(s));
      expectObservable(source.pipe(retryBackoff(configs[d.header]))).toBe(result.marble, values, lastError);
      // Each attempt line's indentation is when it is subscribed.
      attempts.forEach((l, i) => {
        expectSubscriptions(sources[i].subscriptions).toBe(subscribed(l.offset, l.marble));
      });
    });
    if (result.note.includes('error.partial')) {
      expect(
        (lastError as { partial?: { choices: { message: { content: string } }[] } }).partial?.choices[0]
          .message.content,
      ).toBe('a');
    }
  });
});

describe('batch TSDoc diagram', () => {
  const diagrams = docDiagrams('src/batch.ts', 'batch');

  it('runs as drawn', () => {
    expect(diagrams.map((d) => d.header)).toEqual(['batch([r0, r1, r2], { concurrency: 2 })']);
    const [d] = diagrams;
    const rows = [...d.lines.values()].filter((l) => /^r\d$/.test(l.label));
    const requests = rows.map((l) => ({
      model: 'mock/doc' as const,
      messages: [{ role: 'user' as const, content: l.label }],
    }));
    const errors = rows.map((l) =>
      /\b400\b/.test(l.note) ? new BadRequestError({ status: 400 }) : undefined,
    );
    const result = line(d, 'result');
    const values: Record<string, BatchResult<string>> = {};
    rows.forEach((l, index) => {
      const value = /[A-Z]/.exec(l.marble)?.[0];
      if (value) values[value] = { ok: true, index, request: requests[index], value, attempts: 1 };
    });
    const failed = /(\w) = \{ ok: false, index: (\d+), error: BadRequestError \}/.exec(result.note);
    expect(failed).not.toBeNull();
    const index = Number(failed![2]);
    values[failed![1]] = { ok: false, index, request: requests[index], error: errors[index], attempts: 1 };
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const calls = rows.map((l, i) => cold(l.marble, undefined, errors[i]));
      expectObservable(batch(requests, { concurrency: 2, call: (_r, i) => calls[i] })).toBe(
        result.marble,
        values,
      );
      rows.forEach((l, i) => {
        expectSubscriptions(calls[i].subscriptions).toBe(subscribed(l.offset, l.marble));
      });
    });
  });
});
