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
 * import { stream } from 'rxllm';
 * import { reasoningDeltas } from 'rxllm/operators';
 * stream({
 *   model: 'mock/r1',
 *   messages: [{ role: 'user', content: 'Why?' }],
 *   mock_response: { reasoning: 'Let me think', text: 'Because.' },
 * })
 *   .pipe(reasoningDeltas())
 *   .subscribe((thought) => console.log('thinking:', thought));
 */
export function reasoningDeltas(config: TextDeltasConfig = {}): OperatorFunction<Chunk, string> {
  return deltaStrings(choiceOf('reasoningDeltas', config), (d) => d.reasoning);
}
