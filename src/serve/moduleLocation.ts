/**
 * Where this code runs from, under the CommonJS build and an ESM build alike: the gateway finds
 * its page files relative to the package, and loads optional peers (`ws`, `esbuild`) lazily. No
 * `import.meta` (the CommonJS build must compile) and no bare `require` (ESM has none).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The file of this module: `__filename` under CommonJS, else read from a stack frame (ESM). */
export function moduleFile(): string {
  if (typeof __filename === 'string') return __filename;
  const frame = /\((file:\/\/[^)]+?):\d+:\d+\)|at (file:\/\/\S+?):\d+:\d+/.exec(new Error().stack ?? '');
  const url = frame?.[1] ?? frame?.[2];
  return url ? fileURLToPath(url) : path.join(process.cwd(), 'index.js');
}

/** A `require` that works in both builds, for optional peers loaded only when used. */
export function requireOptional<T>(name: string): T {
  return createRequire(moduleFile())(name) as T;
}

/** The package root: the nearest folder above this module with rxllm's package.json. */
export function packageRoot(): string | undefined {
  let dir = path.dirname(moduleFile());
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json');
    try {
      if (JSON.parse(fs.readFileSync(file, 'utf8')).name === 'rxllm') return dir;
    } catch {
      // keep walking up
    }
    dir = path.dirname(dir);
  }
  return undefined;
}
