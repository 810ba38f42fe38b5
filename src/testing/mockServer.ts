/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 for integration tests and benchmarks: scripted
 * answers (see `MockServerScript`), transport faults on demand, every request recorded, and
 * connection statistics to check keep-alive reuse and client aborts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChatMessage, ChatTool } from '../request';
import { defaultMockScript, estimatePromptTokens, scriptToCompletion } from '../providers/mock';
import { scriptProblems } from '../providers/mock/script';
import { openAIErrorBody, respond, ResponseLife, type MockServerScript } from './mockResponse';
import type { MockOpenAICompat, MockRejection, MockRuleContext, MockWireFormat } from '../providers/mockWire';
import { wireRoute } from './wireRoutes';
import { createMockBatches, writeBatchReply, type MockBatches } from './mockBatch';

export type { MockServerScript, MockTransportScript } from './mockResponse';
export type { MockOpenAICompat, MockRejection } from '../providers/mockWire';
export type {
  MockBatches,
  MockBatchFaults,
  MockBatchEntry,
  MockBatchAnswer,
  MockBatchRequest,
  MockBatchState,
} from './mockBatch';

/** One request as the server received it. */
export interface MockRequest {
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /**
   * The parsed JSON body, the raw text when it is not JSON, `undefined` when empty. `unknown`, since
   * only the test knows what was sent: for a chat call, read it as a `MockChatBody`
   * (`req.body as MockChatBody`).
   */
  body: unknown;
  /** The wire format the route speaks: `openai`, `openai-responses`, `anthropic`, `gemini` or `ollama`. */
  format?: string;
  /**
   * Set when strict mode refused the request: the status and error body that were sent, the body's
   * message saying what the provider's API rejects (e.g. Anthropic's "unexpected `tool_use_id` found
   * in `tool_result` blocks").
   */
  rejected?: MockRejection;
}

/** The body of an OpenAI-style chat completion request, as a test reads `MockRequest.body`. */
export interface MockChatBody {
  [key: string]: unknown;
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: ChatTool[];
}

export interface MockServerStats {
  /** TCP connections ever accepted. */
  connections: number;
  /** TCP connections open now. */
  openConnections: number;
  /** HTTP requests received. */
  requests: number;
  /** Responses the client went away from before they ended (not counting faults the script caused). */
  abortedRequests: number;
}

export type MockServerDefault = MockServerScript | string | ((req: MockRequest) => MockServerScript | string);

export interface MockServerOptions {
  /** What requests get when the queue is empty. @defaultValue `Mock reply to: <last user message>` */
  defaultScript?: MockServerDefault;
  /** @defaultValue 0 (a random free port) */
  port?: number;
  /**
   * Refuse what each provider's real API refuses, with that provider's status and error body (see
   * `MockRequest.rejected`): Anthropic tool results without their `tool_use`, a tool turn without its
   * thinking block when `thinking: {type: 'enabled'}`, a prefill ending in whitespace, `temperature`
   * above 1, a thinking budget not below `max_tokens`; Gemini empty `contents`, parts or text, function
   * responses not right after their calls, a Gemini 3 function call of the current turn without its
   * thought signature (the mock signs the first call of a Gemini 3 answer); OpenAI-style tool messages
   * without their call and calls without their results, `n` above 128; with `openaiCompat: 'deepseek'`,
   * a tool-call turn without `reasoning_content` in thinking mode; Responses outputs without their call. A refused request still takes its
   * script from the queue, so scripts stay one per request. On the chat route, a final assistant message
   * that the imitated server does not continue (see `openaiCompat`) is answered as a fresh answer, which
   * restates that message's text before the script's (Anthropic continues one: a prefill). `false` accepts any request and answers every script as is.
   * @defaultValue true
   */
  strict?: boolean;
  /**
   * Which OpenAI-compatible server the chat route imitates in strict mode: `'openai'` (never continues
   * a final assistant message), `'deepseek'` (continues it with `prefix: true` on it and a `/beta/`
   * path, as the base URL `https://api.deepseek.com/beta`; deepseek-reasoner refuses it otherwise) or
   * `'vllm'` (continues it with `continue_final_message: true` and `add_generation_prompt: false`;
   * the first without the second is a 400). When continued, the script's text is the continuation.
   * @defaultValue 'openai'
   */
  openaiCompat?: MockOpenAICompat;
}

