/**
 * Error frames: how a failure travels from an rxllm server (SSE, WebSocket, NestJS) to an rxllm
 * client, so the client rebuilds the same class with the same message (a non-retryable
 * `StreamParseError` must not arrive as a retryable `ServerError` 500).
 *
 * The frame is OpenAI's error object (`message`, `type`, `code`) — the official SDKs read it — plus
 * `status`, `retryable` and the class's own fields. No stack, no cause, no secrets (messages are
 * scrubbed by `LlmError` already and again here), and no addresses: the upstream a server calls (an
 * Ollama on 127.0.0.1:11434, a URL on the internal network) is the server's business, so URLs, IP
 * addresses, `host:port` pairs and the host of a DNS failure are replaced in what a frame carries.
 * The full message stays on the server (the gateway's access log has it). Browser-safe: no Node API.
 */
import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  BudgetExceededError,
  ConfigurationError,
  ConnectionError,
  FinishReasonError,
  LlmError,
  NoDeploymentAvailableError,
  QuotaExceededError,
  RateLimitError,
  RequestAbortedError,
  RequestValidationError,
  ResumableStreamError,
  ResponseTooLargeError,
  ServerError,
  StoreError,
  BatchResultError,
  type BatchResultReason,
  StreamCutError,
  StreamParseError,
  StructuredOutputError,
  TimeoutError,
  ToolCallError,
  UnexpectedResponseError,
  type InvalidToolCallReason,
  type ResumableStreamReason,
  type StreamParseErrorType,
  type StructuredOutputReason,
  type TimeoutKind,
} from '../errors';
import { redactSecrets } from '../redact';

/** The `error` object of a frame. */
export interface ErrorFrameBody {
  message: string;
  /** The rxllm class name (`RateLimitError`, `StreamParseError`, ...); `server_error` for anything else. */
  type: string;
  /** The provider's code when it sent one, else the HTTP status as text, else the class's kind. */
  code: string | null;
  /** HTTP status: the provider's for an `ApiError`, 500 for a non-rxllm error. */
  status?: number;
  retryable: boolean;
  /** Fields of the class (`StreamParseError.type`, `TimeoutError.timeout`, ...), to rebuild it. */
  detail?: Record<string, unknown>;
}

/** `{"error": {...}}`: one SSE `data:` event, one WebSocket message's `error`. */
export interface ErrorFrame {
  error: ErrorFrameBody;
}

/** What replaces an address in a frame: says what was there, so the message still reads. */
const HIDDEN_URL = '[URL hidden]';
const HIDDEN_ADDRESS = '[address hidden]';
const HIDDEN_HOST = '[host hidden]';

// scheme://... up to a space or quote; trailing sentence punctuation is kept outside (see hideAddresses).
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
// 10.0.0.5, 127.0.0.1:11434
const IPV4_PATTERN = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
// [::1]:11434, ::1:11434 (Node's "connect ECONNREFUSED ::1:11434"), fe80::1%eth0, 2001:db8:0:0:0:0:0:1.
// A "::" or eight groups, with a hex digit and nothing word-like around: not "10:30:00", "std::x".
const IPV6_PATTERN =
  /\[[0-9a-f:.]*:[0-9a-f:.%\w]*\](?::\d{1,5})?|(?<![\w:.])(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7})(?=[0-9a-f:]*[0-9a-f])[0-9a-f:]{2,}(?:%\w+)?(?![\w:])/gi;
// ollama.internal:11434, localhost:8000; the last label starts with a letter, so an Ollama tag
// ("llama3.2:3b", "qwen2.5:14") is not taken for a host.
const HOST_PORT_PATTERN =
  /(?<![\w.@/-])(?:localhost|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*):\d{1,5}\b/gi;
// Node and undici name the host of a DNS failure: "getaddrinfo ENOTFOUND ollama.internal".
const DNS_FAILURE_PATTERN = /\b(getaddrinfo\s+[A-Z_]+\s+)[^\s,;)]+/g;
// TLS: "Hostname/IP does not match certificate's altnames: Host: api.internal. is not in the cert's
// altnames: DNS:*.corp.example"
const TLS_HOST_PATTERN = /\b(Host: )[^\s,;]+?(\.?\s)/g;
const TLS_ALTNAME_PATTERN = /\b(DNS:)[^\s,;]+/g;

/**
 * `text` without the addresses of upstreams: URLs, IPv4 and IPv6 addresses (with their ports), DNS
 * names with a port, the host of a DNS failure or a TLS name mismatch. Internal to the frame; exported
 * for its tests.
 */
