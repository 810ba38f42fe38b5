export { geminiProvider, GEMINI_DEFAULTS, type GeminiConfig } from './provider';
export { GeminiStreamDecoder } from './stream';
export { toGeminiBody, toJsonSchema, GEMINI_PASSTHROUGH_FIELDS } from './request';
