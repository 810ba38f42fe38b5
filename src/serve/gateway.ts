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
// Types only: erased at compile time, so this module loads `ws` only when it asks for it below.
import type { WebSocketServer } from 'ws';
import { partialToolCallGuard } from '../../operators/partialToolCallGuard';
import { retryBackoff, type RetryBackoffConfig } from '../../operators/retryBackoff';
import { timeouts, TIMEOUTS_DEFAULTS, type TimeoutsConfig } from '../../operators/timeouts';
import type { Chunk } from '../chunk';
import type { ResumableStreamError, StoreError } from '../errors';
import { createClient, type Client } from '../client';
import { redactSecrets } from '../redact';
import { browserBundle, pageFile, type PAGE_FILES } from './browserBundle';
import {
  costedCall,
  observeChunks,
  prepareChat,
  type ChatServiceOptions,
  type StreamStats,
} from './chatRequest';
import { formatAccessLog, logDetail, sendJsonError, type AccessLogEntry } from './chatCompletions';
import { serveChatSocket, type ChatSocketLike } from './chatSocket';
import { answerPreflight, corsHeaders, parseCorsOrigins } from './cors';
import { CHAT_SOCKET_PROTOCOL } from './fromWebSocket';
import { bearerOf, crossOriginRefusal, refusalMessage, tokenChecker } from './gatewayAuth';
import { createGatewayChat, type GatewayBudgets } from './gatewaySpend';
import {
  applyConnectionCap,
  closeAfter,
  HTTP_LIMITS_DEFAULTS,
  resolveHttpLimits,
  serverOptions,
  type HttpLimitsConfig,
} from './httpLimits';
import type { GatewayKey, KeyRing } from './keys';
import { requireOptional } from './moduleLocation';
import type { ResumeServeOptions } from './resumeOptions';
import { resumeHandler } from './resumeRoutes';
import { failOnShutdown } from './shutdown';
import type { SpendHold } from './spend';

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
   * request from a client that does (the official OpenAI SDKs send `x-stainless-retry-count`) gets
   * one upstream attempt and the failure's own status and `Retry-After`: retries on both sides would
   * multiply (the SDK's 2 attempts × the gateway's 3), and a 429's wait belongs to the client.
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

/** What the access log needs of one WebSocket request. */
interface SocketRequestInfo {
  started: number;
  stats: StreamStats;
  model?: string;
  costUsd?: number | null;
  costEstimated?: boolean;
  /** The budgets' reservations, settled when the call ends. */
  hold?: SpendHold;
  /** The cost report still to come (`costedCall`), if any. */
  pending?: () => Promise<void> | undefined;
}

/** What a page route serves: a page file, the browser bundle, or the page's config (`/page.json`). */
type PageSource = (typeof PAGE_FILES)[number] | 'bundle' | 'config';

