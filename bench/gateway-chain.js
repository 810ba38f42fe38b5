'use strict';
// What the gateway's own layers cost per request and per chunk, with no network: `rxllm serve`'s
// request handler (startGateway, with its default resume store, retries, timeouts, tool-call guard,
// usage and cost tracking) driven in one process with real `IncomingMessage`/`ServerResponse` objects
// on a socket that discards what it is sent, against a client whose `stream()` emits prepared chunks
// when told. `thin` is the same with only `sendSse` between the client and the response. Every
// stream gets CHUNKS content chunks (one event-loop turn each, all streams in step), a finish chunk
// and a usage chunk. bench/gateway.js measures the same through real sockets, where the OS and
// cache misses multiply these figures; this one is steady enough to compare two builds of one layer.
//
//   node bench/gateway-chain.js [--streams 200] [--chunks 50] [--rounds 40]   (needs npm run build)
//   RXLLM_BASELINE_DIST=<another build> node bench/gateway-chain.js          (both, alternating)
const http = require('node:http');
const path = require('node:path');
const { Duplex } = require('node:stream');
const { fork } = require('node:child_process');
const { arg } = require('./lib/args');
const { BASELINE_DIST, DIST, rxllm } = require('./lib/paths');

const TOKEN = 'sk-bench-gateway-token';
const WARMUP_ROUNDS = 5;
const body = JSON.stringify({
  model: 'compat/bench',
  messages: [{ role: 'user', content: 'bench' }],
  stream: true,
});
const chunk = (delta, finish = null) => ({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'bench',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

/** Discards what is written; a socket for one `ServerResponse`. */
class Sink extends Duplex {
  _read() {}
  _write(_data, _encoding, done) {
    done();
  }
  _writev(_data, done) {
    done();
  }
}

/** One POST through `handler`; resolves when the response finished. */
function request(handler) {
  const socket = new Sink();
  const req = new http.IncomingMessage(socket);
  req.method = 'POST';
  req.url = '/v1/chat/completions';
  req.headers = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(body.length),
    authorization: `Bearer ${TOKEN}`,
  };
  req.push(body);
  req.push(null);
  req.complete = true;
  const res = new http.ServerResponse(req);
  res.assignSocket(socket);
  return new Promise((resolve) => {
    res.on('finish', resolve);
    handler(req, res);
  });
}

/** Runs in a child: one hop (`rxllm`, `thin`) of one build; prints µs per request and per chunk. */
async function measure(hop, dist) {
  const { startGateway, sendSse } = require(path.join(dist, 'src/index.js'));
  const { Observable } = rxllm.rxjs();
  const streams = arg('streams', 200);
  const chunks = arg('chunks', 50);
  const rounds = arg('rounds', 40);
  const open = [];
  const client = { stream: () => new Observable((subscriber) => void open.push(subscriber)) };
  let handler;
  if (hop === 'thin') {
    handler = (req, res) => {
      const parts = [];
      req.on('data', (b) => parts.push(b));
      req.on('end', () => {
        JSON.parse(Buffer.concat(parts).toString());
        void sendSse(res, client.stream());
      });
    };
  } else {
    const gateway = await startGateway({
      port: 0,
      model: 'compat/bench',
      token: TOKEN,
      client,
      webSocket: false,
      log: () => {},
    });
    handler = gateway.server.listeners('request')[0];
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const usage = {
    ...chunk({}),
    choices: [],
    usage: { prompt_tokens: 5, completion_tokens: 50, total_tokens: 55 },
  };
  let setup = 0n;
  let flow = 0n;
  let counted = 0;
  for (let round = 0; round < rounds; round++) {
    open.length = 0;
    const t0 = process.hrtime.bigint();
    const done = [];
    for (let i = 0; i < streams; i++) done.push(request(handler));
    while (open.length < streams) {
      // A refused request (a model the gateway does not serve) would never open its stream.
      if (process.hrtime.bigint() - t0 > 10_000_000_000n)
        throw new Error('the streams did not open within 10 s');
      await turn();
    }
    const t1 = process.hrtime.bigint();
    for (let c = 0; c < chunks; c++) {
      for (const s of open)
        s.next(chunk(c === 0 ? { role: 'assistant', content: '' } : { content: 'word ' }));
      await turn();
    }
    for (const s of open) {
      s.next(chunk({}, 'stop'));
      s.next(usage);
      s.complete();
    }
    await Promise.all(done);
    // The first rounds warm the JIT up.
    if (round >= WARMUP_ROUNDS) {
      setup += t1 - t0;
      flow += process.hrtime.bigint() - t1;
      counted++;
    }
  }
  const perRequest = Number(setup) / 1000 / (counted * streams);
  const perChunk = Number(flow) / 1000 / (counted * streams * (chunks + 2));
  process.send({ perRequest, perChunk, perStream: perRequest + perChunk * (chunks + 2) });
  process.exit(0);
}

function run(hop, dist) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['child', hop, dist, ...process.argv.slice(2)]);
    child.on('message', resolve);
    child.on('exit', (code) => code !== 0 && reject(new Error(`${hop}: exit ${code}`)));
  });
}

async function main() {
  const reps = arg('reps', 3);
  // The first WARMUP_ROUNDS rounds are not counted: fewer leaves nothing to report.
  if (!(arg('rounds', 40) > WARMUP_ROUNDS)) {
    console.error(`bench/gateway-chain.js: --rounds must be over ${WARMUP_ROUNDS} (the warm-up rounds)`);
    process.exit(2);
  }
  const hops = [
    ['thin', DIST],
    ['rxllm', DIST],
  ];
  if (BASELINE_DIST) hops.push(['baseline', BASELINE_DIST]);
  const results = Object.fromEntries(hops.map(([hop]) => [hop, []]));
  for (let rep = 0; rep < reps; rep++)
    for (const [hop, dist] of hops) results[hop].push(await run(hop === 'baseline' ? 'rxllm' : hop, dist));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`node bench/gateway-chain.js ${process.argv.slice(2).join(' ')}`.trim());
  console.log('| hop | µs per request | µs per chunk | µs per stream |');
  console.log('|---|---|---|---|');
  for (const [hop] of hops) {
    const r = results[hop];
    const cell = (k) => median(r.map((x) => x[k])).toFixed(k === 'perChunk' ? 2 : 1);
    console.log(`| ${hop} | ${cell('perRequest')} | ${cell('perChunk')} | ${cell('perStream')} |`);
  }
}

if (process.argv[2] === 'child') measure(process.argv[3], process.argv[4]);
else main();
