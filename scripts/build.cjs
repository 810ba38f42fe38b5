// Builds rxllm for both module systems from the entry list in scripts/entries.json:
//
//   dist/           CommonJS, one file per source file (tsc -p tsconfig.build.json), with .d.ts;
//                   `require('rxllm')` loads it, and it requires rxjs's CommonJS build.
//   dist/esm/       real ESM, one file per source file too (tsc -p tsconfig.esm.json, then relative
//                   specifiers made explicit: `./chunk` -> `./chunk.js`), and a package.json saying
//                   "type": "module". Every package import (rxjs, undici, ...) stays a bare `import`:
//                   bundlers take rxjs's ESM build, so an app has one rxjs, and with one module per
//                   file and `sideEffects: false` they drop every module an app does not use.
//                   Declarations are tsc's, copied with the same explicit specifiers.
//
// Sources keep extensionless relative imports: nobody rewrites them, and new files of any folder
// under src/ or operators/ build without touching this script.
//
//   node scripts/build.cjs           build (fails when package.json or tsconfig.json lag behind the entry list)
//   node scripts/build.cjs --sync    write package.json exports/typesVersions/main/types and tsconfig paths
//   node scripts/build.cjs --check   only check that they are in sync
//
// Everything it prints goes to stderr (tsc's diagnostics too): `npm pack --json` runs the build in
// prepack, and its stdout must stay the JSON npm writes.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const ESM = path.join(DIST, 'esm');
// tsc prints its diagnostics on stdout: send them to our stderr (see the header).
const TO_STDERR = { stdio: ['ignore', 2, 2] };
const { entries } = require('./entries.json');

// The ESM face of src/lazyZod.ts: tsc's output with its one `require('zod/v4')` (the app's zod, a
// peer) made through `module.createRequire(import.meta.url)`, got from process.getBuiltinModule
// (Node >= 20.16), so no Node built-in is imported statically. Only the Node path calls it (request
// validation, rxllm/schemas, toolLoop converting a zod 4.0/4.1 or zod/v4 schema); elsewhere it throws
// the module's ConfigurationError, which toolLoop turns into a TypeError asking for `parameters`.
function esmLazyZod(tscOutput) {
  const call = "require('zod/v4')";
  if (tscOutput.split(call).length !== 2) throw new Error(`build: expected one ${call} in lazyZod.js`);
  return tscOutput.replace(
    call,
    "process.getBuiltinModule('node:module').createRequire(import.meta.url)('zod/v4')",
  );
}

const js = (src) => src.replace(/\.ts$/, '.js');
const dts = (src) => src.replace(/\.ts$/, '.d.ts');

/** The package.json fields that follow from the entry list. */
function packageFields() {
  const exports = {};
  const typesVersions = {};
  for (const [subpath, src] of Object.entries(entries)) {
    exports[subpath] = {
      import: { types: `./dist/esm/${dts(src)}`, default: `./dist/esm/${js(src)}` },
      require: { types: `./dist/${dts(src)}`, default: `./dist/${js(src)}` },
    };
    // node10 resolution ("moduleResolution": "node", module commonjs) ignores `exports`.
    if (subpath !== '.') typesVersions[subpath.slice(2)] = [`./dist/${dts(src)}`];
  }
  exports['./package.json'] = './package.json';
  return {
    main: `./dist/${js(entries['.'])}`,
    module: `./dist/esm/${js(entries['.'])}`,
    types: `./dist/${dts(entries['.'])}`,
    exports,
    typesVersions: { '*': typesVersions },
  };
}

