// Barrel of rxllm/schemas: the zod schemas of chunks and requests (loading it loads zod).
export * from './chunkSchema';
export * from './requestSchema';
