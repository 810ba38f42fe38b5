/**
 * `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` (lower-case names first), read as undici's
 * `EnvHttpProxyAgent` reads them (openai-node, curl and most tools agree): `https:` targets use
 * `HTTPS_PROXY`, else `HTTP_PROXY`; `NO_PROXY` lists hosts (`example.com` also matches its
 * subdomains, `.example.com` and `*.example.com` too, `host:port` only that port, `*` everything)
 * and is re-read when it changes. Like undici's `ProxyAgent` (its default `proxyTunnel: true`),
 * every proxied connection is a `CONNECT` tunnel, with TLS to the target inside it for `https:`.
 *
 * The tunnel is made by a connector (undici's `connect` hook of a `Client`), so the `ReusePool`
 * keeps one undici `Client` per socket, reused as before: one tunnel per slot, kept alive.
 */
import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { ConfigurationError, ConnectionError } from '../errors';
import { registerSecret } from '../redact';

/** Proxy settings; each field left out is read from the environment. */
export interface ProxyOptions {
  /** Proxy for `http:` targets. @defaultValue process.env.http_proxy ?? process.env.HTTP_PROXY */
  httpProxy?: string;
  /** Proxy for `https:` targets. @defaultValue process.env.https_proxy ?? process.env.HTTPS_PROXY ?? httpProxy */
  httpsProxy?: string;
  /** Hosts reached directly. @defaultValue process.env.no_proxy ?? process.env.NO_PROXY ?? '' */
  noProxy?: string;
}

type Connector = buildConnector.connector;

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

interface NoProxyEntry {
  hostname: string;
  port: number;
}

function parseNoProxy(value: string): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const entry of value.split(/[,\s]/)) {
    if (!entry) continue;
    const parsed = /^(.+):(\d+)$/.exec(entry);
    entries.push({
      hostname: (parsed ? parsed[1] : entry).replace(/^\*?\./, '').toLowerCase(),
      port: parsed ? Number.parseInt(parsed[2], 10) : 0,
    });
  }
  return entries;
}

/** One proxy: a pool of connections to it that only sends `CONNECT`s, and the tunnel connector. */
class Tunnel {
  private readonly pool: Pool;
  private readonly headers: Record<string, string> = {};
  private readonly label: string;
  private readonly tls: Connector;

  constructor(
    proxy: string,
    private readonly connectTimeout: number,
  ) {
    let url: URL;
    try {
      url = new URL(proxy);
    } catch {
      throw new ConfigurationError('The proxy URL (HTTP_PROXY / HTTPS_PROXY) is not a valid URL.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigurationError(
        `The proxy URL (HTTP_PROXY / HTTPS_PROXY) must be http: or https:, not ${url.protocol}.`,
      );
    }
    this.label = `${url.protocol}//${url.host}`;
    if (url.username || url.password) {
      let user: string;
      let pass: string;
      try {
        user = decodeURIComponent(url.username);
        pass = decodeURIComponent(url.password);
      } catch {
        // A stray `%` in the credentials (`p%ZZ`): a typed error, not a raw URIError at every call.
        registerSecret(url.password);
        throw new ConfigurationError(
          'The proxy URL (HTTP_PROXY / HTTPS_PROXY) has malformed percent-encoding in its user or password.',
        );
      }
      registerSecret(pass);
      const token = Buffer.from(`${user}:${pass}`).toString('base64');
      registerSecret(token);
      this.headers['proxy-authorization'] = `Basic ${token}`;
    }
    const timeout = connectTimeout >= 2_147_483_647 ? 0 : connectTimeout;
    this.pool = new Pool(url.origin, { connect: { timeout } });
    this.tls = buildConnector({ timeout });
  }

