/**
 * Typed errors. Users branch with `instanceof`; every error says what happened and what to do,
 * and none of them ever contains an API key (headers are redacted, bodies truncated and scrubbed).
 *
 * Shapes follow openai-node `src/core/error.ts` and vercel/ai `api-call-error.ts`.
 */
import type { ChatCompletion } from './chunk';
import type { BilledAttempt } from './router/route';
import { errorClassName } from './errorName';
import { redactAndCut, redactHeaders, redactSecrets } from './redact';

export interface LlmErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  partial?: ChatCompletion;
  /** See {@link LlmError.billedAnswer}; makes the error not retryable. */
  billedAnswer?: boolean;
}

/** Registry symbol: the same in every copy of rxllm (ESM and CommonJS builds, two installs). */
const LLM_ERROR_BRAND: unique symbol = Symbol.for('rxllm.LlmError');

/** Base class of every error rxllm raises. */
export class LlmError extends Error {
  /**
   * The class's name as a string: `error.name`, the `type` `errorFrame` sends and `errorFromFrame`
   * rebuilds the class from, the key of `retryBackoff`'s `retryPolicy`. Minifiers rename classes
   * (`RateLimitError` becomes `u` in a production bundle); this string stays. Every rxllm class sets
   * its own; a subclass of yours may too (else it is named after its class).
   */
  static readonly errorName: string = 'LlmError';
  /** Whether sending the same request again may succeed. Computed once, here. */
  readonly retryable: boolean;
  /**
   * What was received before the failure, merged. Set by `accumulateChunks` and `retryBackoff`
   * when a stream fails part-way, so nothing already received is lost.
   */
  partial?: ChatCompletion;
  /**
   * Set by the router on a call that fails in the end: the attempts before that the provider billed
   * although they passed nothing on (`RouteInfo.billed`). `trackUsage` counts them.
   */
  billed?: readonly BilledAttempt[];
  /**
   * `true` on a failure reading a `complete()` answer's 2xx body (a cut, a body timeout): the provider
   * generated, and billed, the whole answer before sending it, so the error is not retryable, and
   * `trackUsage` estimates such a call's usage (the request's prompt) instead of reporting `null`.
   */
  billedAnswer?: true;

  constructor(message: string, options: LlmErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = errorClassName(new.target);
    // An answer billed already is never worth sending again, whatever the class would say.
    this.retryable = !options.billedAnswer && (options.retryable ?? false);
    if (options.partial) this.partial = options.partial;
    if (options.billedAnswer) this.billedAnswer = true;
  }

  /** Brands rxllm's error classes, whichever copy of rxllm defined them (see `Symbol.hasInstance`). */
  static readonly [LLM_ERROR_BRAND] = true;

  /**
   * `instanceof` that also holds across copies of rxllm: Node can load the ESM and the CommonJS build
   * in one process (an ESM app, a CommonJS library), each with its own classes. An error of the other
   * copy is an instance of this class when a branded class of the same name is in its prototype chain
   * (the written-out name: two minified copies may call different classes "u").
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    let proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
    for (; proto !== null; proto = Object.getPrototypeOf(proto)) {
      const ctor = Object.hasOwn(proto, 'constructor') ? proto.constructor : undefined;
      if (
        typeof ctor === 'function' &&
        ctor[LLM_ERROR_BRAND] === true &&
        errorClassName(ctor) === errorClassName(this)
      )
        return true;
    }
    return false;
  }
}

export type Headers = Record<string, string>;

export interface ApiErrorInit {
  status: number;
  headers?: Headers;
  /** The response body (text or parsed JSON). Stored truncated. */
  body?: unknown;
  message?: string;
  cause?: unknown;
  /** Provider error type/code when it sent one (`overloaded_error`, `rate_limit_exceeded`, ...). */
  code?: string;
}

const BODY_LIMIT = 2000;

/** The body as kept on the error: secrets scrubbed first, then at most `BODY_LIMIT` characters of text. */
function truncateBody(body: unknown): unknown {
  if (body === undefined || body === null) return body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (text === undefined) return undefined;
  const clean = redactSecrets(text);
  if (clean.length > BODY_LIMIT) {
    return clean.slice(0, BODY_LIMIT) + `... (${clean.length - BODY_LIMIT} more characters)`;
  }
  if (typeof body === 'string') return clean;
  if (clean === text) return body;
  try {
    return JSON.parse(clean);
  } catch {
    return clean;
  }
}

