export * from './chunk';
export * from './errors';
export * from './request';
export * from './options';
export * from './client';
export { registerProvider, getProvider, listProviders } from './providers/registry';
export type { Provider, ProviderCall } from './providers/types';
export { openAICompatible, type OpenAICompatibleConfig } from './providers/openai';
export {
  getDefaultAgent,
  setDefaultAgent,
  createAgent,
  AGENT_DEFAULTS,
  type AgentOptions,
} from './transport/agent';
export { ReusePool, type ReusePoolOptions } from './transport/pool';
export { redactSecrets, redactHeaders } from './redact';
export * from './logger';
export * from './batch';
export * from './rateLimit/limiter';
export * from './rateLimit/store';
export {
  sendSse,
  toSseEvents,
  errorEvent,
  SEND_SSE_DEFAULTS,
  SSE_HEADERS,
  TO_SSE_EVENTS_DEFAULTS,
  type SendSseResult,
  type ToSseEventsConfig,
  type SendSseConfig,
  type SseResponseLike,
  type SseMessageEvent,
} from './serve/sseServer';
export { fetchSse, type FetchSseInit } from './serve/fetchSse';
export { anthropicProvider, ANTHROPIC_DEFAULTS, type AnthropicConfig } from './providers/anthropic';
export { geminiProvider, GEMINI_DEFAULTS, type GeminiConfig } from './providers/gemini';
export { TRANSPORT_TIMEOUT_DEFAULTS } from './transport/http';
export {
  errorFrame,
  errorFromFrame,
  isErrorFrame,
  type ErrorFrame,
  type ErrorFrameBody,
} from './serve/errorFrame';
export {
  fromWebSocket,
  bearerProtocol,
  CHAT_SOCKET_PROTOCOL,
  type FromWebSocketInit,
  type WebSocketLike,
} from './serve/fromWebSocket';
export {
  serveChatSocket,
  SERVE_CHAT_SOCKET_DEFAULTS,
  type ChatSocketLike,
  type ChatSocketClientMessage,
  type ChatSocketServerMessage,
  type ServeChatSocketOptions,
} from './serve/chatSocket';
export {
  prepareChat,
  observeChunks,
  type ChatServiceOptions,
  type ModelResolver,
  type PreparedChat,
  type StreamStats,
} from './serve/chatRequest';
export {
  chatCompletionsHandler,
  formatAccessLog,
  readJsonBody,
  CHAT_COMPLETIONS_DEFAULTS,
  type AccessLogEntry,
  type ChatCompletionsHandlerOptions,
} from './serve/chatCompletions';
export { startGateway, GATEWAY_DEFAULTS, type Gateway, type GatewayOptions } from './serve/gateway';
export { pausableUpstream, type FlowControl, type PausableUpstream } from './serve/upstreamFlow';
