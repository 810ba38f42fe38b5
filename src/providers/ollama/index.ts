export { ollamaProvider, OLLAMA_DEFAULTS, hostURL, type OllamaConfig } from './provider';
export { toOllamaBody, OLLAMA_PASSTHROUGH_FIELDS } from './request';
export { OllamaStreamDecoder } from './stream';
