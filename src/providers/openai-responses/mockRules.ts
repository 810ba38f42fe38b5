/**
 * What the OpenAI Responses API rejects, as the strict mock server refuses it (rxllm/testing), with
 * OpenAI's `{error: {message, type, param, code}}` and its own message text.
 */
import { list, record, type MockRule } from '../mockWire';

/**
 * A `function_call_output` answers a `function_call` with the same `call_id` earlier in `input`
 * (https://platform.openai.com/docs/guides/function-calling, "handling function calls"), unless the
 * call is in the stored response that `previous_response_id` continues. Message as in
 * continuedev/continue#10092 and james-6-23/codex2api#414.
 */
export const functionCallOutputsFollowCalls: MockRule = (body) => {
  const b = record(body);
  if (typeof b.previous_response_id === 'string' || b.conversation != null) return;
  const calls = new Set<unknown>();
  for (const item of list(b.input).map(record)) {
    if (item.type === 'function_call') calls.add(item.call_id);
    else if (item.type === 'function_call_output' && !calls.has(item.call_id)) {
      return {
        status: 400,
        body: {
          error: {
            message: `No tool call found for function call output with call_id ${String(item.call_id)}.`,
            type: 'invalid_request_error',
            param: 'input',
            code: null,
          },
        },
      };
    }
  }
  return undefined;
};

/** The Responses API's rules, in the order the mock checks them. */
export const RESPONSES_MOCK_RULES: readonly MockRule[] = [functionCallOutputsFollowCalls];
