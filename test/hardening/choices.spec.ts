/**
 * Many choices: the merge keeps them in index order without re-sorting, and absurd `n` or choice
 * indexes end in typed errors above MAX_CHOICES.
 */
import { Subject } from 'rxjs';
import {
  MAX_CHOICES,
  RequestValidationError,
  StreamCutError,
  StreamParseError,
  stream,
  validateRequest,
  type ChatCompletion,
  type Chunk,
} from '../../src';
import { accumulateChunks, mergeChunks, retryBackoff } from '../../operators';
import { createMockServer } from '../../src/testing';
import { collect, REQUEST } from '../helpers/collect';

const chunk = (index: number, content: string, finish: 'stop' | null = null): Chunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index, delta: { content }, finish_reason: finish }],
});

describe('choices in accumulateChunks', () => {
  it('orders MAX_CHOICES choices that arrive in reverse, shuffled and interleaved order', () => {
    const order = Array.from({ length: MAX_CHOICES }, (_, i) => MAX_CHOICES - 1 - i);
    const shuffled = [...order].sort((a, b) => ((a * 7919) % 127) - ((b * 7919) % 127));
    const chunks = [
      ...order.map((i) => chunk(i, `a${i}`)),
      ...shuffled.map((i) => chunk(i, `b${i}`, 'stop')),
    ];
    const merged = mergeChunks(chunks);
    expect(merged.choices.map((c) => c.index)).toEqual(Array.from({ length: MAX_CHOICES }, (_, i) => i));
    expect(merged.choices[5].message.content).toBe('a5b5');
    expect(merged.choices.every((c) => c.finish_reason === 'stop')).toBe(true);
  });

  it('inserts a new choice between existing ones in snapshot mode', () => {
    const source = new Subject<Chunk>();
    const snapshots: ChatCompletion[] = [];
    source.pipe(accumulateChunks({ emit: 'snapshots' })).subscribe((s) => snapshots.push(s));
    for (const i of [0, 4, 2, 3, 1]) source.next(chunk(i, String(i)));
    expect(snapshots.map((s) => s.choices.map((c) => c.index).join(''))).toEqual([
      '0',
      '04',
      '024',
      '0234',
      '01234',
    ]);
  });

  it.each([MAX_CHOICES, 20_000, -1, 1.5, Number.MAX_SAFE_INTEGER])(
    'ends with a StreamParseError, keeping what arrived, on choice index %p',
    (index) => {
      const source = new Subject<Chunk>();
      let error: unknown;
      source.pipe(accumulateChunks()).subscribe({ error: (e) => (error = e) });
      source.next(chunk(0, 'kept'));
      source.next(chunk(index, 'absurd'));
      expect(error).toBeInstanceOf(StreamParseError);
      expect((error as Error).message).toContain(`0 to ${MAX_CHOICES - 1}`);
      expect((error as StreamParseError).partial?.choices[0].message.content).toBe('kept');
    },
  );

  it("retryBackoff's partial leaves an absurd index out instead of throwing from its next handler", () => {
    const source = new Subject<Chunk>();
    const seen: Chunk[] = [];
    let error: unknown;
    source.pipe(retryBackoff()).subscribe({ next: (c) => seen.push(c), error: (e) => (error = e) });
    source.next(chunk(0, 'kept'));
    source.next(chunk(50_000, 'absurd'));
    source.error(new StreamCutError());
    expect(seen).toHaveLength(2);
    expect(error).toBeInstanceOf(StreamCutError);
    expect((error as StreamCutError).partial?.choices.map((c) => c.index)).toEqual([0]);
  });

  it('rejects an absurd index arriving from a real server', async () => {
    const server = await createMockServer();
    const events = [chunk(0, 'x'), chunk(50_000, 'y')].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('');
    server.enqueue({ rawSse: events + 'data: [DONE]\n\n' });
    const { error } = await collect(stream(REQUEST, { baseURL: server.url }).pipe(accumulateChunks()));
    await server.close();
    expect(error).toBeInstanceOf(StreamParseError);
  });
});

describe('n in the request', () => {
  it('accepts n up to MAX_CHOICES (128, OpenAI’s own limit)', () => {
    expect(MAX_CHOICES).toBe(128);
    expect(validateRequest({ ...REQUEST, n: MAX_CHOICES }).n).toBe(MAX_CHOICES);
  });

  it.each([MAX_CHOICES + 1, 20_000, 0])('rejects n = %p with RequestValidationError', (n) => {
    expect(() => validateRequest({ ...REQUEST, n })).toThrow(RequestValidationError);
  });

  it('names the limit in the message, before anything is sent', async () => {
    const server = await createMockServer();
    const { error } = await collect(stream({ ...REQUEST, n: 50_000 }, { baseURL: server.url }));
    await server.close();
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as Error).message).toMatch(/n must be at most 128 \(MAX_CHOICES\)/);
    expect(server.stats.requests).toBe(0);
  });
});