function header(headers: Headers, name: string): string | undefined {
  return headers[name] ?? headers[name.toLowerCase()];
}

/**
 * Milliseconds the server asks us to wait: `retry-after-ms`, then `retry-after` in seconds or as an
 * HTTP date (RFC 9110 §10.2.3). `undefined` when absent or unparseable.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '') {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = header(headers, 'retry-after');
  if (ra === undefined || ra.trim() === '') return undefined;
  const seconds = Number(ra);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function defaultRetryable(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The provider answered with an error status (or an error event inside a 200 stream). */
export class ApiError extends LlmError {
  static override readonly errorName: string = 'ApiError';
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;

  constructor(init: ApiErrorInit) {
    const headers = redactHeaders(init.headers ?? {});
    const shouldRetry = header(headers, 'x-should-retry');
    // openai-node: an explicit x-should-retry from the server wins over the status rule.
    const retryable =
      shouldRetry === 'true' ? true : shouldRetry === 'false' ? false : defaultRetryable(init.status);
    const requestId = header(headers, 'x-request-id') ?? header(headers, 'request-id');
    super(init.message ?? new.target.describe(init.status, init.body, requestId), {
      cause: init.cause,
      retryable,
    });
    this.status = init.status;
    this.headers = headers;
    this.body = truncateBody(init.body);
    this.requestId = requestId;
    this.retryAfterMs = parseRetryAfter(headers);
    this.code = init.code === undefined ? undefined : redactAndCut(init.code, 100);
  }

  /** Maps a status (and, for a 429, a quota code: see {@link QuotaExceededError}) to the most specific error class. */
  static fromResponse(init: ApiErrorInit): ApiError {
    const { status } = init;
    if (status === 429)
      return isQuotaExhausted(init) ? new QuotaExceededError(init) : new RateLimitError(init);
    if (status === 401 || status === 403) return new AuthenticationError(init);
    if (status === 400 || status === 404 || status === 409 || status === 413 || status === 422)
      return new BadRequestError(init);
    if (status >= 500) return new ServerError(init);
    return new ApiError(init);
  }

  /** The message of an error built without one: status, the provider's words, request id, a hint. */
  protected static describe(status: number, body: unknown, requestId: string | undefined): string {
    const detail = extractMessage(body);
    const hint =
      this === QuotaExceededError
        ? ' The quota or spend limit is used up: retrying will not help; check the plan and billing.'
        : status === 401 || status === 403
          ? ' Check the API key (option apiKey or the provider environment variable).'
          : status === 429
            ? ' Rate limited: slow down or retry after the server-given wait.'
            : status >= 500
              ? ' The provider failed; retrying may help.'
              : '';
    const text = `HTTP ${status}${detail ? `: ${detail}` : ''}${requestId ? ` (request id ${requestId})` : ''}`;
    // One period: a provider's sentence usually brings its own.
    return `${text}${/[.!?]$/.test(text) ? '' : '.'}${hint}`;
  }
}

/** Pulls a human message out of the usual provider error bodies (internal to `ApiError`; redacted, then cut to 300 characters). */
function extractMessage(body: unknown): string | undefined {
  const cut = (text: string) => redactAndCut(text, 300) || undefined;
  if (typeof body === 'string') return cut(body);
  if (body && typeof body === 'object') {
    const b = body as Record<string, any>;
    const e = b.error ?? b;
    if (typeof e === 'string') return cut(e);
    if (e && typeof e.message === 'string') return cut(e.message);
    if (typeof b.message === 'string') return cut(b.message);
  }
  return undefined;
}

/** 429: too many requests or tokens. Retryable; `retryAfterMs` says how long the server wants. */
export class RateLimitError extends ApiError {
  static override readonly errorName: string = 'RateLimitError';
}

/**
 * Codes that make a 429 an exhausted quota or spend limit rather than a rate: waiting seconds does
 * not help. OpenAI answers `insufficient_quota` (its error-codes guide: "You exceeded your current
 * quota"), with the precise cause in `code` when there is one, and says retrying will not restore
 * access (https://learn.microsoft.com/microsoft-cloud/dev/dev-proxy/concepts/openai-insufficient-quota);
 * Anthropic's spend limits answer `error.details.error_code` `enforced_spend_limit_reached`
 * (https://learn.microsoft.com/microsoft-cloud/dev/dev-proxy/concepts/anthropic-529-overloaded-error).
 * Gemini's RESOURCE_EXHAUSTED is not here: it also covers per-minute quotas, which do come back.
 */
