// API docs from the TSDoc of every public entry point (`npm run docs`). The entry points are the one
// list in scripts/entries.json. Warnings are errors, so CI fails on a broken {@link} and on a public
// signature that names a type the package does not export.
import { readFileSync } from 'node:fs';

const { entries } = JSON.parse(readFileSync(new URL('./scripts/entries.json', import.meta.url), 'utf8'));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'rxllm',
  entryPoints: Object.values(entries),
  tsconfig: 'tsconfig.build.json',
  out: 'api-docs',
  readme: 'none',
  // Source links point at the project's home, whatever remote (if any) a clone has: a CI clone's
  // origin is a local path, which TypeDoc warns about (and warnings are errors here).
  sourceLinkTemplate: 'https://github.com/rxllm/rxllm/blob/{gitRevision}/{path}#L{line}',
  excludePrivate: true,
  excludeInternal: true,
  validation: { notExported: true, invalidLink: true, rewrittenLink: true, notDocumented: false },
  // RequestSchemas is ReturnType<typeof build>: the factory that makes the schemas is internal.
  intentionallyNotExported: ['build'],
  treatWarningsAsErrors: true,
};