export function hideAddresses(text: string): string {
  return text
    .replace(URL_PATTERN, (url) => {
      const trail = /[.,;:!?)\]]+$/.exec(url)?.[0] ?? '';
      return HIDDEN_URL + trail;
    })
    .replace(DNS_FAILURE_PATTERN, `$1${HIDDEN_HOST}`)
    .replace(TLS_HOST_PATTERN, `$1${HIDDEN_HOST}$2`)
    .replace(TLS_ALTNAME_PATTERN, `$1${HIDDEN_HOST}`)
    .replace(IPV6_PATTERN, HIDDEN_ADDRESS)
    .replace(IPV4_PATTERN, HIDDEN_ADDRESS)
    .replace(HOST_PORT_PATTERN, HIDDEN_ADDRESS);
}

const API_CLASSES: Record<string, new (init: ConstructorParameters<typeof ApiError>[0]) => ApiError> = {
  ApiError,
  RateLimitError,
  QuotaExceededError,
  AuthenticationError,
  BadRequestError,
  ServerError,
};

/**
 * The frame sent for `error`: its class, message, status/code and `retryable`, nothing else. URLs,
 * IP addresses and host names of upstreams in the message are replaced (`[address hidden]`): a
 * server's clients need not learn where it connects to.
 *
 * @example
 * import { errorFrame, StreamParseError } from 'rxllm';
 * const frame = errorFrame(new StreamParseError('invalid-json', 'The provider sent an event that is not JSON.'));
 * console.log(frame.error.type, frame.error.retryable); // StreamParseError false
 */
export function errorFrame(error: unknown): ErrorFrame {
  const message = hideAddresses(redactSecrets(error instanceof Error ? error.message : String(error)));
  if (!(error instanceof LlmError)) {
    // A bug on the server, not a typed failure: reported like an HTTP 500.
    return { error: { message, type: 'server_error', code: '500', status: 500, retryable: true } };
  }
  const frame: ErrorFrameBody = { message, type: error.name, code: null, retryable: error.retryable };
  if (error instanceof ApiError) {
    frame.status = error.status;
    frame.code = error.code ?? String(error.status);
    if (error.retryAfterMs !== undefined) frame.detail = { retryAfterMs: error.retryAfterMs };
  } else if (error instanceof StreamParseError) {
    frame.code = error.type;
    frame.detail = { type: error.type, excerpt: hideAddresses(error.excerpt) };
  } else if (error instanceof TimeoutError) {
    frame.code = error.timeout;
    frame.detail = { timeout: error.timeout, ms: error.ms };
  } else if (error instanceof ToolCallError) {
    frame.code = error.reason;
    frame.detail = {
      reason: error.reason,
      toolName: error.toolName,
      toolCallId: error.toolCallId,
      choiceIndex: error.choiceIndex,
    };
  } else if (error instanceof FinishReasonError) {
    frame.code = error.finishReason;
    frame.detail = { finishReason: error.finishReason, choiceIndex: error.choiceIndex };
  } else if (error instanceof RequestValidationError) {
    frame.detail = { issues: error.issues };
  } else if (error instanceof UnexpectedResponseError) {
    // In `detail` only: `status` is the HTTP status of an ApiError, and this one may be a 200.
    frame.detail = { status: error.status, contentType: error.contentType };
  } else if (error instanceof ResponseTooLargeError) {
    frame.detail = { limit: error.limit };
  } else if (error instanceof NoDeploymentAvailableError) {
    frame.detail = { group: error.group, retryAfterMs: error.retryAfterMs };
  } else if (error instanceof BudgetExceededError) {
    frame.detail = { spent: error.spent, maxCost: error.maxCost, resetsAt: error.resetsAt };
  } else if (error instanceof StoreError) {
    frame.detail = { store: error.store };
  } else if (error instanceof BatchResultError) {
    frame.code = error.reason;
    frame.detail = { customId: error.customId, reason: error.reason };
  } else if (error instanceof ResumableStreamError) {
    frame.code = error.reason;
    frame.detail = { reason: error.reason, streamId: error.streamId };
  } else if (error instanceof StructuredOutputError) {
    // Not `text`: the whole structured answer may be large; the client has it from the stream.
    frame.code = error.reason;
    frame.detail = { reason: error.reason, position: error.position, issues: error.issues };
  }
  return { error: frame };
}

/** The server's message wins over the one a constructor composes (the same words, unless it differs). */
function withMessage<E extends LlmError>(error: E, message: string): E {
  error.message = message;
  return error;
}

