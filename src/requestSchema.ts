/**
 * zod schemas of the provider-neutral chat request (types and `validateRequest` in `./request`).
 * They are built, and zod loaded, on first use (`requestSchemas()`): the first validation or an
 * import of `rxllm/schemas`, never an import of `rxllm` (zod is most of its start-up cost).
 */
import type { ZodUnion } from 'zod/v4';
import { loadZod } from './lazyZod';
import { MAX_CHOICES } from './requestLimits';

function build() {
  const { z } = loadZod();

  /**
   * Anthropic prompt caching marker (`{ type: 'ephemeral', ttl?: '5m' | '1h' }`), allowed on text and
   * image parts and on tools. Sent to Anthropic as is; dropped for providers that have no such field.
   */
  const CacheControlSchema = z.looseObject({ type: z.string() });

  const TextPart = z.object({
    type: z.literal('text'),
    text: z.string(),
    cache_control: CacheControlSchema.optional(),
  });
  const ImagePart = z.object({
    type: z.literal('image_url'),
    image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }),
    cache_control: CacheControlSchema.optional(),
  });

  /**
   * A reasoning block to send back as it came (see `ReasoningDetail` in chunk.ts). Loose, and any
   * `type`: OpenAI-compatible gateways (OpenRouter) stream their own `reasoning_details` that must
   * survive the round trip too; each provider sends back only the types it knows.
   */
  const ReasoningDetailSchema = z.looseObject({
    index: z.number().int().nonnegative().optional(),
    type: z.string(),
    text: z.string().optional(),
    signature: z.string().optional(),
    data: z.string().optional(),
  });
  const ContentPart = z.union([TextPart, ImagePart]);

  // Loose: provider extras on a call (Gemini's `extra_content.google.thought_signature`) must survive
  // a round trip, or the next turn of a tool loop is rejected.
  const ToolCallSchema = z.looseObject({
    id: z.string(),
    type: z.literal('function'),
    function: z.object({ name: z.string(), arguments: z.string() }),
  });

  // Declared as the union it is (same output type): zod 4.1 gave ZodDiscriminatedUnion a second type
  // argument, and the declarations rxllm publishes must compile with every zod of the peer range.
  const messageKinds = [
    z.object({
      role: z.literal('system'),
      content: z.union([z.string(), z.array(TextPart)]),
      name: z.string().optional(),
    }),
    z.object({
      role: z.literal('developer'),
      content: z.union([z.string(), z.array(TextPart)]),
      name: z.string().optional(),
    }),
    z.object({
      role: z.literal('user'),
      content: z.union([z.string(), z.array(ContentPart)]),
      name: z.string().optional(),
    }),
    z.object({
      role: z.literal('assistant'),
      content: z.union([z.string(), z.array(TextPart)]).nullish(),
      refusal: z.string().nullish(),
      // What accumulateChunks built, pushed back as it is: `reasoning` is informative only (never
      // sent), `reasoning_details` goes back to the provider that made it (Anthropic thinking blocks).
      reasoning: z.string().nullish(),
      reasoning_details: z.array(ReasoningDetailSchema).optional(),
      tool_calls: z.array(ToolCallSchema).optional(),
      name: z.string().optional(),
      // DeepSeek's prefix completion: the model continues this (last) message instead of answering
      // anew; beta endpoint only (https://api-docs.deepseek.com/guides/chat_prefix_completion).
      prefix: z.boolean().optional(),
    }),
    z.object({
      role: z.literal('tool'),
      content: z.union([z.string(), z.array(TextPart)]),
      tool_call_id: z.string(),
      // The content is an error (a tool that threw, refused arguments): Anthropic's `is_error`, Gemini's
      // `response.error`; chat-completions servers and the Responses API have no such flag and get the
      // text alone (see each provider's request.ts).
      is_error: z.boolean().optional(),
    }),
  ] as const;
  const MessageSchema: ZodUnion<typeof messageKinds> = z.discriminatedUnion('role', messageKinds);

  const ToolSchema = z.object({
    type: z.literal('function'),
    function: z.object({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'tool names are 1-64 letters, digits, _ or -'),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
    cache_control: CacheControlSchema.optional(),
  });

  const ToolChoiceSchema = z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  ]);

  const ResponseFormatSchema = z.union([
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object({
        name: z.string(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullish(),
        description: z.string().optional(),
      }),
    }),
  ]);

  /** `provider/model`, e.g. `openai/gpt-4o-mini`, `mock/echo`. */
  const ModelNameSchema = z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]*\/.+$/i, 'model must be "provider/model", e.g. "openai/gpt-4o-mini"');

  /**
   * Unknown top-level fields are kept and sent as they are, so provider-specific parameters
   * (`reasoning_effort`, `logit_bias`, ...) need no release of rxllm.
   */
  const ChatRequestSchema = z.looseObject({
    model: ModelNameSchema,
    messages: z.array(MessageSchema).min(1, 'messages must hold at least one message'),
    tools: z.array(ToolSchema).optional(),
    tool_choice: ToolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    n: z.number().int().min(1).max(MAX_CHOICES, `n must be at most ${MAX_CHOICES} (MAX_CHOICES)`).optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
    seed: z.number().int().optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    response_format: ResponseFormatSchema.optional(),
    user: z.string().optional(),
  });

  return {
    MessageSchema,
    ToolSchema,
    ToolChoiceSchema,
    ResponseFormatSchema,
    ModelNameSchema,
    ChatRequestSchema,
  };
}

/** The request schemas `rxllm/schemas` exports (`ChatRequestSchema`, `MessageSchema`, ...), by name. */
export type RequestSchemas = ReturnType<typeof build>;

let schemas: RequestSchemas | undefined;

/** The request schemas, built once, on the first call. */
export function requestSchemas(): RequestSchemas {
  return (schemas ??= build());
}
