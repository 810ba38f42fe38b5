export { openAICompatible, USER_AGENT, type OpenAICompatibleConfig } from './provider';
export { OpenAIStreamDecoder, mapFinishReason, FINISH_REASONS } from './stream';
export { toCompletion } from './response';
export { toOpenAIBody } from './request';
