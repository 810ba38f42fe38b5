/**
 * The server side of one chat request, shared by the HTTP handler, the WebSocket server and the
 * gateway: an OpenAI-style body → a validated rxllm request for the served model → the chunk stream
 * (through the caller's pipeline), with the usage and time to first chunk observed for the log.
 */
import { linkedSubscriber } from '../../operators/internal/operate';
import { trackUsage } from '../../operators/trackUsage';
import { defer, map, Observable } from 'rxjs';
import type { Dispatcher } from 'undici';
import type { Chunk, Usage } from '../chunk';
import type { Client } from '../client';
import type { CallOptions } from '../options';
import { stream as defaultStream } from '../client';
import { BadRequestError, RequestValidationError } from '../errors';
import { validateRequest, type ChatRequest } from '../request';
import { redactSecrets } from '../redact';
import { MAX_REQUEST_DEPTH, nestsDeeper } from '../requestLimits';
import { hideAddresses } from './errorFrame';

/** How a server picks the rxllm model for the `model` a client asked for. */
export type ModelResolver = (requested: string) => string | undefined;

export interface ChatServiceOptions {
  /** The client that calls the upstream. @defaultValue rxllm's `stream` (no client defaults) */
  client?: Pick<Client, 'stream'>;
  /**
   * The rxllm model (`provider/model`) for a requested `model`; `undefined` answers 404
   * `model_not_found`. @defaultValue the requested name itself, which must be `provider/model`
   */
  resolveModel?: ModelResolver;
  /**
   * Operators applied to every upstream stream (retries, timeouts, a tool-call guard, ...).
   * @defaultValue none
   */
  pipeline?: (chunks: Observable<Chunk>, request: ChatRequest) => Observable<Chunk>;
  /**
   * The undici dispatcher upstream calls go through; streamed answers wrap it to pause the upstream
   * while a client is not reading (`pausableUpstream`), so give yours here rather than to the
   * client. `false` turns that off (the client's own dispatcher is used). @defaultValue the shared agent
   */
  dispatcher?: Dispatcher | false;
}

/** What a prepared request says about itself (for the response and the access log). */
export interface PreparedChat {
  /** The rxllm model that serves it. */
  model: string;
  stream: boolean;
  /** The caller asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  /**
   * The validated request sent upstream (`model` the rxllm model): what `trackUsage` estimates the
   * prompt of a call from when the call ends before the upstream reported its usage (a client that left).
   */
  request: ChatRequest;
  /**
   * The upstream chunks, after the pipeline, each with `model` set to the id the client asked for
   * (what `GET /v1/models` lists, e.g. `mock/echo`), not the upstream's own name for it (`echo`).
   * Cold.
   */
  chunks: Observable<Chunk>;
}

/** What one call cost, as `trackUsage` reported it (the access log's fields). */
export interface CallCost {
  /** USD, `null` when unpriced or nothing was reported. */
  costUsd?: number | null;
  /** The call ended before the upstream reported its usage: `costUsd` is an estimate. */
  costEstimated?: boolean;
}

/**
 * The call's chunks with its cost written into `into` exactly once, however it ends (completed,
 * failed, unsubscribed). `pending()` is a promise of that report while the call runs, `undefined` when
 * there is nothing to wait for (never started, or already reported): a resumable generation outlives
 * its client, and its cost (and a budget's settlement) is known only when it ends.
 */
export function costedCall(
  prepared: PreparedChat,
  into: CallCost,
): { chunks: Observable<Chunk>; pending(): Promise<void> | undefined } {
  let reported: Promise<void> | undefined;
  let done = false;
  const chunks = defer(() => {
    let onReported!: () => void;
    reported = new Promise<void>((resolve) => (onReported = resolve));
    return prepared.chunks.pipe(
      trackUsage({
        model: prepared.model,
        request: prepared.request,
        onUsage: (report) => {
          into.costUsd = report.cost?.total ?? null;
          if (report.cost && report.estimated) into.costEstimated = true;
          done = true;
          onReported();
        },
      }),
    );
  });
  return { chunks, pending: () => (done ? undefined : reported) };
}

