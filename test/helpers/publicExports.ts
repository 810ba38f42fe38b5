/** The value exports (functions, classes, constants) of each public entry point, by name. */
import { join } from 'node:path';
import ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');
export const ENTRIES = {
  rxllm: 'src/index.ts',
  'rxllm/operators': 'operators/index.ts',
  'rxllm/testing': 'src/testing/index.ts',
  'rxllm/browser': 'src/browser.ts',
  'rxllm/nestjs': 'src/nestjs/index.ts',
  'rxllm/redis': 'src/redis/index.ts',
  'rxllm/bullmq': 'src/bullmq/index.ts',
  'rxllm/schemas': 'src/schemas.ts',
} as const;

export function valueExports(): Record<string, string[]> {
  const files = Object.values(ENTRIES).map((f) => join(ROOT, f));
  const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const sf = program.getSourceFile(join(ROOT, file))!;
    const mod = checker.getSymbolAtLocation(sf)!;
    out[entry] = checker
      .getExportsOfModule(mod)
      .filter((sym) => {
        const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
        return (target.flags & ts.SymbolFlags.Value) !== 0;
      })
      .map((sym) => sym.name)
      .sort();
  }
  return out;
}
