/** The chunk the resume benches store: a typical OpenAI chunk of a few characters (what a gateway stores). */
import type { Chunk } from '../../src';

export const benchChunk = (i: number): Chunk => ({
  id: 'chatcmpl-bench0123456789abcdef',
  object: 'chat.completion.chunk',
  created: 1733500000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, delta: { content: ` w${i % 1000}` }, finish_reason: null }],
});
