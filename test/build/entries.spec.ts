import fs from 'node:fs';
import path from 'node:path';
import jestConfig from '../../jest.config';
import { entries } from '../../scripts/entries.json';

// scripts/build.cjs is plain CommonJS (it runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const build = require('../../scripts/build.cjs') as {
  drift(): string[];
  explicitSpecifiers(file: string, text: string): string;
};
const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('entry points: one list (scripts/entries.json) drives package.json, tsconfig and jest', () => {
  it('package.json and tsconfig.json follow the list (else: node scripts/build.cjs --sync)', () => {
    expect(build.drift()).toEqual([]);
  });

  it.each(Object.entries(entries))(
    '%s has a source file, ESM and CommonJS targets with types',
    (subpath, src) => {
      expect(fs.existsSync(path.join(root, src))).toBe(true);
      const js = src.replace(/\.ts$/, '.js');
      const dts = src.replace(/\.ts$/, '.d.ts');
      expect(pkg.exports[subpath]).toEqual({
        import: { types: `./dist/esm/${dts}`, default: `./dist/esm/${js}` },
        require: { types: `./dist/${dts}`, default: `./dist/${js}` },
      });
      if (subpath !== '.') expect(pkg.typesVersions['*'][subpath.slice(2)]).toEqual([`./dist/${dts}`]);
      const name = subpath === '.' ? 'rxllm' : `rxllm/${subpath.slice(2)}`;
      expect(jestConfig.moduleNameMapper?.[`^${name}$`]).toBe(`<rootDir>/${src}`);
    },
  );

  it('exports nothing but the listed entries and package.json (internals stay private)', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual([...Object.keys(entries), './package.json'].sort());
  });

  it('packs dist and builds before packing', () => {
    expect(pkg.files).toContain('dist');
    // prepack runs the whole build (both module systems, then the chat page's browser bundle).
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.scripts.build).toMatch(/^node scripts\/build\.cjs/);
    expect(pkg.sideEffects).toBe(false);
  });

  it('makes declaration specifiers explicit for ESM resolution, resolving files and folders', () => {
    const file = path.join(root, 'src', 'x.d.ts');
    const text = [
      "import { a } from './chunk';",
      "export * from './providers/anthropic';",
      "export { b } from './transport/http.js';",
      "type T = import('./errors').LlmError;",
      "import type { Observable } from 'rxjs';",
    ].join('\n');
    // Resolved against the source tree here: src/chunk.ts stands in for chunk.d.ts.
    const exists = fs.existsSync;
    const spy = jest
      .spyOn(fs, 'existsSync')
      .mockImplementation((p) => exists(String(p).replace(/\.d\.ts$/, '.ts')));
    try {
      expect(build.explicitSpecifiers(file, text).split('\n')).toEqual([
        "import { a } from './chunk.js';",
        "export * from './providers/anthropic/index.js';",
        "export { b } from './transport/http.js';",
        "type T = import('./errors.js').LlmError;",
        "import type { Observable } from 'rxjs';",
      ]);
      expect(() => build.explicitSpecifiers(file, "export * from './nowhere';")).toThrow(/cannot resolve/);
    } finally {
      spy.mockRestore();
    }
  });
});
