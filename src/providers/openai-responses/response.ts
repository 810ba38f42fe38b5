/**
 * Responses API `Response` objects → rxllm's vocabulary: finish reasons, usage, errors, and the whole
 * non-streaming answer (`complete()`).
 *
 * Wire format: https://platform.openai.com/docs/api-reference/responses/object.
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  FinishReason,
  ReasoningDetail,
  ToolCall,
  Usage,
} from '../../chunk';
import { StreamParseError, type LlmError } from '../../errors';
import { inBandError } from '../../inBandError';
import { RESPONSES_REASONING } from './request';

/**
 * `status` + `incomplete_details.reason` → finish reason. `completed` is `tool_calls` when a function
 * call was output, else `stop`; `incomplete` is `length` for `max_output_tokens` and
 * `content_filter` for a content filter. The raw reason is kept beside it.
 */
export function responsesFinish(response: any, hadCall: boolean): { finish: FinishReason; raw: string } {
  if (response.status === 'incomplete') {
    const reason = String(response.incomplete_details?.reason ?? 'incomplete');
    return { finish: reason === 'content_filter' ? 'content_filter' : 'length', raw: reason };
  }
  return { finish: hadCall ? 'tool_calls' : 'stop', raw: String(response.status ?? 'completed') };
}

/** Responses usage (`input_tokens`, `output_tokens`, details) → `Usage`. */
export function mapResponsesUsage(u: any): Usage {
  const prompt = typeof u.input_tokens === 'number' ? u.input_tokens : 0;
  const completion = typeof u.output_tokens === 'number' ? u.output_tokens : 0;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof u.total_tokens === 'number' ? u.total_tokens : prompt + completion,
  };
  const cached = u.input_tokens_details?.cached_tokens;
  if (typeof cached === 'number') usage.prompt_tokens_details = { cached_tokens: cached };
  const reasoning = u.output_tokens_details?.reasoning_tokens;
  if (typeof reasoning === 'number') usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/** Error codes of a failed response (`response.error.code`) → HTTP status, for the typed error. */
const FAILED_STATUS: Record<string, number> = {
  server_error: 500,
  rate_limit_exceeded: 429,
  invalid_prompt: 400,
  invalid_image: 400,
  invalid_image_format: 400,
  image_too_large: 400,
  vector_store_timeout: 504,
};

/**
 * A `response.failed` error object → the `ApiError` its code implies: this table, then the shared
 * in-band table (`insufficient_quota` → QuotaExceededError), else 500 (retryable).
 */
export function responsesError(error: any, what: string): LlmError {
  const code = typeof error?.code === 'string' ? error.code : 'server_error';
  const message = typeof error?.message === 'string' ? error.message : what;
  return inBandError({ error: { code, message, status: FAILED_STATUS[code] } });
}

/** A whole Responses API `Response` → `ChatCompletion` (the shape `complete()` returns everywhere). */
export function toChatCompletion(value: any, text: string, model: string): ChatCompletion {
  if (value !== null && typeof value === 'object' && value.error != null && value.output == null) {
    throw inBandError(value);
  }
  if (value === null || typeof value !== 'object' || !Array.isArray(value.output)) {
    throw new StreamParseError('invalid-body', 'The Responses API answered without an output array.', text);
  }
  if (value.status === 'failed') throw responsesError(value.error, 'The response failed');
  let content: string | null = null;
  let refusal: string | null = null;
  let reasoning: string | null = null;
  const calls: ToolCall[] = [];
  const details: ReasoningDetail[] = [];
  for (const item of value.output) {
    if (item?.type === 'message' && Array.isArray(item.content)) {
      for (const part of item.content) {
        if (part?.type === 'output_text' && typeof part.text === 'string')
          content = (content ?? '') + part.text;
        if (part?.type === 'refusal' && typeof part.refusal === 'string')
          refusal = (refusal ?? '') + part.refusal;
      }
    } else if (item?.type === 'reasoning') {
      let summary = '';
      for (const part of [...(item.summary ?? []), ...(item.content ?? [])]) {
        if (typeof part?.text === 'string') reasoning = (reasoning ?? '') + part.text;
      }
      for (const part of item.summary ?? []) if (typeof part?.text === 'string') summary += part.text;
      if (typeof item.id === 'string') {
        const detail: ReasoningDetail & { id: string } = {
          index: details.length,
          type: RESPONSES_REASONING,
          id: item.id,
        };
        if (summary) detail.text = summary;
        if (typeof item.encrypted_content === 'string') detail.data = item.encrypted_content;
        details.push(detail);
      }
    } else if (item?.type === 'function_call') {
      calls.push({
        id: String(item.call_id ?? ''),
        type: 'function',
        function: {
          name: String(item.name ?? ''),
          arguments: typeof item.arguments === 'string' ? item.arguments : '{}',
        },
      });
    }
  }
  const message: ChatCompletionMessage = { role: 'assistant', content };
  if (refusal !== null) message.refusal = refusal;
  if (reasoning !== null) message.reasoning = reasoning;
  if (details.length > 0) message.reasoning_details = details;
  if (calls.length > 0) message.tool_calls = calls;
  const { finish, raw } = responsesFinish(value, calls.length > 0);
  return {
    id: String(value.id ?? ''),
    object: 'chat.completion',
    created:
      typeof value.created_at === 'number' ? Math.floor(value.created_at) : Math.floor(Date.now() / 1000),
    model: typeof value.model === 'string' ? value.model : model,
    choices: [{ index: 0, message, finish_reason: finish, raw_finish_reason: raw }],
    usage: value.usage && typeof value.usage === 'object' ? mapResponsesUsage(value.usage) : null,
  };
}
