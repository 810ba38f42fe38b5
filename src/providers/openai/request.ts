/**
 * Neutral `ChatRequest` → OpenAI chat-completions body. The neutral request is OpenAI's shape, so
 * only the fields other providers need are taken out: `reasoning` and Anthropic's thinking blocks in
 * `reasoning_details` of assistant messages, `is_error` of tool messages (a tool message is `role`,
 * `content`, `tool_call_id` only: the error is in the text), and `cache_control` marks (Anthropic
 * prompt caching), which OpenAI-compatible servers do not know. A conversation moved here from another provider then
 * goes through unchanged otherwise.
 *
 * Servers that want their reasoning back (DeepSeek's thinking mode) get `reasoning` as
 * `reasoning_content` instead (see {@link toOpenAIBody}'s `reasoningContent`).
 */
import type { ChatMessage, ChatRequest } from '../../request';

/**
 * The body for `POST /chat/completions`. Streaming adds `stream: true` and, when `includeUsage`,
 * `stream_options.include_usage`; a non-streaming body has neither.
 *
 * `reasoningContent`: assistant messages carry their `reasoning` back as `reasoning_content`, and an
 * assistant message with tool calls but no reasoning carries `reasoning_content: ""`. DeepSeek's
 * thinking mode refuses a request whose assistant tool-call messages lack the field ("must be passed
 * back to the API in all subsequent requests", https://api-docs.deepseek.com/guides/thinking_mode,
 * "tool calls"), and ignores it on other messages; the empty string is what clients send for a turn
 * that has no reasoning to give back (continuedev/continue#11290, anomalyco/opencode#24150). Other
 * servers refuse the unknown field (Cerebras: "property 'messages.2.assistant.reasoning_content' is
 * unsupported", Kilo-Org/kilocode#10375; a LiteLLM proxy on Bedrock: 422, earendil-works/pi#5477),
 * so it is off unless the provider says so.
 */
export function toOpenAIBody(
  request: ChatRequest,
  model: string,
  streaming = false,
  includeUsage = true,
  reasoningContent = false,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model };
  body.messages = request.messages.map((m) => cleanMessage(m, reasoningContent));
  if (request.tools?.some((t) => t.cache_control !== undefined)) {
    body.tools = request.tools.map(({ cache_control: _cache, ...tool }) => tool);
  }
  if (streaming) {
    body.stream = true;
    if (includeUsage) {
      body.stream_options = { ...(request.stream_options as object | undefined), include_usage: true };
    }
  } else {
    delete body.stream;
    delete body.stream_options;
  }
  return body;
}

/**
 * Reasoning blocks of Anthropic, of the Responses API and Gemini's text-part thought signatures:
 * meaningless to a chat-completions server.
 */
const FOREIGN_DETAILS = new Set([
  'thinking',
  'redacted_thinking',
  'openai.reasoning',
  'google.thought_signature',
]);

function cleanMessage(message: ChatMessage, reasoningContent: boolean): ChatMessage {
  let out = message;
  if (message.role === 'assistant' && ('reasoning' in message || 'reasoning_details' in message)) {
    const { reasoning: _r, reasoning_details: details, ...rest } = message;
    // A gateway's own details (OpenRouter's `reasoning.*`) go back to it as they came.
    const own = details?.filter((d) => !FOREIGN_DETAILS.has(d.type));
    out = own?.length ? { ...rest, reasoning_details: own } : rest;
  }
  if (reasoningContent && message.role === 'assistant') {
    const text = message.reasoning ?? (message.tool_calls?.length ? '' : undefined);
    // DeepSeek's own field, outside the neutral message type.
    if (text != null) out = { ...out, reasoning_content: text } as unknown as ChatMessage;
  }
  if (message.role === 'tool' && 'is_error' in message) {
    const { is_error: _error, ...rest } = message;
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