/**
 * Validates an OpenAI chat body and prepares its stream. Throws `RequestValidationError` (a bad
 * body, one nested deeper than {@link MAX_REQUEST_DEPTH}) or `BadRequestError` 404 (an unknown model) before anything is sent upstream.
 */
export function prepareChat(
  body: unknown,
  options: ChatServiceOptions = {},
  callOptions?: CallOptions,
): PreparedChat {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestValidationError('The request body must be a JSON object (an OpenAI chat request).');
  }
  if (nestsDeeper(body, MAX_REQUEST_DEPTH)) {
    throw new RequestValidationError(
      `The request body nests deeper than ${MAX_REQUEST_DEPTH} levels of objects and arrays.`,
    );
  }
  const raw = body as Record<string, unknown>;
  if (typeof raw.model !== 'string' || raw.model === '') {
    throw new RequestValidationError('model: a model name is required (see GET /v1/models).', [
      { path: ['model'], message: 'required' },
    ]);
  }
  const model = (options.resolveModel ?? ((m: string) => m))(raw.model);
  if (model === undefined) {
    throw new BadRequestError({
      status: 404,
      code: 'model_not_found',
      message: `The model "${raw.model.slice(0, 100)}" does not exist here (see GET /v1/models).`,
    });
  }
  // stream / stream_options describe this hop, not the upstream one: rxllm always streams upstream.
  const { stream: wantsStream, stream_options: streamOptions, ...rest } = raw;
  // A name the server's resolver gives that is not `provider/model` is a router's group (`fast`):
  // the router picks the deployment and its call checks that model; the rest is checked here.
  const group = options.resolveModel !== undefined && !model.includes('/');
  const checked = validateRequest({ ...rest, model: group ? `router/${model}` : model });
  const request = group ? ({ ...checked, model } as ChatRequest) : checked;
  const includeUsage =
    !!streamOptions && typeof streamOptions === 'object' && (streamOptions as any).include_usage === true;
  const client = options.client ?? { stream: defaultStream };
  const upstream = defer(() => (callOptions ? client.stream(request, callOptions) : client.stream(request)));
  const piped = options.pipeline ? options.pipeline(upstream, request) : upstream;
  // A client that asked for `mock/echo` (the id the server lists) gets `mock/echo` back in every chunk
  // and in the completion: the id it sends, the id `/v1/models` lists and the id it gets back are one.
  // The upstream's name for it (`echo`, a deployment's model) is the server's business. A copy: the
  // pipeline may keep the chunks it emitted (a resume store, a cache).
  const requested = raw.model;
  return {
    model,
    stream: wantsStream === true,
    includeUsage,
    request,
    chunks: piped.pipe(map((chunk) => forClient(chunk, requested))),
  };
}

/**
 * A chunk as the client gets it: `model` the id it asked for, and a reset's reason (a router's
 * `afterFirstChunk: 'restart'`, the failure that restarted the answer) without upstream addresses or
 * secrets, as an error frame says it.
 */
function forClient(chunk: Chunk, requested: string): Chunk {
  if (chunk.reset !== undefined) {
    const reason = hideAddresses(redactSecrets(String(chunk.reset.reason)));
    return { ...chunk, model: requested, reset: { ...chunk.reset, reason } };
  }
  return chunk.model === requested ? chunk : { ...chunk, model: requested };
}

/** Time to first chunk and usage of one stream, filled in as it flows. */
export interface StreamStats {
  firstChunkMs?: number;
  usage?: Usage;
}

/**
 * Records time to first chunk and usage into `stats`; drops the usage-only chunk and the `usage`
 * field when the caller did not ask for them (OpenAI sends usage only with `include_usage`).
 */
export function observeChunks(
  chunks: Observable<Chunk>,
  stats: StreamStats,
  started: number,
  includeUsage: boolean,
): Observable<Chunk> {
  return new Observable<Chunk>((subscriber) =>
    chunks.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next(chunk) {
          stats.firstChunkMs ??= performance.now() - started;
          if (chunk.usage) {
            stats.usage = chunk.usage;
            if (!includeUsage) {
              if (chunk.choices.length === 0) return;
              const { usage: _drop, ...rest } = chunk;
              subscriber.next(rest as Chunk);
              return;
            }
          }
          subscriber.next(chunk);
        },
      }),
    ),
  );
}
