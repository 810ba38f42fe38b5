'use strict';
// Browser bundle cost of rxllm (issue 11): an app that streams a chat with fetchSse + textDeltas +
// accumulateChunks, against the same app written with only the rxjs pieces it uses. Both are bundled
// by esbuild (platform browser, ESM, minify) from a scratch app holding the packed tarball; sizes are
// min and min+gzip (level 9). Also lists what the rxllm bundle pulled in: zod, undici, a Node
// built-in or a second copy of rxjs is a failure.
//
//   node bench/bundle-size.js [--app DIR] [--check] [--json]
//
// --check fails (exit 1) over the budget in bench/budget.json or when a forbidden module is bundled.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { ROOT, appArg, packedApp } = require('./lib/packedApp');

// The same UI both ways: POST a chat, show text as it arrives, keep the final message.
const APPS = {
  'rxjs only': `
import { Observable, map, filter, scan, takeUntil, fromEvent } from 'rxjs';
const stop$ = fromEvent(document.getElementById('stop'), 'click');
const chunks$ = new Observable((sub) => {
  const ctrl = new AbortController();
  fetch('/api/chat', { method: 'POST', body: '{}', signal: ctrl.signal })
    .then(async (res) => {
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\\n\\n')) >= 0) {
          const line = buf.slice(0, i); buf = buf.slice(i + 2);
          if (line.startsWith('data: ') && line !== 'data: [DONE]') sub.next(JSON.parse(line.slice(6)));
        }
      }
      sub.complete();
    }, (e) => sub.error(e));
  return () => ctrl.abort();
});
const text$ = chunks$.pipe(map((c) => c.choices[0]?.delta?.content ?? ''), filter((t) => t !== ''), takeUntil(stop$));
text$.pipe(scan((a, t) => a + t, '')).subscribe((t) => (document.body.textContent = t));
`,
  rxllm: `
import { map, filter, scan, takeUntil, fromEvent } from 'rxjs';
import { fetchSse } from 'rxllm/browser';
import { textDeltas, accumulateChunks } from 'rxllm/operators';
const stop$ = fromEvent(document.getElementById('stop'), 'click');
const chunks$ = fetchSse('/api/chat', { body: { messages: [] } }).pipe(takeUntil(stop$));
chunks$.pipe(textDeltas(), filter((t) => t !== ''), scan((a, t) => a + t, '')).subscribe((t) => (document.body.textContent = t));
chunks$.pipe(accumulateChunks(), map((m) => m.choices[0]?.message.content)).subscribe((t) => console.log(t));
`,
};

function emptyTsconfig(app) {
  const file = path.join(app, 'tsconfig.bundle-size.json');
  if (!fs.existsSync(file)) fs.writeFileSync(file, '{}\n');
  return file;
}

/** Bundles one app; returns sizes and the packages (by folder) whose files went in. */
async function bundle(app, source) {
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: app, sourcefile: 'app.js', loader: 'js' },
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
    // An empty tsconfig: the scratch app may sit inside the repo, whose tsconfig paths map rxllm to src/.
    tsconfig: emptyTsconfig(app),
  });
  const code = result.outputFiles[0].contents;
  // Only files that put bytes in the output count: esbuild lists a tree-shaken module with 0 bytes.
  const output = Object.values(result.metafile.outputs)[0];
  if (
    !Object.keys(result.metafile.inputs).some((f) => f.includes('node_modules/rxllm/')) &&
    /rxllm/.test(source)
  )
    throw new Error('bundle-size: rxllm was not resolved from node_modules (the packed tarball)');
  const inputs = Object.entries(output.inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .map(([f]) => f);
  return {
    min: code.length,
    gzip: zlib.gzipSync(code, { level: 9 }).length,
    inputs,
    packages: packagesOf(inputs),
  };
}

