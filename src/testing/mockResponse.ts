/**
 * How the mock server answers one request: the script's content rendered as OpenAI SSE or JSON, and
 * the transport faults tests need (HTTP errors, latency, cuts, stalls, malformed and in-band error
 * events, byte-exact replays split at chosen offsets). Internal to `createMockServer`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MOCK_SCRIPT_DEFAULTS,
  scriptToChunks,
  scriptToCompletion,
  type MockScript,
  type MockScriptContext,
} from '../providers/mock';
import { openAIMockWire } from '../providers/openai/mockWire';
import { splitBytes } from './bytes';
import { messageOf, type MockWireFormat } from '../providers/mockWire';

/** Transport behaviour of one mock server response. "Events" are SSE events (one chunk each). */
export interface MockTransportScript {
  /** HTTP status. >= 400 answers `errorBody` as JSON. @defaultValue 200 */
  status?: number;
  /** Extra response headers (e.g. `retry-after`, `x-ratelimit-remaining-requests`). */
  headers?: Record<string, string>;
  /** Body of an error status (a string is sent as is). @defaultValue OpenAI-like `{ error: { message, type, code } }` */
  errorBody?: unknown;
  /** Wait before sending the headers. @defaultValue 0 */
  latencyMs?: number;
  /** Wait between two writes. @defaultValue 0 */
  chunkDelayMs?: number;
  /** Events per socket write (large values for throughput benchmarks). @defaultValue 1 */
  chunksPerWrite?: number;
  /** Destroy the socket after this many events; no `[DONE]`. */
  cutAfterChunks?: number;
  /** Destroy the socket as soon as the request arrived. */
  resetBeforeHeaders?: boolean;
  /** Send nothing more and never end, until the client aborts or the server closes. */
  stall?: 'before-headers' | { afterChunks: number };
  /**
   * After `afterChunks` events, send nothing but SSE comments (`: keep-alive`) every `everyMs`,
   * forever (until the client aborts or the server closes): a stream kept open by keep-alives only.
   */
  keepAliveOnly?: { afterChunks: number; everyMs: number };
  /** Send `data: {not json` after this many events, then go on. */
  malformedAfterChunks?: number;
  /** Send `data: {"error": ...}` after `afterChunks` events, then end without `[DONE]`. */
  inBandError?: { afterChunks: number; error: object };
  /** Finish normally but without `data: [DONE]`. */
  omitDone?: boolean;
  /**
   * Replay these exact bytes as the body (status 200, the route's streaming content type: SSE, or
   * NDJSON on Ollama's route) instead of rendering the script.
   */
  rawSse?: string | Buffer;
  /** Byte offsets where `rawSse` is split into separate writes. */
  splitAt?: number[];
  /** Split `rawSse` into `pieces` writes at seeded-random offsets. */
  randomSplits?: { seed: number; pieces: number };
  /** Wait between two `rawSse` pieces. @defaultValue 0 */
  writeDelayMs?: number;
}

/** A script for the mock server: content (see `MockScript`) plus transport behaviour. */
export interface MockServerScript extends MockScript, MockTransportScript {}

