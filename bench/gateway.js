'use strict';
// Gateway cost (issue 12): what `rxllm serve` adds to every stream it relays, against the least a
// relay can do. 200 concurrent streams of 50 chunks 30 ms apart (bench/server.js, a real model's
// pace), started staggered over one stream's length, in a closed loop for DURATION seconds; the same
// load client against three targets, in alternating order per rep:
//   direct  client -> upstream
//   floor   client -> raw pass-through proxy (node http + undici, upstream bytes piped unparsed)
//   rxllm   client -> rxllm gateway (startGateway: token check, body validation, access log to a
//           file, timeouts + retryBackoff + partialToolCallGuard, sendSse)
// Each process is its own (upstream, floor, rxllm, client). Reported per hop: p50/p99 time to first
// chunk and what the hop adds over direct, CPU per stream (the whole proxy process over the run /
// streams it served) and memory per open stream (RSS and heap+buffers during load minus idle, over
// the mean number of open streams).
//
// --thin adds a fourth hop: a thin rxllm relay (`stream` + `sendSse` on node http), the issue's
// reference point for what parsing and re-serializing alone cost.
//
//   node bench/gateway.js [--reps 3] [--duration 8] [--concurrency 200] [--thin]   (needs npm run build)
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BENCH, DIST, ROOT } = require('./lib/paths');

const TOKEN = 'sk-bench-gateway-token';
const MODEL = 'compat/bench';
const CHUNKS = 50;
const DELAY_MS = 30;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A child process speaking IPC: `next(type)` resolves with the next message of that type. */
function child(file, args, execArgv = [], stderr = 'inherit') {
  const proc = fork(file, args, { stdio: ['ignore', 'inherit', stderr, 'ipc'], execArgv });
  const waiting = new Map();
  proc.on('message', (msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      w(msg);
    }
  });
  return {
    proc,
    next: (type) => new Promise((resolve) => waiting.set(type, resolve)),
    ask(msg, reply) {
      const p = this.next(reply);
      proc.send(msg);
      return p;
    },
  };
}

// ---------------------------------------------------------------- proxy processes (floor, rxllm)

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers };
}

