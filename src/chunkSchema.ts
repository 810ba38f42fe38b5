/**
 * zod schemas of the chunk wire shape (see `./chunk` for the types), public as `rxllm/schemas`. Kept
 * apart from the types so that only what validates saved chunks loads zod: `rxllm`, `rxllm/browser`
 * and `rxllm/operators` never do. zod comes through `loadZod()`, the one way rxllm loads it.
 */
import type { Chunk } from './chunk';
import { loadZod } from './lazyZod';

const { z } = loadZod();

export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

export const UsageSchema = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().optional() }).nullish(),
  completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().optional() }).nullish(),
});

export const ToolCallDeltaSchema = z.looseObject({
  index: z.number().int().nonnegative().optional(),
  id: z.string().optional(),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});

export const ChunkDeltaSchema = z.looseObject({
  role: z.enum(['assistant', 'system', 'user', 'tool', 'developer']).optional(),
  content: z.string().nullish(),
  refusal: z.string().nullish(),
  reasoning: z.string().nullish(),
  tool_calls: z.array(ToolCallDeltaSchema).optional(),
});

export const ChunkChoiceSchema = z.looseObject({
  index: z.number().int().nonnegative(),
  delta: ChunkDeltaSchema,
  finish_reason: FinishReasonSchema.nullable(),
  raw_finish_reason: z.string().optional(),
  logprobs: z.unknown().optional(),
});

export const ChunkSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number(),
  model: z.string(),
  system_fingerprint: z.string().nullish(),
  choices: z.array(ChunkChoiceSchema),
  usage: UsageSchema.nullish(),
  reset: z.object({ attempt: z.number(), reason: z.string() }).optional(),
});

/** Fully validates a saved chunk (e.g. read back from storage). Throws a `ZodError` on a bad shape. */
export function parseChunk(value: unknown): Chunk {
  return ChunkSchema.parse(value) as Chunk;
}
