/**
 * Which wire format a mock-server request speaks, from its path: OpenAI chat (`/chat/completions`,
 * Azure's deployment route included), the Responses API (`/responses`), Anthropic (`/messages`),
 * Gemini (`/models/<m>:streamGenerateContent` / `:generateContent`) and Ollama (`/api/chat`).
 */
import { anthropicMockWire } from '../providers/anthropic/mockWire';
import { geminiMockWire } from '../providers/gemini/mockWire';
import { ollamaMockWire } from '../providers/ollama/mockWire';
import { openAIMockWire } from '../providers/openai/mockWire';
import { responsesMockWire } from '../providers/openai-responses/mockWire';
import type { MockWireFormat } from './wire';

export interface WireRoute {
  wire: MockWireFormat;
  /** The request asks for a stream. */
  streaming: boolean;
  /** The model the request names (Gemini names it in the path). */
  model: string | undefined;
  /** The request's messages, for prompt-token estimates and the default script. */
  messages: unknown[];
}

/** The route for a POST to `path` (query already removed), or `undefined` for no known route. */
export function wireRoute(path: string, body: any): WireRoute | undefined {
  const model = typeof body?.model === 'string' ? body.model : undefined;
  const list = (value: unknown) => (Array.isArray(value) ? value : []);
  if (/(^|\/)chat\/completions$/.test(path)) {
    return { wire: openAIMockWire, streaming: body?.stream === true, model, messages: list(body?.messages) };
  }
  if (/(^|\/)responses$/.test(path)) {
    const input =
      typeof body?.input === 'string' ? [{ role: 'user', content: body.input }] : list(body?.input);
    return { wire: responsesMockWire, streaming: body?.stream === true, model, messages: input };
  }
  if (/(^|\/)messages$/.test(path)) {
    return {
      wire: anthropicMockWire,
      streaming: body?.stream === true,
      model,
      messages: list(body?.messages),
    };
  }
  const gemini = /(?:^|\/)models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(path);
  if (gemini) {
    const messages = list(body?.contents).map((c: any) => ({
      role: c?.role === 'model' ? 'assistant' : 'user',
      content: list(c?.parts)
        .map((p: any) => (typeof p?.text === 'string' ? p.text : ''))
        .join(''),
    }));
    return {
      wire: geminiMockWire,
      streaming: gemini[2] === 'streamGenerateContent',
      model: decodeURIComponent(gemini[1]),
      messages,
    };
  }
  if (/(^|\/)api\/chat$/.test(path)) {
    // Ollama streams unless the request says `stream: false`.
    return { wire: ollamaMockWire, streaming: body?.stream !== false, model, messages: list(body?.messages) };
  }
  return undefined;
}
