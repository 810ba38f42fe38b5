import type { OperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { StructuredOutputError } from '../src/errors';
import { JsonSyntaxFailure, StreamingJsonParser, type JsonValue } from '../src/json/streamingJson';
import type { StandardSchemaV1 } from '../src/standardSchema';
import { linkedSubscriber, operate } from './internal/operate';
import {
  checkJsonTextConfig,
  isSchema,
  jsonFailure,
  jsonTextReader,
  noOutput,
  refusalOf,
  validate,
  type JsonTextConfig,
} from './internal/jsonText';

export interface ArrayElementsConfig<S extends StandardSchemaV1 = StandardSchemaV1> extends JsonTextConfig {
  /** Checks each element; the element's schema output is emitted. @defaultValue undefined (no check) */
  schema?: S;
  /**
   * The array is the value of this top-level property instead of the top-level value itself
   * (OpenAI's structured outputs need an object at the top: `{ "elements": [...] }`).
   * @defaultValue undefined (the top-level value is the array)
   */
  key?: string;
}

/** Defaults of {@link arrayElements}. */
export const ARRAY_ELEMENTS_DEFAULTS = {
  from: 'content',
  choice: 0,
  key: undefined,
} as const satisfies ArrayElementsConfig;

/**
 * Each element of a streamed JSON array, once it is complete and valid (the AI SDK's
 * `elementStream`). The JSON text (content, or with `from: { toolCall: name }` a tool call's
 * arguments) is parsed incrementally; an element goes out as soon as its closing character arrives,
 * checked by the element schema. An element that fails the schema, text that stops being JSON, an
 * array that is cut, missing or not an array fail with a `StructuredOutputError`; the elements
 * before the failure were already emitted. Never repaired. A reset chunk starts the parse over
 * (elements already emitted stay emitted). Each element is handed over: the parser drops it once
 * emitted and nothing else refers to it, so unlike `partialObject`'s partials it is not frozen and
 * is the consumer's to change.
 *
 * ```
 * source: --a------b-------c------|    a: '[{"n":1},{"n"'  b: ':2}'  c: ']'
 * result: --A------B--------------|    A: {n:1}  B: {n:2}
 * source: --a------x|                  x: ':2},{"m":true}]'  with schema z.object({ n: z.number() })
 * result: --A------(B#)                #: StructuredOutputError, reason 'schema-mismatch', path [2, 'n']
 * ```
 *
 * @example
 * import { lastValueFrom, tap, toArray } from 'rxjs';
 * import { z } from 'zod';
 * import { stream } from 'rxllm';
 * import { arrayElements } from 'rxllm/operators';
 * const Hero = z.object({ name: z.string(), power: z.string() });
 * const heroes = await lastValueFrom(
 *   stream({
 *     model: 'mock/structured',
 *     messages: [{ role: 'user', content: 'Two heroes, as { "elements": [...] }' }],
 *     mock_response: {
 *       text: '{"elements":[{"name":"Ada","power":"math"},{"name":"Linus","power":"kernels"}]}',
 *       chunkSize: 7,
 *     },
 *   }).pipe(
 *     arrayElements({ schema: Hero, key: 'elements' }),
 *     tap((hero) => console.log(`${hero.name}: ${hero.power}`)),
 *     toArray(),
 *   ),
 * );
 * console.log(heroes.length); // 2
 */
export function arrayElements<S extends StandardSchemaV1>(
  schema: S,
): OperatorFunction<Chunk, StandardSchemaV1.InferOutput<S>>;
export function arrayElements<S extends StandardSchemaV1>(
  config: ArrayElementsConfig<S> & { schema: S },
): OperatorFunction<Chunk, StandardSchemaV1.InferOutput<S>>;
export function arrayElements(
  config?: ArrayElementsConfig & { schema?: undefined },
): OperatorFunction<Chunk, unknown>;
export function arrayElements(
  schemaOrConfig?: StandardSchemaV1 | ArrayElementsConfig,
): OperatorFunction<Chunk, unknown> {
  const config: ArrayElementsConfig =
    schemaOrConfig === undefined
      ? {}
      : isSchema(schemaOrConfig)
        ? { schema: schemaOrConfig }
        : schemaOrConfig;
  const textConfig = checkJsonTextConfig('arrayElements', config);
  const { schema, key } = config;
  if (key !== undefined && typeof key !== 'string') {
    throw new TypeError(`arrayElements: key must be a string, got ${String(key)}.`);
  }
  const where = key === undefined ? 'the top-level value' : `property "${key}" of the top-level object`;

  return operate<Chunk, unknown>((source, subscriber) => {
    let read: (chunk: Chunk) => string;
    let parser: StreamingJsonParser;
    let text = '';
    let refusal = '';
    let ready: { value: JsonValue; index: number }[] = [];
    let next = 0;
    const start = () => {
      // After a reset the new attempt's tool call has a new id: the reader looks for it afresh.
      read = jsonTextReader(textConfig);
      parser = new StreamingJsonParser();
      text = '';
      refusal = '';
      ready = [];
      next = 0;
      parser.onValue = (value, parents) => {
        const array = parents[parents.length - 1];
        if (!array?.isArray) return;
        const isElement =
          key === undefined
            ? parents.length === 1
            : parents.length === 2 && !parents[0].isArray && array.slot === key;
        if (!isElement) return;
        ready.push({ value, index: next++ });
        // Emitted elements are not kept: memory is the element being parsed, not the whole array.
        (array.node as JsonValue[]).pop();
      };
    };
    start();
    /** Emits the elements completed so far; false when one failed (the stream is failed then). */
    const flush = (): boolean => {
      const elements = ready;
      ready = [];
      for (const { value, index } of elements) {
        const checked = validate(schema, value, text, `Element ${index}`, [index]);
        if (!checked.ok) {
          subscriber.error(checked.error);
          return false;
        }
        subscriber.next(checked.value);
        if (subscriber.closed) return false;
      }
      return true;
    };
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          if (chunk.reset !== undefined) return start();
          refusal += refusalOf(chunk, textConfig.choice);
          const piece = read(chunk);
          if (piece === '') return;
          text += piece;
          let failure: JsonSyntaxFailure | undefined;
          try {
            parser.write(piece);
          } catch (error) {
            if (!(error instanceof JsonSyntaxFailure)) throw error;
            failure = error;
          }
          // Elements completed before a syntax error still go out: nothing received is lost.
          if (flush() && failure) subscriber.error(jsonFailure(failure, text, false));
        },
        complete: () => {
          if (text.trim() === '') return subscriber.error(noOutput(textConfig.from, text, refusal));
          let value: JsonValue;
          try {
            value = parser.end();
          } catch (error) {
            if (!(error instanceof JsonSyntaxFailure)) throw error;
            return subscriber.error(jsonFailure(error, text, true));
          }
          const array =
            key === undefined
              ? value
              : value !== null &&
                  typeof value === 'object' &&
                  !Array.isArray(value) &&
                  Object.hasOwn(value, key)
                ? value[key]
                : undefined;
          if (!Array.isArray(array)) {
            return subscriber.error(
              new StructuredOutputError({
                reason: 'schema-mismatch',
                message: `Expected an array as ${where}.`,
                text,
                issues: [{ path: key === undefined ? [] : [key], message: 'Expected an array' }],
              }),
            );
          }
          subscriber.complete();
        },
      }),
    );
  });
}
