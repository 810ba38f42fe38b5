/**
 * Error frames: how a failure travels from an rxllm server (SSE, WebSocket, NestJS) to an rxllm
 * client, so the client rebuilds the same class with the same message (issue 9: a non-retryable
 * `StreamParseError` must not arrive as a retryable `ServerError` 500).
 *
 * The frame is OpenAI's error object (`message`, `type`, `code`) — the official SDKs read it — plus
 * `status`, `retryable` and the class's own fields. No stack, no cause, no secrets (messages are
 * scrubbed by `LlmError` already and again here). Browser-safe: no Node API.
 */
import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  ConfigurationError,
  ConnectionError,
  FinishReasonError,
  LlmError,
  QuotaExceededError,
  RateLimitError,
  RequestAbortedError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  TimeoutError,
  ToolCallError,
  type InvalidToolCallReason,
  type StreamParseErrorType,
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

const API_CLASSES: Record<string, new (init: ConstructorParameters<typeof ApiError>[0]) => ApiError> = {
  ApiError,
  RateLimitError,
  QuotaExceededError,
  AuthenticationError,
  BadRequestError,
  ServerError,
};

/**
 * The frame sent for `error`: its class, message, status/code and `retryable`, nothing else.
 *
 * @example
 * import { errorFrame, StreamParseError } from 'rxllm';
 * const frame = errorFrame(new StreamParseError('invalid-json', 'The provider sent an event that is not JSON.'));
 * console.log(frame.error.type, frame.error.retryable); // StreamParseError false
 */
export function errorFrame(error: unknown): ErrorFrame {
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
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
    frame.detail = { type: error.type, excerpt: error.excerpt };
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
  }
  return { error: frame };
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
      default:
        error = new LlmError(message);
    }
  }
  // The server's verdict wins (an `x-should-retry` header, a retry policy): keep it as sent.
  if (error.retryable !== e.retryable) (error as { retryable: boolean }).retryable = e.retryable;
  return error;
}
