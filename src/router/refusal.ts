/**
 * Refusals that arrive as a successful answer: Gemini's `finishReason: SAFETY` (and its other filter
 * reasons), Anthropic's `stop_reason: refusal` and OpenAI's `finish_reason: content_filter` all reach a
 * subscriber as `finish_reason: 'content_filter'` in a 200 stream (see each provider's decoder).
 */
import type { ChatCompletion, Chunk } from '../chunk';

/** The index of the first choice the model's filter ended, `undefined` when none. */
export function refusalOf(value: Chunk | ChatCompletion): number | undefined {
  return value.choices.find((c) => c.finish_reason === 'content_filter')?.index;
}

/**
 * A chunk that says nothing yet: every choice has a role at most (empty or null fields), no finish
 * reason, and the chunk has no usage. OpenAI-compatible servers open every stream with one.
 */
export function isEmptyLead(chunk: Chunk): boolean {
  if (chunk.choices.length === 0 || chunk.usage != null || chunk.reset !== undefined) return false;
  return chunk.choices.every(
    (c) =>
      c.finish_reason == null &&
      Object.entries(c.delta).every(
        ([key, v]) => key === 'role' || v == null || v === '' || (Array.isArray(v) && v.length === 0),
      ),
  );
}
