import type { OperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { linkedSubscriber, operate } from './internal/operate';
import { choiceOf, type TextDeltasConfig } from './textDeltas';

/**
 * The whole text of one choice, emitted once when the source completes (`''` when there was none).
 * A reset chunk discards the text collected before it. Linear: parts are joined once at the end.
 *
 * ```
 * source: --a--b--c--|    a: "Hel", b: content null, c: "lo"
 * result: -----------(H|) H: "Hello"
 * ```
 *
 * @example
 * import { lastValueFrom } from 'rxjs';
 * import { stream } from 'rxllm';
 * import { collectText } from 'rxllm/operators';
 * const answer = await lastValueFrom(stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).pipe(collectText()));
 */
export function collectText(config: TextDeltasConfig = {}): OperatorFunction<Chunk, string> {
  const choice = choiceOf('collectText', config);
  return operate<Chunk, string>((source, subscriber) => {
    let parts: string[] = [];
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          if (chunk.reset !== undefined) parts = [];
          for (const c of chunk.choices) {
            const text = c.index === choice ? c.delta?.content : undefined;
            if (text) parts.push(text);
          }
        },
        complete: () => {
          subscriber.next(parts.join(''));
          subscriber.complete();
        },
      }),
    );
  });
}