const QUOTA_ERROR_CODES: readonly string[] = [
  'insufficient_quota',
  'credit_balance_exhausted',
  'organization_spend_limit_exceeded',
  'project_spend_limit_exceeded',
  'organization_usage_limit_exceeded',
  'enforced_spend_limit_reached',
];

/** Whether a 429's code, or the `type` / `code` / `details.error_code` of its body's error, names a quota. */
function isQuotaExhausted(init: ApiErrorInit): boolean {
  const b = init.body as { error?: unknown } | null | undefined;
  const e = (b && typeof b === 'object' && b.error && typeof b.error === 'object' ? b.error : b) as
    Record<string, any> | null | undefined;
  const candidates = [init.code, e?.type, e?.code, e?.details?.error_code];
  return candidates.some((c) => typeof c === 'string' && QUOTA_ERROR_CODES.includes(c.toLowerCase()));
}

/**
 * A 429 that says the account's quota, credit or spend limit is used up (OpenAI `insufficient_quota`
 * and its `credit_balance_exhausted` / `*_spend_limit_exceeded` / `organization_usage_limit_exceeded`
 * codes; Anthropic's `enforced_spend_limit_reached`). A `RateLimitError` by status, so code that branches
 * on 429s still sees it, but **never retryable**, whatever `x-should-retry` says: the same request
 * fails until someone adds credit or raises the limit. Test it before `RateLimitError` when the two
 * need different handling.
 *
 * @example
 * import { ApiError, QuotaExceededError, RateLimitError } from 'rxllm';
 * const error = ApiError.fromResponse({
 *   status: 429,
 *   body: { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', code: null } },
 * });
 * console.log(error instanceof QuotaExceededError, error instanceof RateLimitError, error.retryable); // true true false
 */
export class QuotaExceededError extends RateLimitError {
  static override readonly errorName: string = 'QuotaExceededError';
  // Set after LlmError's constructor, so it overrides the status rule and x-should-retry.
  override readonly retryable: boolean = false;
}
/** 401/403: missing, wrong or unauthorized API key. Never retried. */
export class AuthenticationError extends ApiError {
  static override readonly errorName: string = 'AuthenticationError';
}
/** 400/404/409/413/422: the request is wrong (409 is retryable, as the official SDKs do). */
export class BadRequestError extends ApiError {
  static override readonly errorName: string = 'BadRequestError';
}
/** >= 500, or an in-band server/overloaded error. Retryable. */
export class ServerError extends ApiError {
  static override readonly errorName: string = 'ServerError';
}

