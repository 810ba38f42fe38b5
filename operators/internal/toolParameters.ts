import { ConfigurationError } from '../../src/errors';
import { loadZod } from '../../src/lazyZod';
import type { StandardSchemaV1 } from '../../src/standardSchema';

/** What a schema may offer to describe itself as JSON Schema (each checked at run time). */
interface Describable {
  /** zod 4.2+ (classic): the schema's own method. */
  toJSONSchema?: () => Record<string, unknown>;
  /** zod 4.0+ and zod 3.25's `zod/v4`, mini included: the core every one of those schemas has. */
  _zod?: { def?: unknown };
  '~standard': StandardSchemaV1['~standard'] & {
    /** Standard JSON Schema (standardschema.dev/json-schema): zod 4.2+, ArkType, Valibot's adapter. */
    jsonSchema?: { input?: (options: { target: string }) => Record<string, unknown> };
  };
}

/**
 * The JSON Schema a `toolLoop` tool is declared to the model with: its `parameters` when given, else
 * what its schema gives, tried in this order:
 * 1. `schema.toJSONSchema()` (zod 4.2+): what rxllm always sent for zod 4 schemas (draft 2020-12);
 * 2. Standard JSON Schema's `input` form (draft 2020-12): what the model must write;
 * 3. a zod 4 core schema without either (zod 4.0/4.1, zod 3.25's `zod/v4`, zod/mini): converted by
 *    the app's zod (`z.toJSONSchema` of its `zod/v4`, loaded now; Node only).
 * Nothing else can be converted without a dependency (zod 3's classic schemas have no converter):
 * a `TypeError` naming the tool asks for `parameters`. What a converter throws (a zod transform has
 * no JSON Schema) is thrown as it is.
 */
export function toolParameters(
  name: string,
  tool: { schema: StandardSchemaV1; parameters?: Record<string, unknown> },
): Record<string, unknown> {
  if (tool.parameters !== undefined) return tool.parameters;
  const schema = tool.schema as unknown as Describable;
  if (typeof schema.toJSONSchema === 'function') return schema.toJSONSchema();
  const standard = schema['~standard'].jsonSchema;
  if (typeof standard?.input === 'function') return standard.input({ target: 'draft-2020-12' });
  const hint = `pass \`parameters\` (the input's JSON Schema) with tools.${name}`;
  if (schema._zod !== null && typeof schema._zod === 'object' && schema._zod.def !== undefined) {
    let zod: ReturnType<typeof loadZod>;
    try {
      zod = loadZod();
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      throw new TypeError(
        `toolLoop: tools.${name}.schema needs zod to become JSON Schema and zod could not be loaded here: ${hint}, or use zod 4.2+ (its schemas convert themselves).`,
        { cause: error },
      );
    }
    // An ESM app's schema comes from zod's ESM build and this zod from its CommonJS one (require):
    // before zod 4.1.x kept one registry on globalThis, each build had its own, and `.describe()` /
    // `.meta()` would be lost. The schema's own `meta()` reads its build's registry; the converter
    // only ever calls `get` on its `metadata` (zod 3.25 to 4.6 `to-json-schema.js`).
    const metadata = {
      get: (s: { meta?: () => unknown }) =>
        typeof s.meta === 'function' ? s.meta() : zod.globalRegistry.get(s as never),
    };
    type Convert = (schema: unknown, params: { metadata: unknown }) => Record<string, unknown>;
    return (zod.toJSONSchema as unknown as Convert)(tool.schema, { metadata });
  }
  throw new TypeError(
    `toolLoop: tools.${name}.schema (${schema['~standard'].vendor}) gives no JSON Schema for the model (zod 3 schemas have none): ${hint}, or build the schema with zod 4 or \`import { z } from 'zod/v4'\`.`,
  );
}
