/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY, through a small CONNECT proxy on 127.0.0.1: requests go
 * through it (one tunnel per pool slot, reused), NO_PROXY hosts do not.
 */
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { from, lastValueFrom, toArray } from 'rxjs';
import { ConfigurationError, createAgent, LlmError, stream, type ReusePool } from '../../src';
import { mapConcurrent } from '../../operators';
import { createMockServer, type MockServer } from '../../src/testing';
import { ProxyRouter, type ProxyOptions } from '../../src/transport/proxy';
import { collect, REQUEST, summarize } from '../helpers/collect';

/** A CONNECT-only proxy that records each tunnel's target and Proxy-Authorization. */
class ConnectProxy {
  readonly tunnels: { target: string; auth?: string }[] = [];
  requireAuth: string | undefined;
  private readonly server: Server = createServer((_req, res) => res.writeHead(405).end());
  private readonly sockets = new Set<Socket>();
  url = '';

  async start(): Promise<void> {
    this.server.on('connect', (req, client: Socket) => {
      const auth = req.headers['proxy-authorization'];
      this.tunnels.push({ target: req.url ?? '', auth });
      if (this.requireAuth && auth !== this.requireAuth) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const ENV = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];
let saved: Record<string, string | undefined>;
let proxy: ConnectProxy;
let server: MockServer;
const agents: ReusePool[] = [];

beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(async () => {
  saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  proxy = new ConnectProxy();
  await proxy.start();
  server.reset();
});
afterEach(async () => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await proxy.close();
});

function agent(options?: Parameters<typeof createAgent>[0]): ReusePool {
  const a = createAgent(options);
  agents.push(a);
  return a;
}

const call = (dispatcher: ReusePool, text: string) => {
  server.enqueue({ text });
  return collect(stream(REQUEST, { baseURL: server.url, dispatcher }));
};

describe('proxies from the environment', () => {
  it('sends requests through HTTP_PROXY, one reused tunnel for sequential calls', async () => {
    process.env.HTTP_PROXY = proxy.url;
    const dispatcher = agent();
    for (const text of ['one', 'two', 'three']) {
      const { values, completed } = await call(dispatcher, text);
      expect(completed).toBe(true);
      expect(summarize(values).text).toBe(text);
    }
    expect(proxy.tunnels.map((t) => t.target)).toEqual([`127.0.0.1:${server.port}`]);
    expect(server.stats.connections).toBe(1);
  });

  it('keeps one tunnel per concurrent slot', async () => {
    process.env.http_proxy = proxy.url;
    const dispatcher = agent();
    server.setDefault({ text: 'parallel', chunkDelayMs: 5 });
    const results = await lastValueFrom(
      from(Array.from({ length: 12 }, (_, i) => i)).pipe(
        mapConcurrent(() => stream(REQUEST, { baseURL: server.url, dispatcher }), { concurrency: 3 }),
        toArray(),
      ),
    );
    expect(results.length).toBeGreaterThan(12);
    expect(proxy.tunnels.length).toBe(3);
    expect(dispatcher.clientCount).toBe(3);
  });

  it('lower-case names win over upper-case ones, as in undici and curl', async () => {
    process.env.HTTP_PROXY = 'http://127.0.0.1:9'; // nothing listens there
    process.env.http_proxy = proxy.url;
    const { completed } = await call(agent(), 'lower');
    expect(completed).toBe(true);
    expect(proxy.tunnels).toHaveLength(1);
  });

  it.each([
    ['127.0.0.1', 'NO_PROXY'],
    ['localhost,127.0.0.1', 'no_proxy'],
    ['*', 'NO_PROXY'],
  ])('connects directly to hosts in NO_PROXY=%s', async (value, name) => {
    process.env.HTTP_PROXY = proxy.url;
    process.env[name] = value;
    const { completed } = await call(agent(), 'direct');
    expect(completed).toBe(true);
    expect(proxy.tunnels).toHaveLength(0);
  });

  it('a NO_PROXY entry with another port does not bypass', async () => {
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = `127.0.0.1:${server.port + 1}`;
    await call(agent(), 'via proxy');
    expect(proxy.tunnels).toHaveLength(1);
  });

  it('proxy: false ignores the environment; explicit options override it', async () => {
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    expect((await call(agent({ proxy: false }), 'off')).completed).toBe(true);
    expect((await call(agent({ proxy: { httpProxy: proxy.url } }), 'explicit')).completed).toBe(true);
    expect(proxy.tunnels).toHaveLength(1);
  });

  it('sends credentials from the proxy URL; a 407 is a ConfigurationError without them', async () => {
    const token = `Basic ${Buffer.from('user:pa ss-word').toString('base64')}`;
    proxy.requireAuth = token;
    const url = new URL(proxy.url);
    process.env.HTTP_PROXY = `http://user:pa%20ss-word@${url.host}`;
    expect((await call(agent(), 'authorized')).completed).toBe(true);
    expect(proxy.tunnels[0].auth).toBe(token);

    process.env.HTTP_PROXY = proxy.url;
    const { error } = await call(agent(), 'refused');
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/407/);
    expect((error as Error).message).not.toContain('pa ss-word');
  });
});

describe('https: targets', () => {
  it('go through HTTPS_PROXY as a CONNECT tunnel with TLS to the target inside it', async () => {
    // A raw TCP "target" that records the first bytes it gets: a TLS ClientHello (record type 0x16)
    // naming the target host (SNI) proves the TLS session runs end to end inside the tunnel.
    const received: Buffer[] = [];
    const target = createNetServer((socket) => {
      socket.once('data', (data: Buffer) => {
        received.push(data);
        socket.destroy();
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    process.env.HTTPS_PROXY = proxy.url;
    process.env.HTTP_PROXY = 'http://127.0.0.1:9'; // must not be used for https:
    const { error } = await collect(
      stream(REQUEST, { baseURL: `https://localhost:${port}/v1`, dispatcher: agent() }),
    );
    target.close();
    expect(error).toBeInstanceOf(LlmError);
    expect(proxy.tunnels.map((t) => t.target)).toContain(`localhost:${port}`);
    expect(received[0][0]).toBe(0x16);
    expect(received[0].includes(Buffer.from('localhost'))).toBe(true);
  });
});

describe('ProxyRouter matching (as EnvHttpProxyAgent)', () => {
  const router = (options: ProxyOptions) => new ProxyRouter(options, 1000);

  it('uses HTTPS_PROXY for https: targets and falls back to HTTP_PROXY', () => {
    const both = router({ httpProxy: 'http://127.0.0.1:1', httpsProxy: 'http://127.0.0.1:2', noProxy: '' });
    expect(both.connectorFor('https://api.openai.com')).toBeDefined();
    expect(both.connectorFor('https://api.openai.com')).not.toBe(both.connectorFor('http://api.openai.com'));
    const httpOnly = router({ httpProxy: 'http://127.0.0.1:1', noProxy: '' });
    expect(httpOnly.connectorFor('https://api.openai.com')).toBe(httpOnly.connectorFor('http://x.test'));
    const httpsOnly = router({ httpsProxy: 'http://127.0.0.1:2', noProxy: '' });
    expect(httpsOnly.connectorFor('http://x.test')).toBeUndefined();
  });

  it.each([
    ['example.com', 'https://example.com', true],
    ['example.com', 'https://api.example.com', true],
    ['.example.com', 'https://api.example.com', true],
    ['*.example.com', 'https://api.example.com', true],
    ['example.com', 'https://notexample.com', false],
    ['example.com:8443', 'https://example.com:8443', true],
    ['example.com:8443', 'https://example.com', false],
    ['example.com:443', 'https://example.com', true],
    ['*', 'https://anything.test', true],
    ['a.test b.test,example.com', 'https://example.com', true],
  ])('NO_PROXY=%s, %s bypasses: %p', (noProxy, origin, bypass) => {
    const r = router({ httpProxy: 'http://127.0.0.1:1', noProxy });
    expect(r.connectorFor(origin) === undefined).toBe(bypass);
  });

  it('re-reads NO_PROXY from the environment when it changes', () => {
    const r = router({ httpProxy: 'http://127.0.0.1:1' });
    expect(r.connectorFor('http://svc.test')).toBeDefined();
    process.env.NO_PROXY = 'svc.test';
    expect(r.connectorFor('http://svc.test')).toBeUndefined();
  });

  it('rejects a proxy URL that is not http(s) with a ConfigurationError', () => {
    expect(() => router({ httpProxy: 'socks5://127.0.0.1:1080' })).toThrow(ConfigurationError);
    expect(() => router({ httpProxy: 'not a url' })).toThrow(ConfigurationError);
  });

  it('rejects a proxy URL with malformed percent-encoding in its password with a ConfigurationError', () => {
    let error: unknown;
    try {
      createAgent({ proxy: { httpProxy: 'http://user:pa%ZZss-secret@127.0.0.1:3128' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('percent-encoding');
    expect((error as Error).message).not.toContain('pa%ZZss-secret');
  });
});