/** The connection failed or broke before a response was complete. Retryable. */
export class ConnectionError extends LlmError {
  static override readonly errorName: string = 'ConnectionError';
  constructor(message: string, options: LlmErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** Which limit fired. `'tool'`: a `toolLoop` tool ran past its `timeoutMs` (its call was aborted). */
export type TimeoutKind = 'connect' | 'headers' | 'body' | 'firstChunk' | 'idle' | 'total' | 'tool';

/** A time limit fired; the request (or, for `'tool'`, the tool call) was aborted. Retryable. */
export class TimeoutError extends LlmError {
  static override readonly errorName: string = 'TimeoutError';
  readonly timeout: TimeoutKind;
  readonly ms: number;
  constructor(timeout: TimeoutKind, ms: number, options: LlmErrorOptions = {}) {
    const aborted = timeout === 'tool' ? 'the tool call' : 'the request';
    super(`The ${timeout} timeout of ${ms} ms fired; ${aborted} was aborted.`, {
      retryable: true,
      ...options,
    });
    this.timeout = timeout;
    this.ms = ms;
  }
}

/** Longest excerpt of a payload kept on an error (characters, after redaction). */
export const EXCERPT_LIMIT = 120;

export type StreamParseErrorType = 'invalid-json' | 'invalid-event' | 'invalid-body';

/** A stream event could not be read. Carries no payload beyond a short, scrubbed excerpt. */
export class StreamParseError extends LlmError {
  static override readonly errorName: string = 'StreamParseError';
  readonly type: StreamParseErrorType;
  readonly excerpt: string;
  constructor(type: StreamParseErrorType, message: string, excerpt = '', options: LlmErrorOptions = {}) {
    super(message, options);
    this.type = type;
    this.excerpt = redactAndCut(excerpt, EXCERPT_LIMIT);
  }
}

/** The stream ended before its end marker (no `[DONE]`, no finish reason): the response is incomplete. Retryable. */
export class StreamCutError extends LlmError {
  static override readonly errorName: string = 'StreamCutError';
  constructor(
    message = 'The stream ended before the provider finished it (no end marker, no finish reason).',
    options: LlmErrorOptions = {},
  ) {
    super(message, { retryable: true, ...options });
  }
}

/** The caller's `AbortSignal` fired. Not retryable. */
export class RequestAbortedError extends LlmError {
  static override readonly errorName: string = 'RequestAbortedError';
  constructor(options: LlmErrorOptions = {}) {
    super('The request was aborted by the caller (AbortSignal).', options);
  }
}

/** The request failed validation before anything was sent. */
export class RequestValidationError extends LlmError {
  static override readonly errorName: string = 'RequestValidationError';
  readonly issues: readonly { path: (string | number)[]; message: string }[];
  constructor(message: string, issues: readonly { path: (string | number)[]; message: string }[] = []) {
    super(message);
    this.issues = issues;
  }
}

/** A choice finished with a reason the caller chose to treat as a failure (`length`, `content_filter`). */
export class FinishReasonError extends LlmError {
  static override readonly errorName: string = 'FinishReasonError';
  readonly finishReason: string;
  readonly choiceIndex: number;
  constructor(finishReason: string, choiceIndex: number, message?: string, options: LlmErrorOptions = {}) {
    super(message ?? `Choice ${choiceIndex} finished with "${finishReason}".`, options);
    this.finishReason = finishReason;
    this.choiceIndex = choiceIndex;
  }
}

/** Configuration is wrong (unknown provider, missing API key, a bad base URL or timeout, ...). Raised before any request. */
export class ConfigurationError extends LlmError {
  static override readonly errorName: string = 'ConfigurationError';
}

/**
 * A gateway configuration file (`rxllm serve --config`) that cannot be used: `path` names the bad
 * field (`model_list[2].params.rpm`), `file` the file. The message never holds a secret's value.
 */
export class GatewayConfigError extends ConfigurationError {
  static override readonly errorName: string = 'GatewayConfigError';
  /** The bad field, as written in the file (`keys[0].max_budget`); `''` for the file as a whole. */
  readonly path: string;
  /** The configuration file, when it came from one. */
  readonly file: string | undefined;
  constructor(path: string, message: string, file?: string, options: LlmErrorOptions = {}) {
    super(`${file ? `${file}: ` : ''}${path ? `${path}: ` : ''}${message}`, options);
    this.path = path;
    this.file = file;
  }
}

/**
 * A 2xx response that is not what the call asked for: an HTML page from a proxy, a JSON body from a
 * server that ignored `stream: true`, an unsupported `content-encoding`. Not retryable: the same
 * request gets the same answer. `excerpt` is the start of the body, redacted then cut.
 */
export class UnexpectedResponseError extends LlmError {
  static override readonly errorName: string = 'UnexpectedResponseError';
  readonly status: number;
  /** The response's `content-type` (or `content-encoding` when that was the problem). */
  readonly contentType: string;
  readonly excerpt: string;
  constructor(
    init: { status: number; contentType: string; excerpt?: string; message: string },
    options: LlmErrorOptions = {},
  ) {
    super(init.message, options);
    this.status = init.status;
    this.contentType = redactAndCut(init.contentType, 100);
    this.excerpt = redactAndCut(init.excerpt ?? '', EXCERPT_LIMIT);
  }
}

/**
 * A response body passed the size limit of the call (`maxResponseBytes`); nothing past the limit was
 * read. Not retryable.
 */
export class ResponseTooLargeError extends LlmError {
  static override readonly errorName: string = 'ResponseTooLargeError';
  /** The limit in bytes. */
  readonly limit: number;
  constructor(limit: number, options: LlmErrorOptions = {}) {
    super(
      `The response body is larger than ${limit} bytes (maxResponseBytes); it was not read further. Raise maxResponseBytes if the answer is expected to be this large.`,
      options,
    );
    this.limit = limit;
  }
}

/** Why `partialToolCallGuard` refused a tool call. */
export type InvalidToolCallReason =
  | 'invalid-json'
  | 'schema-mismatch'
  | 'truncated'
  | 'unknown-tool'
  /** A fragment arrived for a call already released (the provider interleaved calls). */
  | 'late-fragment';

/** One schema problem of a tool call's input (the shape of a zod issue, kept structural). */
export interface ToolCallIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
}

/**
 * A streamed tool call was cut, did not parse as JSON, failed its schema or named an unknown tool.
 * Raised by `partialToolCallGuard({ onInvalid: 'error' })`. The call is never repaired; the raw
 * `arguments` are kept so the caller can log them or send the model an error message.
 */
export class ToolCallError extends LlmError {
  static override readonly errorName: string = 'ToolCallError';
  readonly reason: InvalidToolCallReason;
  readonly toolName: string;
  readonly toolCallId: string;
  readonly choiceIndex: number;
  /** The concatenated argument fragments exactly as received. */
  readonly arguments: string;
  readonly issues: readonly ToolCallIssue[];