const PAGE_ROUTES: Record<string, { file: PageSource; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/resume.js': { file: 'resume.js', type: 'text/javascript; charset=utf-8' },
  '/markdown.js': { file: 'markdown.js', type: 'text/javascript; charset=utf-8' },
  '/chat.css': { file: 'chat.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  // Browsers ask for /favicon.ico on their own (a JSON tab of /v1/models too): no 404 in the log.
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
  '/rxllm-browser.js': { file: 'bundle', type: 'text/javascript; charset=utf-8' },
  // What the page must know of this gateway (`{ webSocket }`), so it offers only what works.
  '/page.json': { file: 'config', type: 'application/json; charset=utf-8' },
};

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

  const simple = (req: IncomingMessage, res: ServerResponse, status: number, started: number) =>
    log(
      formatAccessLog({
        method: req.method ?? '-',
        path: (req.url ?? '/').split('?')[0],
        status,
        totalMs: performance.now() - started,
        outcome: status < 400 ? 'complete' : 'refused',
      }),
    );

  const server = createServer(serverOptions(limits), (req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    for (const [name, value] of Object.entries(corsHeaders(req, allowOrigin))) res.setHeader(name, value);
    if (answerPreflight(req, res, allowOrigin)) return simple(req, res, 204, started);
    const page = PAGE_ROUTES[path];
    if (page && req.method === 'GET') {
      const text =
        page.file === 'config'
          ? Promise.resolve(JSON.stringify({ webSocket: !!wss }))
          : page.file === 'bundle'
            ? browserBundle()
            : pageFile(page.file);
      text.then(
        (body) => {
          res.writeHead(200, {
            'content-type': page.type,
            'content-length': String(Buffer.byteLength(body)),
            'cache-control': 'no-cache',
            'x-content-type-options': 'nosniff',
          });
          res.end(body);
          simple(req, res, 200, started);
        },
        (error: unknown) => {
          sendJsonError(res, 500, 'server_error', (error as Error).message);
          simple(req, res, 500, started);
        },
      );
      return;
    }
    const route = options.routes?.[path];
    if (route?.open && req.method === 'GET') return serveRoute(route, req, res, started);
    // Refusals answer from the head and close: a body nobody will use is not read.
    const refusal = authRequired ? undefined : crossOriginRefusal(req, boundHost, allowOrigin);
    if (refusal) {
      closeAfter(res);
      sendJsonError(res, 403, 'invalid_request_error', refusalMessage(refusal));
      simple(req, res, 403, started);
      return;
    }
    const { key, refused } = authOf(req);
    if (refused) {
      closeAfter(res);
      sendJsonError(
        res,
        401,
        'invalid_request_error',
        'Missing or wrong bearer token (Authorization: Bearer <token>).',
        'invalid_api_key',
      );
      simple(req, res, 401, started);
      return;
    }
    if (path === '/v1/models') {
      if (req.method !== 'GET') return methodNotAllowed(req, res, started);
      const body = JSON.stringify({
        object: 'list',
        // A virtual key sees the groups it may call (as LiteLLM lists a key's models).
        data: models
          .filter((id) => !key || key.allows(id))
          .map((id) => ({ id, object: 'model', created: 0, owned_by: 'rxllm' })),
      });
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
      simple(req, res, 200, started);
      return;
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
    if (route && req.method === 'GET') return serveRoute(route, req, res, started);
    notFound(req, res, path, started);
  });
  const notFound = (req: IncomingMessage, res: ServerResponse, path: string, started: number) => {
    closeAfter(res);
    sendJsonError(res, 404, 'invalid_request_error', `No route ${req.method} ${path.slice(0, 100)}.`);
    simple(req, res, 404, started);
  };
  const serveRoute = (route: GatewayRoute, req: IncomingMessage, res: ServerResponse, started: number) => {
    req.resume();
    void Promise.resolve()
      .then(() => route.handle(req, res))
      .catch((error: unknown) => {
        if (!res.headersSent) sendJsonError(res, 500, 'server_error', (error as Error).message);
        else res.end();
      })
      .finally(() => simple(req, res, res.statusCode, started));
  };
  const methodNotAllowed = (req: IncomingMessage, res: ServerResponse, started: number) => {
    closeAfter(res);
    sendJsonError(res, 405, 'invalid_request_error', `Method ${req.method} is not allowed here.`);
    simple(req, res, 405, started);
  };
  applyConnectionCap(server, limits);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  // WebSocket: `ws` is an optional peer, loaded only here and only when wanted.
  let wss: WebSocketServer | undefined;
  if (options.webSocket ?? GATEWAY_DEFAULTS.webSocket) {
    try {
      const { WebSocketServer } = requireOptional<typeof import('ws')>('ws');
      wss = new WebSocketServer({
        noServer: true,
        maxPayload: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
        handleProtocols: (protocols: Set<string>) =>
          protocols.has(CHAT_SOCKET_PROTOCOL) ? CHAT_SOCKET_PROTOCOL : false,
      });
    } catch {
      log('rxllm serve: WebSocket off (install the optional peer "ws" to enable /v1/chat/ws)');
    }
  }
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node's HTTP server drops its own error listener from an upgraded socket: a client that resets
    // the connection (ECONNRESET on our refusal's write) would otherwise end the process.
    socket.on('error', () => socket.destroy());
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      simple(req, undefined as never, status, started);
    };
    if (!wss || path !== '/v1/chat/ws') return refuse(404, 'Not Found');
    if (!authRequired && crossOriginRefusal(req, boundHost, allowOrigin)) return refuse(403, 'Forbidden');
    const { key, refused } = authOf(req);
    if (refused) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      simple(req, undefined as never, 101, started);
      const begun = new Map<string, SocketRequestInfo>();
      serveChatSocket(ws as ChatSocketLike, {
        heartbeatMs: options.heartbeatMs ?? GATEWAY_DEFAULTS.heartbeatMs,
        // The same limit as the HTTP body (and the socket's maxPayload), not the 1 MiB default.
        maxMessageChars: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
        resumable: resume || undefined,
        stream: (body, id) => {
          const t0 = performance.now();
          const stats: StreamStats = {};
          const prepared = prepareChat(body, chat.serviceOf(key, true));
          const info: SocketRequestInfo = { started: t0, stats, model: prepared.model };
          begun.set(id, info);
          wsRequests++;
          // The cost, as on the HTTP route (trackUsage with the price table), once per call.
          const call = costedCall(prepared, info);
          info.pending = call.pending;
          // A key's rates and the budgets are checked per request, as on the HTTP route.
          const admitted = chat.admitSocket(prepared, key, call.chunks, (hold) => (info.hold = hold));
          return observeChunks(admitted, stats, t0, prepared.includeUsage);
        },
        onEnd: (id, end, error) => {
          const info = begun.get(id);
          begun.delete(id);
          if (info) wsRequests--;
          const settle = () => {
            const entry: AccessLogEntry = {
              method: 'WS',
              path,
              status: end === 'error' && !info ? 400 : 200,
              model: info?.model,
              firstChunkMs: info?.stats.firstChunkMs,
              totalMs: performance.now() - (info?.started ?? started),
              promptTokens: info?.stats.usage?.prompt_tokens,
              completionTokens: info?.stats.usage?.completion_tokens,
              costUsd: info?.costUsd,
              costEstimated: info?.costEstimated,
              outcome: end === 'error' ? `error:${(error as Error)?.name ?? 'Error'}` : end,
            };
            if (end === 'error') entry.error = logDetail(error);
            chat.account(entry, key, info?.hold);
          };
          // A resumable generation goes on after its socket closed: its cost (and the budgets'
          // settlement) is known when it ends, which trackUsage reports.
          const pending = info?.pending?.();
          if (pending) void pending.then(settle);
          else settle();
        },
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
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const deadline = Date.now() + graceMs;
        while ((active.size > 0 || wsRequests > 0) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 25));
          server.closeIdleConnections();
        }
        // Past the grace period: end what is left with a 503 error frame (its upstream calls are
        // aborted), stop the generations clients left, give the frames a moment to be written, then
        // close WebSockets as "going away".
        shutdown.abort();
        const flushBy = Date.now() + 1000;
        while (active.size > 0 && Date.now() < flushBy) await new Promise((r) => setTimeout(r, 10));
        generations.abort();
        for (const client of wss?.clients ?? []) client.close(1001, 'server shutting down');
        await new Promise((r) => setTimeout(r, 50));
        for (const client of wss?.clients ?? []) client.terminate();
        await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

/**
 * A line writer that joins the lines of one event-loop turn into one write: at hundreds of
 * requests a second, one `write` per access-log line is a syscall per request.
 */
export function batchedLines(stream: { write(text: string): unknown }): (line: string) => void {
  let pending = '';
  const flush = () => {
    const text = pending;
    pending = '';
    stream.write(text);
  };
  return (line) => {
    if (pending === '') setImmediate(flush);
    pending += line + '\n';
  };
}

/** @internal the error line for a startup failure, without secrets */
export function describeStartError(error: unknown): string {
  return redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}
