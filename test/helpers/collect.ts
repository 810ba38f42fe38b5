import type { Observable } from 'rxjs';
import type { Chunk, Usage } from '../../src';

export interface Collected<T> {
  values: T[];
  error?: unknown;
  completed: boolean;
}

/** Subscribes and resolves when the observable errors or completes. */
export function collect<T>(source: Observable<T>): Promise<Collected<T>> {
  return new Promise((resolve) => {
    const values: T[] = [];
    source.subscribe({
      next: (v) => values.push(v),
      error: (error) => resolve({ values, error, completed: false }),
      complete: () => resolve({ values, completed: true }),
    });
  });
}

/** What the chunks of choice 0 say, joined: what a user rebuilding the stream by hand would see. */
export function summarize(chunks: Chunk[]) {
  let text = '';
  let reasoning = '';
  let refusal = '';
  let finish: string | null = null;
  let usage: Usage | null = null;
  const toolFragments: string[] = [];
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      text += choice.delta.content ?? '';
      reasoning += choice.delta.reasoning ?? '';
      refusal += choice.delta.refusal ?? '';
      for (const tc of choice.delta.tool_calls ?? []) toolFragments.push(tc.function?.arguments ?? '');
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, reasoning, refusal, finish, usage, toolArguments: toolFragments.join('') };
}

export const REQUEST = {
  model: 'compat/test-model' as const,
  messages: [{ role: 'user' as const, content: 'hi' }],
};