  /** A connector that opens each socket to a target through a `CONNECT` tunnel. */
  readonly connector: Connector = (opts, callback) => {
    const protocol = opts.protocol || 'http:';
    const authority = opts.port
      ? `${opts.hostname}:${opts.port}`
      : `${opts.hostname}:${DEFAULT_PORTS[protocol]}`;
    const host = opts.host ?? authority;
    let settled = false;
    const controller = new AbortController();
    const done = (error: Error | null, socket?: Socket) => {
      if (settled) {
        socket?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error) callback(error, null);
      else callback(null, socket!);
    };
    // undici's connect timeout covers reaching the proxy; this one also covers its CONNECT answer.
    const timer =
      this.connectTimeout === Infinity || this.connectTimeout >= 2_147_483_647
        ? undefined
        : setTimeout(() => {
            controller.abort();
            done(
              Object.assign(new Error(`Connect Timeout Error (through the proxy ${this.label})`), {
                code: 'UND_ERR_CONNECT_TIMEOUT',
              }),
            );
          }, this.connectTimeout);
    timer?.unref?.();
    this.pool
      .connect({
        path: authority,
        signal: controller.signal,
        headers: { ...this.headers, host: authority, 'proxy-connection': 'keep-alive' },
      })
      .then(({ socket: duplex, statusCode }) => {
        const socket = duplex as Socket;
        if (statusCode !== 200) {
          socket.on('error', () => undefined).destroy();
          done(
            statusCode === 407
              ? new ConfigurationError(
                  `The proxy ${this.label} asked for credentials (407): put them in the proxy URL (http://user:password@host:port).`,
                )
              : new ConnectionError(
                  `The proxy ${this.label} refused to open a tunnel to ${host} (HTTP ${statusCode} to CONNECT). Retrying may help.`,
                ),
          );
          return;
        }
        if (protocol !== 'https:') {
          done(null, socket);
          return;
        }
        this.tls({ ...opts, httpSocket: socket }, (error, tlsSocket) => {
          if (error) done(error);
          else done(null, tlsSocket!);
        });
      })
      .catch((error: Error) => done(error));
  };
}

/**
 * Which connections go through which proxy. `connectorFor(origin)` is the `ReusePool` hook: a
 * connector for a proxied origin, `undefined` for a direct one.
 */
export class ProxyRouter {
  private readonly http: Tunnel | undefined;
  private readonly https: Tunnel | undefined;
  private noProxyValue: string | undefined;
  private noProxyEntries: NoProxyEntry[] = [];

  constructor(
    private readonly options: ProxyOptions,
    connectTimeout: number,
  ) {
    const httpProxy = options.httpProxy ?? process.env.http_proxy ?? process.env.HTTP_PROXY;
    const httpsProxy = options.httpsProxy ?? process.env.https_proxy ?? process.env.HTTPS_PROXY;
    this.http = httpProxy ? new Tunnel(httpProxy, connectTimeout) : undefined;
    this.https = httpsProxy ? new Tunnel(httpsProxy, connectTimeout) : this.http;
  }

  /** Whether any proxy is configured at all. */
  get active(): boolean {
    return this.http !== undefined || this.https !== undefined;
  }

  connectorFor(origin: string): Connector | undefined {
    const url = new URL(origin);
    const tunnel = url.protocol === 'https:' ? this.https : this.http;
    if (!tunnel) return undefined;
    // `host` keeps the brackets of an IPv6 address, `hostname` would too; the port is stripped.
    const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
    const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
    return this.bypass(hostname, port) ? undefined : tunnel.connector;
  }

  private bypass(hostname: string, port: number): boolean {
    const value = this.options.noProxy ?? process.env.no_proxy ?? process.env.NO_PROXY ?? '';
    if (value !== this.noProxyValue) {
      this.noProxyValue = value;
      this.noProxyEntries = parseNoProxy(value);
    }
    if (this.noProxyEntries.length === 0) return false;
    if (value === '*') return true;
    for (const entry of this.noProxyEntries) {
      if (entry.port && entry.port !== port) continue;
      if (hostname === entry.hostname) return true;
      if (hostname.endsWith(`.${entry.hostname}`)) return true;
    }
    return false;
  }
}

/**
 * The proxy router for an agent: `false` = always direct; otherwise the given settings over the
 * environment. `undefined` when nothing is configured (no hook at all, the common case).
 */
export function proxyRouter(
  proxy: ProxyOptions | false | undefined,
  connectTimeout: number,
): ProxyRouter | undefined {
  if (proxy === false) return undefined;
  const router = new ProxyRouter(proxy ?? {}, connectTimeout);
  return router.active ? router : undefined;
}
