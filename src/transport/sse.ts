/**
 * SSE body sink: bytes → `TextDecoder` (stream mode, so a multi-byte character split across reads
 * survives) → eventsource-parser (CR, LF and CRLF line ends, comments, `retry:`) → a provider's
 * event decoder → subscriber.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Subscriber } from 'rxjs';
import { LlmError, StreamParseError } from '../errors';
import { scrubError } from '../redact';
import type { BodySink } from './bodySink';

export type { EventSourceMessage };

/** Turns one provider's SSE events into values. Created per subscription, so it may keep state. */
export interface SseEventDecoder<T> {
  /** Handles one event; calls `emit` for each value. Throw an `LlmError` to end the stream with it. */
  event(event: EventSourceMessage, emit: (value: T) => void): void;
  /** The body ended. Return an error when the stream is incomplete (e.g. `StreamCutError`). */
  end(): LlmError | void;
}

/** Decoder option, allocated once (this runs for every network read). */
const STREAMING = { stream: true } as const;

/** Most bytes of one SSE event held before it is declared malformed. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/** A `BodySink` that parses SSE and hands each event to `decoder`. */
export function sseSink<T>(subscriber: Subscriber<T>, decoder: SseEventDecoder<T>): BodySink {
  const text = new TextDecoder('utf-8');
  let failure: LlmError | undefined;
  const emit = (value: T) => subscriber.next(value);
  const parser = createParser({
    onEvent(event) {
      if (failure) return;
      try {
        decoder.event(event, emit);
      } catch (error) {
        failure =
          error instanceof LlmError
            ? error
            : new StreamParseError(
                'invalid-event',
                `Could not handle a stream event: ${(error as Error).message}`,
                '',
                { cause: scrubError(error) },
              );
      }
    },
    onError(error) {
      // Unknown fields and bad `retry:` values are ignorable per the SSE spec; only an event that
      // never ends is fatal.
      if (error.type === 'max-buffer-size-exceeded' && !failure) {
        failure = new StreamParseError('invalid-body', 'A stream event exceeded the size limit.', '');
      }
    },
    maxBufferSize: MAX_EVENT_BYTES,
  });
  return {
    data(chunk) {
      parser.feed(text.decode(chunk, STREAMING));
      if (failure) throw failure;
    },
    end() {
      const rest = text.decode();
      if (rest) parser.feed(rest);
      // An incomplete last event (no blank line after it) is discarded, as the SSE spec says.
      if (failure) return failure;
      return decoder.end();
    },
  };
}
