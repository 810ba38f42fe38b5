/**
 * Which fallback list an error sends a call to (LiteLLM's `fallbacks`, `context_window_fallbacks`,
 * `content_policy_fallbacks`).
 */
import {
  ApiError,
  AuthenticationError,
  FinishReasonError,
  LlmError,
  RateLimitError,
  UnexpectedResponseError,
} from '../errors';

/**
 * - `'rateLimit'`: a 429 (cools the deployment for its `Retry-After`), then like `'retryable'`.
 * - `'retryable'`: a failure of the deployment (5xx, connection, timeout, cut stream, 401/403: a
 *   deployment's own key; 404: its model or Azure deployment does not exist there; 413: a request
 *   over its tokens-per-minute; a 2xx that is not an LLM response, e.g. a proxy's HTML page): the next
 *   deployment of the group, then the group's `fallbacks`.
 * - `'contextWindow'` / `'contentPolicy'`: the request is too long / was refused by the model's
 *   filter: the group's `contextWindowFallbacks` / `contentPolicyFallbacks`.
 * - `'fatal'`: the request itself is wrong or was aborted: no fallback, the error surfaces.
 */
export type FailureKind = 'rateLimit' | 'retryable' | 'contextWindow' | 'contentPolicy' | 'fatal';

// OpenAI: code context_length_exceeded; Anthropic: "prompt is too long"; Gemini: "exceeds the maximum
// number of tokens"; vLLM/others: "maximum context length".
const CONTEXT_WINDOW =
  /context[_ ]length|context window|maximum context|prompt is too long|input is too long|too many tokens|exceeds the maximum number of tokens|string_above_max_length/i;
// OpenAI/Azure: content_policy_violation, content_filter; others: "safety", "flagged".
const CONTENT_POLICY = /content[_ ](policy|filter|management)|safety system|responsible ?ai|flagged/i;

/**
 * Statuses that say "this deployment cannot serve it", not "this request is wrong": another
 * deployment of the group may take the same request.
 * - 404: OpenAI `model_not_found` ("The model ... does not exist or you do not have access to it"),
 *   Azure `DeploymentNotFound` (https://learn.microsoft.com/azure/ai-services/openai/reference);
 * - 413: Groq's "Request too large for model ... on tokens per minute (TPM)"
 *   (https://console.groq.com/docs/errors): this deployment's own limit.
 */
const DEPLOYMENT_STATUSES = new Set([404, 413]);

/** Classifies a failed attempt (see {@link FailureKind}). */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof RateLimitError) return 'rateLimit';
  if (error instanceof FinishReasonError && error.finishReason === 'content_filter') return 'contentPolicy';
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
    const text = `${error.code ?? ''} ${error.message}`;
    if (CONTEXT_WINDOW.test(text)) return 'contextWindow';
    if (CONTENT_POLICY.test(text)) return 'contentPolicy';
    if (DEPLOYMENT_STATUSES.has(error.status)) return 'retryable';
  }
  if (error instanceof AuthenticationError) return 'retryable';
  // A 2xx that is no LLM response (a captive portal or proxy login page) is the deployment's route.
  if (error instanceof UnexpectedResponseError) return 'retryable';
  if (error instanceof LlmError && error.retryable) return 'retryable';
  return 'fatal';
}
