/**
 * What OpenAI-compatible chat servers reject, as the strict mock server refuses it (rxllm/testing),
 * per imitated server (`MockServerOptions.openaiCompat`): OpenAI's and DeepSeek's tool-message pairing
 * (same rule, their own wording), OpenAI's `n` limit, DeepSeek's `reasoning_content` on tool-call turns
 * in thinking mode, and the continuation flags of DeepSeek (`prefix`) and vLLM (`continue_final_message`). Error bodies are each server's own (quoted from real responses;
 * the threads are cited per rule).
 */
import { list, record, type MockRejection, type MockRule, type MockRuleContext } from '../mockWire';

type Message = Record<string, any>;

/** OpenAI's (and DeepSeek's) `{error: {message, type, param, code}}`. */
const openAIError = (message: string, param: string | null, code: string | null): MockRejection => ({
  status: 400,
  body: { error: { message, type: 'invalid_request_error', param, code } },
});

/** vLLM's `ErrorResponse` for a request it cannot render (vllm/entrypoints/openai/protocol.py). */
const vllmError = (message: string): MockRejection => ({
  status: 400,
  body: { error: { message, type: 'BadRequestError', param: null, code: 400 } },
});

const messagesOf = (body: any): Message[] => list(record(body).messages).map(record);
const lastOf = (body: any): Message | undefined => {
  const messages = messagesOf(body);
  return messages[messages.length - 1];
};

/**
 * Every `tool` message answers a call of the assistant message before it, and every call of an
 * assistant `tool_calls` message is answered by the `tool` messages right after it
 * (https://platform.openai.com/docs/guides/function-calling, "handling function calls";
 * https://api-docs.deepseek.com/guides/function_calling). vLLM renders whatever its chat template
 * takes, so it has no such rule. Wording: OpenAI's in miurla/morphic#136 (note its "preceeding"),
 * aliasrobotics/cai#111 and the `'tool_call_id' of ... not found` message quoted by many clients;
 * DeepSeek's in FoundationAgents/OpenManus#23 and langgenius/dify#32222.
 */
export const toolMessagesPairWithCalls: MockRule = (body, { openaiCompat }) => {
  if (openaiCompat === 'vllm') return;
  const deepseek = openaiCompat === 'deepseek';
  const strayTool = (i: number) =>
    deepseek
      ? openAIError(
          "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
          null,
          'invalid_request_error',
        )
      : openAIError(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
          null,
        );
  // DeepSeek's message for an unknown id is not on record: the mock sends its stray-tool message.
  const unknownId = (i: number, id: unknown) =>
    deepseek
      ? strayTool(i)
      : openAIError(
          `Invalid parameter: 'tool_call_id' of '${String(id)}' not found in 'tool_calls' of previous message.`,
          `messages.[${i}].tool_call_id`,
          null,
        );
  const unanswered = (i: number, ids: string[]) =>
    deepseek
      ? openAIError(
          "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. (insufficient tool messages following tool_calls message)",
          null,
          'invalid_request_error',
        )
      : openAIError(
          `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${ids.join(', ')}`,
          `messages.[${i}].role`,
          null,
        );

  let open: { index: number; ids: string[]; answered: Set<unknown> } | undefined;
  const check = () => {
    const missing = open?.ids.filter((id) => !open!.answered.has(id)) ?? [];
    return missing.length > 0 ? unanswered(open!.index, missing) : undefined;
  };
  const messages = messagesOf(body);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role === 'tool') {
      if (!open) return strayTool(i);
      if (!open.ids.includes(m.tool_call_id)) return unknownId(i, m.tool_call_id);
      open.answered.add(m.tool_call_id);
      continue;
    }
    const refusal = check();
    if (refusal) return refusal;
    const calls = m.role === 'assistant' ? list(m.tool_calls).map(record) : [];
    open = calls.length ? { index: i, ids: calls.map((c) => String(c.id)), answered: new Set() } : undefined;
  }
  return check();
};

/**
 * OpenAI returns at most 128 choices (`n`, https://platform.openai.com/docs/api-reference/chat/create).
 * Message as in thisisartium/continuous-alignment-testing#25.
 */
export const choicesAtMost128: MockRule = (body, { openaiCompat }) => {
  const n = record(body).n;
  if (openaiCompat !== 'openai' || typeof n !== 'number' || n <= 128) return;
  return openAIError(
    `Invalid 'n': integer above maximum value. Expected a value <= 128, but got ${n} instead.`,
    'n',
    'integer_above_max_value',
  );
};

/**
 * A final assistant message that the server continues: DeepSeek's chat prefix completion wants
 * `prefix: true` on it and the beta base URL (https://api.deepseek.com/beta), vLLM wants
 * `continue_final_message: true` with `add_generation_prompt: false`
 * (https://api-docs.deepseek.com/guides/chat_prefix_completion,
 * https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html, chat extra parameters).
 * OpenAI has no continuation.
 */
