'use strict';
// A scratch app with rxllm installed from its packed tarball, as a user gets it: what the bundle-size
// and import-time benchmarks measure (never the repo's dist/ through relative paths). Shared with
// scripts/pack-check.sh, which passes its own scratch app (`--app DIR`) so CI packs only once.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

/** `--app DIR` from argv, or undefined. */
function appArg(argv) {
  const i = argv.indexOf('--app');
  return i >= 0 ? path.resolve(argv[i + 1]) : undefined;
}

/**
 * Returns a folder whose node_modules holds the packed rxllm and rxjs. Builds and packs the repo
 * (`npm pack` runs `prepack`, the build) into `dir` unless it already has rxllm installed.
 */
function packedApp(dir = path.join(ROOT, 'bench', 'results', 'packed-app')) {
  if (fs.existsSync(path.join(dir, 'node_modules', 'rxllm', 'package.json'))) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarball = out.trim().split('\n').pop();
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'rxllm-packed-app', version: '0.0.0', private: true }) + '\n',
  );
  // rxjs (the peer) is the repo's own; rxllm's dependencies come from npm's cache when it has them.
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
    `./${tarball}`,
    path.join(ROOT, 'node_modules', 'rxjs'),
  ];
  try {
    execFileSync('npm', [...args, '--offline'], { cwd: dir, stdio: 'ignore' });
  } catch {
    execFileSync('npm', args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return dir;
}

module.exports = { ROOT, appArg, packedApp };
