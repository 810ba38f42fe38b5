export { anthropicProvider, anthropic, ANTHROPIC_DEFAULTS, type AnthropicConfig } from './provider';
export { ANTHROPIC_REQUEST_DEFAULTS, ANTHROPIC_PASSTHROUGH_FIELDS, toAnthropicBody } from './request';
export { AnthropicStreamDecoder } from './stream';
