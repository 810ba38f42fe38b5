/**
 * `POST /v1/chat/completions` on a Node `req`/`res`, framework-agnostic (Node `http`, Express,
 * NestJS with `@Req()`/`@Res()`): validates the body (a 400 JSON error in OpenAI's shape, before any
 * header), streams with `sendSse` when `stream: true`, answers one JSON `chat.completion` otherwise,
 * and honours the caller's `stream_options.include_usage`. A client that leaves aborts the upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { accumulateChunks } from '../../operators/accumulateChunks';
import type { ChatCompletion } from '../chunk';
import { ApiError, LlmError, RequestValidationError, TimeoutError } from '../errors';
import { redactSecrets } from '../redact';
import {
  costedCall,
  observeChunks,
  prepareChat,
  type ChatServiceOptions,
  type PreparedChat,
  type StreamStats,
} from './chatRequest';
import { errorFrame } from './errorFrame';
import { sendSse, type SendSseConfig } from './sseServer';
import { pausableUpstream, type PausableUpstream } from './upstreamFlow';
import { randomUUID } from 'node:crypto';
import { resumable } from '../../operators/resumable';
import { servedResumable, STREAM_ID_HEADER, type ResumeServeOptions } from './resumeOptions';

/** One access-log entry: no bodies, no keys. */
export interface AccessLogEntry {
  method: string;
  /** The path without its query string. */
  path: string;
  status: number;
  /** The rxllm model that served it, when the request got that far. */
  model?: string;
  /** Milliseconds to the first upstream chunk. */
  firstChunkMs?: number;
  totalMs: number;
  promptTokens?: number;
  completionTokens?: number;
  /**
   * What the call cost in USD (`trackUsage` with the shipped price table), `null` when the usage or the
   * model's price is unknown (never a made-up 0); absent when no call was made.
   */
  costUsd?: number | null;
  /**
   * `true` when `costUsd` is an estimate (`trackUsage`'s `estimated`): the call ended before the
   * upstream reported its usage (the client left, the upstream failed mid-stream). Logged as `cost=~$...`.
   */
  costEstimated?: boolean;
  /** `complete`, `error:<Class>`, `closed` (the client left), `overflow` (it stopped reading). */
  outcome: string;
  /**
   * With an `error:<Class>` outcome, the error's first line as the server saw it: secrets redacted,
   * but upstream addresses kept (its error frame to the client hides them). For the server's log only.
   */
  error?: string;
}

/** The first line of a failure for the log: secrets redacted, at most 300 characters. */
export function logDetail(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redactSecrets(text.split('\n')[0]).slice(0, 300);
}

/**
 * `POST /v1/chat/completions 200 model=mock/echo ttfc=2ms total=40ms tokens=12+30 cost=$0.0000420 complete`;
 * a failure ends with its message as a JSON string: `... error:ConnectionError "The connection failed ..."`;
 * an estimated cost (the call ended before its usage came) is `cost=~$0.0000420`.
 */
