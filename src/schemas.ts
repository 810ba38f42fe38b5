// Barrel of rxllm/schemas: the zod schemas of chunks and requests (importing it loads zod).
import { requestSchemas } from './requestSchema';

export type { RequestSchemas } from './requestSchema';

export * from './chunkSchema';
export const {
  MessageSchema,
  ToolSchema,
  ToolChoiceSchema,
  ResponseFormatSchema,
  ModelNameSchema,
  ChatRequestSchema,
} = requestSchemas();
