'use strict';
// Runs every scenario with every client, interleaved round by round (floor, rxllm, rxllm-full, openai,
// ai, floor, ...), each run in a fresh child process against the load server (its own process), and
// writes the report. `node harness.js [--smoke] [--rounds N] [--only B1,B3] [--clients floor,rxllm]
// [--out FILE]`. Exits 1 when any client fails to rebuild the exact text.
const { fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { BENCH, ROOT, missing, versions } = require('./lib/paths');
const { writeReport } = require('./lib/report');

const CLIENTS = [
  'floor',
  'floor-rxjs',
  ...(process.env.RXLLM_BASELINE_DIST ? ['rxllm-baseline'] : []),
  'rxllm',
  'rxllm-full',
  'openai',
  'ai',
];
// Clients measured in some scenarios only: the floor with rxjs loaded is a reference for cold starts.
const ONLY_IN = { 'floor-rxjs': ['B3'] };
const PEERS = ['openai', 'ai'];
const B5_OPS = [
  'loop',
  'rxjs',
  'accumulateFinal',
  'accumulateSnapshots',
  'partialToolCallGuard',
  'textDeltas',
];

function parseArgs(argv) {
  const args = { smoke: false, rounds: undefined, only: undefined, clients: undefined, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') args.smoke = true;
    else if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--only') args.only = argv[++i].split(',');
    else if (a === '--clients') args.clients = argv[++i].split(',');
    else if (a === '--out') args.out = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** Sizes of the issue; the smoke run keeps the shapes and shrinks the counts. */
function scenarios(smoke) {
  const s = (full, tiny) => (smoke ? tiny : full);
  return {
    B1: { server: { chunks: s(200_000, 5_000) }, variants: [{}] },
    B2: {
      server: { chunks: 20, latencyMs: s(200, 20) },
      variants: [
        { streaming: true, n: s(100, 10), cap: s(20, 3) },
        { streaming: false, n: s(100, 10), cap: s(20, 3) },
      ],
    },
    B3: { server: { chunks: 1 }, variants: [{ n: s(200, 20) }] },
    B4: { server: { chunks: s(50, 5), delayMs: s(100, 10) }, variants: [{ n: s(1000, 20) }] },
    B5: {
      variants: smoke
        ? [{ ops: B5_OPS, size: 2_000 }]
        : [
            ...B5_OPS.map((op) => ({ op, size: 100_000 })),
            ...['accumulateFinal', 'accumulateSnapshots'].map((op) => ({
              op,
              size: 1_000_000,
              linear: true,
            })),
          ],
    },
  };
}

class LoadServer {
  static async start() {
    const child = fork(path.join(BENCH, 'server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const server = new LoadServer(child);
    server.port = (await server.next('ready')).port;
    return server;
  }
  constructor(child) {
    this.child = child;
    this.waiting = [];
    child.on('message', (msg) => {
      const i = this.waiting.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(msg);
    });
    child.on('exit', (code) => {
      for (const w of this.waiting) w.reject(new Error(`load server exited with ${code}`));
    });
  }
  next(type) {
    return new Promise((resolve, reject) => this.waiting.push({ type, resolve, reject }));
  }
  async ask(msg, reply) {
    const answer = this.next(reply);
    this.child.send(msg);
    return answer;
  }
  stop() {
    this.child.disconnect();
  }
}

function runChild(script, spec, timeoutMs) {
  return new Promise((resolve, reject) => {
    // BENCH_CHILD_FLAGS: node flags for the measured processes, e.g. '--cpu-prof --cpu-prof-dir=bench/results/prof'.
    const flags = (process.env.BENCH_CHILD_FLAGS || '').split(' ').filter(Boolean);
    const own = script === 'operators.js' ? ['--expose-gc'] : [];
    const child = spawn(
      process.execPath,
      [...own, ...flags, path.join(BENCH, script), JSON.stringify(spec)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop();
      if (code === 0 && line) return resolve(JSON.parse(line));
      reject(
        new Error(
          `${script} ${JSON.stringify(spec)} failed (${signal || `exit ${code}`}):\n${stderr.trim()}`,
        ),
      );
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const rounds = args.rounds || (args.smoke ? 1 : 5);
  const all = scenarios(args.smoke);
  const names = args.only || Object.keys(all);
  const skipped = {};
  const clients = (args.clients || CLIENTS).filter((c) => {
    const why = missing(c);
    if (why && PEERS.includes(c)) skipped[c] = why;
    else if (why) throw new Error(`${c} cannot run: ${why}`);
    return !why;
  });
  for (const [c, why] of Object.entries(skipped)) console.log(`skipping ${c}: ${why}`);
  if (!clients.includes('floor'))
    throw new Error('every figure is a ratio to the floor: --clients must include floor');

  const server = await LoadServer.start();
  const results = {
    rounds,
    smoke: args.smoke,
    clients,
    skipped,
    scenarios: {},
    load: { start: os.loadavg() },
  };
  const t0 = performance.now();
  try {
    for (const name of names) {
      const scenario = all[name];
      if (!scenario) throw new Error(`unknown scenario ${name}`);
      results.scenarios[name] = [];
      if (scenario.server) await server.ask({ type: 'config', ...scenario.server }, 'config-ok');
      for (const variant of scenario.variants) {
        const rows = {};
        const who =
          name === 'B5' ? ['rxllm'] : clients.filter((c) => !ONLY_IN[c] || ONLY_IN[c].includes(name));
        for (let r = 0; r < rounds; r++) {
          for (const client of who) {
            rows[client] ||= [];
            if (name === 'B5') {
              rows[client].push(await runChild('operators.js', variant, 300_000));
              continue;
            }
            await server.ask({ type: 'reset' }, 'reset-ok');
            const before = await server.ask({ type: 'stats' }, 'stats');
            const spec = { client, scenario: name, port: server.port, ...scenario.server, ...variant };
            const figures = await runChild('client.js', spec, 300_000);
            const after = await server.ask({ type: 'stats' }, 'stats');
            figures.connections = after.connections;
            figures.maxOpenConnections = after.maxOpen;
            figures.requests = after.requests;
            figures.serverCpuMs = (after.cpuUs - before.cpuUs) / 1000;
            rows[client].push(figures);
          }
          process.stdout.write(`${name} ${JSON.stringify(variant)} round ${r + 1}/${rounds} done\n`);
        }
        if (variant.ops) {
          // One process measured several operators: one entry per operator, as in a full run.
          for (const op of variant.ops) {
            const opRows = { rxllm: rows.rxllm.map((r) => r.byOp[op]) };
            results.scenarios[name].push({ variant: { op, size: variant.size }, rows: opRows });
          }
        } else {
          results.scenarios[name].push({ variant, server: scenario.server, rows });
        }
      }
    }
  } finally {
    server.stop();
  }
  results.totalSeconds = (performance.now() - t0) / 1000;
  results.load.end = os.loadavg();
  results.versions = versions();

  fs.mkdirSync(path.join(BENCH, 'results'), { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(
    path.join(BENCH, 'results', `${args.smoke ? 'smoke' : 'bench'}-${stamp}.json`),
    JSON.stringify(results, null, 2),
  );
  const out =
    args.out || (args.smoke ? path.join(BENCH, 'results', 'smoke.md') : path.join(ROOT, 'BENCHMARKS.md'));
  const command = args.smoke
    ? 'bash bench/smoke.sh'
    : `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  writeReport(out, results, command);
  const runs = Object.values(results.scenarios)
    .flat()
    .reduce((n, v) => n + Object.values(v.rows).flat().length, 0);
  console.log(
    `${runs} runs, every text rebuilt exactly; wrote ${path.relative(process.cwd(), out)} in ${results.totalSeconds.toFixed(0)} s`,
  );
}

main().catch((err) => {
  console.error(String((err && err.stack) || err));
  process.exit(1);
});