  constructor(
    init: {
      reason: InvalidToolCallReason;
      toolName: string;
      toolCallId: string;
      choiceIndex: number;
      arguments: string;
      issues?: readonly ToolCallIssue[];
      message?: string;
    },
    options: LlmErrorOptions = {},
  ) {
    super(
      init.message ??
        `Tool call "${init.toolName}" (${init.toolCallId || 'no id'}) is invalid: ${init.reason}.`,
      options,
    );
    this.reason = init.reason;
    this.toolName = init.toolName;
    this.toolCallId = init.toolCallId;
    this.choiceIndex = init.choiceIndex;
    this.arguments = init.arguments;
    this.issues = init.issues ?? [];
  }
}

/**
 * Every deployment a router could send the call to is cooling down (it failed too often, or a 429
 * asked it to wait). Retryable: `retryAfterMs` says when the first one is back, so `retryBackoff`
 * waits exactly that long.
 */
export class NoDeploymentAvailableError extends LlmError {
  static override readonly errorName: string = 'NoDeploymentAvailableError';
  /** The model group that was called. */
  readonly group: string;
  /** When the first deployment is back (same clock as the router's scheduler, ms). */
  readonly availableAt: number;
  /** Milliseconds from now until then. */
  readonly retryAfterMs: number;
  constructor(group: string, availableAt: number, now: number, options: LlmErrorOptions = {}) {
    const wait = Math.max(0, Math.ceil(availableAt - now));
    super(
      `Every deployment of "${group}" is cooling down; the first is back in ${wait} ms (at ${new Date(availableAt).toISOString()}). Retry then or add fallbacks.`,
      { retryable: true, ...options },
    );
    this.group = group;
    this.availableAt = availableAt;
    this.retryAfterMs = wait;
  }
}

/** `budget()` refused a call: the spend of the current window reached `maxCost`. Not retryable. */
export class BudgetExceededError extends LlmError {
  static override readonly errorName: string = 'BudgetExceededError';
  /** USD spent in the current window. */
  readonly spent: number;
  readonly maxCost: number;
  /** When the window ends and the budget is available again (ms, scheduler clock). */
  readonly resetsAt: number;
  constructor(spent: number, maxCost: number, resetsAt: number, options: LlmErrorOptions = {}) {
    super(
      `Budget exceeded: $${spent.toFixed(6)} spent of $${maxCost} in this window; calls are refused until ${new Date(resetsAt).toISOString()}.`,
      options,
    );
    this.spent = spent;
    this.maxCost = maxCost;
    this.resetsAt = resetsAt;
  }
}

/**
 * A shared store (Redis) could not be reached or answered wrongly. Retryable: the operation that
 * raised it changed nothing it could not repeat (see the store's docs).
 */
export class StoreError extends LlmError {
  static override readonly errorName: string = 'StoreError';
  /** Which store: `'rate-limit'`, `'cooldown'` or `'budget'`. */
  readonly store: string;
  constructor(store: string, message: string, options: LlmErrorOptions = {}) {
    super(message, { retryable: true, ...options });
    this.store = store;
  }
}

/** Why a resumable stream could not be written or read. */
export type ResumableStreamReason =
  /** No stream has this id: never created, or expired (`ttlMs` after its last write) and deleted. */
  | 'not-found'
  /** A stream with this id exists already: ids are one per generation. */
  | 'exists'
  /** The stream passed its store's `maxChunks` or `maxBytes`: the generation was stopped there. */
  | 'too-large'
  /** The store holds its `maxStreams` already: no new stream until some expire. */
  | 'full';

/**
 * A resumable stream (`resumable`, `resume`, `stop`) is unknown, expired, or past its store's limits.
 * Not retryable: the same call meets the same stream again (start a new generation instead).
 */
export class ResumableStreamError extends LlmError {
  static override readonly errorName: string = 'ResumableStreamError';
  readonly reason: ResumableStreamReason;
  /** The stream id. */
  readonly streamId: string;
  constructor(
    reason: ResumableStreamReason,
    streamId: string,
    message?: string,
    options: LlmErrorOptions = {},
  ) {
    super(message ?? ResumableStreamError.describe(reason, streamId), options);
    this.reason = reason;
    this.streamId = streamId;
  }

