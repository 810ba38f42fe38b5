/**
 * JSON from providers: one parse, and a typed `StreamParseError` (with a short, scrubbed excerpt,
 * never the whole payload) when it is not JSON.
 */
import type { Subscriber } from 'rxjs';
import { LlmError, StreamParseError } from '../errors';
import { scrubError } from '../redact';
import type { BodySink } from './bodySink';

/**
 * `JSON.parse(text)`, or a `StreamParseError` naming the provider and what was being read. The
 * engine's `SyntaxError` is not kept as `cause`: V8 quotes a window of the raw payload in its
 * message (`Unexpected token ..., "...sk-..." is not valid JSON`), and a window can cut a key on
 * both sides, past what any scrubber can recognise.
 */
export function parseProviderJson(text: string, provider: string, what: 'event' | 'body'): any {
  try {
    return JSON.parse(text);
  } catch {
    throw what === 'event'
      ? new StreamParseError(
          'invalid-json',
          `${provider} sent a stream event that is not valid JSON; the stream was stopped.`,
          text,
        )
      : new StreamParseError('invalid-body', `${provider} answered with a body that is not JSON.`, text);
  }
}

/**
 * A sink for a non-streaming answer: collects the body, parses it once and emits `toValue(parsed,
 * text)`. An `LlmError` thrown by `toValue` (an error body inside a 2xx, a wrong shape) ends the
 * request with it; anything else it throws becomes a `StreamParseError` (`invalid-body`). The transport caps what it buffers (`maxResponseBytes`).
 */
export function jsonBodySink<T>(
  subscriber: Subscriber<T>,
  provider: string,
  toValue: (value: any, text: string) => T,
): BodySink {
  const parts: Buffer[] = [];
  return {
    buffers: true,
    data(chunk) {
      parts.push(chunk);
    },
    end() {
      const text = Buffer.concat(parts).toString('utf8');
      let value: T;
      try {
        value = toValue(parseProviderJson(text, provider, 'body'), text);
      } catch (error) {
        if (error instanceof LlmError) return error;
        // A body of the wrong shape that a mapping tripped over (`"choices": [null]`): typed, as
        // `sseSink` does for an event, never a raw TypeError.
        return new StreamParseError(
          'invalid-body',
          `${provider} answered with a body of a shape rxllm cannot read.`,
          text,
          { cause: scrubError(error) },
        );
      }
      subscriber.next(value);
    },
  };
}
