'use strict';
// B5, one measured run of one operator without HTTP: `node operators.js '<json>'` with { op, size }.
// Chunks are built in memory first (not timed), then pushed synchronously through the operator;
// warm-up passes on a smaller array let the JIT settle. Prints { nsPerChunk, ... } as one JSON line.
const { performance } = require('node:perf_hooks');
const { rxllm } = require('./lib/paths');
const { piece, verify } = require('./lib/text');

const spec = JSON.parse(process.argv[2]);

function makeChunks(n) {
  const chunks = new Array(n);
  for (let i = 0; i < n; i++) {
    chunks[i] = {
      id: 'chatcmpl-bench',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'bench',
      choices: [
        {
          index: 0,
          delta: i === 0 ? { role: 'assistant', content: piece(i) } : { content: piece(i) },
          finish_reason: i === n - 1 ? 'stop' : null,
        },
      ],
    };
  }
  return chunks;
}

/** Each case returns the rebuilt text, so every one of them is checked. */
function cases() {
  const { from } = rxllm.rxjs();
  const ops = rxllm.operators();
  const textOf = (c) => c.choices[0].message.content;
  const sink = (obs, onValue) => {
    let failed;
    obs.subscribe({ next: onValue, error: (e) => (failed = e) });
    if (failed) throw failed;
  };
  return {
    // The floor of B5: a plain loop, what any client must do at least.
    loop: (chunks) => {
      let text = '';
      for (const c of chunks) {
        const d = c.choices[0] && c.choices[0].delta.content;
        if (d) text += d;
      }
      return text;
    },
    // rxjs alone: from(array) to a subscriber that joins the text, the cost of any operator's plumbing.
    rxjs: (chunks) => {
      let text = '';
      sink(from(chunks), (c) => (text += c.choices[0].delta.content || ''));
      return text;
    },
    accumulateFinal: (chunks) => {
      let text;
      sink(from(chunks).pipe(ops.accumulateChunks()), (c) => (text = textOf(c)));
      return text;
    },
    accumulateSnapshots: (chunks) => {
      let text;
      sink(from(chunks).pipe(ops.accumulateChunks({ emit: 'snapshots' })), (c) => (text = textOf(c)));
      return text;
    },
    partialToolCallGuard: (chunks) => {
      let text = '';
      sink(from(chunks).pipe(ops.partialToolCallGuard()), (c) => (text += c.choices[0].delta.content || ''));
      return text;
    },
    textDeltas: (chunks) => {
      let text = '';
      sink(from(chunks).pipe(ops.textDeltas()), (t) => (text += t));
      return text;
    },
  };
}

function measure(op) {
  const run = cases()[op];
  if (!run) throw new Error(`unknown op ${op}`);
  const warm = makeChunks(Math.min(spec.size, 20_000));
  for (let i = 0; i < 5; i++) verify(run(warm), warm.length, `${op} warm-up`);
  const chunks = makeChunks(spec.size);
  // Collect before every timed pass, so the garbage of building the chunks (or of the previous pass) is
  // not charged to the operator; the passes' median is the figure.
  const reps = spec.size >= 1_000_000 ? 3 : 7;
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) {
    global.gc();
    const t0 = performance.now();
    const text = run(chunks);
    times.push(performance.now() - t0);
    verify(text, spec.size, `${op} x ${spec.size}`);
  }
  const cpu = process.cpuUsage(cpu0);
  const ms = times.sort((x, y) => x - y)[reps >> 1];
  return {
    nsPerChunk: (ms * 1e6) / spec.size,
    wallMs: ms,
    cpuMs: (cpu.user + cpu.system) / 1000 / reps,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

if (!global.gc) throw new Error('operators.js needs --expose-gc (the harness passes it)');
// `ops` (the smoke run): several operators in one process, to keep the run short.
const result = spec.ops
  ? { byOp: Object.fromEntries(spec.ops.map((op) => [op, measure(op)])) }
  : measure(spec.op);
process.stdout.write(JSON.stringify(result) + '\n');
