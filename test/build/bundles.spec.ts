/**
 * The built JavaScript: each entry point is one module, and the code two entries share lives once per
 * module system (scripts/build.cjs). An app that loads `rxllm` and `rxllm/operators` must get one
 * provider registry, one default agent, one price table, one lazily loaded zod: a second copy would
 * make `setPrice` from one entry invisible to `trackUsage` from the other. This runs the build's
 * bundling step (esbuild only, no tsc) into a scratch folder and checks both what went where and how
 * the result behaves in fresh Node processes, CommonJS and ESM.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

// scripts/build.cjs is plain CommonJS (it runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const build = require('../../scripts/build.cjs') as {
  bundle(dist: string): Promise<{ esm: Metafile; cjs: Metafile; cli: Metafile }>;
};

const root = path.resolve(__dirname, '../..');

/** Source file -> the output files holding some of its code. */
function placement(meta: Metafile): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const [output, { inputs }] of Object.entries(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
      if (bytesInOutput === 0) continue;
      where.set(input, [...(where.get(input) ?? []), output]);
    }
  }
  return where;
}

/** Runs `code` in a fresh Node process in `dir`; returns its last line of stdout, parsed. */
function run(dir: string, file: string, code: string): unknown {
  fs.writeFileSync(path.join(dir, file), code);
  const child = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`${file} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '');
}

describe('bundled entry points (scripts/build.cjs)', () => {
  let dir: string;
  let meta: { esm: Metafile; cjs: Metafile; cli: Metafile };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'rxllm-bundles-'));
    // The bundles keep package imports bare (rxjs, undici, zod): resolve them from the repo's.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    meta = await build.bundle(path.join(dir, 'dist'));
  }, 60_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(['esm', 'cjs'] as const)(
    '%s: every source module is in exactly one output file (one copy of its state)',
    (format) => {
      const where = placement(meta[format]);
      // the modules that hold state are there (else this test proves nothing)
      for (const stateful of [
        'src/providers/registry.ts',
        'src/transport/agent.ts',
        'src/cost/cost.ts',
        'src/lazyZod.ts',
        'src/requestSchema.ts',
        'operators/trackUsage.ts',
      ])
        expect(where.get(stateful)).toHaveLength(1);
      const copied = [...where].filter(([, outputs]) => outputs.length > 1);
      expect(copied).toEqual([]);
    },
  );

  it('builds each entry point where package.json exports points, in both module systems', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    for (const target of Object.values(pkg.exports) as unknown[]) {
      if (typeof target === 'string') continue; // ./package.json
      const { import: esm, require: cjs } = target as Record<string, { default: string }>;
      for (const file of [esm.default, cjs.default]) expect(fs.existsSync(path.join(dir, file))).toBe(true);
    }
    const bin = Object.values(pkg.bin as Record<string, string>)[0];
    expect(fs.readFileSync(path.join(dir, bin), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('rxllm + rxllm/operators load a handful of modules, not one per source file', () => {
    const loaded = run(
      dir,
      'count.cjs',
      `const before = new Set(Object.keys(require.cache));
       require('./dist/src/index.js');
       require('./dist/operators/index.js');
       const ours = Object.keys(require.cache).filter((f) => !before.has(f) && !f.includes('node_modules'));
       console.log(JSON.stringify(ours.map((f) => require('path').relative(__dirname, f))));`,
    ) as string[];
    // the sources behind them: what the metafile lists for those output files
    const sources = new Set<string>();
    for (const file of loaded) {
      const output = meta.cjs.outputs[path.join(path.relative(root, dir), file)];
      expect(output).toBeDefined();
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
        if (bytesInOutput > 0) sources.add(input);
    }
    expect(loaded).toContain('dist/src/index.js');
    expect(sources.size).toBeGreaterThan(50);
    expect(loaded.length * 4).toBeLessThan(sources.size);
  });

  const PRICE = `setPrice('compat/bundle-check', { input: 1_000_000, output: 0 });
    const reports = [];
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'bundle-check', choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 } };
    of(chunk).pipe(trackUsage({ model: 'compat/bundle-check', onUsage: (r) => reports.push(r.cost && r.cost.total) })).subscribe();`;

  it('CommonJS: a price set through rxllm is the one trackUsage from rxllm/operators charges', () => {
    const total = run(
      dir,
      'price.cjs',
      `const { setPrice } = require('./dist/src/index.js');
       const { trackUsage } = require('./dist/operators/index.js');
       const { of } = require('rxjs');
       ${PRICE}
       console.log(JSON.stringify(reports));`,
    );
    expect(total).toEqual([3]);
  });

  it('ESM: a price set through rxllm is the one trackUsage from rxllm/operators charges', () => {
    const total = run(
      dir,
      'price.mjs',
      `import { setPrice } from './dist/esm/src/index.js';
       import { trackUsage } from './dist/esm/operators/index.js';
       import { of } from 'rxjs';
       ${PRICE}
       console.log(JSON.stringify(reports));`,
    );
    expect(total).toEqual([3]);
  });

  const ZOD = (load: string) => `${load}
    const zod = () => Object.keys(req.cache).some((f) => f.includes('/node_modules/zod/'));
    const atImport = zod();
    rxllm.validateRequest({ model: 'mock/x', messages: [{ role: 'user', content: 'hi' }] });
    const afterPlainText = zod();
    rxllm.validateRequest({ model: 'mock/x', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    console.log(JSON.stringify({ atImport, afterPlainText, afterParts: zod() }));`;
  const LOADED_ONCE_NEEDED = { atImport: false, afterPlainText: false, afterParts: true };

  it('CommonJS: no entry loads zod; the first request that needs a schema does', () => {
    const loads = run(
      dir,
      'zod.cjs',
      ZOD(`const req = require;
        const rxllm = require('./dist/src/index.js');
        for (const e of ['operators/index', 'src/browser', 'src/testing/index']) require('./dist/' + e + '.js');`),
    );
    expect(loads).toEqual(LOADED_ONCE_NEEDED);
  });

  it('ESM: no entry loads zod; the first request that needs a schema does', () => {
    // zod is required through createRequire (its CommonJS build), so it shows in require.cache.
    const loads = run(
      dir,
      'zod.mjs',
      ZOD(`import { createRequire } from 'node:module';
        const req = createRequire(import.meta.url);
        const rxllm = await import('./dist/esm/src/index.js');
        for (const e of ['operators/index', 'src/browser', 'src/testing/index']) await import('./dist/esm/' + e + '.js');`),
    );
    expect(loads).toEqual(LOADED_ONCE_NEEDED);
  });
});
