/**
 * `rxllm serve`: an OpenAI-compatible gateway in front of any rxllm model, with a chat page.
 *
 * Routes: `POST /v1/chat/completions` (stream and not), `GET /v1/models`, a WebSocket at
 * `/v1/chat/ws` (when the optional `ws` package is installed), and the page: `GET /`, `/chat.js`,
 * `/markdown.js`, `/chat.css`, `/favicon.svg` (also as `/favicon.ico`), `/page.json`,
 * `/rxllm-browser.js`. Retries, timeouts and the tool-call guard are applied to every upstream
 * stream. With a token, every route but the page's static files needs `Authorization: Bearer`
 * (a WebSocket sends it as the subprotocol `rxllm.bearer.<base64url>`; see `bearerProtocol`).
 * Without a token, browser requests from other sites' pages (an `Origin` not the gateway's, unless
 * listed in `cors`) get 403, and so do requests under a DNS name other than `localhost` or `--host`
 * (DNS rebinding). Auth is checked from the request head; a refused request's body is never read.
 * Upstream failures before the first byte keep their HTTP status. One access-log line per request
 * (no bodies, no keys).
 */
// Named imports only: a default import of a Node built-in would land in gateway.d.ts, which a consumer
// without esModuleInterop cannot read (TS1192).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipe, type MonoTypeOperatorFunction } from 'rxjs';
import { partialToolCallGuard } from '../../operators/partialToolCallGuard';
import { retryBackoff, type RetryBackoffConfig } from '../../operators/retryBackoff';
import { timeouts, TIMEOUTS_DEFAULTS, type TimeoutsConfig } from '../../operators/timeouts';
import type { Chunk } from '../chunk';
import type { ResumableStreamError, StoreError } from '../errors';
import { createClient, type Client } from '../client';
import type { ChatServiceOptions } from './chatRequest';
import { formatAccessLog, logDetail, type AccessLogEntry } from './chatCompletions';
import type { ChatSocketLike } from './chatSocket';
import { answerPreflight, corsHeaders, parseCorsOrigins } from './cors';
import { answerModels, logAnswer, refuse, serveRoute } from './gatewayAnswers';
import { bearerOf, crossOriginRefusal, refusalMessage, tokenChecker } from './gatewayAuth';
import { pageRoute, servePage } from './gatewayPage';
import { loadSocketServer, serveGatewaySocket } from './gatewaySocket';
import { createGatewayChat, type GatewayBudgets } from './gatewaySpend';
import {
  applyConnectionCap,
  HTTP_LIMITS_DEFAULTS,
  resolveHttpLimits,
  serverOptions,
  type HttpLimitsConfig,
} from './httpLimits';
import type { GatewayKey, KeyRing } from './keys';
import { batchedLines } from './logLines';
import type { ResumeServeOptions } from './resumeOptions';
import { resumeHandler } from './resumeRoutes';
import { closeGracefully, failOnShutdown } from './shutdown';

