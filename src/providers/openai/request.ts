/**
 * Neutral `ChatRequest` → OpenAI chat-completions body. The neutral request is OpenAI's shape, so
 * only the fields other providers need are taken out: `reasoning` / `reasoning_details` of assistant
 * messages (Anthropic thinking blocks) and `cache_control` marks (Anthropic prompt caching), which
 * OpenAI-compatible servers do not know. A conversation moved here from another provider then
 * goes through unchanged otherwise.
 */
import type { ChatMessage, ChatRequest } from '../../request';

/** The body for `POST /chat/completions` (streaming fields are added by the caller). */
export function toOpenAIBody(request: ChatRequest, model: string): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model };
  body.messages = request.messages.map(cleanMessage);
  if (request.tools?.some((t) => t.cache_control !== undefined)) {
    body.tools = request.tools.map(({ cache_control: _cache, ...tool }) => tool);
  }
  return body;
}

function cleanMessage(message: ChatMessage): ChatMessage {
  let out = message;
  if (message.role === 'assistant' && ('reasoning' in message || 'reasoning_details' in message)) {
    const { reasoning: _r, reasoning_details: _d, ...rest } = message;
    out = rest;
  }
  const content = out.content;
  if (Array.isArray(content) && content.some((p) => 'cache_control' in p)) {
    out = {
      ...out,
      content: content.map((part) => {
        const { cache_control: _cache, ...rest } = part as typeof part & { cache_control?: unknown };
        return rest;
      }),
    } as ChatMessage;
  }
  return out;
}
