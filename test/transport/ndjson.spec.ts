/**
 * NDJSON framing (Ollama's stream), byte-split safe: a line, a multi-byte character or a CRLF split
 * across reads, blank lines, a last line without a line end, an oversized line.
 */
import { Subscriber } from 'rxjs';
import { StreamCutError, StreamParseError } from '../../src';
import { splitBytes } from '../../src/testing';
import { ndjsonSink, type NdjsonLineDecoder } from '../../src/transport/ndjson';

function run(pieces: Buffer[], decoder?: Partial<NdjsonLineDecoder<string>>) {
  const out: string[] = [];
  const subscriber = new Subscriber<string>({
    next: (v) => void out.push(v),
    error: () => undefined,
    complete: () => undefined,
  });
  const sink = ndjsonSink<string>(subscriber, {
    line: decoder?.line ?? ((text, emit) => emit(text)),
    end: decoder?.end ?? (() => undefined),
  });
  let error: unknown;
  try {
    for (const piece of pieces) sink.data(piece);
    error = sink.end();
  } catch (e) {
    error = e;
  }
  return { out, error };
}

const BODY = '{"a":"Grüße 🌸"}\r\n\n{"b":"写诗"}\n{"c":"✓"}\r\n';
const LINES = ['{"a":"Grüße 🌸"}', '{"b":"写诗"}', '{"c":"✓"}'];

describe('ndjsonSink', () => {
  it('splits LF and CRLF lines whole when the body is cut at every byte', () => {
    const every = Array.from({ length: Buffer.byteLength(BODY) }, (_, i) => i + 1);
    expect(run(splitBytes(BODY, { splitAt: every })).out).toEqual(LINES);
  });

  it('gives the same lines for 200 seeded-random splits', () => {
    for (let seed = 1; seed <= 200; seed++) {
      expect(run(splitBytes(BODY, { randomSplits: { seed, pieces: 2 + (seed % 12) } })).out).toEqual(LINES);
    }
  });

  it('hands on a last line that has no line end', () => {
    expect(run([Buffer.from('{"x":1}\n{"y":2}')]).out).toEqual(['{"x":1}', '{"y":2}']);
  });

  it('returns the decoder’s end error (a cut stream)', () => {
    const cut = new StreamCutError('cut');
    expect(run([Buffer.from('{"x":1}\n')], { end: () => cut }).error).toBe(cut);
  });

  it('turns a decoder’s non-LlmError into a StreamParseError', () => {
    const { error } = run([Buffer.from('{"x":1}\n')], {
      line: () => {
        throw new TypeError('bad');
      },
    });
    expect(error).toBeInstanceOf(StreamParseError);
  });

  it('keeps a scrubbed copy of that error as the cause, as sseSink does (no payload, no key)', () => {
    const thrown = Object.assign(new TypeError('bad line for sk-test-ndjson-cause-0123456789'), {
      payload: '{"x":1}',
    });
    const { error } = run([Buffer.from('{"x":1}\n')], {
      line: () => {
        throw thrown;
      },
    });
    const cause = (error as StreamParseError).cause as Error & { payload?: unknown };
    expect(cause).not.toBe(thrown);
    expect(cause.name).toBe('TypeError');
    expect(cause.payload).toBeUndefined();
    expect(cause.message).toBe('bad line for [REDACTED]');
  });

  it('rejects a line over the size limit with a StreamParseError, reading no further', () => {
    const big = Buffer.alloc(1024 * 1024, 'a');
    const pieces = Array.from({ length: 17 }, () => big);
    const { error, out } = run(pieces);
    expect(error).toBeInstanceOf(StreamParseError);
    expect(out).toEqual([]);
  });
});
