/**
 * What a hostile or careless client can do to the gateway, over real sockets: slow headers and
 * bodies (slowloris), oversized and deeply nested bodies, refused requests whose bodies must not be
 * read, an empty token, and pages of other origins with and without `cors`.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { createClient, startGateway, type Gateway } from '../../src';
import { runServe } from '../../src/cli/serve';
import { createMockServer, type MockServer } from '../../src/testing';

const MODEL = 'compat/limits-model';
const TOKEN = 'sk-test-limits-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const messages = [{ role: 'user' as const, content: 'Hi' }];

let upstream: MockServer;
let gateway: Gateway;
let logs: string[];

beforeAll(async () => {
  upstream = await createMockServer();
  logs = [];
  gateway = await startGateway({
    port: 0,
    model: MODEL,
    token: TOKEN,
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
    maxBodyBytes: 64 * 1024,
    headersTimeoutMs: 400,
    requestTimeoutMs: 800,
    log: (line) => logs.push(line),
  });
});
afterAll(async () => {
  await gateway.close(0);
  await upstream.close();
});
beforeEach(() => {
  upstream.reset();
  logs.length = 0;
});

/** A raw connection: what it received, whether the server closed it, and how long that took. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (d) => (received += d.toString('latin1')));
  const started = Date.now();
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
  return { socket, closed, received: () => received };
}

/** Writes `piece` every `everyMs` until the server closes the socket; resolves to the bytes written. */
async function trickle(socket: net.Socket, piece: string, everyMs: number, maxMs: number): Promise<number> {
  let written = 0;
  for (let waited = 0; !socket.destroyed && waited < maxMs; waited += everyMs) {
    socket.write(piece);
    written += piece.length;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return written;
}

describe('slow clients (slowloris)', () => {
  // Node's defaults would hold each of these for 60-300 s (checked every 30 s). Bounds are wide: the
  // claim is "closed by the gateway's limits", not how fast.
  it('closes a client that sends its headers a line at a time', async () => {
    const c = rawClient(gateway.port);
    c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    await trickle(c.socket, 'X-Slow: 1\r\n', 100, 20_000);
    expect(await c.closed).toBeLessThan(20_000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an authenticated client that sends its body a byte at a time', async () => {
    const c = rawClient(gateway.port);
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n`,
    );
    await trickle(c.socket, ' ', 100, 20_000);
    expect(await c.closed).toBeLessThan(20_000);
    expect(upstream.stats.requests).toBe(0);
  });

  it('answers an unauthenticated request from its head (401) and closes without reading the body', async () => {
    const c = rawClient(gateway.port);
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{`,
    );
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 401/);
    expect(c.received()).toMatch(/connection: close/i);
  });

  it('does not cut a response that streams for longer than the request timeout', async () => {
    // 30 chunks 60 ms apart: about 1.8 s of answer, more than twice requestTimeoutMs (800).
    upstream.enqueue({ text: 'z'.repeat(30), chunkSize: 1, chunkDelayMs: 60 });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: MODEL, messages, stream: true }),
    });
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

describe('the connection cap', () => {
  it('closes connections past maxConnections on arrival, and serves again once one is gone', async () => {
    const capped = await startGateway({ port: 0, maxConnections: 2, log: () => {} });
    try {
      const held = [rawClient(capped.port), rawClient(capped.port)];
      for (const c of held) await new Promise((r) => c.socket.once('connect', r));
      // Let the server count both before the third arrives.
      await new Promise((r) => setTimeout(r, 100));
      const third = rawClient(capped.port);
      third.socket.write('GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await third.closed;
      expect(third.received()).toBe('');
      held[0].socket.destroy();
      await held[0].closed;
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${capped.url}/v1/models`);
      expect(res.status).toBe(200);
      held[1].socket.destroy();
    } finally {
      await capped.close(0);
    }
  });
});

describe('oversized bodies', () => {
  it('refuses a chunked upload over the limit with 413 and closes instead of draining it', async () => {
    const c = rawClient(gateway.port);
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const piece = 'x'.repeat(64 * 1024);
    const chunk = `${piece.length.toString(16)}\r\n${piece}\r\n`;
    // Up to 40 MiB, as fast as the socket takes it: the server must stop long before.
    let written = 0;
    while (!c.socket.destroyed && written < 40 * 1024 * 1024) {
      if (!c.socket.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      written += chunk.length;
    }
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 413/);
    expect(c.received()).toMatch(/connection: close/i);
    // A few MiB at most (what the socket buffers held when the 413 was sent), not 40.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(await waitForLog(/ 413 .* error:HttpError/)).toBeTruthy();
  });

  it('refuses a declared Content-Length over the limit from the head, closing the connection', async () => {
    const c = rawClient(gateway.port);
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 41943040\r\n\r\n{`,
    );
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 413/);
  });

  it('labels a bad-JSON 400 with its class in the access log', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect(await waitForLog(/ 400 .* error:HttpError "The request body is not valid JSON\."/)).toBeTruthy();
  });
});

