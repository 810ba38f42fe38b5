import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Follows relative imports from `entry` and returns every module specifier that is not relative. */
function externalImports(entry: string, seen = new Set<string>(), out = new Set<string>()): Set<string> {
  const resolved = [`${entry}.ts`, entry, path.join(entry, 'index.ts')].find(
    (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
  )!;
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

const root = path.resolve(__dirname, '../..');

describe('entry points of the serving code (issue 12)', () => {
  it('the core rxllm entry imports neither ws nor @nestjs nor esbuild', () => {
    const deps = [...externalImports(path.join(root, 'src/index.ts'))];
    expect(deps).toContain('undici');
    expect(deps.filter((d) => d === 'ws' || d.startsWith('@nestjs/') || d === 'esbuild')).toEqual([]);
  });

  it('loading rxllm in a process loads no ws or @nestjs module (the gateway requires ws lazily)', () => {
    const loadedAfter = (code: string) => {
      const script = `${code};
        const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(ws|@nestjs|esbuild)\\//.test(k));
        console.log(JSON.stringify(loaded));`;
      const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout.trim()) as string[];
    };
    // tsx itself loads esbuild to compile: compare with a process that loads nothing of rxllm.
    const baseline = loadedAfter('void 0');
    const withRxllm = loadedAfter("require('./src/index.ts')");
    expect(withRxllm).toEqual(baseline);
    expect(withRxllm.filter((k) => /node_modules\/(ws|@nestjs)\//.test(k))).toEqual([]);
    // and the nestjs entry does load Nest
    expect(loadedAfter("require('./src/nestjs/index.ts')").some((k) => k.includes('@nestjs/common'))).toBe(
      true,
    );
  });

  it('rxllm/browser (fetchSse, fromWebSocket, error frames) stays free of Node APIs and undici', () => {
    const deps = [...externalImports(path.join(root, 'src/browser.ts'))];
    expect(deps.filter((d) => d === 'undici' || d.startsWith('node:') || d === 'ws')).toEqual([]);
  });

  it('rxllm/nestjs loads @nestjs/common, only there', () => {
    expect([...externalImports(path.join(root, 'src/nestjs/index.ts'))]).toContain('@nestjs/common');
  });
});
