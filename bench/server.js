'use strict';
// The load server: an OpenAI-compatible /v1/chat/completions on 127.0.0.1, in its own process, driven by
// the harness over IPC. Every response body is pre-rendered once per shape, so the server spends its
// time writing bytes, not building JSON. Without a per-chunk delay it writes the whole stream in 64 KiB
// slices (thousands of events per write, cut at arbitrary byte boundaries, so clients must reassemble
// split events and split multi-byte characters); with a delay it writes one event per tick.
//
// IPC messages from the parent: { type: 'config', chunks, delayMs, latencyMs } sets what the next requests
// get; { type: 'reset' } zeroes the counters; { type: 'stats' } answers { connections, requests, cpuUs }.
const http = require('node:http');
const { setTimeout: after } = require('node:timers');
const { piece } = require('./lib/text');

const SLICE = 64 * 1024;
const ID = 'chatcmpl-bench';
const CREATED = 1700000000;

let config = { chunks: 1, delayMs: 0, latencyMs: 0 };
let counters = { connections: 0, requests: 0, open: 0, maxOpen: 0 };
const cache = new Map();

function event(obj) {
  return 'data: ' + JSON.stringify(obj) + '\n\n';
}

function chunkEvent(model, i, n) {
  const delta = i === 0 ? { role: 'assistant', content: piece(i) } : { content: piece(i) };
  return event({
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: i === n - 1 ? 'stop' : null }],
  });
}

function usage(n) {
  return { prompt_tokens: 5, completion_tokens: n, total_tokens: n + 5 };
}

/** Pre-rendered stream: one Buffer per event, the tail (usage + [DONE]) and the whole body. */
function rendered(model, n, withUsage) {
  const key = `${model}|${n}|${withUsage}`;
  let r = cache.get(key);
  if (r) return r;
  const events = new Array(n);
  for (let i = 0; i < n; i++) events[i] = Buffer.from(chunkEvent(model, i, n));
  let tail = '';
  if (withUsage) {
    tail += event({
      id: ID,
      object: 'chat.completion.chunk',
      created: CREATED,
      model,
      choices: [],
      usage: usage(n),
    });
  }
  tail += 'data: [DONE]\n\n';
  const tailBuf = Buffer.from(tail);
  r = { events, tail: tailBuf, body: Buffer.concat([...events, tailBuf]) };
  if (cache.size > 8) cache.clear();
  cache.set(key, r);
  return r;
}

function completion(model, n) {
  let text = '';
  for (let i = 0; i < n; i++) text += piece(i);
  return Buffer.from(
    JSON.stringify({
      id: ID,
      object: 'chat.completion',
      created: CREATED,
      model,
      system_fingerprint: 'fp_bench',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: usage(n),
    }),
  );
}

/** Writes `body` in slices, waiting for 'drain' when the socket is full. */
function writeSliced(res, body) {
  let at = 0;
  const pump = () => {
    while (at < body.length) {
      const end = Math.min(at + SLICE, body.length);
      const ok = res.write(body.subarray(at, end));
      at = end;
      if (!ok) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

function writeTicked(res, r, delayMs) {
  let i = 0;
  let timer;
  const tick = () => {
    if (res.destroyed) return;
    if (i === r.events.length - 1) return void res.end(Buffer.concat([r.events[i], r.tail]));
    res.write(r.events[i++]);
    timer = after(tick, delayMs);
  };
  res.on('close', () => clearTimeout(timer));
  tick();
}

function respond(req, res, raw) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' });
    return void res.end('{"error":{"message":"bad json"}}');
  }
  const { chunks: n, delayMs } = config;
  const model = typeof body.model === 'string' ? body.model : 'bench';
  if (body.stream) {
    const r = rendered(model, n, Boolean(body.stream_options && body.stream_options.include_usage));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': 'req_bench',
    });
    if (delayMs > 0) writeTicked(res, r, delayMs);
    else writeSliced(res, r.body);
  } else {
    const json = completion(model, n);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': json.length,
      'x-request-id': 'req_bench',
    });
    res.end(json);
  }
}

const server = http.createServer({ keepAlive: true }, (req, res) => {
  counters.requests++;
  if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    return void res.end('{"error":{"message":"not found"}}');
  }
  const parts = [];
  req.on('data', (b) => parts.push(b));
  req.on('end', () => {
    const raw = Buffer.concat(parts).toString('utf8');
    if (config.latencyMs > 0) after(() => respond(req, res, raw), config.latencyMs);
    else respond(req, res, raw);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 120_000;
server.requestTimeout = 0;
server.on('connection', (socket) => {
  counters.connections++;
  counters.open++;
  if (counters.open > counters.maxOpen) counters.maxOpen = counters.open;
  socket.on('close', () => counters.open--);
});

process.on('message', (msg) => {
  if (msg.type === 'config') {
    config = { chunks: msg.chunks, delayMs: msg.delayMs || 0, latencyMs: msg.latencyMs || 0 };
    // Render now, so the first request of a measured run does not pay for it.
    rendered(msg.model || 'bench', config.chunks, true);
    rendered(msg.model || 'bench', config.chunks, false);
    process.send({ type: 'config-ok' });
  } else if (msg.type === 'reset') {
    counters = { connections: 0, requests: 0, open: counters.open, maxOpen: counters.open };
    process.send({ type: 'reset-ok' });
  } else if (msg.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send({ type: 'stats', ...counters, cpuUs: cpu.user + cpu.system });
  }
});
process.on('disconnect', () => process.exit(0));

server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.send({ type: 'ready', port: server.address().port });
});