/** Shared by both proxies: CPU and memory over a window, open streams sampled with memory. */
function instrument(openNow, served) {
  let mark;
  let samples = [];
  let sampler;
  process.on('message', (msg) => {
    if (msg.type === 'mark') {
      if (global.gc) global.gc();
      mark = { cpu: process.cpuUsage(), served: served(), idle: memory() };
      samples = [];
      sampler = setInterval(() => {
        const open = openNow();
        if (open > 0) samples.push({ open, ...memory() });
      }, 50);
      process.send({ type: 'marked' });
    } else if (msg.type === 'stats') {
      clearInterval(sampler);
      const cpu = process.cpuUsage(mark.cpu);
      const n = samples.length || 1;
      const mean = (k) => samples.reduce((s, x) => s + x[k], 0) / n;
      process.send({
        type: 'stats',
        cpuUs: cpu.user + cpu.system,
        served: served() - mark.served,
        meanOpen: mean('open'),
        rssDelta: mean('rss') - mark.idle.rss,
        heapDelta: mean('heap') - mark.idle.heap,
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // SIGINT from the harness: exit normally, so --cpu-prof writes its profile.
  process.on('SIGINT', () => process.exit(0));
}

function runFloor(upstreamPort) {
  const http = require('node:http');
  const { request, Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const upstream = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
  let open = 0;
  let served = 0;
  const server = http.createServer((req, res) => {
    open++;
    const parts = [];
    req.on('data', (b) => parts.push(b));
    req.on('end', async () => {
      const ac = new AbortController();
      res.on('close', () => {
        open--;
        served++;
        ac.abort();
      });
      try {
        const up = await request(upstream, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: Buffer.concat(parts),
          dispatcher: agent,
          signal: ac.signal,
        });
        res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] ?? 'text/event-stream' });
        for await (const buf of up.body) res.write(buf);
        res.end();
      } catch {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  instrument(
    () => open,
    () => served,
  );
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
}

async function runRxllm(upstreamPort) {
  const { startGateway, createClient } = require(path.join(DIST, 'src/index.js'));
  let served = 0;
  // The access log goes where `rxllm serve` sends it, stderr (a file here: see the fork below).
  const gateway = await startGateway({
    port: 0,
    model: MODEL,
    token: TOKEN,
    client: createClient({ baseURL: `http://127.0.0.1:${upstreamPort}/v1` }),
    webSocket: false,
  });
  gateway.server.on('request', (_req, res) => res.on('close', () => served++));
  gateway.server.keepAliveTimeout = 60_000;
  instrument(
    () => gateway.inFlight,
    () => served,
  );
  process.send({ type: 'ready', port: gateway.port });
}

/** The reference point: a thin rxllm relay (`stream` + `sendSse`), no token, no validation, no operators. */
function runThin(upstreamPort) {
  const http = require('node:http');
  const { stream, sendSse } = require(path.join(DIST, 'src/index.js'));
  const options = { baseURL: `http://127.0.0.1:${upstreamPort}/v1` };
  let open = 0;
  let served = 0;
  const server = http.createServer((req, res) => {
    open++;
    const parts = [];
    req.on('data', (b) => parts.push(b));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      void sendSse(res, stream({ model: MODEL, messages: body.messages }, options)).then(() => {
        open--;
        served++;
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  instrument(
    () => open,
    () => served,
  );
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
}

// ---------------------------------------------------------------- load client

function runClient(port, concurrency, durationMs, warmupMs, streamMs = CHUNKS * DELAY_MS) {
  const { request, Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'bench' }], stream: true });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  const ttfc = [];
  let completed = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + warmupMs + durationMs;

  async function one() {
    const t0 = performance.now();
    let first;
    let tail = '';
    const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    for await (const buf of res.body) {
      if (first === undefined && buf.includes('data: {')) first = performance.now() - t0;
      tail = (tail + buf.toString('latin1')).slice(-64);
    }
    if (!tail.includes('data: [DONE]')) throw new Error('no [DONE]');
    if (t0 - start >= warmupMs) ttfc.push(first);
    completed++;
  }

  async function worker(i) {
    // Staggered over one stream's length, so requests arrive evenly.
    await new Promise((r) => setTimeout(r, (i * streamMs) / concurrency));
    while (performance.now() < deadline) {
      try {
        await one();
      } catch {
        errors++;
      }
    }
  }

  Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i))).then(() => {
    process.send({ type: 'result', ttfc, completed, errors });
    process.exit(0);
  });
}

// ---------------------------------------------------------------- harness

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const median = (xs) => pct(xs, 50);

async function main() {
  const reps = arg('reps', 3);
  const duration = arg('duration', 8) * 1000;
  const concurrency = arg('concurrency', 200);
  if (!fs.existsSync(path.join(DIST, 'src/index.js'))) {
    console.error('bench/gateway.js: build rxllm first (npm run build)');
    process.exit(1);
  }
  const loadStart = os.loadavg();
  const upstream = child(path.join(BENCH, 'server.js'), []);
  const upstreamPort = (await upstream.next('ready')).port;
  await upstream.ask({ type: 'config', chunks: CHUNKS, delayMs: DELAY_MS, model: MODEL }, 'config-ok');
  const proxies = {};
  const roles = process.argv.includes('--thin') ? ['floor', 'thin', 'rxllm'] : ['floor', 'rxllm'];
  for (const role of roles) {
    // BENCH_CHILD_FLAGS='--cpu-prof --cpu-prof-dir=bench/results/prof' profiles both proxies.
    const flags = (process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
    let stderr = 'inherit';
    if (role === 'rxllm') {
      fs.mkdirSync(path.join(BENCH, 'results'), { recursive: true });
      stderr = fs.openSync(path.join(BENCH, 'results', 'gateway-access.log'), 'w');
    }
    proxies[role] = child(__filename, [role, String(upstreamPort)], ['--expose-gc', ...flags], stderr);
    proxies[role].port = (await proxies[role].next('ready')).port;
  }
  const targets = { direct: upstreamPort };
  for (const role of roles) targets[role] = proxies[role].port;
  const names = Object.keys(targets);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const warmupMs = CHUNKS * DELAY_MS;
  for (let rep = 0; rep < reps; rep++) {
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const name of order) {
      const proxy = proxies[name];
      if (proxy) await proxy.ask({ type: 'mark' }, 'marked');
      const client = child(__filename, [
        'client',
        String(targets[name]),
        String(concurrency),
        String(duration),
        String(warmupMs),
      ]);
      const result = await client.next('result');
      const stats = proxy ? await proxy.ask({ type: 'stats' }, 'stats') : undefined;
      results[name].push({ ...result, stats });
      const p50 = median(result.ttfc);
      console.error(
        `rep ${rep + 1} ${name.padEnd(6)} streams ${result.completed} errors ${result.errors} ttfc p50 ${p50.toFixed(2)} ms` +
          (stats
            ? ` cpu/stream ${(stats.cpuUs / 1000 / stats.served).toFixed(2)} ms open ${stats.meanOpen.toFixed(0)}`
            : ''),
      );
    }
  }
  // Unloaded: one request at a time (short streams: 5 chunks 2 ms apart), what each hop adds to
  // time to first chunk when the machine's scheduler is not the bottleneck.
  await upstream.ask({ type: 'config', chunks: 5, delayMs: 2, model: MODEL }, 'config-ok');
  const sequential = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const name of names.map((_, i) => names[(i + rep) % names.length])) {
      const client = child(__filename, ['client', String(targets[name]), '1', '2000', '300', '10']);
      const result = await client.next('result');
      sequential[name].push(pct(result.ttfc, 50));
    }
  }

  // Per rep, then the median over reps: p50/p99 of the measured requests, added over direct.
  const row = (name) => {
    const reps_ = results[name];
    const p50 = median(reps_.map((r) => pct(r.ttfc, 50)));
    const p99 = median(reps_.map((r) => pct(r.ttfc, 99)));
    const d50 = median(results.direct.map((r) => pct(r.ttfc, 50)));
    const d99 = median(results.direct.map((r) => pct(r.ttfc, 99)));
    const s = reps_.map((r) => r.stats).filter(Boolean);
    return {
      name,
      streams: median(reps_.map((r) => r.completed)),
      errors: reps_.reduce((a, r) => a + r.errors, 0),
      p50,
      p99,
      add50: name === 'direct' ? 0 : p50 - d50,
      add99: name === 'direct' ? 0 : p99 - d99,
      cpu: s.length ? median(s.map((x) => x.cpuUs / 1000 / x.served)) : undefined,
      rss: s.length ? median(s.map((x) => x.rssDelta / x.meanOpen / 1024)) : undefined,
      heap: s.length ? median(s.map((x) => x.heapDelta / x.meanOpen / 1024)) : undefined,
      open: s.length ? median(s.map((x) => x.meanOpen)) : undefined,
    };
  };
  const rows = names.map(row);
  const f = (v, d = 2) => (v === undefined ? '—' : v.toFixed(d));
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const command = `node bench/gateway.js ${process.argv.slice(2).join(' ')}`.trim();
  const lines = [
    `## Gateway: ${concurrency} concurrent streams of ${CHUNKS} chunks ${DELAY_MS} ms apart, through \`rxllm serve\``,
    '',
    `Command: \`${command}\` (${reps} reps of ${duration / 1000} s after a ${warmupMs / 1000} s warm-up, hops in alternating order). ` +
      'One load client (undici, closed loop, starts staggered over one stream length) against: the upstream directly; ' +
      'a raw pass-through proxy (node `http` + undici, bytes piped unparsed: the floor); ' +
      (roles.includes('thin') ? 'a thin rxllm relay (`stream` + `sendSse`); ' : '') +
      '`startGateway` as `rxllm serve` runs it (token check, body validation, access log on stderr to a file, `timeouts` + `retryBackoff` + `partialToolCallGuard`). ' +
      'TTFC: request start to the first chunk, p50/p99 per rep, median over reps; added = minus direct. CPU per stream: the whole proxy ' +
      'process (user + system) over the run / streams it served. Memory per open stream: mean (RSS, or heap + array buffers) while ' +
      'loaded minus idle after a GC, over the mean number of open streams.',
    '',
    `Load average at start ${load(loadStart)}, at end ${load(os.loadavg())} (2 cores shared with other work: TTFC under contention measures the scheduler as much as the proxy; CPU times are steadier).`,
    '',
    `| hop | streams/rep | errors | TTFC p50 (ms) | p99 (ms) | p50 added over direct | p99 added | CPU per stream (ms) | RSS per open stream (KiB) | heap+buffers per open stream (KiB) | mean open streams |`,
    `|---|---|---|---|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.streams} | ${r.errors} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.add50)} | ${f(r.add99)} | ${f(r.cpu)} | ${f(r.rss, 1)} | ${f(r.heap, 1)} | ${f(r.open, 0)} |`,
    ),
  ];
  const seqDirect = median(sequential.direct);
  lines.push(
    '',
    `Unloaded, one request at a time (streams of 5 chunks 2 ms apart, 2 s per hop per rep; median over reps of each run's p50): ` +
      names
        .map(
          (n) =>
            `${n} ${f(median(sequential[n]))} ms` +
            (n === 'direct' ? '' : ` (+${f(median(sequential[n]) - seqDirect)})`),
        )
        .join(', ') +
      '.',
  );
  const floor = rows.find((r) => r.name === 'floor');
  const rx = rows.find((r) => r.name === 'rxllm');
  lines.push(
    '',
    `Targets: rxllm serve vs the floor proxy: p50 TTFC +${f(rx.p50 - floor.p50)} ms loaded, +${f(median(sequential.rxllm) - median(sequential.floor))} ms unloaded (target <= 1 ms), CPU per stream ${f(rx.cpu / floor.cpu)}x (target <= 1.3x), memory per open stream ${f(rx.rss / floor.rss)}x RSS / ${f(rx.heap / floor.heap)}x heap.`,
  );
  console.log(lines.join('\n'));
  upstream.proc.disconnect();
  for (const p of Object.values(proxies)) p.proc.kill('SIGINT');
  // A failed or cut stream (no [DONE]) is a broken relay, not a slow one: CI's smoke run fails on it.
  if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
}

const role = process.argv[2];
if (role === 'floor') runFloor(Number(process.argv[3]));
else if (role === 'rxllm') runRxllm(Number(process.argv[3]));
else if (role === 'thin') runThin(Number(process.argv[3]));
else if (role === 'client') runClient(...process.argv.slice(3, 8).map(Number));
else main();