/** Lifetime of one response: timers die with it, so nothing is left behind after an abort or close(). */
export class ResponseLife {
  ended = false;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  /** Resolves after `ms`, or at once when the response ends (callers check `ended`). */
  wait(ms: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  end(): void {
    this.ended = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
  }
}

const DONE = 'data: [DONE]\n\n';
const sse = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

/** OpenAI's error body shape. */
export function openAIErrorBody(status: number, message = `Mock error (HTTP ${status})`): object {
  return openAIMockWire.errorBody(status, message) as object;
}

type Ending = 'done' | 'end' | 'cut' | 'stall' | 'keepAlive';

// Rendered chunk bodies (everything after the id/object/created/model header), by script content.
// Benchmarks send one script thousands of times: rendering it once keeps the server off the profile.
const rendered = new Map<string, string[]>();
const RENDERED_LIMIT = 16;

/** `data: {chunk}\n\n` for every chunk, byte-identical to `JSON.stringify` of the chunk. */
function chunkEvents(script: MockScript, context: MockScriptContext): string[] {
  const key = `${context.promptTokens}|${JSON.stringify(script)}`;
  let bodies = rendered.get(key);
  if (!bodies) {
    bodies = scriptToChunks(script, { ...context, id: '', model: '' }).map((chunk) => {
      const { id: _id, object: _object, created: _created, model: _model, ...rest } = chunk;
      return JSON.stringify(rest).slice(1);
    });
    if (rendered.size >= RENDERED_LIMIT) rendered.clear();
    rendered.set(key, bodies);
  }
  const id = script.id ?? context.id ?? '';
  const model = script.model ?? context.model ?? MOCK_SCRIPT_DEFAULTS.model;
  const created = script.created ?? MOCK_SCRIPT_DEFAULTS.created;
  const head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},`;
  return bodies.map((body) => `${head}${body}\n\n`);
}

/** The SSE events to send and how the response ends. */
function plan(script: MockServerScript, context: MockScriptContext, includeUsage: boolean) {
  const content =
    includeUsage || (script.usage != null && script.usage !== 'auto') ? script : { ...script, usage: null };
  const inBand = (error: object) => sse({ error });
  return limit(script, chunkEvents(content, context), DONE, inBand, 'data: {not json\n\n');
}

/**
 * Applies the script's faults to a list of pieces: a cut, a stall or an in-band error after k
 * pieces, a malformed piece, and the end piece (`[DONE]`, or another format's last event) unless
 * the script omits it.
 */
function limit(
  script: MockServerScript,
  events: string[],
  end: string | undefined,
  inBand: (error: object) => string,
  malformed: string,
) {
  const limits: [number, Ending, string?][] = [];
  if (script.cutAfterChunks !== undefined) limits.push([script.cutAfterChunks, 'cut']);
  if (typeof script.stall === 'object') limits.push([script.stall.afterChunks, 'stall']);
  if (script.keepAliveOnly) limits.push([script.keepAliveOnly.afterChunks, 'keepAlive']);
  if (script.inBandError)
    limits.push([script.inBandError.afterChunks, 'end', inBand(script.inBandError.error)]);
  limits.sort((a, b) => a[0] - b[0]);
  let ending: Ending = script.finishReason === null ? 'stall' : script.omitDone ? 'end' : 'done';
  let out = events;
  if (limits.length) {
    const [count, kind, extra] = limits[0];
    out = events.slice(0, Math.max(0, count));
    if (extra) out.push(extra);
    ending = kind;
  }
  const m = script.malformedAfterChunks;
  if (m !== undefined && m <= out.length) out.splice(m, 0, malformed);
  if (ending === 'done' && end !== undefined) out.push(end);
  return { events: out, ending };
}

/** Writes and awaits backpressure; resolves false when the response is gone. */
function write(res: ServerResponse, life: ResponseLife, data: string | Buffer): Promise<boolean> {
  if (life.ended || res.destroyed) return Promise.resolve(false);
  if (res.write(data)) return Promise.resolve(true);
  return drained(res, life);
}

/** Resolves true on 'drain', false when the response closed first. */
function drained(res: ServerResponse, life: ResponseLife): Promise<boolean> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve(!life.ended && !res.destroyed);
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export interface RespondInput {
  req: IncomingMessage;
  res: ServerResponse;
  life: ResponseLife;
  script: MockServerScript;
  body: any;
  context: MockScriptContext;
  baseHeaders: Record<string, string>;
  /** Destroys the socket on purpose (not counted as a client abort). */
  destroy: () => void;
  /** The wire format of the route (OpenAI chat when absent). */
  wire?: MockWireFormat;
  /** Whether the route streams (formats other than OpenAI chat say it by path or body). */
  streaming?: boolean;
}

/** Answers one chat-completions request according to its script. */
export async function respond({
  req,
  res,
  life,
  script,
  body,
  context,
  baseHeaders,
  destroy,
  wire,
  streaming,
}: RespondInput): Promise<void> {
  if (script.resetBeforeHeaders) return destroy();
  if (script.stall === 'before-headers') return; // the response stays open until abort or close()
  if (script.latencyMs) await life.wait(script.latencyMs);
  if (life.ended) return;
  const status = script.status ?? 200;
  const headers = { ...baseHeaders, ...lowerCase(script.headers) };

  if (status >= 400) {
    const errorBody =
      script.errorBody ?? (wire ?? openAIMockWire).errorBody(status, `Mock error (HTTP ${status})`);
    const text = typeof errorBody === 'string' ? errorBody : JSON.stringify(errorBody);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
    return;
  }

  const sseHeaders: Record<string, string> = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...headers,
  };
  if (script.rawSse !== undefined) {
    // The route's own streaming content type (Ollama: application/x-ndjson), unless the script sets one.
    const contentType = headers['content-type'] ?? wire?.contentType ?? sseHeaders['content-type'];
    res.writeHead(status, { ...sseHeaders, 'content-type': contentType });
    const pieces = splitBytes(script.rawSse, script);
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0 && script.writeDelayMs) await life.wait(script.writeDelayMs);
      if (!(await write(res, life, pieces[i]))) return;
    }
    res.end();
    return;
  }

  if (wire && wire.name !== 'openai') {
    if (!streaming) return respondJson(res, life, script, context, status, headers, destroy, wire);
    const finished = script.finishReason !== null;
    const all = wire.encode(scriptToChunks(script, context), finished);
    const end = finished ? all.pop() : undefined;
    const planned = limit(
      script,
      all,
      end,
      (e) => wire.inBandError(e as Record<string, unknown>),
      wire.malformed,
    );
    return stream(
      req,
      res,
      life,
      script,
      { ...sseHeaders, 'content-type': wire.contentType },
      status,
      planned,
      destroy,
    );
  }
  if (body?.stream !== true) return respondJson(res, life, script, context, status, headers, destroy);
  const planned = plan(script, context, body?.stream_options?.include_usage === true);
  return stream(req, res, life, script, sseHeaders, status, planned, destroy);
}

/** Writes the planned pieces (honouring backpressure and the script's delays), then ends as planned. */
async function stream(
  req: IncomingMessage,
  res: ServerResponse,
  life: ResponseLife,
  script: MockServerScript,
  headers: Record<string, string>,
  status: number,
  { events, ending }: { events: string[]; ending: Ending },
  destroy: () => void,
): Promise<void> {
  res.writeHead(status, headers);
  res.flushHeaders();
  const perWrite = Math.max(1, Math.floor(script.chunksPerWrite ?? 1));
  for (let i = 0; i < events.length; i += perWrite) {
    if (i > 0 && script.chunkDelayMs) await life.wait(script.chunkDelayMs);
    if (life.ended || res.destroyed) return;
    const data = perWrite === 1 ? events[i] : events.slice(i, i + perWrite).join('');
    // Await only on backpressure: a microtask per event would cap throughput for no reason.
    if (!res.write(data) && !(await drained(res, life))) return;
  }
  if (ending === 'cut') {
    // Let the events already written reach the wire first: destroy() drops pending writes.
    await new Promise<void>((resolve) => req.socket.write('', () => resolve()));
    destroy();
  } else if (ending === 'keepAlive') {
    const every = Math.max(1, script.keepAliveOnly!.everyMs);
    while (!life.ended && !res.destroyed) {
      await life.wait(every);
      if (!(await write(res, life, ': keep-alive\n\n'))) return;
    }
  } else if (ending !== 'stall') res.end();
}

function respondJson(
  res: ServerResponse,
  life: ResponseLife,
  script: MockServerScript,
  context: MockScriptContext,
  status: number,
  headers: Record<string, string>,
  destroy: () => void,
  wire: MockWireFormat = openAIMockWire,
): void {
  let text = script.inBandError
    ? JSON.stringify(
        wire.name === 'openai'
          ? { error: script.inBandError.error }
          : wire.errorBody(500, messageOf(script.inBandError.error as { message?: unknown })),
      )
    : JSON.stringify(wire.completion(scriptToCompletion(script, context)));
  if (script.malformedAfterChunks !== undefined) text = '{not json';
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  if (typeof script.stall === 'object' || script.finishReason === null) return void res.flushHeaders();
  if (script.cutAfterChunks !== undefined) {
    // Half the body, then the socket dies: a truncated JSON response.
    res.write(text.slice(0, Math.floor(text.length / 2)), () => destroy());
    return;
  }
  if (!life.ended) res.end(text);
}

function lowerCase(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}