export interface MockServer {
  /** Base URL to give a provider, e.g. `http://127.0.0.1:43567/v1`. */
  readonly url: string;
  readonly port: number;
  /**
   * Scripts for the next requests, one per request, first in first out; then the default. A known
   * slip (`content` for `text`, `tool_calls` for `toolCalls`) or a wrongly typed field throws a `TypeError`.
   */
  enqueue(...scripts: (MockServerScript | string)[]): void;
  /** Replaces the default script (a function is called per request). */
  setDefault(script: MockServerDefault): void;
  /** Every request received, in order. */
  readonly requests: MockRequest[];
  /**
   * The providers' batch APIs (OpenAI `/files` + `/batches`, Anthropic `/messages/batches`, Gemini
   * `:batchGenerateContent` + `batches/{id}`): each request of a batch is answered as the chat route
   * would answer it (queue, default script, strict rules). Count submissions, see cancels, set faults.
   */
  readonly batches: MockBatches;
  readonly stats: Readonly<MockServerStats>;
  /**
   * Resolves when request `n` (1-based, in arrival order) has ended: its response finished, was
   * destroyed, or the client went away. Waits for the request to arrive if needed.
   * @defaultValue n = the latest request (1 when none arrived yet)
   */
  waitForRequestClose(n?: number): Promise<void>;
  /** Empties the queue and `requests`, zeroes the counters (except open connections), restores the default. */
  reset(): void;
  /** Destroys every socket (keep-alive ones too), stops all timers and closes the server. Idempotent. */
  close(): Promise<void>;
}

/** A mistyped script (`{ content: 'Hi' }`) would answer an empty message: refuse it where it is given. */
function checkServerScript(script: unknown, where: string): void {
  const problems = scriptProblems(script, 'typos');
  if (problems.length > 0)
    throw new TypeError(`Mock server ${where}: invalid script: ${problems.join('; ')}.`);
}

/**
 * Starts a mock server on 127.0.0.1 (random port) that speaks every wire format rxllm does, so a
 * pipeline can be tested against any provider: `POST .../chat/completions` (OpenAI chat, also
 * Azure's deployment route: SSE when `body.stream === true`, the usage chunk only with
 * `stream_options.include_usage`, like OpenAI), `.../responses` (Responses API events),
 * `.../messages` (Anthropic events), `.../models/<m>:streamGenerateContent` and `:generateContent`
 * (Gemini), `.../api/chat` (Ollama NDJSON). Each renders the same scripts, with the provider's own
 * error body for an error status and its own in-band error event; a request body holding
 * `mock_response` is answered with that script. `GET .../models` lists one model; anything else is 404.
 * Strict by default: a request the provider's real API rejects gets that API's status and error body
 * (see `MockServerOptions.strict`).
 *
 * @example
 * import { createMockServer } from 'rxllm/testing';
 * import { stream } from 'rxllm';
 * const server = await createMockServer();
 * server.enqueue({ text: 'Hello!' }, { status: 429, headers: { 'retry-after': '1' } });
 * stream({ model: 'compat/x', messages: [{ role: 'user', content: 'Hi' }] }, { baseURL: server.url });
 * await server.close();
 */
