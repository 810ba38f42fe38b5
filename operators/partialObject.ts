import type { OperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { JsonSyntaxFailure, StreamingJsonParser } from '../src/json/streamingJson';
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

/**
 * `T` with every property optional and read-only, all the way down: what a half-streamed value can
 * look like. Read-only because partials are frozen and share their unchanged parts with the next
 * partials and the final value: copy one (`structuredClone`) to change it.
 */
export type DeepPartial<T> = T extends readonly (infer E)[]
  ? readonly DeepPartial<E>[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** One emission of {@link partialObject}: a partial value while it streams, then the validated whole. */
export type PartialObjectUpdate<T> = { done: false; value: DeepPartial<T> } | { done: true; value: T };

export interface PartialObjectConfig<S extends StandardSchemaV1 = StandardSchemaV1> extends JsonTextConfig {
  /** Checks the final value (its output, transforms included, is what `done: true` carries). @defaultValue undefined (no check) */
  schema?: S;
}

/** Defaults of {@link partialObject} and `arrayElements`. */
export const PARTIAL_OBJECT_DEFAULTS = { from: 'content', choice: 0 } as const satisfies PartialObjectConfig;

/**
 * A snapshot is emitted when the containers it has to copy are at most this many entries plus
 * `SNAPSHOT_ENTRIES_PER_CHAR` per character received since the last one: total copying stays within
 * a constant times the text length (linear), whatever the shape. Only huge arrays ever wait.
 */
const SNAPSHOT_BASE_ENTRIES = 256;
const SNAPSHOT_ENTRIES_PER_CHAR = 8;

/**
 * Streamed JSON as a growing object: parses the JSON text incrementally as it arrives (content of a
 * `response_format: json_schema` answer, or with `from: { toolCall: name }` the arguments of the first
 * call to that tool) and emits `{ done: false, value }` with a deep-partial value each time it grows
 * (at most once per chunk: strings as far as they arrived, numbers and `true`/`false`/`null` once
 * complete, a key once its value starts), then, when the source completes, `{ done: true, value }` with
 * the whole value checked by the zod schema.
 *
 * The JSON is never repaired: text that stops being JSON fails at once, and a value that is
 * incomplete at the end (a cut stream, `finish_reason: 'length'`), missing or not matching the schema
 * fails at the end, each with a `StructuredOutputError` (`reason`, `text` received, `position`,
 * `issues`; a model that refused gives `no-output` with its `refusal`). `invalid-json` is reported at
 * the first character no continuation could fix (`01`, `1.2.`), `incomplete-json` only for text that
 * was cut. Partial values share unchanged subtrees (a done sub-object keeps its identity), so the
 * cost per chunk is the size of the open containers, not of the document; in an array of hundreds of
 * entries a snapshot may wait for a few more characters, keeping the whole run linear. Partial values
 * are deep-frozen (`Object.freeze`, typed {@link DeepPartial}: read-only), so a consumer cannot change
 * what the next partials and the schema see; freezing touches each container once more than copying
 * does (measured in `bench/structured-linear.ts`). The final value is the schema's output (zod builds
 * new objects and arrays; what it passes through as is, such as `z.unknown()`, stays frozen);
 * without a schema it is the last partial's frozen tree. A reset chunk
 * (`retryBackoff({ resume: 'restart' })`) starts the parse over.
 *
 * ```
 * source: --a------b-------c--------f--|     a: '{"city":"Li'  b: 'sbon","temp"'  c: ':21}'  f: finish
 * result: --A------B-------C-----------(D|)  A: { done: false, value: {city:'Li'} }
 *                                            B: { done: false, value: {city:'Lisbon'} }
 *                                            C: { done: false, value: {city:'Lisbon',temp:21} }
 *                                            D: { done: true, value: {city:'Lisbon',temp:21} }
 * ```
 *
 * @example
 * import { lastValueFrom, tap } from 'rxjs';
 * import { z } from 'zod';
 * import { stream } from 'rxllm';
 * import { partialObject } from 'rxllm/operators';
 * const Weather = z.object({ city: z.string(), temp: z.number() });
 * const final = await lastValueFrom(
 *   stream({
 *     model: 'mock/structured',
 *     messages: [{ role: 'user', content: 'Weather in Lisbon as JSON' }],
 *     response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: z.toJSONSchema(Weather) } },
 *     mock_response: { text: '{"city":"Lisbon","temp":21}', chunkSize: 5 },
 *   }).pipe(
 *     partialObject(Weather),
 *     tap((update) => console.log(update.done ? 'final' : 'partial', update.value)),
 *   ),
 * );
 * if (final.done) console.log(final.value.temp + 1); // typed: { city: string; temp: number }
 */
export function partialObject<S extends StandardSchemaV1>(
  schema: S,
): OperatorFunction<Chunk, PartialObjectUpdate<StandardSchemaV1.InferOutput<S>>>;
export function partialObject<S extends StandardSchemaV1>(
  config: PartialObjectConfig<S> & { schema: S },
): OperatorFunction<Chunk, PartialObjectUpdate<StandardSchemaV1.InferOutput<S>>>;
export function partialObject(
  config?: PartialObjectConfig & { schema?: undefined },
): OperatorFunction<Chunk, PartialObjectUpdate<unknown>>;
export function partialObject(
  schemaOrConfig?: StandardSchemaV1 | PartialObjectConfig,
): OperatorFunction<Chunk, PartialObjectUpdate<unknown>> {
  const config: PartialObjectConfig =
    schemaOrConfig === undefined
      ? {}
      : isSchema(schemaOrConfig)
        ? { schema: schemaOrConfig }
        : schemaOrConfig;
  const textConfig = checkJsonTextConfig('partialObject', config);
  const { schema } = config;
  type Update = PartialObjectUpdate<unknown>;

  return operate<Chunk, Update>((source, subscriber) => {
    let read = jsonTextReader(textConfig);
    let parser = new StreamingJsonParser({ freeze: true });
    let text = '';
    let refusal = '';
    let since = 0;
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          if (chunk.reset !== undefined) {
            // The new attempt's tool call has a new id: the reader must look for it afresh.
            read = jsonTextReader(textConfig);
            parser = new StreamingJsonParser({ freeze: true });
            text = '';
            since = 0;
            refusal = '';
            return;
          }
          refusal += refusalOf(chunk, textConfig.choice);
          const piece = read(chunk);
          if (piece === '') return;
          text += piece;
          since += piece.length;
          try {
            parser.write(piece);
          } catch (error) {
            if (!(error instanceof JsonSyntaxFailure)) throw error;
            subscriber.error(jsonFailure(error, text, false));
            return;
          }
          if (parser.dirty && parser.pathWidth <= SNAPSHOT_BASE_ENTRIES + SNAPSHOT_ENTRIES_PER_CHAR * since) {
            since = 0;
            subscriber.next({ done: false, value: parser.snapshot() });
          }
        },
        complete: () => {
          if (text.trim() === '') return subscriber.error(noOutput(textConfig.from, text, refusal));
          let value: unknown;
          try {
            value = parser.end();
          } catch (error) {
            if (!(error instanceof JsonSyntaxFailure)) throw error;
            return subscriber.error(jsonFailure(error, text, true));
          }
          const checked = validate(schema, value, text, 'The structured output');
          if (!checked.ok) return subscriber.error(checked.error);
          subscriber.next({ done: true, value: checked.value });
          subscriber.complete();
        },
      }),
    );
  });
}
