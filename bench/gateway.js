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
// --mini adds another: a minimal parsing relay with no rxllm code (undici `dispatch`, JSON.parse and
// JSON.stringify of every event), what parsing and re-serializing cost without any library around them.
//
// --fused adds a design probe: mini plus the gateway's per-chunk work in one handler (see runFused).
//
// --no-resume-hop adds `rxllm serve --no-resume` (startGateway with resume: false): what resumable
// answers, on by default, cost.
//
//   node bench/gateway.js [--reps 3] [--duration 8] [--concurrency 200] [--thin] [--mini] [--fused] [--no-resume-hop] [--hold N] [--hold-gap MS] [--stress]   (needs npm run build)
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { arg } = require('./lib/args');
const { BASELINE_DIST, BENCH, DIST, ROOT } = require('./lib/paths');

const TOKEN = 'sk-bench-gateway-token';
const MODEL = 'compat/bench';
const CHUNKS = 50;
const DELAY_MS = 30;

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
    } else if (msg.type === 'memory') {
      // What the open streams hold: measured after full GCs, so garbage does not count.
      global.gc();
      global.gc();
      process.send({ type: 'memory', open: openNow(), ...memory() });
    } else if (msg.type === 'stats') {
      clearInterval(sampler);
      const cpu = process.cpuUsage(mark.cpu);
      const n = samples.length || 1;
      const mean = (k) => samples.reduce((s, x) => s + x[k], 0) / n;
      process.send({
        type: 'stats',
        cpuUs: cpu.user + cpu.system,
        sysUs: cpu.system,
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

/**
 * The frame the floor, thin and mini proxies share: counts open and served streams (a stream is
 * served when its response closes), hands each request's body to `relay(body, res)`, reports its port.
 */
function proxyServer(relay) {
  const http = require('node:http');
  let open = 0;
  let served = 0;
  const server = http.createServer((req, res) => {
    open++;
    res.on('close', () => {
      open--;
      served++;
    });
    const parts = [];
    req.on('data', (b) => parts.push(b));
    req.on('end', () => relay(Buffer.concat(parts), res, req));
  });
  server.keepAliveTimeout = 60_000;
  instrument(
    () => open,
    () => served,
  );
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
}

function runFloor(upstreamPort) {
  const { request, Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const upstream = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
  proxyServer(async (body, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    try {
      const up = await request(upstream, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
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
}

async function runRxllm(upstreamPort, dist = DIST, resume = undefined) {
  const { startGateway, createClient } = require(path.join(dist, 'src/index.js'));
  let served = 0;
  // The access log goes where `rxllm serve` sends it, stderr (a file here: see the fork below).
  const gateway = await startGateway({
    port: 0,
    model: MODEL,
    token: TOKEN,
    client: createClient({ baseURL: `http://127.0.0.1:${upstreamPort}/v1` }),
    webSocket: false,
    resume,
  });
  gateway.server.on('request', (_req, res) => res.on('close', () => served++));
  gateway.server.keepAliveTimeout = 60_000;
  instrument(
    () => gateway.inFlight,
    () => served,
  );
  process.send({ type: 'ready', port: gateway.port });
}

/** The issue's reference point: a thin rxllm relay (`stream` + `sendSse`), no token, no validation, no operators. */
function runThin(upstreamPort) {
  const { stream, sendSse } = require(path.join(DIST, 'src/index.js'));
  const options = { baseURL: `http://127.0.0.1:${upstreamPort}/v1` };
  proxyServer((body, res) => {
    const { messages } = JSON.parse(body.toString('utf8'));
    void sendSse(res, stream({ model: MODEL, messages }, options));
  });
}

/**
 * Sends `request` (a chat body) to the upstream with undici's `dispatch` (no Readable, no async
 * iterator) and hands the data of each SSE event to `onEvent`; what it writes for one upstream read goes
 * out in one socket write. The client leaving aborts the upstream call. Shared by mini and fused.
 */
function relayEvents(agent, upstreamPort, request, res, { onStart = () => undefined, onEvent, onEnd }) {
  const decoder = new TextDecoder();
  let pending = '';
  let controller;
  res.on('close', () => {
    if (!res.writableEnded) controller?.abort(new Error('client left'));
  });
  const uncork = () => res.uncork();
  agent.dispatch(
    {
      origin: `http://127.0.0.1:${upstreamPort}`,
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    },
    {
      onRequestStart: (ctrl) => (controller = ctrl),
      onResponseStart: (_ctrl, status) => onStart(status),
      onResponseData: (_ctrl, buf) => {
        pending += decoder.decode(buf, { stream: true });
        res.cork();
        for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
          const data = pending.slice(6, end);
          pending = pending.slice(end + 2);
          onEvent(data);
        }
        process.nextTick(uncork);
      },
      onResponseEnd: () => onEnd(),
      onResponseError: () => res.destroy(),
    },
  );
}

/**
 * What a parsing relay costs at least: node http + undici's `dispatch`, each upstream event decoded,
 * `JSON.parse`d and `JSON.stringify`d again, one socket write per upstream read. No rxllm code: the
 * reference for what rxllm's own layers add.
 */
function runMini(upstreamPort) {
  const { Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  proxyServer((body, res) => {
    const { messages } = JSON.parse(body.toString('utf8'));
    relayEvents(agent, upstreamPort, { model: MODEL, messages, stream: true }, res, {
      onStart: (status) => res.writeHead(status, { 'content-type': 'text/event-stream' }),
      onEvent: (data) =>
        res.write(data === '[DONE]' ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(JSON.parse(data))}\n\n`),
      onEnd: () => res.end(),
    });
  });
}

/**
 * A design probe, not a product: `mini` plus what the gateway does per request and per chunk, with
 * none of rxllm's layers between them: the token checked (SHA-256, compared in constant time), the
 * body parsed, the model renamed in every chunk, the usage kept, each event numbered
 * (`id: <streamId>:<seq>`) and kept in rxllm's memory resume store (`createMemoryResumeStore`:
 * `create`, `appendNow`, `end`), one access-log line per request on stderr. What a gateway fused into
 * one object per stream could cost at best (it leaves out retries, timeouts, the tool-call guard,
 * budgets, metrics and every error path). The store serializes each chunk again (its text is not
 * public), one `JSON.stringify` per chunk more than a fused gateway would make. `FUSED_STORE=0` leaves
 * the store and the ids out.
 */
function runFused(upstreamPort) {
  const crypto = require('node:crypto');
  const { Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const { createMemoryResumeStore } = require(path.join(DIST, 'src/index.js'));
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const store = process.env.FUSED_STORE === '0' ? undefined : createMemoryResumeStore();
  const digest = (text) => crypto.createHash('sha256').update(text).digest();
  const expected = digest(TOKEN);
  const headers = (id) => ({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    ...(id ? { 'x-rxllm-stream-id': id } : {}),
  });
  proxyServer(async (body, res, req) => {
    const started = performance.now();
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !crypto.timingSafeEqual(digest(auth.slice(7)), expected)) {
      res.writeHead(401).end();
      return;
    }
    const { model, messages } = JSON.parse(body.toString('utf8'));
    const id = store ? crypto.randomUUID() : undefined;
    if (store) await store.create(id, 600_000);
    const event = [{ seq: 0, chunk: undefined }];
    let firstMs;
    let usage;
    const request = { model: 'bench', messages, stream: true, stream_options: { include_usage: true } };
    relayEvents(agent, upstreamPort, request, res, {
      onEvent: (data) => {
        if (data === '[DONE]') return;
        let chunk = JSON.parse(data);
        if (firstMs === undefined) {
          firstMs = performance.now() - started;
          res.writeHead(200, headers(id));
        }
        if (chunk.model !== model) chunk = { ...chunk, model };
        if (chunk.usage) usage = chunk.usage;
        const text = JSON.stringify(chunk);
        if (!store) return void res.write(`data: ${text}\n\n`);
        event[0].seq++;
        event[0].chunk = chunk;
        store.appendNow(id, event);
        res.write(`id: ${id}:${event[0].seq}\ndata: ${text}\n\n`);
      },
      onEnd: () => {
        res.end('data: [DONE]\n\n');
        if (store) void store.end(id, { state: 'complete' });
        const tokens = usage ? `${usage.prompt_tokens}+${usage.completion_tokens}` : '-';
        const total = (performance.now() - started).toFixed(1);
        process.stderr.write(
          `POST /v1/chat/completions 200 model=${model} ttfc=${firstMs?.toFixed(1)}ms total=${total}ms tokens=${tokens} complete\n`,
        );
      },
    });
  });
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

/**
 * Holds `n` streams open at once (started over `spreadMs`, so the listen backlog is not the test):
 * reports 'held' once every stream has its first chunk, then on 'release' aborts them all.
 */
function runHold(port, n, spreadMs) {
  const { request, Agent } = require(require.resolve('undici', { paths: [BENCH, ROOT] }));
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: null });
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'bench' }], stream: true });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  const ac = new AbortController();
  require('node:events').setMaxListeners(0, ac.signal);
  let errors = 0;
  const firsts = [];
  const ended = [];
  for (let i = 0; i < n; i++) {
    let gotFirst;
    firsts.push(new Promise((r) => (gotFirst = r)));
    ended.push(
      (async () => {
        await new Promise((r) => setTimeout(r, (i * spreadMs) / n));
        try {
          // A starved proxy (a loaded machine) may not accept in time: connecting again is not
          // what this measures, so a refused or timed-out connect is retried a few times.
          let res;
          for (let attempt = 1; !res; attempt++) {
            try {
              res = await request(url, {
                method: 'POST',
                headers,
                body,
                dispatcher: agent,
                signal: ac.signal,
              });
            } catch (error) {
              const retry = /CONNECT_TIMEOUT|ECONNRESET|ECONNREFUSED/.test(error.code ?? '');
              if (attempt >= 5 || ac.signal.aborted || !retry) throw error;
            }
          }
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
          // Read on until released (a `break` out of for-await would close the stream).
          await new Promise((resolve) => {
            res.body.on('data', (buf) => {
              if (buf.includes('data: {')) gotFirst();
            });
            res.body.on('close', resolve).on('error', resolve);
          });
        } catch (error) {
          if (!ac.signal.aborted) {
            errors++;
            if (errors <= 3) console.error(`hold: ${error.code ?? ''} ${error.message}`);
          }
          gotFirst();
        }
      })(),
    );
  }
  Promise.all(firsts).then(() => process.send({ type: 'held', errors }));
  process.on('message', async (msg) => {
    if (msg.type !== 'release') return;
    ac.abort();
    await Promise.all(ended);
    await agent.close();
    process.send({ type: 'released' });
    process.exit(0);
  });
}

// ---------------------------------------------------------------- harness

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const median = (xs) => pct(xs, 50);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const f = (v, d = 2) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
const signed = (v) => (v >= 0 ? `+${f(v)}` : f(v));
const loadText = (l) => l.map((x) => x.toFixed(2)).join(' ');

/** A proxy process (floor, thin or rxllm) on the upstream; resolves once it listens. */
async function spawnProxy(role, upstreamPort) {
  // BENCH_CHILD_FLAGS='--cpu-prof --cpu-prof-dir=bench/results/prof' profiles the proxies.
  const flags = (process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
  let stderr = 'inherit';
  if (role === 'rxllm' || role === 'baseline' || role === 'fused' || role === 'noresume') {
    fs.mkdirSync(path.join(BENCH, 'results'), { recursive: true });
    stderr = fs.openSync(path.join(BENCH, 'results', 'gateway-access.log'), 'a');
  }
  const proxy = child(__filename, [role, String(upstreamPort)], ['--expose-gc', ...flags], stderr);
  proxy.port = (await proxy.next('ready')).port;
  return proxy;
}

/**
 * One measurement of every hop: `concurrency` streams in a closed loop (CPU, TTFC under the
 * gateway's own load), then one request at a time (TTFC when nothing queues).
 */
async function measure({ upstream, proxies, targets, reps, duration, concurrency }) {
  await upstream.ask({ type: 'config', chunks: CHUNKS, delayMs: DELAY_MS, model: MODEL }, 'config-ok');
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
      console.error(
        `rep ${rep + 1} ${name.padEnd(6)} streams ${result.completed} errors ${result.errors} ttfc p50 ${median(result.ttfc).toFixed(2)} ms` +
          (stats
            ? ` cpu/stream ${(stats.cpuUs / 1000 / stats.served).toFixed(2)} ms (system ${(stats.sysUs / 1000 / stats.served).toFixed(2)}) open ${stats.meanOpen.toFixed(0)}`
            : ''),
      );
    }
  }
  // Unloaded: one request at a time (short streams: 5 chunks 2 ms apart), what each hop adds to
  // time to first chunk when requests do not queue behind each other.
  await upstream.ask({ type: 'config', chunks: 5, delayMs: 2, model: MODEL }, 'config-ok');
  const sequential = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const name of names.map((_, i) => names[(i + rep) % names.length])) {
      // 2 s per hop, or the loaded phase's duration when shorter (the CI smoke run).
      const client = child(__filename, [
        'client',
        String(targets[name]),
        '1',
        String(Math.min(2000, duration)),
        '300',
        '10',
      ]);
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
      cpuPerRep: s.map((x) => x.cpuUs / 1000 / x.served),
      heap: s.length ? median(s.map((x) => x.heapDelta / x.meanOpen / 1024)) : undefined,
      open: s.length ? median(s.map((x) => x.meanOpen)) : undefined,
      seq: median(sequential[name]),
    };
  };
  return names.map(row);
}

/** The table and the target line of one measurement. */
function report(rows, title, load) {
  const floor = rows.find((r) => r.name === 'floor');
  const rx = rows.find((r) => r.name === 'rxllm');
  const direct = rows.find((r) => r.name === 'direct');
  const perRep = rx.cpuPerRep.map((c, i) => f(c / floor.cpuPerRep[i])).join(', ');
  const verdict = {
    cpu: rx.cpu / floor.cpu,
    ttfcLoaded: rx.p50 - floor.p50,
    ttfcUnloaded: rx.seq - floor.seq,
  };
  const base = rows.find((r) => r.name === 'baseline');
  const versus = base
    ? [
        '',
        `This build vs the baseline build (RXLLM_BASELINE_DIST): CPU per stream ${f(rx.cpu / base.cpu)}x ` +
          `(per rep ${rx.cpuPerRep.map((c, i) => f(c / base.cpuPerRep[i])).join(', ')}), ` +
          `one at a time TTFC ${signed(rx.seq - base.seq)} ms.`,
      ]
    : [];
  return {
    verdict,
    lines: [
      `### ${title}`,
      '',
      `Load average (1, 5, 15 min) at start ${loadText(load[0])}, at end ${loadText(load[1])}.`,
      '',
      `| hop | streams/rep | errors | TTFC p50 (ms) | p99 (ms) | p50 added over direct | p99 added | one at a time: TTFC p50 (ms) | CPU per stream (ms) | heap+buffers per open stream (KiB) | mean open streams |`,
      `|---|---|---|---|---|---|---|---|---|---|---|`,
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.streams} | ${r.errors} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.add50)} | ${f(r.add99)} | ${f(r.seq)}${r === direct ? '' : ` (+${f(r.seq - direct.seq)})`} | ${f(r.cpu)} | ${f(r.heap, 1)} | ${f(r.open, 0)} |`,
      ),
      '',
      `rxllm serve vs the floor: CPU per stream ${f(verdict.cpu)}x (target <= 1.3x; per rep ${perRep}), ` +
        `p50 TTFC ${signed(verdict.ttfcLoaded)} ms at the concurrency above and ` +
        `${signed(verdict.ttfcUnloaded)} ms one at a time (target <= 1 ms).`,
      ...versus,
    ],
  };
}

/**
 * Memory per open stream: for each hop, a fresh process warmed with 50 streams, measured after GC
 * idle and then with `n` streams open at once (each has its first chunk, none has ended).
 */
async function holdMemory(upstream, upstreamPort, roles, n, gapMs) {
  await upstream.ask({ type: 'config', chunks: 2000, delayMs: gapMs, model: MODEL }, 'config-ok');
  const rows = [];
  for (const role of roles) {
    const proxy = await spawnProxy(role, upstreamPort);
    const hold = async (count, spreadMs, measureOpen) => {
      const client = child(__filename, ['hold', String(proxy.port), String(count), String(spreadMs)]);
      const held = await client.next('held');
      await sleep(500); // the last streams' first chunks are written; buffers settle
      const memory = measureOpen ? await proxy.ask({ type: 'memory' }, 'memory') : undefined;
      await client.ask({ type: 'release' }, 'released');
      return { errors: held.errors, memory };
    };
    await hold(50, 200, false);
    await sleep(500);
    const idle = await proxy.ask({ type: 'memory' }, 'memory');
    // Started over 8 s for 2,000 (4 ms apart: the listen backlog is not the test), less for a few.
    const { errors, memory } = await hold(n, Math.min(8000, n * 4), true);
    proxy.proc.kill('SIGINT');
    // Per stream the hold opened: generations still running from the warm-up (resumable answers
    // outlive their clients) are in the idle figure already, so they are not counted again.
    const opened = memory.open - idle.open;
    const per = (k) => (memory[k] - idle[k]) / opened / 1024;
    rows.push({ role, errors, open: opened, rss: per('rss'), heap: per('heap') });
    console.error(
      `hold ${role.padEnd(6)} open ${opened} errors ${errors} rss/stream ${f(per('rss'), 1)} KiB heap/stream ${f(per('heap'), 1)} KiB`,
    );
  }
  return rows;
}

async function main() {
  const reps = arg('reps', 3);
  const duration = arg('duration', 8) * 1000;
  const concurrency = arg('concurrency', 200);
  const holdStreams = arg('hold', 0);
  const holdGapMs = arg('hold-gap', 100);
  const stress = process.argv.includes('--stress');
  if (!fs.existsSync(path.join(DIST, 'src/index.js'))) {
    console.error('bench/gateway.js: build rxllm first (npm run build)');
    process.exit(1);
  }
  const upstream = child(path.join(BENCH, 'server.js'), []);
  const upstreamPort = (await upstream.next('ready')).port;
  const proxies = {};
  const roles = ['floor', 'rxllm'];
  if (process.argv.includes('--thin')) roles.splice(1, 0, 'thin');
  if (process.argv.includes('--mini')) roles.splice(1, 0, 'mini');
  if (process.argv.includes('--fused')) roles.splice(roles.indexOf('rxllm'), 0, 'fused');
  // `rxllm serve --no-resume`: what resumable answers (on by default) cost, beside the default.
  if (process.argv.includes('--no-resume-hop')) roles.splice(roles.indexOf('rxllm'), 0, 'noresume');
  // RXLLM_BASELINE_DIST=<another build>: that build's gateway too, interleaved (a before/after).
  if (BASELINE_DIST) roles.push('baseline');
  fs.mkdirSync(path.join(BENCH, 'results'), { recursive: true });
  fs.writeFileSync(path.join(BENCH, 'results', 'gateway-access.log'), '');
  for (const role of roles) proxies[role] = await spawnProxy(role, upstreamPort);
  const targets = { direct: upstreamPort };
  for (const role of roles) targets[role] = proxies[role].port;
  const command = `node bench/gateway.js ${process.argv.slice(2).join(' ')}`.trim();
  const lines = [
    `## Gateway: ${concurrency} concurrent streams of ${CHUNKS} chunks ${DELAY_MS} ms apart, through \`rxllm serve\``,
    '',
    `Command: \`${command}\` (${reps} reps of ${duration / 1000} s after a ${(CHUNKS * DELAY_MS) / 1000} s warm-up, hops in alternating order` +
      (stress ? '; the whole measurement once as the machine is, once more beside `stress-ng --cpu 1`' : '') +
      '). One load client (undici, closed loop, starts staggered over one stream length) against: the upstream directly; ' +
      'a raw pass-through proxy (node `http` + undici, bytes piped unparsed: the floor); ' +
      (roles.includes('mini')
        ? 'a minimal parsing relay (node `http` + undici `dispatch`, every event `JSON.parse`d and `JSON.stringify`d, no rxllm code); '
        : '') +
      (roles.includes('thin') ? 'a thin rxllm relay (`stream` + `sendSse`); ' : '') +
      (roles.includes('fused')
        ? "a fused probe (`mini` plus the gateway's token check, model rename, usage, event ids, memory resume store and access log, in one handler: no rxllm layers; `FUSED_STORE=" +
          (process.env.FUSED_STORE ?? '1') +
          '`); '
        : '') +
      (roles.includes('noresume')
        ? '`noresume`: `startGateway` with `resume: false` (`rxllm serve --no-resume`); '
        : '') +
      '`startGateway` as `rxllm serve` runs it (token check, body validation, access log on stderr to a file, `timeouts` + `retryBackoff` + `partialToolCallGuard`). ' +
      'TTFC: request start to the first chunk, p50/p99 per rep, median over reps; added = minus direct. "One at a time": ' +
      "streams of 5 chunks 2 ms apart, one request at a time for 2 s per hop per rep, median of each run's p50. CPU per stream: the whole proxy " +
      'process (user + system) over the run / streams it served. Heap+buffers per open stream: mean while loaded minus idle after a GC, ' +
      'over the mean number of open streams.',
    '',
  ];
  const setup = { upstream, proxies, targets, reps, duration, concurrency };
  const verdicts = [];
  const states = stress ? ['as it is', 'beside stress-ng --cpu 1'] : ['as it is'];
  let failed = false;
  for (const state of states) {
    let stressor;
    if (state !== 'as it is') {
      stressor = require('node:child_process').spawn('stress-ng', ['--cpu', '1', '--quiet'], {
        stdio: 'ignore',
      });
      stressor.on('error', (error) => {
        console.error(`bench/gateway.js: --stress needs stress-ng (${error.message})`);
        process.exit(1);
      });
      process.on('exit', () => stressor.kill('SIGTERM'));
      await sleep(1000);
    }
    const loadStart = os.loadavg();
    const rows = await measure(setup);
    const loadEnd = os.loadavg();
    if (stressor) {
      stressor.kill('SIGTERM');
      await new Promise((r) => stressor.once('exit', r));
    }
    const { verdict, lines: table } = report(rows, `Machine ${state}`, [loadStart, loadEnd]);
    lines.push(...table, '');
    verdicts.push({ state, ...verdict });
    if (rows.some((r) => r.errors > 0)) failed = true;
  }
  if (holdStreams > 0) {
    const rows = await holdMemory(upstream, upstreamPort, roles, holdStreams, holdGapMs);
    lines.push(
      `### ${holdStreams} streams open at once`,
      '',
      `Each hop in a fresh process (warmed with 50 streams), measured after a full GC: idle, then with every stream open (started over ${f(Math.min(8000, holdStreams * 4) / 1000, 1)} s) ` +
        `(first chunk received, 2,000-chunk streams ${holdGapMs} ms apart, none ended); per stream = (open - idle) / the streams the hold opened (generations still running from the warm-up are in idle).`,
      '',
      '| hop | open streams | errors | RSS per open stream (KiB) | heap+buffers per open stream (KiB) |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.role} | ${r.open} | ${r.errors} | ${f(r.rss, 1)} | ${f(r.heap, 1)} |`),
      '',
    );
    const rx = rows.find((r) => r.role === 'rxllm');
    verdicts.push({ state: `${holdStreams} open`, rss: rx.rss, heap: rx.heap });
    if (rows.some((r) => r.errors > 0 || r.open < holdStreams)) failed = true;
  }
  lines.push(
    'Targets (CPU <= 1.3x the floor, TTFC <= +1 ms over the floor, <= 64 KiB per open stream): ' +
      verdicts
        .map((v) =>
          v.cpu !== undefined
            ? `machine ${v.state}: CPU ${f(v.cpu)}x, TTFC ${signed(v.ttfcLoaded)} ms loaded / ${signed(v.ttfcUnloaded)} ms one at a time`
            : `${v.state}: ${f(v.rss, 1)} KiB RSS / ${f(v.heap, 1)} KiB heap+buffers per stream`,
        )
        .join('; ') +
      '.',
  );
  console.log(lines.join('\n'));
  upstream.proc.disconnect();
  for (const p of Object.values(proxies)) p.proc.kill('SIGINT');
  // A failed or cut stream (no [DONE]) is a broken relay, not a slow one: CI's smoke run fails on it.
  if (failed) process.exitCode = 1;
}

const role = process.argv[2];
if (role === 'floor') runFloor(Number(process.argv[3]));
else if (role === 'rxllm') runRxllm(Number(process.argv[3]));
else if (role === 'baseline') runRxllm(Number(process.argv[3]), BASELINE_DIST);
else if (role === 'noresume') runRxllm(Number(process.argv[3]), DIST, false);
else if (role === 'thin') runThin(Number(process.argv[3]));
else if (role === 'mini') runMini(Number(process.argv[3]));
else if (role === 'fused') runFused(Number(process.argv[3]));
else if (role === 'client') runClient(...process.argv.slice(3, 8).map(Number));
else if (role === 'hold') runHold(...process.argv.slice(3, 6).map(Number));
else main();