export async function createMockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const { strict = true, openaiCompat = 'openai' } = options;
  if (typeof strict !== 'boolean') {
    throw new TypeError(`createMockServer: strict must be true or false, not ${JSON.stringify(strict)}.`);
  }
  if (!['openai', 'deepseek', 'vllm'].includes(openaiCompat)) {
    throw new TypeError(
      `createMockServer: openaiCompat must be 'openai', 'deepseek' or 'vllm', not ${JSON.stringify(openaiCompat)}.`,
    );
  }
  const initialDefault = options.defaultScript;
  let fallback: MockServerDefault | undefined = initialDefault;
  const queue: (MockServerScript | string)[] = [];
  const requests: MockRequest[] = [];
  const stats: MockServerStats = { connections: 0, openConnections: 0, requests: 0, abortedRequests: 0 };
  const sockets = new Set<Socket>();
  const lives = new Set<ResponseLife>();
  const closedRequests = new Set<number>();
  const closeWaiters = new Map<number, (() => void)[]>();
  let closing: Promise<void> | undefined;
  let generation = 0;

  const markClosed = (n: number) => {
    closedRequests.add(n);
    for (const resolve of closeWaiters.get(n) ?? []) resolve();
    closeWaiters.delete(n);
  };

  const pick = (request: MockRequest, messages: unknown[]): MockServerScript => {
    // A request carrying its own script (`mock_response`, as the mock provider reads it) gets it,
    // whatever its wire format, and leaves the queue alone.
    const own = (request.body as { mock_response?: unknown } | undefined)?.mock_response as
      MockServerScript | string | undefined;
    const next =
      own !== undefined && own !== null
        ? own
        : queue.length
          ? queue.shift()!
          : typeof fallback === 'function'
            ? fallback(request)
            : fallback;
    const script = next ?? defaultMockScript(messages);
    return typeof script === 'string' ? { text: script } : script;
  };

  // One chat request inside a provider batch, answered as its chat route would answer it.
  const answerInBatch = (path: string, body: unknown): { status: number; body: unknown } => {
    const route = wireRoute(path, body);
    if (!route) return { status: 404, body: openAIErrorBody(404, `No mock route for ${path}`) };
    const request: MockRequest = { method: 'POST', path, headers: {}, body, format: route.wire.name };
    const script = pick(request, route.messages);
    if (strict) {
      const rejection = refusal(route.wire, body, { path, headers: {}, openaiCompat });
      if (rejection) return rejection;
    }
    const status = script.status ?? 200;
    if (status >= 400)
      return {
        status,
        body: script.errorBody ?? route.wire.errorBody(status, `Mock error (HTTP ${status})`),
      };
    const context = {
      id: `chatcmpl-mock-b${stats.requests}`,
      model: route.model,
      promptTokens: estimatePromptTokens(route.messages),
    };
    return { status, body: route.wire.completion(scriptToCompletion(script, context)) };
  };
  const batches = createMockBatches(answerInBatch);

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const n = ++stats.requests;
    let body: any = undefined;
    let badJson = false;
    if (raw.length) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        badJson = true;
      }
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const request: MockRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body };
    requests.push(request);

    const life = new ResponseLife();
    lives.add(life);
    let destroyedByServer = false;
    const born = generation;
    res.on('close', () => {
      life.end();
      lives.delete(life);
      // A request from before reset() must not touch the new counters or request numbers.
      if (born !== generation) return;
      if (!res.writableFinished && !destroyedByServer && !closing) stats.abortedRequests++;
      markClosed(n);
    });
    const destroy = () => {
      destroyedByServer = true;
      req.socket.destroy();
    };
    const baseHeaders = { 'x-request-id': `req_mock_${n}` };
    const path = request.path.split('?')[0].replace(/\/+$/, '');

    const origin = `http://${headers.host ?? '127.0.0.1'}`;
    const batchReply = batches.handle({ method: request.method, path, raw, headers, origin });
    if (batchReply) {
      request.format = 'batch';
      return writeBatchReply(res, batchReply, baseHeaders);
    }

    if (req.method === 'GET' && /(^|\/)models$/.test(path)) {
      return sendJson(
        res,
        200,
        { object: 'list', data: [{ id: 'mock', object: 'model', created: 0, owned_by: 'rxllm' }] },
        baseHeaders,
      );
    }
    const route = req.method === 'POST' ? wireRoute(path, badJson ? undefined : body) : undefined;
    if (!route) {
      return sendJson(res, 404, openAIErrorBody(404, `No mock route for ${req.method} ${path}`), baseHeaders);
    }
    const { wire, streaming } = route;
    if (badJson)
      return sendJson(res, 400, wire.errorBody(400, 'The request body is not valid JSON.'), baseHeaders);
    request.format = wire.name;
    let script = pick(request, route.messages);
    if (strict) {
      const ruleContext: MockRuleContext = { path, headers, openaiCompat };
      const rejection = refusal(wire, body, ruleContext);
      if (rejection) {
        request.rejected = rejection;
        return sendJson(res, rejection.status, rejection.body, baseHeaders);
      }
      const prefix = wire.restatedPrefix?.(body, ruleContext);
      if (prefix && script.rawSse === undefined) script = { ...script, text: prefix + (script.text ?? '') };
    }
    const context = {
      id: `chatcmpl-mock-${n}`,
      model: route.model,
      promptTokens: estimatePromptTokens(route.messages),
    };
    respond({ req, res, life, script, body, context, baseHeaders, destroy, wire, streaming }).catch(
      (error: unknown) => {
        // A broken script is a bug in the test: make it visible and free the socket.
        console.error('rxllm mock server: response failed:', error);
        destroy();
      },
    );
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => handle(req, res, Buffer.concat(parts).toString('utf8')));
  });
  // Longer than undici's default keep-alive (4 s), so the client, not the server, closes idle sockets:
  // a server closing first races with a client reusing the socket (undici docs, "keepAliveTimeout").
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    stats.connections++;
    sockets.add(socket);
    stats.openConnections = sockets.size;
    socket.on('close', () => {
      sockets.delete(socket);
      stats.openConnections = sockets.size;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    stats,
    batches,
    enqueue: (...scripts) => {
      scripts.forEach((script, i) => checkServerScript(script, `enqueue: script ${i + 1}`));
      queue.push(...scripts);
    },
    setDefault: (script) => {
      if (typeof script !== 'function') checkServerScript(script, 'setDefault');
      fallback = script;
    },
    waitForRequestClose(n = Math.max(1, stats.requests)) {
      if (closedRequests.has(n)) return Promise.resolve();
      return new Promise<void>((resolve) => closeWaiters.set(n, [...(closeWaiters.get(n) ?? []), resolve]));
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      fallback = initialDefault;
      Object.assign(stats, { connections: 0, requests: 0, abortedRequests: 0 });
      closedRequests.clear();
      batches.reset();
      generation++;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const life of lives) life.end();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** The first of the wire format's rules that refuses the request. */
function refusal(wire: MockWireFormat, body: unknown, context: MockRuleContext): MockRejection | undefined {
  for (const rule of wire.rules ?? []) {
    const rejection = rule(body, context);
    if (rejection) return rejection;
  }
  return undefined;
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string>,
): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
