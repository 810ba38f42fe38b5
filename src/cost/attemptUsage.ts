/**
 * What one attempt of a call received and reported, and the usage it was billed for: the provider's
 * final report, else an estimate. Shared by `trackUsage` (an attempt is the chunks between two resets)
 * and the router (an attempt it left before passing anything on, which the provider billed all the same).
 */
import type { ChatCompletion, Chunk, Usage } from '../chunk';
import { estimateUsage, TextTokenCounter, type CostedRequest } from './estimate';

export class AttemptUsage {
  chars = 0;
  chunks = 0;
  readonly output = new TextTokenCounter();
  readonly reasoning = new TextTokenCounter();
  /** The last usage reported, and whether it was the provider's final report. */
  usage: Usage | null = null;
  final = false;
  partial: Usage | null = null;

  /** Counts a text piece (no closure per chunk: this runs on every streamed chunk). */
  private take(text: unknown, counter: TextTokenCounter): void {
    if (typeof text !== 'string') return;
    this.chars += text.length;
    counter.add(text);
  }

  observe(value: Chunk | ChatCompletion): void {
    this.chunks++;
    if (value.object === 'chat.completion') {
      for (const c of value.choices ?? []) {
        this.take(c.message?.content, this.output);
        this.take(c.message?.reasoning, this.reasoning);
        this.take(c.message?.refusal, this.output);
        for (const t of c.message?.tool_calls ?? []) this.take(t.function?.arguments, this.output);
      }
      // A whole completion: its usage is the final report.
      if (value.usage != null) {
        this.usage = value.usage;
        this.final = true;
      }
      return;
    }
    const choices = value.choices ?? [];
    for (let i = 0; i < choices.length; i++) {
      const delta = choices[i].delta;
      if (!delta) continue;
      this.take(delta.content, this.output);
      this.take(delta.reasoning, this.reasoning);
      this.take(delta.refusal, this.output);
      const calls = delta.tool_calls;
      if (calls) for (let j = 0; j < calls.length; j++) this.take(calls[j].function?.arguments, this.output);
    }
    if (value.partial_usage) this.partial = value.partial_usage;
    // Providers send their final usage on a usage-only last chunk; a usage on a chunk with choices
    // (vLLM's continuous usage) is cumulative so far, final only if the stream then completes.
    if (value.usage != null) {
      this.usage = value.usage;
      this.final = value.choices.length === 0;
    }
  }

  /** The attempt's usage: the final report, else an estimate; `completed` makes the last report final. */
  settle(
    completed: boolean,
    request: CostedRequest | undefined,
  ): { usage: Usage | null; estimated: boolean } {
    if (this.usage && (this.final || completed)) return { usage: this.usage, estimated: false };
    if (this.chunks === 0) return { usage: null, estimated: false };
    const usage = estimateUsage(this.usage ?? this.partial, request, {
      output: this.output.tokens,
      reasoning: this.reasoning.tokens,
    });
    return { usage, estimated: usage !== null };
  }
}
