/**
 * What Anthropic's Messages API rejects, as the strict mock server refuses it (rxllm/testing): each
 * rule returns the 400 `{type:'error', error:{type:'invalid_request_error', message}}` the API sends,
 * with the API's own message text (quoted from real responses; the threads are cited per rule).
 */
import { list, record, type MockRejection, type MockRule } from '../mockWire';

type Block = Record<string, any>;

const reject = (message: string): MockRejection => ({
  status: 400,
  body: { type: 'error', error: { type: 'invalid_request_error', message } },
});

/** A message's content as blocks: a string is one text block. */
function blocks(message: unknown): Block[] {
  const content = record(message).content;
  return typeof content === 'string' ? [{ type: 'text', text: content }] : list(content).map(record);
}

const messagesOf = (body: any) => list(record(body).messages).map(record);
const hasToolResult = (message: Block) =>
  message.role === 'user' && blocks(message).some((b) => b.type === 'tool_result');

/**
 * `temperature` ranges from 0 to 1 (https://docs.claude.com/en/api/messages, "temperature"). Message
 * as the API sends it for 2.0 (anthropics/anthropic-sdk-python#893 shows the same `range:` form).
 */
export const temperatureRange: MockRule = (body) => {
  const t = record(body).temperature;
  return typeof t === 'number' && t > 1 ? reject('temperature: range: 0..1') : undefined;
};

/**
 * `budget_tokens` must be below `max_tokens`, except with interleaved thinking (the beta header
 * `interleaved-thinking-2025-05-14`), where the budget spans the whole turn
 * (https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size).
 * Message as in QwenLM/qwen-code#2508 and liuw1535/antigravity2api-nodejs#149.
 */
export const thinkingBudgetBelowMaxTokens: MockRule = (body, { headers }) => {
  const { thinking, max_tokens: max } = record(body);
  const budget = record(thinking).budget_tokens;
  if (record(thinking).type !== 'enabled' || typeof budget !== 'number' || typeof max !== 'number') return;
  if (budget < max || /interleaved-thinking/.test(headers['anthropic-beta'] ?? '')) return;
  return reject(
    '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
  );
};

/**
 * Each `tool_result` answers a `tool_use` of the message right before it, and each `tool_use` is
 * answered in the message right after it
 * (https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use, "handling results").
 * Messages as in anthropics/claude-code#13460 and #5060. Checked in message order, as the API reports
 * the first broken pair.
 */
export const toolResultsPairWithToolUses: MockRule = (body) => {
  const messages = messagesOf(body);
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (message.role === 'user' && hasToolResult(message)) {
      const previous = messages[i - 1];
      const ids = new Set(
        previous?.role === 'assistant'
          ? blocks(previous)
              .filter((b) => b.type === 'tool_use')
              .map((b) => b.id)
          : [],
      );
      const content = blocks(message);
      const j = content.findIndex((b) => b.type === 'tool_result' && !ids.has(b.tool_use_id));
      if (j >= 0) {
        return reject(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(content[j].tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    const uses = message.role === 'assistant' ? blocks(message).filter((b) => b.type === 'tool_use') : [];
    // A final assistant message is a prefill: nothing follows it yet.
    if (uses.length === 0 || i === messages.length - 1) continue;
    const answered = new Set(
      blocks(messages[i + 1])
        .filter((b) => messages[i + 1].role === 'user' && b.type === 'tool_result')
        .map((b) => b.tool_use_id),
    );
    const missing = uses.filter((b) => !answered.has(b.id)).map((b) => String(b.id));
    if (missing.length > 0) {
      return reject(
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
    }
  }
  return undefined;
};

/**
 * With thinking on, a turn that goes on with tool results must start with the thinking block Claude
 * sent, unchanged: "you must pass thinking blocks back to the API for the last assistant message"
 * (https://docs.claude.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks).
 * The turn is everything after the last user message that is not only tool results; its first
 * assistant message is the one checked (later ones in the same turn carry no thinking unless
 * interleaved). Message as in BerriAI/litellm#9020 and olimorris/codecompanion.nvim#1752. The
 * first-party API now disables thinking for such a request instead ("graceful thinking degradation",
 * same page); the mock keeps the refusal that Bedrock, Vertex and the API before it sent
 * (anomalyco/opencode#3077), so a client that relies on either stays correct. Adaptive thinking is
 * not checked: there the model may answer without thinking ("thinking is optional for the model",
 * https://docs.claude.com/en/docs/build-with-claude/adaptive-thinking), so a turn without a thinking
 * block is one it made itself.
 */
export const thinkingBlockLeadsToolTurn: MockRule = (body) => {
  if (record(record(body).thinking).type !== 'enabled') return;
  const messages = messagesOf(body);
  const last = messages[messages.length - 1];
  if (!last || !hasToolResult(last)) return;
  let start = messages.length - 1;
  while (start > 0 && (messages[start - 1].role === 'assistant' || hasToolResult(messages[start - 1])))
    start--;
  const first = messages[start];
  if (first?.role !== 'assistant') return;
  const found = String(blocks(first)[0]?.type ?? 'nothing');
  if (found === 'thinking' || found === 'redacted_thinking') return;
  return reject(
    `messages.${start}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`,
  );
};

/**
 * A final assistant message is a prefill Claude continues; it may not end in whitespace
 * (https://docs.claude.com/en/docs/build-with-claude/prompt-engineering/prefill-claudes-response).
 * Message as in tailcallhq/forgecode#1872.
 */
export const prefillWithoutTrailingWhitespace: MockRule = (body) => {
  const messages = messagesOf(body);
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') return;
  const content = blocks(last);
  const text = content[content.length - 1];
  if (text?.type !== 'text' || typeof text.text !== 'string' || !/\s$/.test(text.text)) return;
  return reject('messages: final assistant content cannot end with trailing whitespace');
};

/** Anthropic's rules, in the order the mock checks them. */
export const ANTHROPIC_MOCK_RULES: readonly MockRule[] = [
  temperatureRange,
  thinkingBudgetBelowMaxTokens,
  toolResultsPairWithToolUses,
  thinkingBlockLeadsToolTurn,
  prefillWithoutTrailingWhitespace,
];
