// Barrel of rxllm/browser: what a front end needs, without Node APIs or undici.
export * from './chunk';
export * from './errors';
export { fetchSse, type FetchSseInit, type JsonBody } from './serve/fetchSse';
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
export { RECONNECT_DEFAULTS, type ReconnectConfig } from './serve/reconnect';
