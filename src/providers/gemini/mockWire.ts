/**
 * Gemini `streamGenerateContent?alt=sse` as the mock server speaks it (rxllm/testing): one
 * `GenerateContentResponse` per chunk (text and thought parts), function calls whole (Gemini sends
 * them whole), `finishReason` and cumulative `usageMetadata` at the end; errors as Google's
 * `{error: {code, message, status}}`.
 */
import type { ChatCompletion, FinishReason, Usage } from '../../chunk';
import { list, messageOf, sseEvent, type MockWireFormat } from '../mockWire';
import { GEMINI_MOCK_RULES } from './mockRules';

const FINISH: Record<FinishReason, string> = {
  stop: 'STOP',
  tool_calls: 'STOP',
  function_call: 'STOP',
  length: 'MAX_TOKENS',
  content_filter: 'SAFETY',
};

const RPC: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

function usageMetadata(usage: Usage): object {
  const thoughts = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  return {
    promptTokenCount: usage.prompt_tokens,
    candidatesTokenCount: usage.completion_tokens - thoughts,
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    totalTokenCount: usage.total_tokens,
  };
}

/** Thought signature the mock gives the first function call of a Gemini 3 response (opaque, as a real one). */
export const MOCK_THOUGHT_SIGNATURE = 'bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==';

/** The mock server's encoder for this wire format (see the file header). */
export const geminiMockWire: MockWireFormat = {
  name: 'gemini',
  contentType: 'text/event-stream',
  malformed: 'data: {not json\n\n',
  encode(chunks, finished) {
    const head = { responseId: chunks[0]?.id ?? 'mock', modelVersion: chunks[0]?.model ?? 'mock' };
    const usage = chunks.find((c) => c.usage)?.usage;
    const calls = new Map<number, { name: string; args: string; id?: string }[]>();
    const finish = new Map<number, FinishReason>();
    const out: string[] = [];
    for (const chunk of chunks) {
      const candidates: object[] = [];
      for (const choice of chunk.choices) {
        const d = choice.delta;
        const parts: object[] = [];
        if (d.reasoning) parts.push({ text: d.reasoning, thought: true });
        if (d.content) parts.push({ text: d.content });
        if (d.refusal) parts.push({ text: d.refusal });
        for (const call of d.tool_calls ?? []) {
          const list = calls.get(choice.index) ?? [];
          calls.set(choice.index, list);
          if (call.id) list.push({ name: call.function?.name ?? '', args: '', id: call.id });
          const last = list[list.length - 1];
          if (last && call.function?.arguments) last.args += call.function.arguments;
        }
        if (choice.finish_reason) finish.set(choice.index, choice.finish_reason);
        if (parts.length) candidates.push({ content: { role: 'model', parts }, index: choice.index });
      }
      if (candidates.length) out.push(sseEvent({ candidates, ...head }));
    }
    if (!finished || finish.size === 0) return out;
    // Gemini 3 signs the first function call of a response, and wants the signature back
    // (https://ai.google.dev/gemini-api/docs/thought-signatures; enforced by the mock's rules).
    const signs = /gemini-3/.test(head.modelVersion);
    const candidates = [...finish].map(([index, reason]) => ({
      content: {
        role: 'model',
        parts: (calls.get(index) ?? []).map((c, i) => ({
          functionCall: { id: c.id, name: c.name, args: JSON.parse(c.args || '{}') },
          ...(signs && i === 0 ? { thoughtSignature: MOCK_THOUGHT_SIGNATURE } : {}),
        })),
      },
      finishReason: FINISH[reason],
      index,
    }));
    out.push(sseEvent({ candidates, ...(usage ? { usageMetadata: usageMetadata(usage) } : {}), ...head }));
    return out;
  },
  inBandError(error) {
    const code = typeof error.code === 'number' ? error.code : 503;
    return sseEvent({ error: { code, message: messageOf(error), status: RPC[code] ?? 'UNAVAILABLE' } });
  },
  errorBody(status, message) {
    return {
      error: {
        code: status,
        message,
        status: RPC[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT'),
      },
    };
  },
  completion(completion: ChatCompletion) {
    return {
      candidates: completion.choices.map((choice) => {
        const m = choice.message;
        const parts: object[] = [];
        if (m.reasoning) parts.push({ text: m.reasoning, thought: true });
        const text = (m.content ?? '') + (m.refusal ?? '');
        if (text) parts.push({ text });
        (m.tool_calls ?? []).forEach((call, i) => {
          parts.push({
            functionCall: {
              id: call.id,
              name: call.function.name,
              args: JSON.parse(call.function.arguments || '{}'),
            },
            ...(i === 0 && /gemini-3/.test(completion.model)
              ? { thoughtSignature: MOCK_THOUGHT_SIGNATURE }
              : {}),
          });
        });
        return {
          content: { role: 'model', parts },
          ...(choice.finish_reason ? { finishReason: FINISH[choice.finish_reason] } : {}),
          index: choice.index,
        };
      }),
      ...(completion.usage ? { usageMetadata: usageMetadata(completion.usage) } : {}),
      modelVersion: completion.model,
      responseId: completion.id,
    };
  },
  rules: GEMINI_MOCK_RULES,
  route(path, body) {
    const match = /(?:^|\/)models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(path);
    if (!match) return undefined;
    const messages = list(body?.contents).map((c: any) => ({
      role: c?.role === 'model' ? 'assistant' : 'user',
      content: list(c?.parts)
        .map((p: any) => (typeof p?.text === 'string' ? p.text : ''))
        .join(''),
    }));
    return { streaming: match[2] === 'streamGenerateContent', model: decodeURIComponent(match[1]), messages };
  },
};
