// Builds rxllm for both module systems from the entry list in scripts/entries.json:
//
//   dist/           CommonJS: each entry point is one module, and the code two entries share sits
//                   in dist/chunks/ (see below), with tsc's declarations, one .d.ts per source file;
//                   `require('rxllm')` loads it, and it requires rxjs's CommonJS build. The CLI
//                   (package.json "bin") is one file of its own.
//   dist/esm/       real ESM, built the same way (dist/esm/chunks/), and a package.json saying
//                   "type": "module". Declarations are tsc's, copied with explicit specifiers
//                   (`./chunk` -> `./chunk.js`).
//
// Why bundles: a cold start (a serverless function's first request) paid for resolving and
// compiling every module file, 111 of rxllm's own for `rxllm` + `rxllm/operators`: about 35 ms of
// CPU beyond what loading rxjs and undici costs. As 11 files it is less than half of that
// (BENCHMARKS.md, "B3 cold start: one module per entry point").
//
// Why shared chunks: an app that loads `rxllm` and `rxllm/operators` (or `rxllm/testing`) must get
// one copy of the modules that hold state: the provider registry, the default agent and its pool,
// prices, the lazily loaded zod and schemas (test/build/bundles.spec.ts checks it).
// esbuild's code splitting (ESM only) puts each piece of code in the chunk of exactly the entries that
// use it, so every piece exists once. The CommonJS build is that same split build, each output file
// then turned into CommonJS by esbuild (imports between chunks become `require`), so it has the same
// layout and the same single copies.
//
// Every package import (rxjs, undici, eventsource-parser, zod, the integrations' peers) stays a
// bare import, resolved by the app: an app has one rxjs, and a browser bundler takes rxjs's ESM
// build and drops, statement by statement (esbuild keeps its pure annotations), what an app does
// not use (bench/bundle-size.js checks the budget). Error names survive the bundling because error
// classes write their names out (src/errorName.ts): no keepNames.
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

// The ESM face of src/lazyZod.ts: its one `require('zod/v4')` (the app's zod, a peer) made through
// `module.createRequire(import.meta.url)`, got from process.getBuiltinModule (Node >= 20.16), so no Node
// built-in is imported statically. Only the Node path calls it (request validation, rxllm/schemas,
// toolLoop converting a zod 4.0/4.1 or zod/v4 schema); elsewhere (a browser) the call throws inside the
// module's try and becomes its ConfigurationError, which toolLoop turns into a TypeError asking for
// `parameters`. The CommonJS bundle keeps the plain `require`.
const esmLazyZod = {
  name: 'esm-lazy-zod',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]lazyZod\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const call = "require('zod/v4')";
      if (source.split(call).length !== 2) throw new Error(`build: expected one ${call} in lazyZod.ts`);
      const contents = source.replace(
        call,
        "process.getBuiltinModule('node:module').createRequire(import.meta.url)('zod/v4')",
      );
      return { contents, loader: 'ts' };
    });
  },
};

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

/** The CLI's source (package.json "bin" names its CommonJS build). */
function cliSource() {
  const bin = Object.values(readJson(path.join(ROOT, 'package.json')).bin)[0];
  return bin.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
}

/** esbuild options shared by both builds: one module per entry, shared code in chunks/. */
function bundleOptions(entryPoints, outdir) {
  return {
    absWorkingDir: ROOT,
    entryPoints,
    outdir,
    outbase: ROOT, // src/index.ts -> <outdir>/src/index.js, as package.json exports say
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    tsconfig: path.join(ROOT, 'tsconfig.build.json'),
    logLevel: 'warning',
  };
}

/**
 * Writes the JavaScript of both builds: CommonJS under `dist`, ESM under `dist/esm` (with its
 * package.json). Returns esbuild's metafiles (which source went into which output file).
 */
async function bundle(dist = DIST) {
  const esbuild = require('esbuild');
  const esmDir = path.join(dist, 'esm');
  const entryPoints = Object.values(entries);
  const esm = await esbuild.build({
    ...bundleOptions(entryPoints, esmDir),
    plugins: [esmLazyZod],
    metafile: true,
  });
  fs.writeFileSync(
    path.join(esmDir, 'package.json'),
    JSON.stringify({ type: 'module', sideEffects: false }, null, 2) + '\n',
  );
  // CommonJS: the same split build, then each file converted.
  const split = await esbuild.build({ ...bundleOptions(entryPoints, dist), write: false, metafile: true });
  for (const file of split.outputFiles) {
    const { code } = await esbuild.transform(file.text, {
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcefile: path.relative(dist, file.path),
    });
    fs.mkdirSync(path.dirname(file.path), { recursive: true });
    fs.writeFileSync(file.path, code);
  }
  // The CLI (package.json "bin") is a program, not an entry an app imports: one file of its own,
  // kept out of the split so the entries' chunks are not cut finer for it. Nothing it runs requires
  // rxllm (its commands read JSON, never a user's module), so its copies of the registry and the
  // pools are the only ones in its process.
  const cli = await esbuild.build({
    ...bundleOptions([cliSource()], dist),
    splitting: false,
    format: 'cjs',
    metafile: true,
  });
  return { esm: esm.metafile, cjs: split.metafile, cli: cli.metafile };
}

async function build() {
  const problems = drift();
  if (problems.length) {
    throw new Error(
      `build: ${problems.join(', ')} do not follow scripts/entries.json; run: node scripts/build.cjs --sync`,
    );
  }
  fs.rmSync(DIST, { recursive: true, force: true });
  // tsc type-checks and writes the declarations; esbuild writes the JavaScript.
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', 'tsconfig.build.json', '--emitDeclarationOnly'], { cwd: ROOT, ...TO_STDERR });
  const declarations = files(DIST, (n) => n.endsWith('.d.ts'));
  for (const file of declarations) {
    const target = path.join(ESM, path.relative(DIST, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, explicitSpecifiers(file, fs.readFileSync(file, 'utf8')));
  }
  await bundle();
  console.error(
    `build: dist/ (CommonJS) and dist/esm/ (ESM) for ${Object.keys(entries)
      .map((s) => (s === '.' ? 'rxllm' : `rxllm/${s.slice(2)}`))
      .join(', ')}`,
  );
}

module.exports = { packageFields, tsconfigPaths, drift, explicitSpecifiers, bundle };

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
