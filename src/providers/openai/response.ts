/** A non-streaming chat completion body → `ChatCompletion`, with the same dialect fixes as the stream. */
import type { ChatCompletion } from '../../chunk';
import { StreamParseError } from '../../errors';
import { inBandError } from '../../inBandError';
import { FINISH_REASONS, mapFinishReason } from './stream';

/** A non-streaming answer → `ChatCompletion`, with the same dialect fixes as the stream. */
export function toCompletion(value: any, text: string): ChatCompletion {
  if (value?.error != null) throw inBandError(value);
  if (!value || !Array.isArray(value.choices)) {
    throw new StreamParseError('invalid-body', 'The provider answered without a choices array.', text);
  }
  for (const choice of value.choices) {
    const message = choice.message ?? (choice.message = { role: 'assistant', content: null });
    if (message.reasoning_content !== undefined) {
      if (message.reasoning == null) message.reasoning = message.reasoning_content;
      delete message.reasoning_content;
    }
    if (choice.finish_reason != null && !FINISH_REASONS.has(choice.finish_reason)) {
      choice.raw_finish_reason = String(choice.finish_reason);
      choice.finish_reason = mapFinishReason(String(choice.finish_reason));
    }
    if (choice.finish_reason === undefined) choice.finish_reason = null;
  }
  value.object = 'chat.completion';
  if (value.usage === undefined) value.usage = null;
  return value as ChatCompletion;
}
