/**
 * The gateway's chat requests under keys and budgets: a key's request rate is taken before the body
 * is read; once the body is valid its token estimate is taken from the key's token rate and its
 * estimated cost reserved on every budget it falls under (key, group, gateway: src/serve/spend.ts),
 * before anything is sent upstream; when it ends, the reservations are settled to its cost and the
 * access-log line says the key's spend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defer, mergeMap, throwError, type Observable } from 'rxjs';
import type { Chunk } from '../chunk';
import { createMemoryBudgetStore, type BudgetStore } from '../cost/budgetStore';
import { DEFAULT_OUTPUT_TOKENS } from '../cost/estimate';
import { chatCompletionsHandler, formatAccessLog, HttpError, type AccessLogEntry } from './chatCompletions';
import { closeAfter } from './httpLimits';
import type { ResumeServeOptions } from './resumeOptions';
import type { ChatServiceOptions, PreparedChat } from './chatRequest';
import type { BudgetLimit } from './configChecker';
import {
  keyLogSuffix,
  keyModelResolver,
  refusalError,
  sendRefusal,
  type GatewayKey,
  type HeadRefusal,
  type KeyRing,
} from './keys';
import { estimateSpend, reserveSpend, type SpendHold, type SpendLimit, type SpendRefusal } from './spend';

/** Budgets of a gateway beyond its keys, reserved per request like the keys'. */
export interface GatewayBudgets {
  /** Every request, whichever key (the master key too). @defaultValue none */
  gateway?: BudgetLimit;
  /** Per group (the `model` clients send). @defaultValue none */
  groups?: Record<string, BudgetLimit>;
  /**
   * Per group, the `provider/model`s that may serve it: a request's estimate is priced at the
   * priciest. @defaultValue the requested name itself (a `provider/model`)
   */
  servedBy?: Record<string, readonly string[]>;
  /** Output tokens reserved for a request without `max_completion_tokens` / `max_tokens`. @defaultValue 4096 */
  outputTokens?: number;
  /** Where the spend lives (`createRedisBudgetStore` shares it). @defaultValue the key ring's store, else a new in-memory one */
  store?: BudgetStore;
}

