/**
 * The declarations rxllm ships must not depend on the consumer's interop flags. A default import of a
 * Node built-in or a CommonJS package (`import http from 'node:http'`) is copied into the `.d.ts`
 * when an exported type uses it, and a consumer without `esModuleInterop` /
 * `allowSyntheticDefaultImports` (module commonjs, moduleResolution node10) then fails with TS1192
 * "Module has no default export". Sources therefore import packages by name or as a namespace only;
 * scripts/pack-check.sh type-checks such a consumer against the packed tarball.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '../..');

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** `file: import X from 'pkg'` for every default import of a package or built-in (not `./relative`). */
export function defaultImportsOfPackages(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const specifier = statement.moduleSpecifier.text;
    if (specifier.startsWith('.')) continue;
    if (statement.importClause?.name)
      found.push(
        `${path.relative(root, file)}: import ${statement.importClause.name.text} from '${specifier}'`,
      );
  }
  return found;
}

describe('declarations do not depend on the consumer’s esModuleInterop', () => {
  it('finds default imports of packages, and only those (the check itself)', () => {
    const text = [
      "import http from 'node:http';",
      "import OpenAI, { type ClientOptions } from 'openai';",
      "import * as fs from 'node:fs';",
      "import { Observable } from 'rxjs';",
      "import local from './local';",
      '/** @example',
      " * import http from 'node:http';",
      ' */',
    ].join('\n');
    expect(defaultImportsOfPackages(path.join(root, 'src/x.ts'), text)).toEqual([
      "src/x.ts: import http from 'node:http'",
      "src/x.ts: import OpenAI from 'openai'",
    ]);
  });

  it('no source under src/ or operators/ default-imports a package or a Node built-in', () => {
    const files = [...sources(path.join(root, 'src')), ...sources(path.join(root, 'operators'))];
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => defaultImportsOfPackages(f, fs.readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });
});
