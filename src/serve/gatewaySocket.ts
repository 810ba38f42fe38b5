/**
 * The gateway's WebSocket route, `/v1/chat/ws`: the `ws` server (an optional peer, loaded only when
 * wanted) and one socket's requests, each prepared, costed, admitted and logged as on the HTTP route.
 */
// Types only: erased at compile time, so this module loads `ws` only when it asks for it below.
import type { WebSocketServer } from 'ws';
import type { AccessLogEntry } from './chatCompletions';
import { logDetail } from './chatCompletions';
import { costedCall, observeChunks, prepareChat, type StreamStats } from './chatRequest';
import { serveChatSocket, type ChatSocketLike } from './chatSocket';
import { CHAT_SOCKET_PROTOCOL } from './fromWebSocket';
import type { GatewayChat } from './gatewaySpend';
import type { GatewayKey } from './keys';
import { requireOptional } from './moduleLocation';
import type { ResumeServeOptions } from './resumeOptions';
import type { SpendHold } from './spend';

/**
 * The WebSocket server of `/v1/chat/ws` (no server of its own: upgrades are handed to it), or
 * `undefined` with a log line when the optional peer `ws` is not installed.
 */
export function loadSocketServer(
  maxPayload: number,
  log: (line: string) => void,
): WebSocketServer | undefined {
  try {
    const { WebSocketServer } = requireOptional<typeof import('ws')>('ws');
    return new WebSocketServer({
      noServer: true,
      maxPayload,
      handleProtocols: (protocols: Set<string>) =>
        protocols.has(CHAT_SOCKET_PROTOCOL) ? CHAT_SOCKET_PROTOCOL : false,
    });
  } catch {
    log('rxllm serve: WebSocket off (install the optional peer "ws" to enable /v1/chat/ws)');
    return undefined;
  }
}

/** What one upgraded socket is served with. */
export interface GatewaySocketContext {
  chat: GatewayChat;
  /** The socket's virtual key, when its token is one. */
  key: GatewayKey | undefined;
  resume: ResumeServeOptions | false;
  heartbeatMs: number;
  /** The HTTP body limit, which a request message gets too. */
  maxBodyBytes: number;
  /** The route's path, for the access log. */
  path: string;
  /** When the upgrade request came (`performance.now()`). */
  started: number;
  /** Told when a request starts (+1) and ends (-1): the gateway's `inFlight`. */
  onRunning: (delta: 1 | -1) => void;
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

/** Serves the chat protocol on one upgraded socket (see `serveChatSocket`). */
export function serveGatewaySocket(ws: ChatSocketLike, context: GatewaySocketContext): void {
  const { chat, key, path, started } = context;
  const begun = new Map<string, SocketRequestInfo>();
  serveChatSocket(ws, {
    heartbeatMs: context.heartbeatMs,
    // The same limit as the HTTP body (and the socket's maxPayload), not the 1 MiB default.
    maxMessageChars: context.maxBodyBytes,
    resumable: context.resume || undefined,
    stream: (body, id) => {
      const t0 = performance.now();
      const stats: StreamStats = {};
      const prepared = prepareChat(body, chat.serviceOf(key, true));
      const info: SocketRequestInfo = { started: t0, stats, model: prepared.model };
      begun.set(id, info);
      context.onRunning(1);
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
      if (info) context.onRunning(-1);
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
}
