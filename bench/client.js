'use strict';
// One measured run: `node client.js '<json>'` with { client, scenario, port, ...sizes }. Loads the
// client, runs the scenario, checks every rebuilt text against what the server sent, and prints one
// JSON line of figures. Any mismatch or error exits 1 with the reason on stderr.
const { performance } = require('node:perf_hooks');
const { verify } = require('./lib/text');
const { pool } = require('./clients/common');

const spec = JSON.parse(process.argv[2]);

function cpuUs(since) {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

/** Peak RSS of this process so far, from the kernel (getrusage ru_maxrss): no sampling to miss a peak. */
function peakRss() {
  return process.resourceUsage().maxRSS * 1024;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function measure(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  return { value, wallMs: performance.now() - t0, cpuMs: cpuUs(cpu0) / 1000 };
}

async function main() {
  const cpuImport0 = process.cpuUsage();
  const t0 = performance.now();
  const client = require(`./clients/${spec.client}`).create({
    baseURL: `http://127.0.0.1:${spec.port}/v1`,
    apiKey: 'bench',
  });
  const importMs = performance.now() - t0;
  // CPU too: wall time on a busy machine includes waiting for a core; CPU time is what a
  // serverless function is billed for and moves less with load.
  const importCpuMs = cpuUs(cpuImport0) / 1000;
  const what = `${spec.client} ${spec.scenario}`;
  const out = { importMs, importCpuMs };

  switch (spec.scenario) {
    case 'B1': {
      const m = await measure(() => client.streamText());
      verify(m.value, spec.chunks, what);
      Object.assign(out, { wallMs: m.wallMs, cpuMs: m.cpuMs, chunksPerSec: spec.chunks / (m.wallMs / 1000) });
      break;
    }
    case 'B2': {
      const run = client.batch
        ? () => client.batch(spec.n, spec.cap, spec.streaming)
        : () => pool(spec.n, spec.cap, () => (spec.streaming ? client.streamText() : client.completeText()));
      const m = await measure(run);
      if (m.value.length !== spec.n)
        throw new Error(`${what}: ${m.value.length} results for ${spec.n} requests`);
      m.value.forEach((text, i) => verify(text, spec.chunks, `${what} request ${i}`));
      Object.assign(out, { wallMs: m.wallMs, cpuMs: m.cpuMs });
      break;
    }
    case 'B3': {
      const times = [];
      const cpu0 = process.cpuUsage();
      let firstCpuMs = 0;
      for (let i = 0; i < spec.n; i++) {
        const t = performance.now();
        const text = await client.streamText();
        times.push(performance.now() - t);
        if (i === 0) firstCpuMs = cpuUs(cpu0) / 1000;
        verify(text, spec.chunks, `${what} request ${i}`);
      }
      Object.assign(out, {
        medianMs: median(times.slice(1)),
        firstMs: times[0],
        coldMs: importMs + times[0],
        firstCpuMs,
        coldCpuMs: importCpuMs + firstCpuMs,
        cpuMs: cpuUs(cpu0) / 1000,
      });
      break;
    }
    case 'B4': {
      if (global.gc) global.gc();
      const rss0 = process.memoryUsage().rss;
      const run = client.concurrent
        ? () => client.concurrent(spec.n)
        : () => Promise.all(Array.from({ length: spec.n }, () => client.streamText()));
      const m = await measure(run);
      if (m.value.length !== spec.n)
        throw new Error(`${what}: ${m.value.length} results for ${spec.n} streams`);
      m.value.forEach((text, i) => verify(text, spec.chunks, `${what} stream ${i}`));
      Object.assign(out, {
        wallMs: m.wallMs,
        cpuMs: m.cpuMs,
        kbPerStream: (peakRss() - rss0) / 1024 / spec.n,
        cpuMsPerStream: m.cpuMs / spec.n,
      });
      break;
    }
    default:
      throw new Error(`unknown scenario ${spec.scenario}`);
  }
  out.peakRssMb = peakRss() / 1024 / 1024;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`FAIL ${spec.client} ${spec.scenario}: ${(err && err.stack) || err}\n`);
    process.exit(1);
  },
);
