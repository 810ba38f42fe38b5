/**
 * Anthropic Messages as the mock server speaks it (rxllm/testing): chunks → `message_start`,
 * content blocks (thinking with a signature, text, tool_use with `input_json_delta`),
 * `message_delta` with the stop reason and usage, `message_stop`; errors as `{type:'error', error}`.
 */
import type { ChatCompletion, FinishReason, Usage } from '../../chunk';
import { list, messageOf, modelOf, sseEvent, type MockWireFormat } from '../mockWire';
import { ANTHROPIC_MOCK_RULES } from './mockRules';

const STOP: Record<FinishReason, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
  function_call: 'tool_use',
};

/** Signature the mock gives every thinking block (a real one is opaque to clients too). */
export const MOCK_THINKING_SIGNATURE = 'bW9jay1zaWduYXR1cmU=';

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

const ev = (value: { type: string; [k: string]: unknown }) => sseEvent(value, value.type);

/** The mock server's encoder for this wire format (see the file header). */
export const anthropicMockWire: MockWireFormat = {
  name: 'anthropic',
  contentType: 'text/event-stream; charset=utf-8',
  malformed: 'event: content_block_delta\ndata: {not json\n\n',
  encode(chunks, finished) {
    const first = chunks[0];
    const usage = chunks.find((c) => c.usage)?.usage;
    const out = [
      ev({
        type: 'message_start',
        message: {
          id: first?.id ?? 'msg_mock',
          type: 'message',
          role: 'assistant',
          model: first?.model ?? 'mock',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: usage?.prompt_tokens ?? 0, output_tokens: 1 },
        },
      }),
    ];
    let open: { kind: string; index: number } | undefined;
    let blocks = 0;
    const close = () => {
      if (!open) return;
      if (open.kind === 'thinking') {
        out.push(
          ev({
            type: 'content_block_delta',
            index: open.index,
            delta: { type: 'signature_delta', signature: MOCK_THINKING_SIGNATURE },
          }),
        );
      }
      out.push(ev({ type: 'content_block_stop', index: open.index }));
      open = undefined;
    };
    const ensure = (kind: 'text' | 'thinking') => {
      if (open?.kind === kind) return open.index;
      close();
      open = { kind, index: blocks++ };
      const block =
        kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
      out.push(ev({ type: 'content_block_start', index: open.index, content_block: block }));
      return open.index;
    };
    let stop: FinishReason | undefined;
    for (const chunk of chunks) {
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue; // Anthropic has one choice
        const d = choice.delta;
        if (d.reasoning) {
          const index = ensure('thinking');
          out.push(
            ev({
              type: 'content_block_delta',
              index,
              delta: { type: 'thinking_delta', thinking: d.reasoning },
            }),
          );
        }
        for (const text of [d.content, d.refusal]) {
          if (!text) continue;
          const index = ensure('text');
          out.push(ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }));
        }
        for (const call of d.tool_calls ?? []) {
          if (call.id) {
            close();
            open = { kind: 'tool', index: blocks++ };
            out.push(
              ev({
                type: 'content_block_start',
                index: open.index,
                content_block: { type: 'tool_use', id: call.id, name: call.function?.name ?? '', input: {} },
              }),
            );
          }
          if (call.function?.arguments && open) {
            out.push(
              ev({
                type: 'content_block_delta',
                index: open.index,
                delta: { type: 'input_json_delta', partial_json: call.function.arguments },
              }),
            );
          }
        }
        if (choice.finish_reason) stop = choice.finish_reason;
      }
    }
    if (!finished || !stop) return out;
    close();
    out.push(
      ev({
        type: 'message_delta',
        delta: { stop_reason: STOP[stop], stop_sequence: null },
        usage: { output_tokens: usage?.completion_tokens ?? 0 },
      }),
    );
    out.push(ev({ type: 'message_stop' }));
    return out;
  },
  inBandError(error) {
    const type = typeof error.type === 'string' ? error.type : 'api_error';
    return ev({ type: 'error', error: { type, message: messageOf(error) } });
  },
  errorBody(status, message) {
    return { type: 'error', error: { type: errorType(status), message } };
  },
  completion(completion: ChatCompletion) {
    const choice = completion.choices[0];
    const m = choice?.message;
    const content: object[] = [];
    if (m?.reasoning)
      content.push({ type: 'thinking', thinking: m.reasoning, signature: MOCK_THINKING_SIGNATURE });
    const text = (m?.content ?? '') + (m?.refusal ?? '');
    if (text) content.push({ type: 'text', text });
    for (const call of m?.tool_calls ?? []) {
      content.push({
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        input: JSON.parse(call.function.arguments || '{}'),
      });
    }
    const usage: Usage | null = completion.usage;
    return {
      id: completion.id,
      type: 'message',
      role: 'assistant',
      model: completion.model,
      content,
      stop_reason: choice?.finish_reason ? STOP[choice.finish_reason] : null,
      stop_sequence: null,
      usage: { input_tokens: usage?.prompt_tokens ?? 0, output_tokens: usage?.completion_tokens ?? 0 },
    };
  },
  rules: ANTHROPIC_MOCK_RULES,
  route: (path, body) =>
    /(^|\/)messages$/.test(path)
      ? { streaming: body?.stream === true, model: modelOf(body), messages: list(body?.messages) }
      : undefined,
};
