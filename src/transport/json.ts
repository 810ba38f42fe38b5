/**
 * JSON from providers: one parse, and a typed `StreamParseError` (with a short, scrubbed excerpt,
 * never the whole payload) when it is not JSON.
 */
import type { Subscriber } from 'rxjs';
import { LlmError, StreamParseError } from '../errors';
import type { BodySink } from './http';

/** `JSON.parse(text)`, or a `StreamParseError` naming the provider and what was being read. */
export function parseProviderJson(text: string, provider: string, what: 'event' | 'body'): any {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw what === 'event'
      ? new StreamParseError(
          'invalid-json',
          `${provider} sent a stream event that is not valid JSON; the stream was stopped.`,
          text,
          { cause },
        )
      : new StreamParseError('invalid-body', `${provider} answered with a body that is not JSON.`, text, {
          cause,
        });
  }
}

/**
 * A sink for a non-streaming answer: collects the body, parses it once and emits `toValue(parsed,
 * text)`. An `LlmError` thrown by `toValue` (an error body inside a 2xx, a wrong shape) ends the
 * request with it.
 */
export function jsonBodySink<T>(
  subscriber: Subscriber<T>,
  provider: string,
  toValue: (value: any, text: string) => T,
): BodySink {
  const parts: Buffer[] = [];
  return {
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
        throw error;
      }
      subscriber.next(value);
    },
  };
}
