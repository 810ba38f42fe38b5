/**
 * NDJSON body sink (newline-delimited JSON, as Ollama streams): bytes → `TextDecoder` (stream mode,
 * so a multi-byte character split across reads survives) → lines (LF or CRLF, a line or a CRLF split
 * across reads included) → a provider's line decoder → subscriber. The SSE counterpart is `sse.ts`.
 */
import type { Subscriber } from 'rxjs';
import { LlmError, StreamParseError } from '../errors';
import { scrubError } from '../redact';
import type { BodySink } from './bodySink';

/** Turns one provider's NDJSON lines into values. Created per subscription, so it may keep state. */
export interface NdjsonLineDecoder<T> {
  /** Handles one non-empty line (without its line end). Throw an `LlmError` to end the stream with it. */
  line(text: string, emit: (value: T) => void): void;
  /** The body ended. Return an error when the stream is incomplete (e.g. `StreamCutError`). */
  end(): LlmError | void;
}

/** Decoder option, allocated once (this runs for every network read). */
const STREAMING = { stream: true } as const;

/** Most bytes of one line held before it is declared malformed (the same limit as one SSE event). */
export const MAX_NDJSON_LINE = 16 * 1024 * 1024;

/** A `BodySink` that splits NDJSON lines and hands each to `decoder`. */
export function ndjsonSink<T>(subscriber: Subscriber<T>, decoder: NdjsonLineDecoder<T>): BodySink {
  const text = new TextDecoder('utf-8');
  let pending = '';
  const emit = (value: T) => subscriber.next(value);

  const handle = (line: string) => {
    // CRLF: the CR stays at the end of the line when the LF came in a later read, so strip it here.
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (clean.trim() === '') return;
    try {
      decoder.line(clean, emit);
    } catch (error) {
      if (error instanceof LlmError) throw error;
      throw new StreamParseError(
        'invalid-event',
        `Could not handle a stream line: ${(error as Error).message}`,
        '',
        // Scrubbed, as `sseSink` keeps it: no payload hanging off the cause, its message redacted.
        { cause: scrubError(error) },
      );
    }
  };

  const feed = (decoded: string) => {
    let start = 0;
    let newline = decoded.indexOf('\n');
    if (newline === -1) {
      pending += decoded;
    } else {
      handle(pending + decoded.slice(0, newline));
      pending = '';
      start = newline + 1;
      while ((newline = decoded.indexOf('\n', start)) !== -1) {
        handle(decoded.slice(start, newline));
        start = newline + 1;
      }
      pending = decoded.slice(start);
    }
    if (pending.length > MAX_NDJSON_LINE) {
      throw new StreamParseError('invalid-body', 'A stream line exceeded the size limit.', '');
    }
  };

  return {
    data(chunk) {
      feed(text.decode(chunk, STREAMING));
    },
    end() {
      try {
        const rest = text.decode();
        if (rest) feed(rest);
        // A last line without a line end is still a whole JSON value (NDJSON allows it).
        if (pending) handle(pending);
        pending = '';
      } catch (error) {
        if (error instanceof LlmError) return error;
        throw error;
      }
      return decoder.end();
    },
  };
}
