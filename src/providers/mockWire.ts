/**
 * How the mock server speaks one provider's wire format: OpenAI-shaped chunks (what a script
 * renders to) → that provider's stream pieces, in-band error event, HTTP error body and whole
 * answer. Each provider folder holds its own (`src/providers/<name>/mockWire.ts`).
 *
 * This file sits below both the provider folders and `src/testing/` (the mock server), so the
 * arrow points one way: testing imports the providers, never the reverse (`npm run depcheck`).
 */
import type { ChatCompletion, Chunk } from '../chunk';

export interface MockWireFormat {
  /** Name used in logs and in `MockRequest.format`. */
  readonly name: string;
  /** `content-type` of a streamed answer. */
  readonly contentType: string;
  /** Stream pieces (one SSE event or NDJSON line each) for these chunks; `finished` adds the end. */
  encode(chunks: Chunk[], finished: boolean): string[];
  /** A piece carrying an error inside a 200 stream. */
  inBandError(error: { message?: unknown; type?: unknown; code?: unknown; [k: string]: unknown }): string;
  /** A piece that is not valid JSON. */
  readonly malformed: string;
  /** The provider's error body for an HTTP status. */
  errorBody(status: number, message: string): unknown;
  /** The provider's non-streamed answer. */
  completion(completion: ChatCompletion): unknown;
  /** What a POST to `path` (query removed) asks, when the path is this format's route. */
  route(path: string, body: any): MockRouteMatch | undefined;
  /**
   * Strict mode: what the provider's real API rejects, checked in order; the first refusal is sent
   * (each format's rules sit beside it, in `src/providers/<name>/mockRules.ts`).
   */
  readonly rules?: readonly MockRule[];
  /**
   * Strict mode: when a request ends with an assistant message that the imitated server does not
   * continue, the text of that message. A model asked anew restates its answer, so the mock answers
   * that text followed by the script's: a client that appends the reply to the partial message shows
   * the text twice, as it would against the real server.
   */
  restatedPrefix?(body: any, context: MockRuleContext): string | undefined;
}

/** Which OpenAI-compatible server the chat route imitates (their rules and continuation flags differ). */
export type MockOpenAICompat = 'openai' | 'deepseek' | 'vllm';

/** What a rule sees besides the body. */
export interface MockRuleContext {
  /** Path without the query, e.g. `/v1/chat/completions`. */
  path: string;
  /** Lower-case request headers. */
  headers: Record<string, string>;
  /** The OpenAI-compatible server imitated on the chat route. */
  openaiCompat: MockOpenAICompat;
}

/** A refusal: the status and error body the real API sends for this request. */
export interface MockRejection {
  status: number;
  body: unknown;
}

/** One rule of a provider: the refusal for a request the real API rejects, else `undefined`. */
export type MockRule = (body: any, context: MockRuleContext) => MockRejection | undefined;

/** A request matched to a wire format's route. */
export interface MockRouteMatch {
  /** The request asks for a stream. */
  streaming: boolean;
  /** The model the request names. */
  model: string | undefined;
  /** The request's messages as `{ role, content }`, for prompt-token estimates and the default script. */
  messages: unknown[];
}

/** `value` when it is a plain object, else `{}` (rules read untrusted bodies). */
export function record(value: unknown): Record<string, any> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as any) : {};
}

/** `value` when it is an array, else `[]`. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The body's `model` when it is a string. */
export function modelOf(body: any): string | undefined {
  return typeof body?.model === 'string' ? body.model : undefined;
}

/** `data: <json>\n\n`, with an `event:` line when a type is given. */
export function sseEvent(value: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(value)}\n\n`;
}

/** The error message of an in-band script error. */
export function messageOf(error: { message?: unknown }): string {
  return typeof error.message === 'string' ? error.message : 'Mock error';
}
