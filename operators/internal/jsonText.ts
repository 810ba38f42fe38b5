import type { Chunk } from '../../src/chunk';
import { StructuredOutputError, type ToolCallIssue } from '../../src/errors';
import { JsonSyntaxFailure } from '../../src/json/streamingJson';
import { isStandardSchema, validateSync, type StandardSchemaV1 } from '../../src/standardSchema';

/**
 * Where the JSON text is read from: the content of a choice (`response_format: json_schema` or
 * `json_object` answers), or the arguments of the first call to the named tool in that choice.
 */
export type JsonTextSource = 'content' | { toolCall: string };

/** The config shared by `partialObject` and `arrayElements`. */
export interface JsonTextConfig {
  /** Where the JSON arrives. @defaultValue 'content' */
  from?: JsonTextSource;
  /** Which choice to read (n > 1). @defaultValue 0 */
  choice?: number;
}

/** True for a schema (a Standard Schema: zod, Valibot, ArkType), told apart from a config object. */
export function isSchema(value: unknown): value is StandardSchemaV1 {
  return isStandardSchema(value);
}

/** Validates `from` and `choice` at operator creation; throws a `TypeError` naming the operator. */
export function checkJsonTextConfig(operator: string, config: JsonTextConfig): Required<JsonTextConfig> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`${operator}: config must be a schema or an object, got ${String(config)}.`);
  }
  const { from = 'content', choice = 0 } = config;
  const toolOk =
    typeof from === 'object' && from !== null && typeof from.toolCall === 'string' && from.toolCall !== '';
  if (from !== 'content' && !toolOk) {
    throw new TypeError(`${operator}: from must be 'content' or { toolCall: '<tool name>' }.`);
  }
  if (!Number.isInteger(choice) || choice < 0) {
    throw new TypeError(`${operator}: choice must be a non-negative integer, got ${String(choice)}.`);
  }
  const schema = (config as { schema?: unknown }).schema;
  if (schema !== undefined && !isSchema(schema)) {
    throw new TypeError(
      `${operator}: schema must be a Standard Schema (a zod 3.25+ or 4 schema, Valibot, ArkType).`,
    );
  }
  return { from, choice };
}

/**
 * Picks the JSON text out of chunks, per subscription. For a tool call, fragments are matched to the
 * chosen call by `index`, else by `id`, else they continue the last call (the rules of `accumulateChunks`).
 */
export function jsonTextReader({ from, choice }: Required<JsonTextConfig>): (chunk: Chunk) => string {
  if (from === 'content') {
    return (chunk) => {
      let text = '';
      for (const c of chunk.choices) if (c.index === choice) text += c.delta?.content ?? '';
      return text;
    };
  }
  const name = from.toolCall;
  let target: { index: number | undefined; id: string } | undefined;
  let lastIsTarget = false;
  return (chunk) => {
    let text = '';
    for (const c of chunk.choices) {
      if (c.index !== choice) continue;
      for (const fragment of c.delta?.tool_calls ?? []) {
        let mine: boolean;
        if (!target) {
          mine = fragment.function?.name === name;
          if (mine) target = { index: fragment.index, id: fragment.id ?? '' };
        } else if (fragment.index !== undefined && target.index !== undefined) {
          mine = fragment.index === target.index && !(fragment.id && target.id && fragment.id !== target.id);
        } else if (fragment.id) {
          mine = fragment.id === target.id;
        } else {
          mine = lastIsTarget;
        }
        if (fragment.function?.name && !mine) lastIsTarget = false;
        else if (mine) lastIsTarget = true;
        if (mine) text += fragment.function?.arguments ?? '';
      }
    }
    return text;
  };
}

/** The error for text that stopped being JSON or ended early. */
export function jsonFailure(failure: JsonSyntaxFailure, text: string, ended: boolean): StructuredOutputError {
  return new StructuredOutputError({
    reason: ended ? 'incomplete-json' : 'invalid-json',
    message: ended
      ? `The structured output ended before its JSON was complete (${failure.position} characters received).`
      : `The structured output is not JSON: ${failure.message}.`,
    text,
    position: failure.position,
  });
}

/** The refusal text of a chunk for `choice` (OpenAI structured outputs refuse in `delta.refusal`). */
export function refusalOf(chunk: Chunk, choice: number): string {
  let text = '';
  for (const c of chunk.choices) if (c.index === choice) text += c.delta?.refusal ?? '';
  return text;
}

/** The error for nothing to parse; a refusal, when the model sent one, is the reason given. */
export function noOutput(from: JsonTextSource, text: string, refusal = ''): StructuredOutputError {
  const message = refusal
    ? `The model refused instead of answering: ${refusal.slice(0, 300)}`
    : from === 'content'
      ? 'The stream ended without any JSON content.'
      : `The stream ended without arguments for a "${from.toolCall}" tool call.`;
  return new StructuredOutputError({ reason: 'no-output', message, text, ...(refusal && { refusal }) });
}

/** Validates with the schema; the parsed value, or the error. */
export function validate(
  schema: StandardSchemaV1 | undefined,
  value: unknown,
  text: string,
  what: string,
  prefix: readonly PropertyKey[] = [],
): { ok: true; value: unknown } | { ok: false; error: StructuredOutputError } {
  if (!schema) return { ok: true, value };
  const result = validateSync(schema, value, what);
  if (result.ok) return result;
  const issues: ToolCallIssue[] = result.issues.map((i) => ({ ...i, path: [...prefix, ...i.path] }));
  const first = issues[0];
  return {
    ok: false,
    error: new StructuredOutputError({
      reason: 'schema-mismatch',
      message: `${what} does not match its schema${first ? ` (${first.path.map(String).join('.') || '(root)'}: ${first.message})` : ''}.`,
      text,
      issues,
    }),
  };
}