/** An extra route of the gateway (health, metrics): `open` ones need no token. */
export interface GatewayRoute {
  /** Served without the bearer token (and to other origins). @defaultValue false */
  open?: boolean;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface GatewayOptions extends HttpLimitsConfig {
  /** The rxllm model served (`provider/model`); `GET /v1/models` lists it. @defaultValue 'mock/echo' */
  model?: string;
  /** Base URL of an OpenAI-compatible upstream (as `rxllm chat -u`). @defaultValue the provider's */
  baseURL?: string;
  /** The upstream client (overrides `baseURL`). @defaultValue createClient({ baseURL }) */
  client?: Pick<Client, 'stream'>;
  /** Bearer token every API route requires; empty = none. @defaultValue process.env.RXLLM_TOKEN */
  token?: string;
  /**
   * Origins whose pages may call the API (CORS): a comma-separated list (`https://app.example.com`)
   * or `*`. A listed origin's preflight is answered without a token and its answers carry
   * `Access-Control-Allow-Origin`; without a token, its requests are not refused as cross-site.
   * @defaultValue undefined (no CORS: only the gateway's own page and non-browser clients)
   */
  cors?: string;
  /** @defaultValue 8787 (0 = a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Largest request body, in bytes. @defaultValue 1_048_576 */
  maxBodyBytes?: number;
  /**
   * Upstream time limits (`timeouts` operator). The library's defaults, made for reasoning models
   * that think for minutes before the first token; the SSE heartbeat keeps proxies from closing the
   * wait. @defaultValue TIMEOUTS_DEFAULTS (firstChunk 600_000, idle 120_000)
   */
  timeouts?: TimeoutsConfig;
  /**
   * Upstream retries (never after the first chunk), for clients that do not retry themselves. A
   * request from a client that does (the official OpenAI SDKs send `x-stainless-retry-count`, the
   * Vercel AI SDK names itself in its `User-Agent`) gets one upstream attempt and the failure's own
   * status and `Retry-After`: retries on both sides would multiply (the SDK's 2 attempts × the
   * gateway's 3), and a 429's wait belongs to the client.
   * @defaultValue RETRY_BACKOFF_DEFAULTS
   */
  retry?: RetryBackoffConfig & { resume?: 'never' };
  /**
   * Where access-log lines go. @defaultValue process.stderr, the lines of one event-loop turn
   * written together (one write, not one per request, under load)
   */
  log?: (line: string) => void;
  /** Serve `/v1/chat/ws` when `ws` is installed. @defaultValue true */
  webSocket?: boolean;
  /** `sendSse` heartbeat. @defaultValue 15_000 */
  heartbeatMs?: number;
  /**
   * The names clients call, each sent to `client` as is (a router's group names): `GET /v1/models`
   * lists them. @defaultValue [model]
   */
  models?: readonly string[];
  /**
   * Virtual keys (`createKeyRing`): bearer tokens accepted besides `token`, each limited to its
   * groups, rate and budget; the access log names the key and its spend. @defaultValue none
   */
  keys?: KeyRing;
  /**
   * Budgets beyond the keys' (the whole gateway's, each group's), reserved per request like a key's:
   * a request over one is refused with 429 `insufficient_quota` before anything is sent upstream.
   * @defaultValue none
   */
  budgets?: GatewayBudgets;
  /** Extra `GET` routes by path (`/healthz`, `/metrics`). @defaultValue none */
  routes?: Record<string, GatewayRoute>;
  /** Called with every chat request's access-log entry and its key's alias (metrics). @defaultValue none */
  onAccess?: (entry: AccessLogEntry, key: string | undefined) => void;
  /**
   * Resumable streamed answers and their routes (`GET .../{streamId}/stream`, `POST .../{streamId}/stop`;
   * docs/resume.md); a Redis store (`createRedisResumeStore`) shares them between instances.
   * `false` turns it off. @defaultValue {} (this process's memory, kept 10 minutes)
   */
  resume?: ResumeServeOptions | false;
}

/** Defaults of {@link startGateway}. */
export const GATEWAY_DEFAULTS = {
  model: 'mock/echo',
  port: 8787,
  host: '127.0.0.1',
  maxBodyBytes: 1024 * 1024,
  timeouts: TIMEOUTS_DEFAULTS,
  webSocket: true,
  heartbeatMs: 15_000,
  /** How long `close()` lets in-flight streams finish before cutting them. */
  graceMs: 5_000,
  ...HTTP_LIMITS_DEFAULTS,
} as const;

/** A running gateway. */
export interface Gateway {
  readonly server: Server;
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Whether `/v1/chat/ws` is served. */
  readonly webSocket: boolean;
  /** Requests (and WebSocket requests) running now. */
  readonly inFlight: number;
  /**
   * Stops accepting, lets in-flight streams finish for up to `graceMs`, then ends the rest with a
   * retryable `ServerError` 503 (an error frame; WebSockets then close with 1001 "going away") and
   * aborts their upstream calls. Resolves when everything is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts the gateway; resolves once it listens.
 *
 * @example
 * import { startGateway } from 'rxllm';
 * startGateway({ port: 0, log: () => {} }).then(async (gateway) => {
 *   const models = (await fetch(`${gateway.url}/v1/models`).then((r) => r.json())) as { data: { id: string }[] };
 *   console.log(models.data[0].id); // mock/echo
 *   await gateway.close();
 * });
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const model = options.model ?? GATEWAY_DEFAULTS.model;
  const token = options.token ?? process.env.RXLLM_TOKEN ?? '';
  const tokenOk = token ? tokenChecker(token) : undefined;
  const allowOrigin = options.cors === undefined ? undefined : parseCorsOrigins(options.cors);
  const limits = resolveHttpLimits({
    headersTimeoutMs: options.headersTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    maxConnections: options.maxConnections,
  });
  // Aborted when close()'s grace period is over: the streams still open end with a 503 frame.
  const shutdown = new AbortController();
  const log = options.log ?? batchedLines(process.stderr);
  const client = options.client ?? createClient(options.baseURL ? { baseURL: options.baseURL } : {});
  const timeoutConfig = options.timeouts ?? GATEWAY_DEFAULTS.timeouts;
  const boundHost = (options.host ?? GATEWAY_DEFAULTS.host).replace(/^\[|\]$/g, '');
  const models = options.models ?? [model];
  const served = new Set(models);
  const keys = options.keys;
  // The pipeline's operators are made once, here: each keeps its state per subscription, so one of
  // each serves every request (no request validates their config or makes them again), and a bad
  // `retry` or `timeouts` option fails the start, not every request.
  const timeLimits: MonoTypeOperatorFunction<Chunk> = timeouts(timeoutConfig);
  // The gateway never reads `error.partial` (the client got those chunks): no merging per chunk.
  const retries: MonoTypeOperatorFunction<Chunk> = retryBackoff({ partial: false, ...options.retry });
  const guard = partialToolCallGuard({ unknownTool: 'accept' });
  const onShutdown = failOnShutdown(shutdown.signal);
  const withRetries = pipe(timeLimits, retries, guard, onShutdown);
  const once = pipe(timeLimits, guard, onShutdown);
  const serviceFor = (retrying: boolean): ChatServiceOptions => ({
    client,
    resolveModel: (requested) => (served.has(requested) ? requested : undefined),
    pipeline: retrying ? withRetries : once,
  });
  const service = serviceFor(true);
  // Generations left by their clients stop when the gateway closes (else they would keep it alive):
  // after the streams still open got their 503 frame (`shutdown`), so that frame is what they see.
  const generations = new AbortController();
  const resume =
    options.resume === false
      ? false
      : {
          onUnstored: (error: StoreError | ResumableStreamError, streamId: string) =>
            log(
              `rxllm serve: answer ${streamId} goes on unstored (it cannot be resumed): ${logDetail(error)}`,
            ),
          ...options.resume,
          signal: generations.signal,
        };
  const handleResume =
    options.resume === false
      ? undefined
      : resumeHandler({
          ...options.resume,
          sse: { heartbeatMs: options.heartbeatMs ?? GATEWAY_DEFAULTS.heartbeatMs },
          onLog: (entry) => log(formatAccessLog(entry)),
        });
  const chat = createGatewayChat({
    service,
    serviceOnce: serviceFor(false),
    resume,
    keys,
    budgets: options.budgets,
    log,
    onAccess: options.onAccess,
    maxBodyBytes: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
    heartbeatMs: options.heartbeatMs ?? GATEWAY_DEFAULTS.heartbeatMs,
  });
  const authRequired = !!tokenOk || !!keys;
  /** The virtual key of a request, or undefined; `refused` when auth is required and nothing matches. */
  const authOf = (req: IncomingMessage): { key?: GatewayKey; refused: boolean } => {
    if (!authRequired) return { refused: false };
    const bearer = bearerOf(req);
    const key = keys?.find(bearer);
    return { key, refused: !key && !(tokenOk?.(bearer) ?? false) };
  };
  const active = new Set<ServerResponse>();
  let wsRequests = 0;
  const sockets = new Set<Socket>();