export interface GatewayChatOptions {
  /** The service of requests from clients that do not retry themselves (upstream retries on). */
  service: ChatServiceOptions;
  /**
   * The service of requests from clients that retry themselves (`retriesItself`: the OpenAI SDKs,
   * the AI SDK): one upstream attempt. @defaultValue service
   */
  serviceOnce?: ChatServiceOptions;
  /** Streamed answers resumable (`chatCompletionsHandler`'s `resume`). @defaultValue {} */
  resume?: ResumeServeOptions | false;
  keys?: KeyRing;
  budgets?: GatewayBudgets;
  log: (line: string) => void;
  onAccess?: (entry: AccessLogEntry, key: string | undefined) => void;
  maxBodyBytes: number;
  heartbeatMs: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** The chat side of one gateway. */
export interface GatewayChat {
  /** `POST /v1/chat/completions`, with the caller's key (`undefined`: the master token, or none). */
  http(
    req: IncomingMessage,
    res: ServerResponse,
    key: GatewayKey | undefined,
    started: number,
  ): Promise<unknown>;
  /** The service of a key's requests (its groups); `socket`: refusals as the `ApiError` a WebSocket client gets. */
  serviceOf(key: GatewayKey | undefined, socket?: boolean): ChatServiceOptions;
  /**
   * A WebSocket request's chunks behind the same checks, made when subscribed: a refusal is the
   * error of its class; `held` gets the reservations, to hand to `account` when it ends.
   */
  admitSocket(
    prepared: PreparedChat,
    key: GatewayKey | undefined,
    chunks: Observable<Chunk>,
    held: (hold: SpendHold | undefined) => void,
  ): Observable<Chunk>;
  /** Settles the request's reservations to its cost, then writes its access-log line (with the key's spend). */
  account(entry: AccessLogEntry, key?: GatewayKey, hold?: SpendHold): void;
}

/** The Vercel AI SDK's user agent (`ai/6.0.326 ai-sdk/provider-utils/4.0.66 runtime/node.js/v20`). */
const AI_SDK_AGENT = /(^|\s)ai-sdk\//;

/**
 * The request header that says which side retries, over what the gateway detects: `client` (the
 * client retries itself: one upstream attempt) or `gateway` (the gateway retries, e.g. for an
 * OpenAI SDK made with `maxRetries: 0`, which still sends `x-stainless-retry-count`).
 */
export const RETRIES_HEADER = 'x-rxllm-retries';

/** The 400 for an `x-rxllm-retries` that is neither `client` nor `gateway`, else `undefined`. */
function retriesHeaderRefusal(req: IncomingMessage): HeadRefusal | undefined {
  const said = req.headers[RETRIES_HEADER];
  if (said === undefined || said === 'client' || said === 'gateway') return undefined;
  return {
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_retries_header',
    message: `The ${RETRIES_HEADER} header must be "client" (the client retries itself) or "gateway" (the gateway retries); got "${String(said).slice(0, 40)}".`,
    headers: {},
  };
}

/**
 * Whether the client retries a failed request itself: as its `x-rxllm-retries` header says, else
 * detected: the official OpenAI SDKs (and LangChain's OpenAI clients, built on them) send
 * `x-stainless-retry-count`; the Vercel AI SDK (2 retries by default, honouring `Retry-After`) names
 * itself in its user agent.
 */
export function retriesItself(req: IncomingMessage): boolean {
  const said = req.headers[RETRIES_HEADER];
  if (said === 'client' || said === 'gateway') return said === 'client';
  if (req.headers['x-stainless-retry-count'] !== undefined) return true;
  const agent = req.headers['user-agent'];
  return typeof agent === 'string' && AI_SDK_AGENT.test(agent);
}

/** Builds the chat side of a gateway over `options.service`. */
export function createGatewayChat(options: GatewayChatOptions): GatewayChat {
  const { service, keys, budgets, log } = options;
  const now = options.now ?? Date.now;
  const store = budgets?.store ?? keys?.budgetStore ?? createMemoryBudgetStore();
  const outputTokens = budgets?.outputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const groupLimits = new Map<string, SpendLimit>(
    Object.entries(budgets?.groups ?? {}).map(([group, limit]) => [
      group,
      { ...limit, id: `group:${group}`, label: `The model group "${group}"` },
    ]),
  );
  const gatewayLimit: SpendLimit | undefined = budgets?.gateway && {
    ...budgets.gateway,
    id: 'gateway',
    label: 'The gateway',
  };

  /** Tokens, then budgets: `undefined` when nothing limits the request. */
  const reserve = async (
    prepared: PreparedChat,
    key: GatewayKey | undefined,
  ): Promise<SpendHold | SpendRefusal | undefined> => {
    const keyLimit = key && keys?.limitOf(key);
    const limits = [keyLimit, groupLimits.get(prepared.model), gatewayLimit].filter(
      (l): l is SpendLimit => l !== undefined,
    );
    if (!key && limits.length === 0) return undefined;
    const estimate = estimateSpend(
      prepared.request,
      budgets?.servedBy?.[prepared.model] ?? [prepared.model],
      outputTokens,
    );
    if (key && keys) {
      const refused = await keys.takeTokens(key, estimate.tokens);
      if (refused) return refused;
    }
    return limits.length === 0 ? undefined : reserveSpend(store, limits, estimate.usd, now());
  };
  const isHold = (r: SpendHold | SpendRefusal | undefined): r is SpendHold | undefined =>
    r === undefined || 'settle' in r;
  const guarded = (key?: GatewayKey) => !!key || groupLimits.size > 0 || !!gatewayLimit;

  const account = (entry: AccessLogEntry, key?: GatewayKey, hold?: SpendHold) => {
    options.onAccess?.(entry, key?.alias);
    if (!hold && !key) return log(formatAccessLog(entry));
    // A call that sent nothing has no cost (`undefined`, or `null`: nothing received).
    const keyId = key && keys?.limitOf(key)?.id;
    const settled = hold
      ? hold.settle(entry.costUsd ?? 0).then((spend) => (keyId ? spend.get(keyId) : undefined))
      : keys!.spent(key!);
    void settled.then((spend) => log(formatAccessLog(entry) + (key ? keyLogSuffix(key, spend) : '')));
  };
  const keyed = (base: ChatServiceOptions, key?: GatewayKey, socket = false): ChatServiceOptions =>
    key ? { ...base, resolveModel: keyModelResolver(base.resolveModel!, key, socket) } : base;
  const serviceOf = (key?: GatewayKey, socket = false) => keyed(service, key, socket);
  const chatFor = (key: GatewayKey | undefined, retries: boolean) =>
    chatCompletionsHandler<SpendHold | undefined>({
      ...keyed(retries ? service : (options.serviceOnce ?? service), key),
      maxBodyBytes: options.maxBodyBytes,
      sse: { heartbeatMs: options.heartbeatMs },
      resume: options.resume,
      admit: guarded(key)
        ? async (prepared) => {
            const r = await reserve(prepared, key);
            if (isHold(r)) return r;
            throw new HttpError(r.status, r.type, r.message, r.code, r.headers);
          }
        : undefined,
      onLog: (entry, hold) => account(entry, key, hold),
    });
  type Handler = ReturnType<typeof chatFor>;
  // A client that retries itself gets one upstream attempt: retries on both sides would multiply.
  const handlers = new Map<GatewayKey | undefined, { retrying: Handler; once: Handler }>();
  const handlerOf = (req: IncomingMessage, key?: GatewayKey): Handler => {
    let pair = handlers.get(key);
    if (!pair) handlers.set(key, (pair = { retrying: chatFor(key, true), once: chatFor(key, false) }));
    return retriesItself(req) ? pair.once : pair.retrying;
  };

  /** A keyed request: the key's request rate is checked before the body is read. */
  const keyedHttp = async (req: IncomingMessage, res: ServerResponse, key: GatewayKey, started: number) => {
    // A refused request costs one store round trip.
    const refusal = await keys!.admit(key);
    if (!refusal) {
      await handlerOf(req, key)(req, res);
      return;
    }
    refuseFromHead(req, res, refusal, key, started);
  };

  /** Refused from the head: the body is never read, and the connection closes after the answer. */
  const refuseFromHead = (
    req: IncomingMessage,
    res: ServerResponse,
    refusal: HeadRefusal,
    key: GatewayKey | undefined,
    started: number,
  ) => {
    closeAfter(res);
    sendRefusal(res, refusal);
    const path = (req.url ?? '/').split('?')[0];
    account(
      {
        method: 'POST',
        path,
        status: refusal.status,
        totalMs: performance.now() - started,
        outcome: `refused:${refusal.code}`,
      },
      key,
    );
  };

  return {
    serviceOf,
    account,
    http(req, res, key, started) {
      const bad = retriesHeaderRefusal(req);
      if (bad) return Promise.resolve(refuseFromHead(req, res, bad, key, started));
      // Without a key there is no rate to check: the handler's own promise, with no async frame of
      // this layer held for as long as the stream runs.
      return key ? keyedHttp(req, res, key, started) : handlerOf(req)(req, res);
    },
    admitSocket(prepared, key, chunks, held) {
      if (!guarded(key)) return chunks;
      return defer(async () => {
        const refused = key && (await keys!.admit(key));
        const r = refused || (await reserve(prepared, key));
        // Handed over at once, not when the chunks are subscribed: a request cancelled meanwhile
        // still settles (gives back) its reservations when it ends.
        if (isHold(r)) held(r);
        return r;
      }).pipe(mergeMap((r) => (isHold(r) ? chunks : throwError(() => refusalError(r)))));
    },
  };
}
