/**
 * Standard Schema v1, the interface zod (3.24 and later, `zod/v4`, zod 4), Valibot and ArkType
 * implement: rxllm types user schemas against it rather than against one copy of zod, so an app's
 * own zod, whichever version, fits. The interface is the spec's own text, copied as the spec asks
 * (https://standardschema.dev, "copy the types into your project"; no package dependency).
 */
import type { ToolCallIssue } from './errors';

/** A schema rxllm can validate with: anything with a `~standard` property (zod, Valibot, ArkType...). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace -- the spec's shape, kept so its names read the same
export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
      options?: Options | undefined,
    ) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface Options {
    readonly libraryOptions?: Record<string, unknown> | undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}

/** True for a Standard Schema (a `~standard` object with a `validate` function). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as { '~standard'?: { validate?: unknown } } | null | undefined)?.['~standard'];
  return typeof standard?.validate === 'function';
}

/** What {@link validateSync} found: the schema's output, or its issues. */
export type SchemaCheck = { ok: true; value: unknown } | { ok: false; issues: ToolCallIssue[] };

type ZodLikeIssue = { path: PropertyKey[]; message: string; code?: string };
type ZodLike = {
  safeParse(
    value: unknown,
  ): { success: true; data: unknown } | { success: false; error: { issues: ZodLikeIssue[] } };
};

/**
 * Checks `value` with `schema`, synchronously: rxllm checks tool input and structured output as the
 * chunks arrive. A zod schema is run with its own `safeParse`: zod's `~standard.validate` turns a
 * check that throws into a rejected Promise (zod 4 `standardProps`), while `safeParse` lets the throw
 * through, so a throwing `.transform`/`.refine` fails the stream with what it threw, as documented. Any
 * other schema goes through `~standard.validate`; one that answers with a Promise (async checks) is a
 * `TypeError` naming `what`, since the answer cannot wait.
 */
export function validateSync(schema: StandardSchemaV1, value: unknown, what: string): SchemaCheck {
  if (schema['~standard'].vendor === 'zod' && typeof (schema as Partial<ZodLike>).safeParse === 'function') {
    const result = (schema as unknown as ZodLike).safeParse(value);
    if (result.success) return { ok: true, value: result.data };
    return {
      ok: false,
      issues: result.error.issues.map((i) => ({
        path: i.path,
        message: i.message,
        ...(i.code !== undefined && { code: i.code }),
      })),
    };
  }
  const result = schema['~standard'].validate(value);
  if (typeof (result as { then?: unknown }).then === 'function') {
    // Nobody will read it: keep its rejection from becoming an unhandled one.
    (result as Promise<unknown>).then(undefined, () => undefined);
    throw new TypeError(
      `${what}: the schema checked the value asynchronously (it returned a Promise); rxllm checks as chunks arrive, so use a schema without async checks.`,
    );
  }
  const { issues } = result as StandardSchemaV1.Result<unknown>;
  if (!issues) return { ok: true, value: (result as StandardSchemaV1.SuccessResult<unknown>).value };
  return {
    ok: false,
    issues: issues.map((i) => {
      const code = (i as { code?: unknown }).code;
      return {
        path: (i.path ?? []).map((p) => (typeof p === 'object' && p !== null ? p.key : p)),
        message: i.message,
        ...(typeof code === 'string' && { code }),
      };
    }),
  };
}
