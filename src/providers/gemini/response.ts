/**
 * Gemini `GenerateContentResponse` pieces → rxllm's OpenAI-shaped vocabulary: finish reasons, usage,
 * parts, in-band errors, and the whole non-streaming response (`complete()`).
 *
 * Wire format: https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse.
 */
import { redactAndCut } from '../../redact';
import type {
  ChatCompletion,
  ChatCompletionChoice,
  FinishReason,
  ReasoningDetail,
  ToolCall,
  Usage,
} from '../../chunk';
import { ApiError, FinishReasonError, StreamParseError } from '../../errors';

/** Gemini finish reasons that mean "a filter stopped the output". Everything else but MAX_TOKENS → `stop`. */
const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/**
 * Finish reasons saying the model's function call could not be used: not a clean stop. They end the
 * call with a `FinishReasonError` carrying Gemini's `finishMessage`.
 */
export const FAILED_CALLS: ReadonlySet<string> = new Set([
  'MALFORMED_FUNCTION_CALL',
  'UNEXPECTED_TOOL_CALL',
  'TOO_MANY_TOOL_CALLS',
]);

/**
 * Ids for function calls Gemini sent without its own `id`. Unique across responses (never `call_0`
 * again in the next turn): a transcript continued on a provider that checks ids (Anthropic rejects
 * duplicate `tool_use` ids) stays valid.
 */
