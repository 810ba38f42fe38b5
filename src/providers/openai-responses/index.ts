export { openAIResponsesProvider, OPENAI_RESPONSES_DEFAULTS, type OpenAIResponsesConfig } from './provider';
export { toResponsesBody, RESPONSES_PASSTHROUGH_FIELDS } from './request';
export { ResponsesStreamDecoder } from './stream';
export { toChatCompletion as responsesToChatCompletion } from './response';