/** Whether `value` is a frame written by {@link errorFrame} (not some other server's error object). */
export function isErrorFrame(value: unknown): value is ErrorFrame {
  const e = (value as { error?: Partial<ErrorFrameBody> } | null)?.error;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.message === 'string' &&
    typeof e.type === 'string' &&
    typeof e.retryable === 'boolean'
  );
}

/**
 * Rebuilds the error a frame describes: the same class (unknown names become `LlmError`), the same
 * message, the same `retryable`.
 *
 * @example
 * import { errorFrame, errorFromFrame, RateLimitError } from 'rxllm/browser';
 * const error = errorFromFrame(errorFrame(new RateLimitError({ status: 429, message: 'Slow down.' })));
 * console.log(error instanceof RateLimitError, error.message); // true Slow down.
 */
export function errorFromFrame(frame: ErrorFrame): LlmError {
  const e = frame.error;
  const d = (e.detail ?? {}) as Record<string, any>;
  const message = e.message;
  let error: LlmError;
  const Api = API_CLASSES[e.type];
  if (Api || e.type === 'server_error') {
    const status = Number.isInteger(e.status) ? (e.status as number) : 500;
    const headers: Record<string, string> =
      typeof d.retryAfterMs === 'number' ? { 'retry-after-ms': String(d.retryAfterMs) } : {};
    const code = e.code ?? undefined;
    error = Api
      ? new Api({ status, message, code, headers })
      : ApiError.fromResponse({ status, message, code, headers });
  } else {
    switch (e.type) {
      case 'StreamParseError':
        error = new StreamParseError(d.type as StreamParseErrorType, message, String(d.excerpt ?? ''));
        break;
      case 'StreamCutError':
        error = new StreamCutError(message);
        break;
      case 'ConnectionError':
        error = new ConnectionError(message);
        break;
      case 'TimeoutError':
        error = new TimeoutError(d.timeout as TimeoutKind, Number(d.ms));
        break;
      case 'RequestAbortedError':
        error = new RequestAbortedError();
        break;
      case 'RequestValidationError':
        error = new RequestValidationError(message, Array.isArray(d.issues) ? d.issues : []);
        break;
      case 'ConfigurationError':
        error = new ConfigurationError(message);
        break;
      case 'FinishReasonError':
        error = new FinishReasonError(String(d.finishReason), Number(d.choiceIndex), message);
        break;
      case 'ToolCallError':
        error = new ToolCallError({
          reason: d.reason as InvalidToolCallReason,
          toolName: String(d.toolName ?? ''),
          toolCallId: String(d.toolCallId ?? ''),
          choiceIndex: Number(d.choiceIndex ?? 0),
          arguments: '',
          message,
        });
        break;
      case 'UnexpectedResponseError':
        error = new UnexpectedResponseError({
          status: Number(d.status ?? 0),
          contentType: String(d.contentType ?? ''),
          message,
        });
        break;
      case 'ResponseTooLargeError':
        error = withMessage(new ResponseTooLargeError(Number(d.limit)), message);
        break;
      case 'NoDeploymentAvailableError': {
        const now = Date.now();
        const wait = Number(d.retryAfterMs ?? 0);
        error = withMessage(new NoDeploymentAvailableError(String(d.group ?? ''), now + wait, now), message);
        break;
      }
      case 'BudgetExceededError':
        error = withMessage(
          new BudgetExceededError(Number(d.spent), Number(d.maxCost), Number(d.resetsAt)),
          message,
        );
        break;
      case 'StoreError':
        error = new StoreError(String(d.store ?? ''), message);
        break;
      case 'BatchResultError':
        error = new BatchResultError(String(d.customId ?? ''), d.reason as BatchResultReason, message);
        break;
      case 'ResumableStreamError':
        error = new ResumableStreamError(
          d.reason as ResumableStreamReason,
          String(d.streamId ?? ''),
          message,
        );
        break;
      case 'StructuredOutputError':
        error = new StructuredOutputError({
          reason: d.reason as StructuredOutputReason,
          message,
          text: '',
          ...(typeof d.position === 'number' && { position: d.position }),
          ...(Array.isArray(d.issues) && { issues: d.issues }),
        });
        break;
      default:
        error = new LlmError(message);
    }
  }
  // The server's verdict wins (an `x-should-retry` header, a retry policy): keep it as sent.
  if (error.retryable !== e.retryable) (error as { retryable: boolean }).retryable = e.retryable;
  return error;
}
