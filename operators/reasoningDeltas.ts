import type { OperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { choiceOf, deltaStrings, type TextDeltasConfig } from './textDeltas';

/**
 * The reasoning/thinking deltas of one choice (DeepSeek `reasoning_content`, Anthropic thinking,
 * Gemini thoughts) as strings: null-safe, empty deltas skipped. Never mixed with the text.
 *
 * ```
 * source: --a--b--c--|    a: reasoning "Let", b: reasoning " me", c: content "Hi"
 * result: --A--B-----|    A: "Let", B: " me"
 * ```
 *
 * @example
 * import { reasoningDeltas } from 'rxllm/operators';
 * stream(request).pipe(reasoningDeltas()).subscribe((thought) => showThinking(thought));
 */
export function reasoningDeltas(config: TextDeltasConfig = {}): OperatorFunction<Chunk, string> {
  return deltaStrings(choiceOf('reasoningDeltas', config), (d) => d.reasoning);
}
