import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';

/**
 * Runs a TypeScript helper of `test/helpers` in a process of its own (tsx) and returns its output:
 * for what jest's sandboxed `process` cannot see, such as Node's own warnings.
 */
export function runTsHelper(file: string, args: string[] = []): SpawnSyncReturns<string> {
  return spawnSync(
    process.execPath,
    [path.join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), path.join(__dirname, file), ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
}