  private static describe(reason: ResumableStreamReason, id: string): string {
    const name = JSON.stringify(id.slice(0, 100));
    switch (reason) {
      case 'not-found':
        return `No resumable stream ${name}: it never existed or expired. Send the request again.`;
      case 'exists':
        return `A resumable stream ${name} exists already: give each generation its own id.`;
      case 'too-large':
        return `The resumable stream ${name} passed its store's size limit (maxChunks / maxBytes); it was stopped there.`;
      default:
        return `The resumable-stream store is full (maxStreams); stream ${name} was not created. Retry once a stream finished or expired.`;
    }
  }
}

/** Why `partialObject` or `arrayElements` refused the streamed JSON. */
export type StructuredOutputReason =
  /** The text stopped being JSON (`position` says where). */
  | 'invalid-json'
  /** The stream ended before the JSON value was complete (cut, `length`, ...). */
  | 'incomplete-json'
  /** The JSON is whole but fails the schema (`issues` says how). */
  | 'schema-mismatch'
  /** Nothing to parse arrived (no content, or no call to the chosen tool). */
  | 'no-output';

/**
 * Streamed structured output (`response_format: json_schema` content or tool-call arguments) did not
 * parse as JSON, ended early or failed its zod schema. Raised by `partialObject` and `arrayElements`.
 * Never repaired; `text` holds everything received so the caller can log it or ask the model again.
 */
export class StructuredOutputError extends LlmError {
  static override readonly errorName: string = 'StructuredOutputError';
  readonly reason: StructuredOutputReason;
  /** The JSON text received, exactly as it arrived (up to the failure). */
  readonly text: string;
  /** Offset of the offending character (`invalid-json`), or where the text ended (`incomplete-json`). */
  readonly position: number | undefined;
  /** Schema problems (`schema-mismatch`; paths are relative to the whole value). */
  readonly issues: readonly ToolCallIssue[];
  /** What the model said instead (`delta.refusal`), when it refused (`no-output`). */
  readonly refusal: string | undefined;

  constructor(
    init: {
      reason: StructuredOutputReason;
      message: string;
      text: string;
      position?: number;
      issues?: readonly ToolCallIssue[];
      refusal?: string;
    },
    options: LlmErrorOptions = {},
  ) {
    super(init.message, options);
    this.reason = init.reason;
    this.text = init.text;
    this.position = init.position;
    this.issues = init.issues ?? [];
    this.refusal = init.refusal;
  }
}

/**
 * Why one request of a provider batch (`submitBatch`) has no answer: the provider answered it with
 * an error (`errored`), the batch expired or was cancelled before it ran, the whole batch failed
 * (validation), or the provider's output broke the one-answer-per-`custom_id` rule (`missing`: no
 * line for it; `duplicate`: a second line, the first one stands; `unknown-id`: a line for an id that
 * was not submitted).
 */
export type BatchResultReason =
  'errored' | 'expired' | 'cancelled' | 'batch-failed' | 'missing' | 'duplicate' | 'unknown-id';

/**
 * One request of a provider batch failed (see {@link BatchResultReason}); `cause` holds the
 * provider's error (an `ApiError` with its status) when it sent one. Retryable when re-sending the
 * request may succeed: expired, cancelled and missing requests never ran, and a retryable cause.
 */
export class BatchResultError extends LlmError {
  static override readonly errorName: string = 'BatchResultError';
  readonly customId: string;
  readonly reason: BatchResultReason;
  constructor(customId: string, reason: BatchResultReason, message: string, options: LlmErrorOptions = {}) {
    const cause = options.cause as { retryable?: unknown } | undefined;
    const retryable =
      reason === 'expired' || reason === 'cancelled' || reason === 'missing' || cause?.retryable === true;
    super(message, { retryable, ...options });
    this.customId = customId;
    this.reason = reason;
  }
}
