/**
 * An error object sent inside a 200 stream (`data: {"error": {...}}`, Anthropic's `error` event, an
 * rxllm SSE server relaying a failure) → the typed `ApiError` its status, type or code implies.
 * Shared by every provider and by `fetchSse`, so one table decides what is retryable.
 */
import { ApiError, type LlmError } from './errors';
import { redactAndCut } from './redact';
import { errorFromFrame, isErrorFrame } from './serve/errorFrame';

const IN_BAND_STATUS: Record<string, number> = {
  overloaded_error: 529,
  overloaded: 529,
  server_error: 500,
  api_error: 500,
  internal_error: 500,
  service_unavailable: 503,
  rate_limit_error: 429,
  rate_limit_exceeded: 429,
  // Quota and spend limits: 429s that `ApiError.fromResponse` makes a non-retryable QuotaExceededError.
  insufficient_quota: 429,
  credit_balance_exhausted: 429,
  organization_spend_limit_exceeded: 429,
  project_spend_limit_exceeded: 429,
  organization_usage_limit_exceeded: 429,
  enforced_spend_limit_reached: 429,
  invalid_request_error: 400,
  authentication_error: 401,
  // Anthropic's other types (https://docs.claude.com/en/api/errors).
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  timeout_error: 504,
  timeout: 408,
};

/**
 * An `{"error": {...}}` event inside a 200 stream → the `ApiError` its type or code implies. The
 * error object may itself wrap the fields one level down (`{"type": "error", "error": {...}}`, as
 * Anthropic and the Responses API send it): both shapes are read.
 */
export function inBandError(value: { error: any }): LlmError {
  // An rxllm server's frame (rxllm serve, sendSse) names its class: rebuild that, not a guess.
  if (isErrorFrame(value)) return errorFromFrame(value);
  let e = value.error;
  if (e !== null && typeof e === 'object' && e.error !== null && typeof e.error === 'object') e = e.error;
  // Google's shape (Gemini's OpenAI-compatible endpoint, Vertex proxies) is
  // `{"code": 429, "status": "RESOURCE_EXHAUSTED"}`: the HTTP number is `code`, `status` a name.
  const numeric = httpStatus(e?.status) ?? httpStatus(e?.code);
  // `type: "error"` is the event's own type (a flat Responses `error` event), not the error's.
  const rawType = String((e?.type !== 'error' && e?.type) || (e?.code ?? ''));
  // Redacted before lower-casing: a lower-cased key no longer matches the registered one.
  const type = redactAndCut(rawType, 100).toLowerCase();
  // OpenAI's 429 body is `{"type": "requests", "code": "rate_limit_exceeded"}`: the type alone says
  // nothing, so the code is looked up too (the HTTP path reads `code` first as well); Anthropic puts
  // a spend limit's code in `details.error_code`.
  const status =
    numeric ??
    [rawType, e?.code, e?.details?.error_code]
      .map((c) => IN_BAND_STATUS[String(c ?? '').toLowerCase()])
      .find((s) => s !== undefined) ??
    500;
  const message = typeof e?.message === 'string' ? e.message : typeof e === 'string' ? e : 'unknown error';
  return ApiError.fromResponse({
    status,
    body: e === value.error ? value : { error: e },
    code: type || undefined,
    message: `The provider sent an error inside the stream (${type || status}): ${redactAndCut(message, 300)}`,
  });
}

/** `value` as an HTTP error status (400-599), or `undefined` when it is not one (`"RESOURCE_EXHAUSTED"`). */
function httpStatus(value: unknown): number | undefined {
  const n = Number(value);
  return Number.isInteger(n) && n >= 400 && n < 600 ? n : undefined;
}