/** `rxjs@dist/esm5` style keys: package name plus, for rxjs, which of its builds went in. */
function packagesOf(inputs) {
  const out = new Map();
  for (const file of inputs) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(file.split(path.sep).join('/'));
    if (!m) continue;
    const [, name, rest] = m;
    const root = file.slice(0, file.lastIndexOf(`node_modules/${name}/`));
    const build = name === 'rxjs' ? `/${rest.split('/').slice(0, 2).join('/')}` : '';
    const key = `${name}${build}`;
    if (!out.has(key)) out.set(key, new Set());
    out.get(key).add(root);
  }
  return out;
}

/** What may not be in the browser bundle: zod, undici, Node built-ins, two rxjs builds or copies. */
function forbidden(bundleInfo) {
  const problems = [];
  const names = [...bundleInfo.packages.keys()];
  for (const bad of ['zod', 'undici']) if (names.some((n) => n === bad)) problems.push(`${bad} is bundled`);
  const node = bundleInfo.inputs.filter(
    (f) => f.startsWith('node:') || /^(fs|http|https|net|stream|crypto)$/.test(f),
  );
  if (node.length) problems.push(`Node built-ins bundled: ${node.join(', ')}`);
  const rxjs = names.filter((n) => n.startsWith('rxjs'));
  const copies = rxjs.reduce((n, k) => n + bundleInfo.packages.get(k).size, 0);
  if (copies > 1)
    problems.push(`more than one rxjs copy or build is bundled: ${rxjs.join(', ')} (${copies})`);
  return problems;
}

const kb = (n) => `${(n / 1024).toFixed(2)} KB`;

async function main() {
  const argv = process.argv.slice(2);
  const app = packedApp(appArg(argv));
  const results = {};
  for (const [name, source] of Object.entries(APPS)) results[name] = await bundle(app, source);
  const base = results['rxjs only'];
  const rx = results.rxllm;
  const added = { min: rx.min - base.min, gzip: rx.gzip - base.gzip };
  const problems = forbidden(rx);
  const budget = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'budget.json'), 'utf8'));
  if (added.gzip > budget.browserAddedGzipBytes)
    problems.push(
      `rxllm adds ${kb(added.gzip)} min+gzip, over the budget of ${kb(budget.browserAddedGzipBytes)}`,
    );
  if (rx.gzip > budget.browserAppGzipBytes)
    problems.push(
      `the rxllm app is ${kb(rx.gzip)} min+gzip, over the budget of ${kb(budget.browserAppGzipBytes)}`,
    );

  if (argv.includes('--json')) {
    console.log(JSON.stringify({ base, rx: { ...rx, packages: undefined }, added, problems }, null, 2));
  } else {
    const rxllmVersion = JSON.parse(
      fs.readFileSync(path.join(app, 'node_modules/rxllm/package.json'), 'utf8'),
    ).version;
    console.log(
      `esbuild ${esbuild.version}, platform browser, format esm, minify; gzip level 9; rxllm ${rxllmVersion} (packed)`,
    );
    console.log('| app | min | min+gzip |');
    console.log('|---|---|---|');
    console.log(
      `| rxjs only (Observable, map, filter, scan, takeUntil, fromEvent) | ${kb(base.min)} | ${kb(base.gzip)} |`,
    );
    console.log(
      `| rxllm: fetchSse + textDeltas + accumulateChunks (same rxjs operators) | ${kb(rx.min)} | ${kb(rx.gzip)} |`,
    );
    console.log(`| **added by rxllm** | **${kb(added.min)}** | **${kb(added.gzip)}** |`);
    console.log(`packages in the rxllm bundle: ${[...rx.packages.keys()].sort().join(', ')}`);
  }
  if (problems.length) {
    for (const p of problems) console.error(`bundle-size: ${p}`);
    if (argv.includes('--check')) process.exit(1);
  } else if (argv.includes('--check')) {
    console.log(
      `bundle-size: within budget (added ${kb(added.gzip)} <= ${kb(budget.browserAddedGzipBytes)}), no zod, undici, Node built-in or second rxjs`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