export function continuesFinalMessage(body: any, { openaiCompat, path }: MockRuleContext): boolean {
  const last = lastOf(body);
  if (last?.role !== 'assistant') return false;
  if (openaiCompat === 'deepseek') return last.prefix === true && /(^|\/)beta\//.test(path);
  if (openaiCompat === 'vllm') {
    const b = record(body);
    return b.continue_final_message === true && b.add_generation_prompt === false;
  }
  return false;
}

/**
 * deepseek-reasoner refuses a final assistant message outside prefix mode
 * (https://api-docs.deepseek.com/guides/reasoning_model). Message as in BerriAI/litellm#8090.
 */
export const deepseekReasonerEndsWithUser: MockRule = (body, context) => {
  const model = record(body).model;
  if (context.openaiCompat !== 'deepseek' || typeof model !== 'string' || !model.includes('reasoner')) return;
  if (lastOf(body)?.role !== 'assistant' || continuesFinalMessage(body, context)) return;
  return openAIError(
    'The last message of deepseek-reasoner must be a user message, or an assistant message with prefix mode on (refer to https://api-docs.deepseek.com/guides/chat_prefix_completion).',
    null,
    'invalid_request_error',
  );
};

/**
 * vLLM cannot continue a message and open a new one at once: `add_generation_prompt` defaults to
 * true, so `continue_final_message` alone fails in the chat template (transformers'
 * `apply_chat_template`), and both set true fails vLLM's own request check (`check_generation_prompt`
 * in vllm/entrypoints/openai/protocol.py; vLLM's tests check that its message contains this sentence).
 */
export const vllmContinueWithoutGenerationPrompt: MockRule = (body, { openaiCompat }) => {
  const b = record(body);
  if (openaiCompat !== 'vllm' || b.continue_final_message !== true) return;
  if (b.add_generation_prompt === true) {
    return vllmError('Cannot set both `continue_final_message` and `add_generation_prompt` to True.');
  }
  if (b.add_generation_prompt === undefined) {
    return vllmError(
      'continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you want the model to continue the final message, and add_generation_prompt when you want to add a header that will prompt it to start a new assistant message instead.',
    );
  }
  return undefined;
};

/**
 * DeepSeek's thinking mode: every assistant message with `tool_calls` carries its `reasoning_content`
 * ("must be passed back to the API in all subsequent requests; otherwise the API returns a 400",
 * https://api-docs.deepseek.com/guides/thinking_mode, "tool calls"), in later user turns too. Thinking
 * is on with `thinking: {type: 'enabled'}`, and by default for deepseek-reasoner and the V4 models
 * (the toggle "defaults to enabled"; `thinking: {type: 'disabled'}` turns it off). Message as in
 * AgentiLoop/Agent#22 and danny-avila/LibreChat#13366 (V3.2 said "Missing `reasoning_content` field
 * in the assistant message at message index N", continuedev/continue#11285).
 */
export const deepseekReasoningContentOnToolTurns: MockRule = (body, { openaiCompat }) => {
  if (openaiCompat !== 'deepseek') return;
  const { model, thinking } = record(body);
  const type = record(thinking).type;
  const on =
    type === 'enabled' ||
    (type !== 'disabled' && typeof model === 'string' && /reasoner|deepseek-v4/.test(model));
  if (!on) return;
  const missing = messagesOf(body).some(
    (m) => m.role === 'assistant' && list(m.tool_calls).length > 0 && typeof m.reasoning_content !== 'string',
  );
  if (!missing) return;
  return openAIError(
    'The `reasoning_content` in the thinking mode must be passed back to the API.',
    null,
    'invalid_request_error',
  );
};

/** The OpenAI-compatible chat rules, in the order the mock checks them. */
export const OPENAI_MOCK_RULES: readonly MockRule[] = [
  choicesAtMost128,
  vllmContinueWithoutGenerationPrompt,
  toolMessagesPairWithCalls,
  deepseekReasonerEndsWithUser,
  deepseekReasoningContentOnToolTurns,
];

/**
 * The text of a final assistant message the imitated server does not continue: it starts a new
 * answer instead (OpenAI always; DeepSeek without prefix mode; vLLM without the flags).
 */
export function openAIRestatedPrefix(body: any, context: MockRuleContext): string | undefined {
  const last = lastOf(body);
  if (last?.role !== 'assistant' || continuesFinalMessage(body, context)) return undefined;
  const content = last.content;
  if (typeof content === 'string') return content;
  return list(content)
    .map((p) => (typeof record(p).text === 'string' ? record(p).text : ''))
    .join('');
}
