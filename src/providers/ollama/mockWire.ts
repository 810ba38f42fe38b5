/**
 * Ollama's `/api/chat` as the mock server speaks it (rxllm/testing): one NDJSON line per chunk
 * (`message.content` / `message.thinking`), tool calls whole with object arguments, a `done: true`
 * line with `done_reason` and the token counts; errors as `{"error": "..."}`.
 */
import type { ChatCompletion, FinishReason } from '../../chunk';
import { list, messageOf, modelOf, type MockWireFormat } from '../mockWire';

const DONE: Record<FinishReason, string> = {
  stop: 'stop',
  tool_calls: 'stop',
  function_call: 'stop',
  length: 'length',
  content_filter: 'stop',
};

const line = (value: unknown) => `${JSON.stringify(value)}\n`;
const iso = (created: number | undefined) => new Date((created ?? 0) * 1000).toISOString();

/** The mock server's encoder for this wire format (see the file header). */
export const ollamaMockWire: MockWireFormat = {
  name: 'ollama',
  contentType: 'application/x-ndjson',
  malformed: '{not json\n',
  encode(chunks, finished) {
    const head = { model: chunks[0]?.model ?? 'mock', created_at: iso(chunks[0]?.created) };
    const out: string[] = [];
    const calls: { id: string; name: string; args: string }[] = [];
    let finish: FinishReason | undefined;
    for (const chunk of chunks) {
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        const d = choice.delta;
        const message: Record<string, unknown> = {
          role: 'assistant',
          content: (d.content ?? '') + (d.refusal ?? ''),
        };
        if (d.reasoning) message.thinking = d.reasoning;
        if (message.content || message.thinking) out.push(line({ ...head, message, done: false }));
        for (const call of d.tool_calls ?? []) {
          if (call.id) calls.push({ id: call.id, name: call.function?.name ?? '', args: '' });
          const last = calls[calls.length - 1];
          if (last && call.function?.arguments) last.args += call.function.arguments;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    if (!finished || !finish) return out;
    if (calls.length) {
      const toolCalls = calls.map((c, index) => ({
        id: c.id,
        function: { index, name: c.name, arguments: JSON.parse(c.args || '{}') },
      }));
      out.push(
        line({ ...head, message: { role: 'assistant', content: '', tool_calls: toolCalls }, done: false }),
      );
    }
    const usage = chunks.find((c) => c.usage)?.usage;
    out.push(
      line({
        ...head,
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: DONE[finish],
        ...(usage ? { prompt_eval_count: usage.prompt_tokens, eval_count: usage.completion_tokens } : {}),
      }),
    );
    return out;
  },
  inBandError: (error) => line({ error: messageOf(error) }),
  errorBody: (_status, message) => ({ error: message }),
  completion(completion: ChatCompletion) {
    const choice = completion.choices[0];
    const m = choice?.message;
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: (m?.content ?? '') + (m?.refusal ?? ''),
    };
    if (m?.reasoning) message.thinking = m.reasoning;
    if (m?.tool_calls?.length) {
      message.tool_calls = m.tool_calls.map((c) => ({
        id: c.id,
        function: { name: c.function.name, arguments: JSON.parse(c.function.arguments || '{}') },
      }));
    }
    return {
      model: completion.model,
      created_at: iso(completion.created),
      message,
      done: true,
      done_reason: choice?.finish_reason ? DONE[choice.finish_reason] : 'stop',
      ...(completion.usage
        ? {
            prompt_eval_count: completion.usage.prompt_tokens,
            eval_count: completion.usage.completion_tokens,
          }
        : {}),
    };
  },
  // Ollama streams unless the request says `stream: false`.
  route: (path, body) =>
    /(^|\/)api\/chat$/.test(path)
      ? { streaming: body?.stream !== false, model: modelOf(body), messages: list(body?.messages) }
      : undefined,
};
