'use strict';
// Import cost of rxllm (issue 11): `require('rxllm')` and `import('rxllm')` in a fresh Node process,
// against loading only what rxllm cannot do without (undici + eventsource-parser + rxjs), from a
// scratch app holding the packed tarball. Each sample is one fresh process timing its own load
// (performance.now() around the require / import); rounds interleave the variants; medians reported.
//
//   node bench/import-time.js [--app DIR] [--rounds N]
const { execFileSync } = require('node:child_process');
const { appArg, packedApp } = require('./lib/packedApp');

const CJS = {
  'undici + eventsource-parser + rxjs': "require('undici'); require('eventsource-parser'); require('rxjs');",
  "require('rxllm')": "require('rxllm');",
  "require('rxllm') + rxllm/operators": "require('rxllm'); require('rxllm/operators');",
  "require('rxllm/browser')": "require('rxllm/browser');",
};
const ESM = {
  'undici + eventsource-parser + rxjs':
    "await import('undici'); await import('eventsource-parser'); await import('rxjs');",
  "import('rxllm')": "await import('rxllm');",
  "import('rxllm') + rxllm/operators": "await import('rxllm'); await import('rxllm/operators');",
  "import('rxllm/browser')": "await import('rxllm/browser');",
};

function sample(app, kind, code) {
  // Wall time and CPU time (user + system) of the load, measured inside the child.
  const wrapped = `const t = performance.now(), c = process.cpuUsage(); ${code} const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]));`;
  const args = kind === 'cjs' ? ['-e', wrapped] : ['--input-type=module', '-e', wrapped];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8' }));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main() {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--rounds');
  const rounds = i >= 0 ? Number(argv[i + 1]) : 15;
  const app = packedApp(appArg(argv));
  const times = {};
  for (const [kind, variants] of [
    ['cjs', CJS],
    ['esm', ESM],
  ]) {
    for (const name of Object.keys(variants)) times[`${kind} ${name}`] = [];
    sample(app, kind, variants[Object.keys(variants)[0]]); // warm the file cache
    for (let r = 0; r < rounds; r++)
      for (const [name, code] of Object.entries(variants))
        times[`${kind} ${name}`].push(sample(app, kind, code));
  }
  console.log(
    `node ${process.version}, ${rounds} rounds, one fresh process per sample; median (min–max) in ms of wall and of CPU (user + system)`,
  );
  console.log('| module system | what is loaded | wall | wall over the floor | CPU | CPU over the floor |');
  console.log('|---|---|---|---|---|---|');
  for (const [kind, variants] of [
    ['cjs', CJS],
    ['esm', ESM],
  ]) {
    const names = Object.keys(variants);
    const cell = (xs) =>
      `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
    const over = (xs, floor, first) =>
      first
        ? '—'
        : `${median(xs) - median(floor) >= 0 ? '+' : ''}${(median(xs) - median(floor)).toFixed(1)} ms`;
    const base = times[`${kind} ${names[0]}`];
    for (const name of names) {
      const t = times[`${kind} ${name}`];
      const wall = t.map((x) => x[0]);
      const cpu = t.map((x) => x[1]);
      const first = name === names[0];
      console.log(
        `| ${kind === 'cjs' ? 'CommonJS' : 'ESM'} | ${name} | ${cell(wall)} | ${over(
          wall,
          base.map((x) => x[0]),
          first,
        )} | ${cell(cpu)} | ${over(
          cpu,
          base.map((x) => x[1]),
          first,
        )} |`,
      );
    }
  }
}

main();
