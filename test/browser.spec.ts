import fs from 'node:fs';
import path from 'node:path';

/** Follows relative imports from `entry` and returns every module specifier that is not relative. */
function externalImports(entry: string, seen = new Set<string>(), out = new Set<string>()): Set<string> {
  const file = fs.existsSync(entry) ? entry : `${entry}.ts`;
  const resolved = fs.existsSync(file) ? file : path.join(entry, 'index.ts');
  if (seen.has(resolved)) return out;
  seen.add(resolved);
  const source = fs.readFileSync(resolved, 'utf8');
  for (const m of source.matchAll(/^(?:import|export)\s[^'";]*?from\s+'([^']+)'/gm)) {
    const spec = m[1];
    if (spec.startsWith('.')) externalImports(path.resolve(path.dirname(resolved), spec), seen, out);
    else if (!/^import type|^export type/.test(m[0])) out.add(spec);
  }
  return out;
}

describe('rxllm/browser', () => {
  it('loads no Node API and no undici, so front-end bundles can use it', () => {
    const deps = [...externalImports(path.resolve(__dirname, '../src/browser.ts'))];
    expect(deps.length).toBeGreaterThan(0);
    expect(deps.filter((d) => d === 'undici' || d.startsWith('node:'))).toEqual([]);
    // No zod either: the chunk module holds types and plain guards; its schemas are in chunkSchema.
    expect(deps.sort()).toEqual(['eventsource-parser', 'rxjs']);
  });

  it.each(['textDeltas', 'accumulateChunks', 'partialToolCallGuard'])(
    'the browser path operator %s loads no zod, undici or Node API (zod only as a type)',
    (op) => {
      const deps = [...externalImports(path.resolve(__dirname, `../operators/${op}.ts`))];
      expect(deps).toContain('rxjs');
      expect(deps.filter((d) => d === 'zod' || d === 'undici' || d.startsWith('node:'))).toEqual([]);
    },
  );
});
