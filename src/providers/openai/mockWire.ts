/**
 * OpenAI chat completions as the mock server speaks it (rxllm/testing): the chunks as they are,
 * `data: [DONE]`, and OpenAI's `{error: {message, type, param, code}}`. The mock server's own fast
 * path renders the same bytes for the chat route; this is the shared description.
 */
import { list, modelOf, sseEvent, type MockWireFormat } from '../mockWire';
import { OPENAI_MOCK_RULES, openAIRestatedPrefix } from './mockRules';

function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 401 || status === 403) return 'authentication_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The mock server's encoder for this wire format (see the file header). */
export const openAIMockWire: MockWireFormat = {
  name: 'openai',
  contentType: 'text/event-stream; charset=utf-8',
  malformed: 'data: {not json\n\n',
  encode(chunks, finished) {
    const out = chunks.map((c) => sseEvent(c));
    if (finished) out.push('data: [DONE]\n\n');
    return out;
  },
  inBandError: (error) => sseEvent({ error }),
  errorBody: (status, message) => ({ error: { message, type: errorType(status), param: null, code: null } }),
  completion: (completion) => completion,
  rules: OPENAI_MOCK_RULES,
  restatedPrefix: openAIRestatedPrefix,
  route: (path, body) =>
    /(^|\/)chat\/completions$/.test(path)
      ? { streaming: body?.stream === true, model: modelOf(body), messages: list(body?.messages) }
      : undefined,
};
