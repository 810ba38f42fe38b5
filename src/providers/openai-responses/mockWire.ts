/**
 * The OpenAI Responses API as the mock server speaks it (rxllm/testing): `response.created`, output
 * items (reasoning summary, message text and refusal, function calls with argument deltas), then
 * `response.completed` or `response.incomplete` with usage; errors as `error` events and OpenAI's
 * error body.
 */
import type { ChatCompletion, FinishReason, Usage } from '../../chunk';
import { list, messageOf, modelOf, sseEvent, type MockWireFormat } from '../mockWire';
import { openAIMockWire } from '../openai/mockWire';
import { RESPONSES_MOCK_RULES } from './mockRules';

function usageOf(usage: Usage | null | undefined): object | null {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens,
  };
}

function status(finish: FinishReason | undefined): object {
  if (finish === 'length')
    return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter')
    return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** The mock server's encoder for this wire format (see the file header). */
export const responsesMockWire: MockWireFormat = {
  name: 'openai-responses',
  contentType: 'text/event-stream; charset=utf-8',
  malformed: 'event: response.output_text.delta\ndata: {not json\n\n',
  encode(chunks, finished) {
    let seq = 0;
    const out: string[] = [];
    const ev = (type: string, data: object) =>
      out.push(sseEvent({ type, sequence_number: seq++, ...data }, type));
    const base = {
      id: `resp_${chunks[0]?.id ?? 'mock'}`,
      object: 'response',
      created_at: chunks[0]?.created ?? 0,
      model: chunks[0]?.model ?? 'mock',
      output: [],
    };
    ev('response.created', { response: { ...base, status: 'in_progress', usage: null } });
    let open: { kind: string; index: number; id: string } | undefined;
    let items = 0;
    const close = () => {
      if (open)
        ev('response.output_item.done', {
          output_index: open.index,
          item: { id: open.id, type: open.kind, status: 'completed' },
        });
      open = undefined;
    };
    const ensure = (kind: 'message' | 'reasoning') => {
      if (open?.kind === kind) return open;
      close();
      open = { kind, index: items, id: `${kind === 'message' ? 'msg' : 'rs'}_${items++}` };
      ev('response.output_item.added', {
        output_index: open.index,
        item:
          kind === 'message'
            ? { id: open.id, type: 'message', role: 'assistant', content: [] }
            : { id: open.id, type: 'reasoning', summary: [] },
      });
      return open;
    };
    let finish: FinishReason | undefined;
    for (const chunk of chunks) {
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        const d = choice.delta;
        if (d.reasoning) {
          const item = ensure('reasoning');
          ev('response.reasoning_summary_text.delta', {
            item_id: item.id,
            output_index: item.index,
            summary_index: 0,
            delta: d.reasoning,
          });
        }
        if (d.content) {
          const item = ensure('message');
          ev('response.output_text.delta', {
            item_id: item.id,
            output_index: item.index,
            content_index: 0,
            delta: d.content,
          });
        }
        if (d.refusal) {
          const item = ensure('message');
          ev('response.refusal.delta', {
            item_id: item.id,
            output_index: item.index,
            content_index: 0,
            delta: d.refusal,
          });
        }
        for (const call of d.tool_calls ?? []) {
          if (call.id) {
            close();
            open = { kind: 'function_call', index: items, id: `fc_${items++}` };
            ev('response.output_item.added', {
              output_index: open.index,
              item: {
                id: open.id,
                type: 'function_call',
                call_id: call.id,
                name: call.function?.name ?? '',
                arguments: '',
              },
            });
          }
          if (call.function?.arguments && open) {
            ev('response.function_call_arguments.delta', {
              item_id: open.id,
              output_index: open.index,
              delta: call.function.arguments,
            });
          }
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    if (!finished || !finish) return out;
    close();
    const usage = chunks.find((c) => c.usage)?.usage;
    const final = { ...base, ...status(finish), usage: usageOf(usage) };
    ev(finish === 'length' || finish === 'content_filter' ? 'response.incomplete' : 'response.completed', {
      response: final,
    });
    return out;
  },
  inBandError(error) {
    const code =
      typeof error.code === 'string'
        ? error.code
        : typeof error.type === 'string'
          ? error.type
          : 'server_error';
    return sseEvent({ type: 'error', code, message: messageOf(error), param: null }, 'error');
  },
  errorBody: (status, message) => openAIMockWire.errorBody(status, message),
  completion(completion: ChatCompletion) {
    const m = completion.choices[0]?.message;
    const output: object[] = [];
    if (m?.reasoning)
      output.push({ id: 'rs_0', type: 'reasoning', summary: [{ type: 'summary_text', text: m.reasoning }] });
    const content: object[] = [];
    if (m?.content) content.push({ type: 'output_text', text: m.content, annotations: [] });
    if (m?.refusal) content.push({ type: 'refusal', refusal: m.refusal });
    if (content.length)
      output.push({ id: 'msg_0', type: 'message', role: 'assistant', status: 'completed', content });
    for (const call of m?.tool_calls ?? []) {
      output.push({
        id: `fc_${call.id}`,
        type: 'function_call',
        call_id: call.id,
        name: call.function.name,
        arguments: call.function.arguments,
      });
    }
    return {
      id: `resp_${completion.id}`,
      object: 'response',
      created_at: completion.created,
      model: completion.model,
      ...status(completion.choices[0]?.finish_reason ?? undefined),
      output,
      usage: usageOf(completion.usage),
    };
  },
  rules: RESPONSES_MOCK_RULES,
  route(path, body) {
    if (!/(^|\/)responses$/.test(path)) return undefined;
    const input =
      typeof body?.input === 'string' ? [{ role: 'user', content: body.input }] : list(body?.input);
    return { streaming: body?.stream === true, model: modelOf(body), messages: input };
  },
};
