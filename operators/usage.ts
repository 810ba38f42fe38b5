import type { OperatorFunction } from 'rxjs';
import type { Chunk, Usage } from '../src/chunk';
import { sumUsage } from '../src/cost/sumUsage';
import { linkedSubscriber, operate } from './internal/operate';
import { isStepStart } from './internal/stepStart';

/**
 * The final token usage, emitted once when the source completes: the last non-null `usage` of the
 * stream (providers report cumulative values, so it is never summed), or `null` when the provider
 * reported none, so a missing usage is visible instead of a silent 0. A reset chunk discards the usage
 * seen before it. After a `toolLoop`, each step is a call of its own: the steps' usages are summed
 * (every detail kept), as the loop's `finish` event does. (Named `usage` like the chunk field; the
 * type is `Usage`.)
 *
 * ```
 * source: --a--b--u--|     u: usage-only chunk { total_tokens: 44 }
 * result: -----------(U|)  U: { prompt_tokens: 14, completion_tokens: 30, total_tokens: 44 }
 * source: --a--b--|
 * result: --------(N|)     N: null (none reported)
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { usage } from 'rxllm/operators';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { includeUsage: true })
 *   .pipe(usage())
 *   .subscribe((u) => console.log(u ? `${u.total_tokens} tokens` : 'usage not reported by the provider'));
 */
export function usage(): OperatorFunction<Chunk, Usage | null> {
  return operate<Chunk, Usage | null>((source, subscriber) => {
    let last: Usage | null = null;
    /** The usage of a loop's steps before the current one. */
    let steps: Usage | null = null;
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          if (chunk.reset !== undefined) last = null;
          else if (chunk.usage != null) last = chunk.usage;
          else if (last && isStepStart(chunk)) {
            steps = steps ? sumUsage(steps, last) : last;
            last = null;
          }
        },
        complete: () => {
          subscriber.next(steps && last ? sumUsage(steps, last) : (last ?? steps));
          subscriber.complete();
        },
      }),
    );
  });
}