export class CallIds {
  private readonly prefix = `call_${globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
  private count = 0;
  next(): string {
    return `${this.prefix}_${this.count++}`;
  }
}

/** Gemini `finishReason` → OpenAI's; `STOP` is `tool_calls` when the turn held a function call. */
export function mapGeminiFinish(raw: string, hadToolCall: boolean): FinishReason {
  if (raw === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(raw)) return 'content_filter';
  return hadToolCall ? 'tool_calls' : 'stop';
}

/**
 * `usageMetadata` → `Usage`. Gemini's counts are cumulative (each event repeats the totals so far),
 * so callers keep the last one, never a sum. Completion includes thinking tokens, as OpenAI's does.
 */
export function mapGeminiUsage(meta: any): Usage {
  const prompt = num(meta.promptTokenCount);
  const thoughts = num(meta.thoughtsTokenCount);
  const completion = num(meta.candidatesTokenCount) + thoughts;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof meta.totalTokenCount === 'number' ? meta.totalTokenCount : prompt + completion,
  };
  if (typeof meta.cachedContentTokenCount === 'number') {
    usage.prompt_tokens_details = { cached_tokens: meta.cachedContentTokenCount };
  }
  if (typeof meta.thoughtsTokenCount === 'number') {
    usage.completion_tokens_details = { reasoning_tokens: thoughts };
  }
  return usage;
}

/**
 * `ReasoningDetail.type` of a thought signature that came on a part other than a function call (a
 * text part, or the empty text part that ends a stream), with `after` saying where that part ended.
 * Function-call signatures ride on the call instead (`extra_content.google.thought_signature`).
 */
export const GEMINI_TEXT_SIGNATURE = 'google.thought_signature';

/** What one candidate's parts add: text, thought text, whole function calls, other parts' signatures. */
export interface GeminiParts {
  text: string;
  reasoning: string;
  calls: { name: string; args: unknown; id?: string; signature?: string }[];
  /**
   * Signatures of parts that are not function calls, in order, each with the text (characters of
   * `text`) and the calls of these parts up to and including its part.
   */
  signatures: { text: number; calls: number; signature: string }[];
}

/** Reads `content.parts`, checking only the fields used. Other part kinds (inline data, code) are skipped. */
export function readParts(candidate: any, data: string): GeminiParts {
  const out: GeminiParts = { text: '', reasoning: '', calls: [], signatures: [] };
  const parts = candidate.content?.parts;
  if (parts == null) return out;
  if (!Array.isArray(parts)) throw parseError('content.parts is not an array', data);
  for (const part of parts) {
    if (part === null || typeof part !== 'object') throw parseError('a part is not an object', data);
    if (part.functionCall != null) {
      const call = part.functionCall;
      if (typeof call.name !== 'string') throw parseError('a functionCall has no name', data);
      out.calls.push({
        name: call.name,
        args: call.args ?? {},
        id: typeof call.id === 'string' && call.id !== '' ? call.id : undefined,
        signature: typeof part.thoughtSignature === 'string' ? part.thoughtSignature : undefined,
      });
    } else {
      if (part.text != null) {
        if (typeof part.text !== 'string') throw parseError('a text part is not a string', data);
        if (part.thought === true) out.reasoning += part.text;
        else out.text += part.text;
      }
      // Kept to be sent back on the part it ended ("pass it back exactly as received",
      // https://ai.google.dev/gemini-api/docs/thought-signatures): in an answer without a call, the
      // last part carries it, in a stream often an empty text part of its own.
      if (typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '') {
        out.signatures.push({
          text: out.text.length,
          calls: out.calls.length,
          signature: part.thoughtSignature,
        });
      }
    }
  }
  return out;
}

/** The `reasoning_details` entries for these parts' signatures, given the text and calls before them. */
export function signatureDetails(
  parts: GeminiParts,
  first: number,
  textBefore: number,
  callsBefore: number,
): ReasoningDetail[] {
  return parts.signatures.map((s, i) => ({
    index: first + i,
    type: GEMINI_TEXT_SIGNATURE,
    signature: s.signature,
    after: { content: textBefore + s.text, tool_calls: callsBefore + s.calls },
  }));
}

/** A Gemini call as rxllm's `ToolCall`; the thought signature rides along as Google's compat layer does. */
export function toToolCall(call: GeminiParts['calls'][number], id: string): ToolCall {
  const toolCall: ToolCall & { extra_content?: unknown } = {
    id: call.id ?? id,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args) },
  };
  if (call.signature) toolCall.extra_content = { google: { thought_signature: call.signature } };
  return toolCall;
}

/** google.rpc status names → HTTP status, for error events that carry no numeric `code`. */
const RPC_STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** Google's `{"error": {code, message, status}}` inside a 200 body → the typed `ApiError`. */
export function geminiError(value: { error: any }): ApiError {
  const e = value.error;
  const rpc = typeof e?.status === 'string' ? e.status : undefined;
  const numeric = Number(e?.code);
  const status =
    Number.isInteger(numeric) && numeric >= 400 && numeric < 600
      ? numeric
      : ((rpc && RPC_STATUS[rpc]) ?? 500);
  const message = typeof e?.message === 'string' ? e.message : typeof e === 'string' ? e : 'unknown error';
  return ApiError.fromResponse({
    status,
    body: value,
    code: rpc,
    message: `Gemini sent an error (${rpc ?? status}): ${redactAndCut(message, 300)}`,
  });
}

/** A whole `GenerateContentResponse` (from `:generateContent`) as a `ChatCompletion`. */
export function toChatCompletion(
  value: any,
  model: string,
  text: string,
  created = Math.floor(Date.now() / 1000),
): ChatCompletion {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StreamParseError('invalid-body', 'Gemini answered with a body that is not an object.', text);
  }
  const candidates = value.candidates ?? [];
  if (!Array.isArray(candidates)) throw parseError('candidates is not an array', text, 'invalid-body');
  const ids = new CallIds();
  const choices: ChatCompletionChoice[] = candidates.map((candidate: any, i: number) => {
    const parts = readParts(candidate, text);
    const choice: ChatCompletionChoice = {
      index: typeof candidate.index === 'number' ? candidate.index : i,
      message: {
        role: 'assistant',
        content: parts.text === '' && parts.calls.length > 0 ? null : parts.text,
      },
      finish_reason: null,
    };
    if (parts.reasoning) choice.message.reasoning = parts.reasoning;
    if (parts.calls.length > 0) choice.message.tool_calls = parts.calls.map((c) => toToolCall(c, ids.next()));
    if (parts.signatures.length > 0) choice.message.reasoning_details = signatureDetails(parts, 0, 0, 0);
    if (FAILED_CALLS.has(candidate.finishReason)) {
      const message =
        typeof candidate.finishMessage === 'string' ? `: ${candidate.finishMessage.slice(0, 300)}` : '';
      throw new FinishReasonError(
        candidate.finishReason,
        choice.index,
        `Gemini ended candidate ${choice.index} with ${candidate.finishReason}${message}. Retrying may help.`,
      );
    }
    if (typeof candidate.finishReason === 'string') {
      choice.finish_reason = mapGeminiFinish(candidate.finishReason, parts.calls.length > 0);
      choice.raw_finish_reason = candidate.finishReason;
    }
    return choice;
  });
  const blockReason = value.promptFeedback?.blockReason;
  if (choices.length === 0 && typeof blockReason === 'string') {
    choices.push({
      index: 0,
      message: { role: 'assistant', content: null },
      finish_reason: 'content_filter',
      raw_finish_reason: blockReason,
    });
  }
  return {
    id: typeof value.responseId === 'string' ? value.responseId : '',
    object: 'chat.completion',
    created,
    model: typeof value.modelVersion === 'string' ? value.modelVersion : model,
    choices,
    usage: value.usageMetadata != null ? mapGeminiUsage(value.usageMetadata) : null,
  };
}

export function parseError(
  what: string,
  data: string,
  type: 'invalid-event' | 'invalid-body' = 'invalid-event',
): StreamParseError {
  return new StreamParseError(type, `Gemini sent a response that rxllm cannot read: ${what}.`, data);
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}
