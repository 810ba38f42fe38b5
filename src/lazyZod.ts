/**
 * zod, loaded on first use rather than when rxllm is imported (it is most of rxllm's start-up cost).
 *
 * zod is a peer dependency (`^3.25.76 || ^4.0.0`): rxllm uses the app's own copy, so the schemas it
 * hands out (`rxllm/schemas`) and the types derived from them are the app's zod. It goes through the
 * `zod/v4` subpath, which zod 3.25 ships beside its classic API and zod 4 keeps as its root under
 * another name (zod.dev/library-authors), so the request and chunk schemas are the same zod 4 schemas
 * on every zod in the range.
 *
 * The ESM build (scripts/build.cjs) rewrites the `require` below into one made by
 * `module.createRequire(import.meta.url)`, got from `process.getBuiltinModule`, so no Node built-in
 * is imported statically.
 */
import type * as Zod from 'zod/v4';
import { ConfigurationError } from './errors';

let zod: typeof Zod | undefined;

/** The message when zod cannot be loaded: missing, older than 3.25 (no `zod/v4`), or not on Node. */
export const ZOD_MISSING =
  'rxllm needs zod ^3.25.76 || ^4.0.0 (a peer dependency) to validate requests with tools or parts, for rxllm/schemas and to convert a zod/v4 tool schema to JSON Schema: npm install zod';

export function loadZod(): typeof Zod {
  if (zod) return zod;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (zod = require('zod/v4') as typeof Zod);
  } catch (cause) {
    throw new ConfigurationError(ZOD_MISSING, { cause });
  }
}