async function waitForLog(pattern: RegExp): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const line = logs.find((l) => pattern.test(l));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no log line ${pattern} in ${JSON.stringify(logs)}`);
}

describe('deeply nested bodies', () => {
  it('answers 400 before any stream for an extra field nested 200,000 levels deep (HTTP and WebSocket)', async () => {
    const deep = '{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000);
    const body = `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"stream":true,"metadata_x":${deep}}`;
    const big = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
      maxBodyBytes: 4 * 1024 * 1024,
      log: () => {},
    });
    try {
      const res = await fetch(`${big.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.message).toMatch(/nests deeper than 64 levels/);
      // 64 levels pass.
      const ok = '{"a":'.repeat(60) + '1' + '}'.repeat(60);
      upstream.enqueue({ text: 'fine' });
      const fine = await fetch(`${big.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"metadata_x":${ok}}`,
      });
      expect(fine.status).toBe(200);
      expect(upstream.stats.requests).toBe(1);
      const ws = new WebSocket(`${big.url.replace('http', 'ws')}/v1/chat/ws`, ['rxllm.v1']);
      const reply = new Promise<any>((resolve) => ws.on('message', (d) => resolve(JSON.parse(String(d)))));
      await new Promise((r) => ws.on('open', r));
      ws.send(`{"type":"request","id":"deep","body":${body}}`);
      expect(await reply).toMatchObject({
        type: 'error',
        id: 'deep',
        error: { type: 'RequestValidationError', message: expect.stringMatching(/nests deeper/) },
      });
      ws.close();
      expect(upstream.stats.requests).toBe(1);
    } finally {
      await big.close(0);
    }
  });
});

describe('an empty token', () => {
  function io(env: Record<string, string> = {}) {
    const err: string[] = [];
    return {
      io: { stdout: { write: () => true }, stderr: { write: (t: string) => void err.push(t) }, env },
      err: () => err.join(''),
    };
  }

  it('--token "" is a usage error (exit 2), with or without RXLLM_TOKEN set, and nothing starts', async () => {
    for (const env of [{}, { RXLLM_TOKEN: 'sk-test-env-token-123456' }] as Record<string, string>[]) {
      const t = io(env);
      let started = false;
      const code = await runServe(['--port', '0', '--token', ''], t.io, {
        onListening: () => (started = true),
      });
      expect(code).toBe(2);
      expect(started).toBe(false);
      expect(t.err()).toContain('--token is empty');
    }
  });

  it('the banner says what is enforced; binding beyond this machine without a token warns loudly', async () => {
    const open = io();
    const stop = new AbortController();
    const running = runServe(['--port', '0'], open.io, {
      stop: stop.signal,
      onListening: () => stop.abort(),
    });
    expect(await running).toBe(0);
    expect(open.err()).toContain('NO TOKEN');
    expect(open.err()).not.toContain('WARNING');
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no interface here: the bind fails after the warning.
    const exposed = io();
    expect(await runServe(['--port', '0', '--host', '192.0.2.1'], exposed.io)).toBe(1);
    expect(exposed.err()).toMatch(/WARNING: binding to 192\.0\.2\.1 .* without a token/);
    const locked = io({ RXLLM_TOKEN: 'sk-test-env-token-123456' });
    const stop2 = new AbortController();
    await runServe(['--port', '0'], locked.io, { stop: stop2.signal, onListening: () => stop2.abort() });
    expect(locked.err()).toContain('(token required)');
  });
});

describe('pages of other origins', () => {
  const origin = 'https://app.example.com';
  const preflight = (url: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
      },
    });

  it('without cors: the preflight is refused and no Access-Control-* header is sent', async () => {
    const res = await preflight(gateway.url);
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const open = await startGateway({ port: 0, log: () => {} });
    try {
      const refused = await fetch(`${open.url}/v1/models`, { headers: { origin } });
      expect(refused.status).toBe(403);
      const message = ((await refused.json()) as any).error.message as string;
      expect(message).toContain('--cors');
    } finally {
      await open.close(0);
    }
  });

  it('with cors: the preflight is answered without a token; allowed origins get Access-Control-Allow-Origin', async () => {
    const cors = await startGateway({
      port: 0,
      model: MODEL,
      token: TOKEN,
      cors: `${origin}, http://localhost:5173`,
      client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
      log: () => {},
    });
    try {
      const pre = await preflight(cors.url);
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
      expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
      expect(pre.headers.get('access-control-allow-headers')).toContain('x-stainless-os');
      upstream.enqueue({ text: 'hello' });
      const post = await fetch(`${cors.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...auth, origin },
        body: JSON.stringify({ model: MODEL, messages }),
      });
      expect(post.status).toBe(200);
      expect(post.headers.get('access-control-allow-origin')).toBe(origin);
      // The token is still required; the 401 carries the CORS header so the page can read it.
      const noToken = await fetch(`${cors.url}/v1/models`, { headers: { origin } });
      expect(noToken.status).toBe(401);
      expect(noToken.headers.get('access-control-allow-origin')).toBe(origin);
      const other = await fetch(`${cors.url}/v1/models`, {
        headers: { ...auth, origin: 'https://evil.example' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const otherPre = await fetch(`${cors.url}/v1/models`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      expect(otherPre.status).toBe(401);
    } finally {
      await cors.close(0);
    }
  });

  it('refuses a cors value that is not an origin', async () => {
    await expect(startGateway({ port: 0, cors: 'app.example.com/path', log: () => {} })).rejects.toThrow(
      TypeError,
    );
  });
});