export function formatAccessLog(e: AccessLogEntry): string {
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)}ms`);
  const tokens = e.promptTokens === undefined ? '-' : `${e.promptTokens}+${e.completionTokens ?? 0}`;
  const usd =
    e.costUsd === undefined
      ? ''
      : ` cost=${e.costUsd === null ? '-' : `${e.costEstimated ? '~' : ''}$${e.costUsd.toPrecision(3)}`}`;
  // JSON-quoted: a message cannot break the line (or forge another) in the log.
  const error = e.error === undefined ? '' : ` ${JSON.stringify(e.error)}`;
  return `${e.method} ${e.path} ${e.status} model=${e.model ?? '-'} ttfc=${ms(e.firstChunkMs)} total=${ms(e.totalMs)} tokens=${tokens}${usd} ${e.outcome}${error}`;
}

export interface ChatCompletionsHandlerOptions<A = never> extends ChatServiceOptions {
  /** Largest request body read, in bytes; a larger one is a 413. @defaultValue 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** Passed to `sendSse` for streamed answers. @defaultValue SEND_SSE_DEFAULTS */
  sse?: SendSseConfig;
  /**
   * Runs once the body is valid, before anything is sent upstream (the gateway reserves budgets
   * here): a rejection is the answer (an `HttpError` with its headers; logged `refused:<code>`), and what it resolves to is
   * handed to `onLog` with the entry, so that what it holds is released once the request ended.
   * @defaultValue none
   */
  admit?: (prepared: PreparedChat) => Promise<A>;
  /** Called once per request when its response ended, with what `admit` resolved to. @defaultValue none */
  onLog?: (entry: AccessLogEntry, admitted?: A) => void;
  /**
   * Streamed answers are resumable (docs/resume.md): kept in `store` under the id sent in the
   * `x-rxllm-stream-id` header, every event numbered (`id: <streamId>:<seq>`), the generation going
   * on when the client drops. Serve the resume routes with `resumeHandler` on the same store.
   * `false` turns it off. @defaultValue {} (the process's memory store, kept 10 minutes)
   */
  resume?: ResumeServeOptions | false;
}

/** Defaults of {@link chatCompletionsHandler}. */
export const CHAT_COMPLETIONS_DEFAULTS = { maxBodyBytes: 1024 * 1024 } as const;

/** An HTTP error answer: status and OpenAI's error JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code: string | null = null,
    /** Sent with the answer (`Retry-After`, `x-should-retry`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    // The access log names the class (`error:HttpError`), not `Error`.
    this.name = 'HttpError';
  }
}

/** Sends `{ error: { message, type, param, code } }` with `status`. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  code: string | null = null,
  headers: Record<string, string> = {},
) {
  sendJson(res, status, { error: { message: redactSecrets(message), type, param: null, code } }, headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Reads a JSON body up to `limit` bytes; a body parsed already by a framework (`req.body`) is used as is. */
export async function readJsonBody(
  req: IncomingMessage & { body?: unknown },
  limit: number,
): Promise<unknown> {
  // Express / Nest body parsers consume the stream and leave the parsed value on req.body.
  if (req.body !== undefined && (req.readableEnded || req.complete)) return req.body;
  const declared = Number(req.headers['content-length']);
  if (declared > limit)
    throw new HttpError(413, 'invalid_request_error', `The request body is over ${limit} bytes.`);
  // Events rather than an async iterator: this runs once per request on the gateway's hot path.
  const text = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > limit) {
        // Stop here: the 413 closes the connection rather than draining a body nobody will use.
        req.removeAllListeners('data');
        req.pause();
        reject(new HttpError(413, 'invalid_request_error', `The request body is over ${limit} bytes.`));
      } else parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_request_error', 'The request body is not valid JSON.');
  }
}

/**
 * The HTTP status a failure before or instead of a stream is answered with: an upstream's own error
 * status is kept (a 429 stays a 429 with its `Retry-After`, a 401 a 401, a 500 a 500), as the OpenAI
 * API answers them, so SDKs pick the right error class and back off; a failure with no status of its
 * own is a 502 (504 for a timeout).
 */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof RequestValidationError) return 400;
  if (error instanceof ApiError) return error.status >= 400 && error.status <= 599 ? error.status : 502;
  if (error instanceof TimeoutError) return 504;
  if (error instanceof LlmError) return 502;
  return 500;
}

/**
 * A `(req, res)` handler for `POST /v1/chat/completions` backed by any rxllm client.
 *
 * @example
 * import http from 'node:http';
 * import { chatCompletionsHandler } from 'rxllm';
 * const handle = chatCompletionsHandler({ resolveModel: () => 'mock/echo' });
 * const server = http.createServer((req, res) => void handle(req, res));
 * server.listen(0, '127.0.0.1', () => server.close());
 */
export function chatCompletionsHandler<A = never>(
  options: ChatCompletionsHandlerOptions<A> = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<AccessLogEntry> {
  const maxBodyBytes = options.maxBodyBytes ?? CHAT_COMPLETIONS_DEFAULTS.maxBodyBytes;
  if (!(maxBodyBytes > 0)) throw new TypeError('chatCompletionsHandler: maxBodyBytes must be > 0');
  return async (req, res) => {
    const started = performance.now();
    const entry: AccessLogEntry = {
      method: req.method ?? 'POST',
      path: (req.url ?? '/').split('?')[0],
      status: 200,
      totalMs: 0,
      outcome: 'complete',
    };
    const stats: StreamStats = {};
    let admitted: A | undefined;
    const done = () => {
      entry.totalMs = performance.now() - started;
      entry.firstChunkMs = stats.firstChunkMs;
      if (stats.usage) {
        entry.promptTokens = stats.usage.prompt_tokens;
        entry.completionTokens = stats.usage.completion_tokens;
      }
      options.onLog?.(entry, admitted);
      return entry;
    };
    const fail = (error: unknown, refused = false) => {
      entry.status = statusOf(error);
      entry.outcome =
        refused && error instanceof HttpError
          ? `refused:${error.code}`
          : `error:${error instanceof Error ? error.name : 'Error'}`;
      // A refusal is the gateway's answer, not a failure: its outcome names its code.
      if (!entry.outcome.startsWith('refused:')) entry.error = logDetail(error);
      if (res.headersSent) {
        res.end();
      } else if (error instanceof HttpError) {
        // A 413: close rather than read the rest of the body (it may be gigabytes, or never end).
        const close: Record<string, string> = error.status === 413 ? { connection: 'close' } : {};
        sendJsonError(res, error.status, error.type, error.message, error.code, {
          ...error.headers,
          ...close,
        });
      } else if (error instanceof RequestValidationError) {
        sendJsonError(res, 400, 'invalid_request_error', error.message);
      } else {
        const frame = errorFrame(error);
        // Both forms: the OpenAI SDKs read `retry-after-ms` first, other clients `Retry-After` (seconds).
        const retryAfter =
          error instanceof ApiError && error.retryAfterMs !== undefined
            ? {
                'retry-after-ms': String(error.retryAfterMs),
                'retry-after': String(Math.ceil(error.retryAfterMs / 1000)),
              }
            : undefined;
        sendJson(
          res,
          entry.status,
          {
            error: {
              ...frame.error,
              param: null,
              type:
                error instanceof ApiError && error.status === 404
                  ? 'invalid_request_error'
                  : frame.error.type,
            },
          },
          retryAfter,
        );
      }
      return done();
    };
    let prepared;
    let upstream: PausableUpstream | undefined;
    try {
      const body = await readJsonBody(req, maxBodyBytes);
      // Streamed answers read the upstream no faster than the client reads them.
      if (options.dispatcher !== false && (body as { stream?: unknown } | null)?.stream === true) {
        upstream = pausableUpstream(options.dispatcher);
      }
      prepared = prepareChat(body, options, upstream && { dispatcher: upstream.dispatcher });
    } catch (error) {
      return fail(error);
    }
    entry.model = prepared.model;
    if (options.admit) {
      try {
        admitted = await options.admit(prepared);
      } catch (error) {
        return fail(error, true);
      }
    }
    // Usage and cost exactly once per call, however it ends (completed, failed, the client left).
    const call = costedCall(prepared, entry);
    let chunks = observeChunks(call.chunks, stats, started, prepared.includeUsage || !prepared.stream);
    if (prepared.stream) {
      const resume = options.resume ?? {};
      // A failure before the first byte keeps its HTTP status (a 429 with Retry-After, not a 200
      // with an error frame): only once the stream has begun is an error frame the way to say it.
      let early: unknown;
      let failedEarly = false;
      let sse: SendSseConfig = {
        ...options.sse,
        flow: upstream?.flow,
        onErrorBeforeFirstByte: (error) => {
          failedEarly = true;
          early = error;
        },
      };
      if (resume) {
        const streamId = randomUUID();
        chunks = chunks.pipe(resumable({ ...servedResumable(resume), id: streamId }));
        sse = { ...sse, headers: { ...sse.headers, [STREAM_ID_HEADER]: streamId }, eventIds: { streamId } };
      }
      const result = await sendSse(res, chunks, sse);
      // A generation left by its client goes on: never leave it paused on a socket that is gone.
      upstream?.flow.resume();
      if (failedEarly) return fail(early);
      entry.outcome =
        result.end === 'error' ? `error:${(result.error as Error)?.name ?? 'Error'}` : result.end;
      if (result.end === 'error') entry.error = logDetail(result.error);
      // A resumable generation goes on after its client left: the log line and `onLog` (where the
      // gateway settles budgets) wait for its cost, known when it ends.
      if (resume && (result.end === 'closed' || result.end === 'overflow')) await call.pending();
      return done();
    }
    return new Promise<AccessLogEntry>((resolve) => {
      const onClose = () => {
        if (res.writableEnded) return;
        subscription.unsubscribe();
        entry.outcome = 'closed';
        resolve(done());
      };
      res.on('close', onClose);
      // Gone already (its 'close' fired while the body was read): make no upstream call.
      if (res.destroyed) {
        res.off('close', onClose);
        entry.outcome = 'closed';
        return resolve(done());
      }
      const subscription: Subscription = chunks.pipe(accumulateChunks()).subscribe({
        next(completion: ChatCompletion) {
          res.off('close', onClose);
          sendJson(res, 200, completion);
          resolve(done());
        },
        error(error: unknown) {
          res.off('close', onClose);
          resolve(fail(error));
        },
      });
    });
  };
}