/** tsconfig paths: the public names, mapped to source for the type-check, tests and examples. */
function tsconfigPaths() {
  return Object.fromEntries(
    Object.entries(entries).map(([subpath, src]) => [
      subpath === '.' ? 'rxllm' : `rxllm/${subpath.slice(2)}`,
      [`./${src}`],
    ]),
  );
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Differences between the entry list and package.json / tsconfig.json, as messages. */
function drift() {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const out = [];
  for (const [key, value] of Object.entries(packageFields()))
    if (JSON.stringify(pkg[key]) !== JSON.stringify(value)) out.push(`package.json "${key}"`);
  const tsconfig = readJson(path.join(ROOT, 'tsconfig.json'));
  if (JSON.stringify(tsconfig.compilerOptions.paths) !== JSON.stringify(tsconfigPaths()))
    out.push('tsconfig.json "compilerOptions.paths"');
  return out;
}

function sync() {
  const pkgFile = path.join(ROOT, 'package.json');
  const pkg = readJson(pkgFile);
  Object.assign(pkg, packageFields()); // keeps the position of keys already there
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');
  const tsFile = path.join(ROOT, 'tsconfig.json');
  const tsconfig = readJson(tsFile);
  tsconfig.compilerOptions.paths = tsconfigPaths();
  fs.writeFileSync(tsFile, JSON.stringify(tsconfig, null, 2) + '\n');
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'prettier'), ['--write', pkgFile, tsFile], {
    stdio: 'ignore',
  });
  console.error('build: package.json and tsconfig.json follow scripts/entries.json');
}

function files(dir, test, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files(p, test, out);
    else if (test(e.name)) out.push(p);
  }
  return out;
}

/**
 * A module's relative specifiers made explicit (`./chunk` -> `./chunk.js`, `./serve` ->
 * `./serve/index.js`), resolved against the files next to it (`.d.ts` for declarations, else `.js`).
 */
function explicitSpecifiers(file, text) {
  const dir = path.dirname(file);
  const ext = file.endsWith('.d.ts') ? '.d.ts' : '.js';
  const fix = (spec) => {
    if (!spec.startsWith('.') || /\.(js|mjs|cjs|json)$/.test(spec)) return spec;
    if (fs.existsSync(path.join(dir, `${spec}${ext}`))) return `${spec}.js`;
    if (fs.existsSync(path.join(dir, spec, `index${ext}`))) return `${spec}/index.js`;
    throw new Error(`build: cannot resolve ${spec} from ${path.relative(ROOT, file)}`);
  };
  return text.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.[^'"]*)\2/g,
    (_, pre, q, spec) => `${pre}${q}${fix(spec)}${q}`,
  );
}

async function build() {
  const problems = drift();
  if (problems.length) {
    throw new Error(
      `build: ${problems.join(', ')} do not follow scripts/entries.json; run: node scripts/build.cjs --sync`,
    );
  }
  fs.rmSync(DIST, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: ROOT, ...TO_STDERR });

  execFileSync(tsc, ['-p', 'tsconfig.esm.json'], { cwd: ROOT, ...TO_STDERR });
  for (const file of files(ESM, (n) => n.endsWith('.js'))) {
    fs.writeFileSync(file, explicitSpecifiers(file, fs.readFileSync(file, 'utf8')));
  }
  const lazyZod = path.join(ESM, 'src', 'lazyZod.js');
  fs.writeFileSync(lazyZod, esmLazyZod(fs.readFileSync(lazyZod, 'utf8')));
  fs.writeFileSync(
    path.join(ESM, 'package.json'),
    JSON.stringify({ type: 'module', sideEffects: false }, null, 2) + '\n',
  );
  const declarations = files(DIST, (n) => n.endsWith('.d.ts')).filter((f) => !f.startsWith(ESM + path.sep));
  for (const file of declarations) {
    const target = path.join(ESM, path.relative(DIST, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, explicitSpecifiers(file, fs.readFileSync(file, 'utf8')));
  }
  console.error(
    `build: dist/ (CommonJS) and dist/esm/ (ESM) for ${Object.keys(entries)
      .map((s) => (s === '.' ? 'rxllm' : `rxllm/${s.slice(2)}`))
      .join(', ')}`,
  );
}

module.exports = { packageFields, tsconfigPaths, drift, explicitSpecifiers };

if (require.main === module) {
  const arg = process.argv[2];
  if (arg === '--sync') sync();
  else if (arg === '--check') {
    const problems = drift();
    if (problems.length) {
      console.error(
        `build: ${problems.join(', ')} lag behind scripts/entries.json; run: node scripts/build.cjs --sync`,
      );
      process.exit(1);
    }
  } else {
    build().catch((e) => {
      console.error(e.message ?? e);
      process.exit(1);
    });
  }
}
