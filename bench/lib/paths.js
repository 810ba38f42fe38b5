'use strict';
// Where things come from. rxllm is used from the repo's built output (dist/), with the rxjs that rxllm
// itself resolves (one rxjs instance, as in an app). Peers come from bench/node_modules only; the floor's
// two packages fall back to the repo's node_modules (rxllm depends on both), so the smoke run works
// without `npm ci` in bench/.
const path = require('node:path');
const fs = require('node:fs');

const BENCH = path.resolve(__dirname, '..');
const ROOT = path.resolve(BENCH, '..');
// RXLLM_DIST: use another build of rxllm (e.g. one compiled elsewhere to compare two versions).
const DIST = process.env.RXLLM_DIST ? path.resolve(process.env.RXLLM_DIST) : path.join(ROOT, 'dist');
// RXLLM_BASELINE_DIST: a second build, measured in the same run as the client `rxllm-baseline` (a
// before/after comparison interleaved round by round, so load on the machine hits both alike).
const BASELINE_DIST = process.env.RXLLM_BASELINE_DIST
  ? path.resolve(process.env.RXLLM_BASELINE_DIST)
  : undefined;

function resolveFrom(name, dirs) {
  for (const dir of dirs) {
    try {
      return require.resolve(name, { paths: [dir] });
    } catch {
      // try the next place
    }
  }
  return undefined;
}

function version(name, dirs) {
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'node_modules', name, 'package.json')));
  return dir
    ? JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version
    : undefined;
}

const PEER_DIRS = [BENCH];
const FLOOR_DIRS = [BENCH, ROOT];

/** The modules each client needs, and where they are found. */
const NEEDS = {
  floor: { dirs: FLOOR_DIRS, modules: ['undici', 'eventsource-parser'] },
  'floor-rxjs': { dirs: FLOOR_DIRS, modules: ['undici', 'eventsource-parser'] },
  openai: { dirs: PEER_DIRS, modules: ['openai'] },
  ai: { dirs: PEER_DIRS, modules: ['ai', '@ai-sdk/openai'] },
};

/** Why `client` cannot run here, or undefined when it can. */
function missing(client) {
  if (client === 'rxllm-baseline' && !BASELINE_DIST) return 'RXLLM_BASELINE_DIST is not set';
  if (client.startsWith('rxllm')) {
    const dist = client === 'rxllm-baseline' ? BASELINE_DIST : DIST;
    const files = ['src/index.js', 'operators/index.js'].map((f) => path.join(dist, f));
    const absent = files.filter((f) => !fs.existsSync(f));
    return absent.length
      ? `rxllm is not built (${absent.map((f) => path.relative(ROOT, f)).join(', ')} missing)`
      : undefined;
  }
  const need = NEEDS[client];
  const absent = need.modules.filter((m) => !resolveFrom(m, need.dirs));
  return absent.length
    ? `${absent.join(', ')} not installed in bench/node_modules (run: cd bench && npm ci)`
    : undefined;
}

function load(name, client) {
  const file = resolveFrom(name, NEEDS[client].dirs);
  if (!file) throw new Error(`${name} is not installed: ${missing(client)}`);
  return require(file);
}

/** A build of rxllm, with the rxjs the repo resolves (one rxjs instance, as in an app). */
const rxllmFrom = (dist) => ({
  core: () => require(path.join(dist, 'src/index.js')),
  operators: () => require(path.join(dist, 'operators/index.js')),
  rxjs: () => require(resolveFrom('rxjs', [ROOT])),
  rxjsOperators: () => require(resolveFrom('rxjs/operators', [ROOT])),
});
const rxllm = rxllmFrom(DIST);
const rxllmBaseline = BASELINE_DIST && rxllmFrom(BASELINE_DIST);

/** Versions of everything measured, for the report. */
function versions() {
  const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return {
    node: process.version,
    rxllm: root.version,
    rxjs: version('rxjs', [ROOT]),
    'undici (floor)': version('undici', FLOOR_DIRS),
    'eventsource-parser (floor)': version('eventsource-parser', FLOOR_DIRS),
    'undici (rxllm)': version('undici', [ROOT]),
    openai: version('openai', PEER_DIRS),
    ai: version('ai', PEER_DIRS),
    '@ai-sdk/openai': version('@ai-sdk/openai', PEER_DIRS),
  };
}

module.exports = { BENCH, ROOT, DIST, BASELINE_DIST, missing, load, rxllm, rxllmBaseline, versions };
