/**
 * The provider-neutral chat request. `validateRequest` runs before any network call, so a bad request
 * fails fast with a `RequestValidationError` that lists every problem.
 *
 * The zod schemas are in `./requestSchema` (public as `rxllm/schemas`) and are built on the first
 * validation that needs them, not when `rxllm` is imported: zod costs about 50 ms of start-up
 * (bench/import-time.js). Plain-text requests never need them (`./requestFastPath`).
 */
import type { z } from 'zod/v4';
import { RequestValidationError } from './errors';
import type { MockRequestFields } from './mockRequest';
import { isPlainValidRequest } from './requestFastPath';
import { requestSchemas, type RequestSchemas } from './requestSchema';

export { MAX_CHOICES } from './requestLimits';

export type ChatMessage = z.infer<RequestSchemas['MessageSchema']>;
export type ChatTool = z.infer<RequestSchemas['ToolSchema']>;

/** `provider/model`, e.g. `openai/gpt-4o-mini`: a model without its provider prefix does not compile. */
export type ModelName = `${string}/${string}`;

/**
 * The chat request. Unknown top-level fields are allowed (and sent); the ones rxllm knows are typed,
 * including the mock provider's `mock_response` (a script, a string, a sequence or a function of the
 * attempt), `mock_delay_ms` and `mock_first_chunk_delay_ms`.
 */
export type ChatRequest = z.infer<RequestSchemas['ChatRequestSchema']> & {
  model: ModelName;
} & MockRequestFields;

/** Validates a request; throws `RequestValidationError` listing every issue (never the message contents). */
export function validateRequest(request: unknown): ChatRequest {
  // Plain-text requests are checked without loading zod (see requestFastPath.ts).
  if (isPlainValidRequest(request)) return request as ChatRequest;
  const result = requestSchemas().ChatRequestSchema.safeParse(request);
  // The schema checked the `provider/model` shape that `ModelName` states; mock fields are checked
  // by the mock provider.
  if (result.success) return result.data as ChatRequest;
  const issues = result.error.issues.map((i) => ({
    path: i.path.filter((p): p is string | number => typeof p !== 'symbol'),
    message: i.message,
  }));
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`)
    .join('; ');
  throw new RequestValidationError(
    `Invalid chat request: ${summary}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ''}`,
    issues,
  );
}

/** Splits `provider/model` at the first slash: `openai/gpt-4o` -> ['openai', 'gpt-4o']. */
export function splitModel(model: string): { provider: string; model: string } {
  const slash = model.indexOf('/');
  return { provider: model.slice(0, slash).toLowerCase(), model: model.slice(slash + 1) };
}
