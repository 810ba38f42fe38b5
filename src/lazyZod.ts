/**
 * zod, loaded on first use rather than when rxllm is imported (it is most of rxllm's start-up cost).
 *
 * This is the CommonJS implementation (tsc, jest). The ESM build (scripts/build.cjs) replaces this
 * module with one that requires zod through `module.createRequire(import.meta.url)`, got from
 * `process.getBuiltinModule`, so no Node built-in is imported statically.
 */
import type * as Zod from 'zod';

let zod: typeof Zod | undefined;

export function loadZod(): typeof Zod {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (zod ??= require('zod') as typeof Zod);
}
