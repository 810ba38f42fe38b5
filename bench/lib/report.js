'use strict';
// Turns the harness's results into BENCHMARKS.md: machine, versions, command, one table per scenario
// (median and min–max over rounds, and each figure as a ratio to the floor of the same rounds), and
// whether the issue's targets were met.
const fs = require('node:fs');
const os = require('node:os');
const { median, min, max, pairedRatio } = require('./stats');

const NAMES = {
  floor: 'floor (undici + eventsource-parser)',
  'floor-rxjs': 'floor, with rxjs loaded (not used)',
  'rxllm-baseline': 'rxllm baseline build (`RXLLM_BASELINE_DIST`), `stream` + `accumulateChunks`',
  rxllm: 'rxllm `stream` + `accumulateChunks`',
  'rxllm-full': 'rxllm + `retryBackoff` + `partialToolCallGuard`',
  openai: 'openai SDK',
  ai: 'AI SDK `streamText`',
};

function num(x, digits) {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)` of one figure over the rounds. */
function cell(rows, key, digits = 2, scale = 1) {
  const xs = rows.map((r) => r[key] * scale);
  if (xs.length === 1) return num(xs[0], digits);
  return `${num(median(xs), digits)} (${num(min(xs), digits)}–${num(max(xs), digits)})`;
}

function ratio(rows, floorRows, key) {
  const x = pairedRatio(
    rows.map((r) => r[key]),
    floorRows.map((r) => r[key]),
  );
  return `${num(x, 2)}x`;
}

function table(header, lines) {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...lines.map((l) => `| ${l.join(' | ')} |`),
  ].join('\n');
}

function med(rows, key) {
  return median(rows.map((r) => r[key]));
}

function b1(res) {
  const { rows } = res[0];
  const f = rows.floor;
  return table(
    [
      'client',
      'wall (s)',
      'wall ×floor',
      'chunks/s',
      'CPU (s)',
      'CPU ×floor',
      'peak RSS (MB)',
      'RSS ×floor',
      'server CPU (s)',
    ],
    Object.entries(rows).map(([c, r]) => [
      NAMES[c],
      cell(r, 'wallMs', 3, 1e-3),
      ratio(r, f, 'wallMs'),
      cell(r, 'chunksPerSec', 0),
      cell(r, 'cpuMs', 3, 1e-3),
      ratio(r, f, 'cpuMs'),
      cell(r, 'peakRssMb', 1),
      ratio(r, f, 'peakRssMb'),
      num(med(r, 'serverCpuMs') / 1000, 3),
    ]),
  );
}

function b2(res) {
  return res
    .map(({ variant, rows }) => {
      const f = rows.floor;
      return (
        `**${variant.streaming ? 'Streaming' : 'Not streaming'}** (${variant.n} requests, at most ${variant.cap} at once)\n\n` +
        table(
          [
            'client',
            'wall (s)',
            'wall ×floor',
            'CPU (s)',
            'CPU ×floor',
            'TCP connections',
            'most open at once',
            'requests',
          ],
          Object.entries(rows).map(([c, r]) => [
            NAMES[c],
            cell(r, 'wallMs', 3, 1e-3),
            ratio(r, f, 'wallMs'),
            cell(r, 'cpuMs', 3, 1e-3),
            ratio(r, f, 'cpuMs'),
            cell(r, 'connections', 0),
            num(max(r.map((x) => x.maxOpenConnections)), 0),
            num(med(r, 'requests'), 0),
          ]),
        )
      );
    })
    .join('\n\n');
}

function b3(res) {
  const { rows } = res[0];
  const f = rows.floor;
  const over = (r, key) => {
    const d = med(r, key) - med(f, key);
    return `${d >= 0 ? '+' : ''}${num(d, 1)}`;
  };
  return table(
    [
      'client',
      'median ms / request',
      '×floor',
      'first call (ms)',
      'import (ms)',
      'cold = import + first (ms)',
      'cold − floor (ms)',
      'cold CPU (ms)',
      'cold CPU − floor (ms)',
      'CPU (ms, all requests)',
    ],
    Object.entries(rows).map(([c, r]) => [
      NAMES[c],
      cell(r, 'medianMs', 3),
      ratio(r, f, 'medianMs'),
      cell(r, 'firstMs', 1),
      cell(r, 'importMs', 1),
      cell(r, 'coldMs', 1),
      over(r, 'coldMs'),
      cell(r, 'coldCpuMs', 1),
      over(r, 'coldCpuMs'),
      cell(r, 'cpuMs', 0),
    ]),
  );
}

function b4(res) {
  const { rows } = res[0];
  const f = rows.floor;
  return table(
    [
      'client',
      'wall (s)',
      'peak RSS (MB)',
      'KB / stream',
      '×floor',
      'CPU ms / stream',
      '×floor',
      'TCP connections',
      'server CPU (s)',
    ],
    Object.entries(rows).map(([c, r]) => [
      NAMES[c],
      cell(r, 'wallMs', 2, 1e-3),
      cell(r, 'peakRssMb', 0),
      cell(r, 'kbPerStream', 1),
      ratio(r, f, 'kbPerStream'),
      cell(r, 'cpuMsPerStream', 3),
      ratio(r, f, 'cpuMsPerStream'),
      cell(r, 'connections', 0),
      num(med(r, 'serverCpuMs') / 1000, 2),
    ]),
  );
}

const OPS = {
  loop: 'plain loop joining `delta.content` (the floor)',
  rxjs: '`from(chunks)` + subscriber joining text (rxjs alone)',
  accumulateFinal: '`accumulateChunks()` (final)',
  accumulateSnapshots: "`accumulateChunks({ emit: 'snapshots' })`",
  partialToolCallGuard: '`partialToolCallGuard()`',
  textDeltas: '`textDeltas()`',
};

function b5(res) {
  const main = res.filter((v) => !v.variant.linear);
  const loop = main.find((v) => v.variant.op === 'loop');
  const perOp = table(
    ['operator', 'chunks', 'ns / chunk', '×floor'],
    main.map(({ variant, rows }) => [
      OPS[variant.op],
      num(variant.size, 0),
      cell(rows.rxllm, 'nsPerChunk', 1),
      ratio(rows.rxllm, loop.rows.rxllm, 'nsPerChunk'),
    ]),
  );
  const lin = ['accumulateFinal', 'accumulateSnapshots']
    .map((op) => {
      const sizes = res.filter((v) => v.variant.op === op).sort((a, b) => a.variant.size - b.variant.size);
      if (sizes.length < 2) return undefined;
      const first = med(sizes[0].rows.rxllm, 'nsPerChunk');
      const last = med(sizes[sizes.length - 1].rows.rxllm, 'nsPerChunk');
      return [OPS[op], ...sizes.map((v) => cell(v.rows.rxllm, 'nsPerChunk', 1)), `${num(last / first, 2)}x`];
    })
    .filter(Boolean);
  if (!lin.length) return perOp;
  return `${perOp}\n\nGrowth (ns per chunk at each size; linear cost means a flat ns / chunk):\n\n${table(
    ['operator', 'ns / chunk at 100,000', 'at 1,000,000', 'ns/chunk at 1,000,000 ÷ at 100,000'],
    lin,
  )}`;
}

/** The issue's targets, checked against this run's medians. */
function targets(results) {
  const s = results.scenarios;
  const out = [];
  const check = (name, want, got, ok) => out.push([name, want, got, ok ? 'met' : '**missed**']);
  const rx = (sc, i = 0) => s[sc] && s[sc][i] && s[sc][i].rows.rxllm;
  const fl = (sc, i = 0) => s[sc] && s[sc][i] && s[sc][i].rows.floor;
  if (rx('B1')) {
    const [r, f] = [rx('B1'), fl('B1')];
    const w = pairedRatio(
      r.map((x) => x.wallMs),
      f.map((x) => x.wallMs),
    );
    const c = pairedRatio(
      r.map((x) => x.cpuMs),
      f.map((x) => x.cpuMs),
    );
    const m = pairedRatio(
      r.map((x) => x.peakRssMb),
      f.map((x) => x.peakRssMb),
    );
    check('B1 wall', '≤ 1.15x floor', `${num(w, 2)}x`, w <= 1.15);
    check('B1 CPU', '≤ 1.15x floor', `${num(c, 2)}x`, c <= 1.15);
    check('B1 peak RSS', '≤ floor + 10 %', `${num(m, 2)}x`, m <= 1.1);
  }
  if (s.B2) {
    s.B2.forEach(({ variant, rows }) => {
      if (!rows.rxllm) return;
      const w = med(rows.rxllm, 'wallMs') / 1000;
      const conns = max(rows.rxllm.map((x) => x.connections));
      const label = variant.streaming ? 'streaming' : 'not streaming';
      if (!results.smoke) check(`B2 wall, ${label}`, '≤ 1.05 s', `${num(w, 3)} s`, w <= 1.05);
      check(`B2 connections, ${label}`, `≤ ${variant.cap}`, `${conns} (worst round)`, conns <= variant.cap);
    });
  }
  if (rx('B3')) {
    const [r, f] = [rx('B3'), fl('B3')];
    const q = pairedRatio(
      r.map((x) => x.medianMs),
      f.map((x) => x.medianMs),
    );
    const first = med(r, 'firstMs') - med(f, 'firstMs');
    const cold = med(r, 'coldMs') - med(f, 'coldMs');
    const coldCpu = med(r, 'coldCpuMs') - med(f, 'coldCpuMs');
    const signed = (x) => `${x >= 0 ? '+' : ''}${num(x, 1)} ms`;
    check('B3 per request', '≤ 1.15x floor', `${num(q, 2)}x`, q <= 1.15);
    check('B3 first call in a fresh process (modules loaded)', '≤ floor + 20 ms', signed(first), first <= 20);
    check('B3 cold: module loading + first call', '≤ floor + 20 ms', signed(cold), cold <= 20);
    check('B3 cold CPU: module loading + first call', '≤ floor + 20 ms', signed(coldCpu), coldCpu <= 20);
  }
  if (rx('B4')) {
    const rows = s.B4[0].rows;
    const others = Object.keys(rows).filter((c) => !c.startsWith('rxllm') && !c.startsWith('floor'));
    const lowest = (key) => others.every((c) => med(rows.rxllm, key) <= med(rows[c], key));
    check(
      'B4 memory / stream',
      'lowest of the SDKs',
      `${num(med(rows.rxllm, 'kbPerStream'), 1)} KB`,
      lowest('kbPerStream'),
    );
    check(
      'B4 CPU / stream',
      'lowest of the SDKs',
      `${num(med(rows.rxllm, 'cpuMsPerStream'), 3)} ms`,
      lowest('cpuMsPerStream'),
    );
  }
  if (s.B5) {
    const sizes = s.B5.filter((v) => v.variant.op === 'accumulateSnapshots').sort(
      (a, b) => a.variant.size - b.variant.size,
    );
    if (sizes.length > 1) {
      const g =
        med(sizes[sizes.length - 1].rows.rxllm, 'nsPerChunk') / med(sizes[0].rows.rxllm, 'nsPerChunk');
      check('B5 snapshots linear', 'ns/chunk flat (≤ 1.5x from 100k to 1M)', `${num(g, 2)}x`, g <= 1.5);
    }
  }
  return out.length ? table(['target', 'wanted', 'this run', ''], out) : '';
}

function machine() {
  const cpus = os.cpus();
  return `${cpus[0] ? cpus[0].model.trim() : 'unknown CPU'}, ${cpus.length} cores, ${num(os.totalmem() / 2 ** 30, 0)} GiB, ${os.type()} ${os.release()}`;
}

function writeReport(file, results, command) {
  const s = results.scenarios;
  const v = results.versions;
  const parts = [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` on ${new Date().toISOString().slice(0, 10)}; ${results.rounds} round(s), interleaved ` +
      `(every client once per round, in the order ${results.clients.join(', ')}), every run in a fresh process against ` +
      `a load server in its own process on 127.0.0.1. Figures are the median over rounds with (min–max); ` +
      `×floor is the median over rounds of the client's figure divided by the floor's in the same round. ` +
      `Every client rebuilt the exact text the server sent (multi-byte characters split across writes ` +
      `included), or the run would have failed. Whole run: ${num(results.totalSeconds, 0)} s.`,
    '',
    `- Machine: ${machine()}; load average at start ${results.load.start.map((x) => num(x, 2)).join(' ')}, at end ${results.load.end.map((x) => num(x, 2)).join(' ')} (other work on the machine makes wall times noisy; CPU times less so)`,
    `- Versions: ${Object.entries(v)
      .filter(([, x]) => x)
      .map(([k, x]) => `${k} ${x}`)
      .join(', ')}`,
  ];
  for (const [c, why] of Object.entries(results.skipped)) parts.push(`- Skipped ${c}: ${why}`);
  const t = targets(results);
  if (t) parts.push('', '## Targets', '', t);
  const n = (x) => num(x, 0);
  const cfg = (key, i = 0) => (s[key] && s[key][i] ? { ...s[key][i].server, ...s[key][i].variant } : {});
  const [c1, c2, c3, c4] = ['B1', 'B2', 'B3', 'B4'].map((k) => cfg(k));
  const sections = [
    [
      'B1',
      `## B1 throughput: one stream of ${n(c1.chunks)} chunks, no delay`,
      b1,
      "The server writes the whole pre-rendered stream in 64 KiB slices. Wall and CPU are the client process's, from the request to the last chunk; peak RSS is the kernel's high-water mark of the client process.",
    ],
    [
      'B2',
      `## B2 batch: ${n(c2.n)} requests of ${n(c2.chunks)} chunks, at most ${n(c2.cap)} at once, ${n(c2.latencyMs)} ms server latency`,
      b2,
      `Ideal wall time is ${num((Math.ceil(c2.n / c2.cap) * c2.latencyMs) / 1000, 1)} s (${n(Math.ceil(c2.n / c2.cap))} waves of ${n(c2.latencyMs)} ms). Connections are those the server accepted during the run. rxllm uses \`mapConcurrent(fn, ${n(c2.cap)})\`; the others a ${n(c2.cap)}-worker promise pool.`,
    ],
    [
      'B3',
      `## B3 overhead: ${n(c3.n)} sequential ${n(c3.chunks)}-chunk streams, no latency`,
      b3,
      `Median over requests 2–${n(c3.n)}. Import is the time to load the client's modules in a fresh process; the first call includes connecting. Cold CPU is the process's CPU time (user + system) over the same span as cold. The floor with rxjs loaded is the floor in a process that also loads \`rxjs\` and \`rxjs/operators\`, as every rxjs app does: the least a client built on rxjs can pay.`,
    ],
    [
      'B4',
      `## B4 scale: ${n(c4.n)} concurrent streams of ${n(c4.chunks)} chunks at 1 chunk / ${n(c4.delayMs)} ms`,
      b4,
      `KB / stream is (peak RSS − RSS before the streams) ÷ ${n(c4.n)}; CPU is the client process's over the run, ÷ ${n(c4.n)}.`,
    ],
    [
      'B5',
      '## B5 operators alone (no HTTP)',
      b5,
      'Chunks built in memory (not timed), pushed synchronously through `from(chunks).pipe(op)` after a warm-up pass.',
    ],
  ];
  for (const [key, title, fn, note] of sections) {
    if (!s[key]) continue;
    parts.push('', title, '', note, '', fn(s[key]));
  }
  parts.push('');
  fs.writeFileSync(file, parts.join('\n'));
}

module.exports = { writeReport };