  const simple = (req: IncomingMessage, status: number, started: number) =>
    logAnswer(log, req, status, started);
  const route = (handler: GatewayRoute, req: IncomingMessage, res: ServerResponse, started: number) =>
    void serveRoute(handler, req, res).then(() => simple(req, res.statusCode, started));

  const server = createServer(serverOptions(limits), (req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    for (const [name, value] of Object.entries(corsHeaders(req, allowOrigin))) res.setHeader(name, value);
    if (answerPreflight(req, res, allowOrigin)) return simple(req, 204, started);
    const page = pageRoute(path);
    if (page && req.method === 'GET') {
      void servePage(res, page, !!wss).then((status) => simple(req, status, started));
      return;
    }
    const extra = options.routes?.[path];
    if (extra?.open && req.method === 'GET') return route(extra, req, res, started);
    const refusal = authRequired ? undefined : crossOriginRefusal(req, boundHost, allowOrigin);
    if (refusal) {
      refuse(res, 403, refusalMessage(refusal));
      return simple(req, 403, started);
    }
    const { key, refused } = authOf(req);
    if (refused) {
      refuse(res, 401, 'Missing or wrong bearer token (Authorization: Bearer <token>).', 'invalid_api_key');
      return simple(req, 401, started);
    }
    if (path === '/v1/models') {
      if (req.method !== 'GET') return methodNotAllowed(req, res, started);
      answerModels(res, models, key);
      return simple(req, 200, started);
    }
    if (handleResume && path.startsWith('/v1/chat/completions/')) {
      active.add(res);
      void handleResume(req, res)
        .then((handled) => handled ?? notFound(req, res, path, started))
        .finally(() => active.delete(res));
      return;
    }
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') return methodNotAllowed(req, res, started);
      active.add(res);
      void chat.http(req, res, key, started).finally(() => active.delete(res));
      return;
    }
    if (extra && req.method === 'GET') return route(extra, req, res, started);
    notFound(req, res, path, started);
  });
  const notFound = (req: IncomingMessage, res: ServerResponse, path: string, started: number) => {
    refuse(res, 404, `No route ${req.method} ${path.slice(0, 100)}.`);
    simple(req, 404, started);
  };
  const methodNotAllowed = (req: IncomingMessage, res: ServerResponse, started: number) => {
    refuse(res, 405, `Method ${req.method} is not allowed here.`);
    simple(req, 405, started);
  };
  applyConnectionCap(server, limits);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  // WebSocket: `ws` is an optional peer, loaded only here and only when wanted.
  const wss =
    (options.webSocket ?? GATEWAY_DEFAULTS.webSocket)
      ? loadSocketServer(options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes, log)
      : undefined;
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node's HTTP server drops its own error listener from an upgraded socket: a client that resets
    // the connection (ECONNRESET on our refusal's write) would otherwise end the process.
    socket.on('error', () => socket.destroy());
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      simple(req, status, started);
    };
    if (!wss || path !== '/v1/chat/ws') return refuse(404, 'Not Found');
    if (!authRequired && crossOriginRefusal(req, boundHost, allowOrigin)) return refuse(403, 'Forbidden');
    const { key, refused } = authOf(req);
    if (refused) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      simple(req, 101, started);
      serveGatewaySocket(ws as ChatSocketLike, {
        chat,
        key,
        resume,
        heartbeatMs: options.heartbeatMs ?? GATEWAY_DEFAULTS.heartbeatMs,
        maxBodyBytes: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
        path,
        started,
        onRunning: (delta) => (wsRequests += delta),
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? GATEWAY_DEFAULTS.port, options.host ?? GATEWAY_DEFAULTS.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;

  return {
    server,
    url: `http://${host}:${address.port}`,
    port: address.port,
    webSocket: !!wss,
    get inFlight() {
      return active.size + wsRequests;
    },
    close(graceMs = GATEWAY_DEFAULTS.graceMs) {
      closing ??= closeGracefully({
        server,
        sockets,
        webSockets: wss,
        running: () => ({ http: active.size, ws: wsRequests }),
        shutdown,
        generations,
        graceMs,
      });
      return closing;
    },
  };
}
