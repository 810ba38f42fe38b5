export * from './chunk';
export * from './errors';
// Not re-exported: splitModel and mergeOptions (internal plumbing of stream/createClient).
// The zod schemas are in rxllm/schemas (importing them loads zod; rxllm does not).
export {
  validateRequest,
  MAX_CHOICES,
  type ChatMessage,
  type ChatTool,
  type ChatRequest,
  type ModelName,
} from './request';
export type { TransportTimeouts, RateLimitInfo, ResponseMeta, CallOptions, ClientOptions } from './options';
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
export {
  submitBatch,
  resumeBatch,
  SUBMIT_BATCH_DEFAULTS,
  type BatchEvent,
  type BatchCounts,
  type BatchState,
  type ProviderBatchRequest,
  type SubmitBatchOptions,
  type ResumeBatchOptions,
} from './providerBatch/submit';
export { batchCost } from './cost/batchCost';
export * from './rateLimit/limiter';
export * from './rateLimit/store';
export * from './rateLimit/estimate';
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
export { fetchSse, type FetchSseInit, type JsonBody } from './serve/fetchSse';
export { anthropicProvider, ANTHROPIC_DEFAULTS, type AnthropicConfig } from './providers/anthropic';
export { geminiProvider, GEMINI_DEFAULTS, type GeminiConfig } from './providers/gemini';
export { TRANSPORT_TIMEOUT_DEFAULTS } from './transport/http';
export { cost, findPrice, setPrice, clearPrices, type CostBreakdown } from './cost/cost';
export {
  MODEL_PRICES,
  PRICES_CHECKED,
  BATCH_DISCOUNTS,
  BATCH_PRICES_CHECKED,
  type ModelPrice,
} from './cost/prices';
export { createMemoryBudgetStore, type BudgetStore, type BudgetReservation } from './cost/budgetStore';
export { estimateRequestCost, DEFAULT_OUTPUT_TOKENS, type CostedRequest } from './cost/estimate';
export * from './router';
export { TRANSPORT_LIMIT_DEFAULTS } from './transport/limits';
export type { ProxyOptions } from './transport/proxy';
export {
  openAIResponsesProvider,
  OPENAI_RESPONSES_DEFAULTS,
  type OpenAIResponsesConfig,
} from './providers/openai-responses';
export { ollamaProvider, OLLAMA_DEFAULTS, type OllamaConfig } from './providers/ollama';
export { azureProvider, AZURE_DEFAULTS, type AzureConfig } from './providers/azure';
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
export {
  startGateway,
  GATEWAY_DEFAULTS,
  type Gateway,
  type GatewayOptions,
  type GatewayRoute,
} from './serve/gateway';
export {
  parseGatewayConfig,
  loadGatewayConfig,
  type GatewayConfig,
  type GatewayKeySpec,
} from './serve/config';
export type {
  GatewayConfigFile,
  GatewayModelEntry,
  GatewayDeploymentParams,
  GatewayRouterSettings,
  GatewayKeyEntry,
  GatewayFallbacks,
  GatewayBudgetEntry,
} from './serve/configFile';
export type { GatewayBudgetLimits } from './serve/configBudgets';
export type { BudgetLimit } from './serve/configChecker';
export type { GatewayBudgets } from './serve/gatewaySpend';
export type { SpendLimit, SpendRefusal } from './serve/spend';
export { createKeyRing, type KeyRing, type GatewayKey, type KeyRefusal } from './serve/keys';
export { createGatewayMetrics, METRICS_BUCKETS, type GatewayMetrics } from './serve/metrics';
export {
  checkReadiness,
  upstreamProbes,
  READINESS_DEFAULTS,
  type Readiness,
  type UpstreamProbe,
} from './serve/health';
export { startConfiguredGateway, type ConfiguredGatewayOptions } from './serve/configuredGateway';
export { HTTP_LIMITS_DEFAULTS, type HttpLimitsConfig } from './serve/httpLimits';
export { MAX_REQUEST_DEPTH } from './requestLimits';
export { pausableUpstream, type FlowControl, type PausableUpstream } from './serve/upstreamFlow';
export {
  RESUME_DEFAULTS,
  type ResumeStore,
  type ResumeEnd,
  type ResumeEvent,
  type ResumeBatch,
  type ResumeReadOptions,
} from './resume/store';
export {
  createMemoryResumeStore,
  MEMORY_RESUME_STORE_DEFAULTS,
  type MemoryResumeStoreOptions,
} from './resume/memoryStore';
export { resume, resumeEvents, stop, defaultResumeStore, type ResumeOptions } from './resume/replay';
export { resumeHandler, matchResumeRoute } from './serve/resumeRoutes';
export { STREAM_ID_HEADER, type ResumeServeOptions } from './serve/resumeOptions';
export { RECONNECT_DEFAULTS, type ReconnectConfig } from './serve/reconnect';
