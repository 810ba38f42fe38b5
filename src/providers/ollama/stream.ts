/**
 * Ollama `/api/chat` NDJSON lines → rxllm chunks. Each line is a `ChatResponse`: `message.content`
 * → content, `message.thinking` → reasoning, `message.tool_calls` (arguments as objects) → whole
 * tool calls; the last line has `done: true` with `done_reason` and the token counts; a line
 * `{"error": "..."}` ends the stream with the typed error.
 */
import type {
  ChatCompletion,
  Chunk,
  ChunkChoice,
  ChunkDelta,
  ToolCall,
  ToolCallDelta,
  Usage,
} from '../../chunk';
import { StreamCutError, StreamParseError } from '../../errors';
import { inBandError } from '../../inBandError';
import { parseProviderJson } from '../../transport/json';
import type { NdjsonLineDecoder } from '../../transport/ndjson';
import { mapFinishReason } from '../openai/stream';

/** Ids for calls Ollama sent without one: unique per response and the same in every chunk. */
export class OllamaIds {
  private readonly prefix = globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16);
  private count = 0;
  readonly responseId = `chatcmpl-ollama-${this.prefix}`;
  next(): string {
    return `call_${this.prefix}_${this.count++}`;
  }
}

/** `done_reason` → finish reason: `stop` is `tool_calls` when the turn held a call (Ollama says `stop`). */
export function ollamaFinish(raw: string, hadCall: boolean): ChunkChoice['finish_reason'] {
  if (raw === 'length') return 'length';
  if (raw === 'stop' || raw === '') return hadCall ? 'tool_calls' : 'stop';
  return mapFinishReason(raw);
}

/** `prompt_eval_count` / `eval_count` → `Usage` (absent counts are 0: a cached prompt reports none). */
export function ollamaUsage(value: any): Usage {
  const prompt = typeof value.prompt_eval_count === 'number' ? value.prompt_eval_count : 0;
  const completion = typeof value.eval_count === 'number' ? value.eval_count : 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Reads `message.tool_calls`; arguments arrive as objects and are stringified. */
export function readToolCalls(message: any, ids: OllamaIds, data: string): ToolCall[] {
  const calls = message?.tool_calls;
  if (calls == null) return [];
  if (!Array.isArray(calls)) throw parseError('message.tool_calls is not an array', data);
  return calls.map((call: any): ToolCall => {
    const fn = call?.function;
    if (fn === null || typeof fn !== 'object' || typeof fn.name !== 'string') {
      throw parseError('a tool call has no function name', data);
    }
    const args = fn.arguments;
    return {
      id: typeof call.id === 'string' && call.id !== '' ? call.id : ids.next(),
      type: 'function',
      function: { name: fn.name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
    };
  });
}

/** Per-stream state: whether the `done` line arrived, and how many tool calls were output. */
export class OllamaStreamDecoder implements NdjsonLineDecoder<Chunk> {
  private done = false;
  private started = false;
  private calls = 0;
  private readonly ids = new OllamaIds();
  private created: number | undefined;

  constructor(
    private readonly model: string,
    private readonly includeUsage = true,
  ) {}

  line(text: string, emit: (chunk: Chunk) => void): void {
    if (this.done) return;
    const value = parseProviderJson(text, 'Ollama', 'event');
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw parseError('a line is not an object', text);
    }
    if (value.error != null) {
      this.done = true;
      throw inBandError(value);
    }
    this.created ??= seconds(value.created_at);
    const message = value.message;
    if (message != null && typeof message !== 'object') throw parseError('message is not an object', text);
    const delta: ChunkDelta = {};
    if (!this.started) {
      this.started = true;
      delta.role = 'assistant';
    }
    if (message?.content != null) {
      if (typeof message.content !== 'string') throw parseError('message.content is not a string', text);
      if (message.content) delta.content = message.content;
    }
    if (message?.thinking != null) {
      if (typeof message.thinking !== 'string') throw parseError('message.thinking is not a string', text);
      if (message.thinking) delta.reasoning = message.thinking;
    }
    const calls = readToolCalls(message, this.ids, text);
    if (calls.length > 0) {
      delta.tool_calls = calls.map((call): ToolCallDelta => ({ index: this.calls++, ...call }));
    }
    const model = typeof value.model === 'string' ? value.model : this.model;
    if (Object.keys(delta).length > 0) emit(this.chunk(model, delta));
    if (value.done === true) {
      this.done = true;
      const raw = typeof value.done_reason === 'string' ? value.done_reason : 'stop';
      emit(
        this.chunk(model, {}, { finish_reason: ollamaFinish(raw, this.calls > 0), raw_finish_reason: raw }),
      );
      if (this.includeUsage) emit({ ...this.chunk(model, {}), choices: [], usage: ollamaUsage(value) });
    }
  }

  end(): StreamCutError | void {
    if (!this.done)
      return new StreamCutError('The Ollama stream ended before its done line; the answer is incomplete.');
  }

  private chunk(
    model: string,
    delta: ChunkDelta,
    finish: Pick<ChunkChoice, 'finish_reason' | 'raw_finish_reason'> = { finish_reason: null },
  ): Chunk {
    return {
      id: this.ids.responseId,
      object: 'chat.completion.chunk',
      created: this.created ?? Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, ...finish }],
    };
  }
}

/** A whole (non-streaming) `/api/chat` answer → `ChatCompletion`. */
export function toChatCompletion(value: any, text: string, model: string): ChatCompletion {
  if (value !== null && typeof value === 'object' && value.error != null) throw inBandError(value);
  if (value === null || typeof value !== 'object' || value.message == null) {
    throw new StreamParseError('invalid-body', 'Ollama answered without a message.', text);
  }
  const ids = new OllamaIds();
  const calls = readToolCalls(value.message, ids, text);
  const content = typeof value.message.content === 'string' ? value.message.content : '';
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: content === '' && calls.length > 0 ? null : content,
  };
  if (typeof value.message.thinking === 'string' && value.message.thinking)
    message.reasoning = value.message.thinking;
  if (calls.length > 0) message.tool_calls = calls;
  const raw = typeof value.done_reason === 'string' ? value.done_reason : 'stop';
  return {
    id: ids.responseId,
    object: 'chat.completion',
    created: seconds(value.created_at) ?? Math.floor(Date.now() / 1000),
    model: typeof value.model === 'string' ? value.model : model,
    choices: [
      { index: 0, message, finish_reason: ollamaFinish(raw, calls.length > 0), raw_finish_reason: raw },
    ],
    usage: ollamaUsage(value),
  };
}

function seconds(iso: unknown): number | undefined {
  if (typeof iso !== 'string') return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function parseError(what: string, data: string): StreamParseError {
  return new StreamParseError(
    'invalid-event',
    `Ollama sent a response that rxllm cannot read: ${what}.`,
    data,
  );
}
