import type { OperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { linkedSubscriber, operate } from './internal/operate';

export interface TextDeltasConfig {
  /** Which choice to read (n > 1). @defaultValue 0 */
  choice?: number;
}

/** Defaults of {@link textDeltas}, {@link reasoningDeltas} and `collectText`. */
export const TEXT_DELTAS_DEFAULTS = { choice: 0 } as const satisfies TextDeltasConfig;

/** Validates the shared `{ choice }` config; throws a `TypeError` naming the operator. */
export function choiceOf(operator: string, config: TextDeltasConfig): number {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`${operator}: config must be an object, got ${String(config)}.`);
  }
  const { choice = TEXT_DELTAS_DEFAULTS.choice } = config;
  if (!Number.isInteger(choice) || choice < 0) {
    throw new TypeError(`${operator}: choice must be a non-negative integer, got ${String(choice)}.`);
  }
  return choice;
}

/** Emits `pick(delta)` of one choice for every chunk where it is a non-empty string. */
export function deltaStrings(
  choice: number,
  pick: (chunk: Chunk['choices'][number]['delta']) => string | null | undefined,
): OperatorFunction<Chunk, string> {
  return operate<Chunk, string>((source, subscriber) => {
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          for (const c of chunk.choices) {
            if (c.index !== choice || !c.delta) continue;
            const text = pick(c.delta) ?? '';
            if (text !== '') subscriber.next(text);
          }
        },
      }),
    );
  });
}

/**
 * The text deltas of one choice as strings: null-safe (`content ?? ''`), empty deltas skipped.
 * Reasoning and refusals are not text. A reset chunk emits nothing (a string cannot be taken back;
 * use `accumulateChunks({ emit: 'snapshots' })` to render across restarts).
 *
 * ```
 * source: --a--b--c--d--|    a: role only, b: "Hel", c: content null, d: "lo"
 * result: -----B-----D--|    B: "Hel", D: "lo"
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { textDeltas } from 'rxllm/operators';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).pipe(textDeltas()).subscribe((text) => process.stdout.write(text));
 */
export function textDeltas(config: TextDeltasConfig = {}): OperatorFunction<Chunk, string> {
  return deltaStrings(choiceOf('textDeltas', config), (d) => d.content);
}
