import type { Chunk, ChatCompletion, ToolCall } from '../../src/chunk';
import type { ChatMessage } from '../../src/request';
import { mergeChunks, ToolCallAssembler } from '../accumulateChunks';
import type { InvalidToolCall, ValidToolCall } from '../partialToolCallGuard';
import { isJsonObject } from './runToolCall';

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

/** A call released by the guard, with the id the loop gave it and what pairs it with its fragments. */
export interface LoopCall {
  /** The released call, its `id` the loop's (unique in the conversation). */
  call: ValidToolCall | InvalidToolCall;
  /** Provider index (or position) and the id the provider sent: the same for the fragments it came from. */
  key: string;
}

/** The pairing key of a call: `index` is the provider's (else the position), `id` the provider's id. */
export function callKey(index: number, id: string): string {
  return `${index}\u0000${id}`;
}

/**
 * Gives every call an id unique in the conversation (a tool message answers exactly one call): the
 * provider's when it sent one not seen before, else `call_rxllm_<n>`. Some OpenAI-compatible servers
 * send no id (or `""`) or the same id for every call; their calls would otherwise share one id, and the
 * results could not be told apart. Anthropic's `tool_use.id` pattern is `^[a-zA-Z0-9_-]+$`, which the
 * made-up ids follow.
 */
export class CallIdRegistry {
  private readonly used = new Set<string>();
  private readonly claimedThisStep: string[] = [];
  private count = 0;

  /** Seeds the ids the conversation already uses (assistant calls and tool results). */
  constructor(messages: readonly ChatMessage[]) {
    for (const m of messages) {
      if (m.role === 'assistant') for (const c of m.tool_calls ?? []) this.used.add(c.id);
      else if (m.role === 'tool') this.used.add(m.tool_call_id);
    }
  }

  claim(id: string): string {
    let out = id;
    if (out === '' || this.used.has(out)) {
      do out = `call_rxllm_${++this.count}`;
      while (this.used.has(out));
    }
    this.used.add(out);
    this.claimedThisStep.push(out);
    return out;
  }

  /** A reset chunk (a restarted stream): the calls of this step are gone, their ids free again. */
  releaseStep(): void {
    for (const id of this.claimedThisStep) this.used.delete(id);
    this.claimedThisStep.length = 0;
  }

  /** The step's calls are in the conversation now: their ids stay taken. */
  endStep(): void {
    this.claimedThisStep.length = 0;
  }
}

/** What one step's model answer adds to the conversation, and its calls in the model's order. */
export interface AssistantTurn {
  merged: ChatCompletion;
  message: AssistantMessage;
  /** The step's calls in the order the model made them (the order of `message.tool_calls`). */
  calls: LoopCall[];
}

/**
 * The assistant turn of one step: the whole merged message of choice 0 (text, refusal, reasoning,
 * `reasoning_details` with Anthropic thinking signatures and Responses reasoning items, each call's
 * `extra_content` with Gemini thought signatures, any other field the merge keeps), so the provider
 * that made it accepts it back, with each call's id replaced by the loop's and arguments that are not a
 * JSON object sent as `{}` (Anthropic and Gemini take parsed objects; the raw text is quoted in the
 * call's error result).
 *
 * Calls are paired with their merged view by provider index (or position) and provider id, never by
 * id alone: ids may be missing or repeated. A released call without a merged view (not expected) is
 * still sent; a merged call that was never released is left out, since a call without its result is
 * rejected by every provider.
 */
export function assistantTurn(raw: readonly Chunk[], released: readonly LoopCall[]): AssistantTurn {
  const merged = mergeChunks(raw);
  const choice = merged.choices.find((c) => c.index === 0);
  // The same fragments through the same assembler as the guard: position i here is the merged call i.
  const assembler = new ToolCallAssembler();
  for (const chunk of raw) {
    for (const c of chunk.choices)
      if (c.index === 0) for (const d of c.delta?.tool_calls ?? []) assembler.add(d);
  }
  const waiting = new Map<string, LoopCall[]>();
  for (const entry of released) {
    const list = waiting.get(entry.key);
    if (list) list.push(entry);
    else waiting.set(entry.key, [entry]);
  }
  const calls: LoopCall[] = [];
  const toolCalls: ToolCall[] = [];
  (choice?.message.tool_calls ?? []).forEach((view, i) => {
    const assembled = assembler.calls[i];
    const entry =
      assembled && waiting.get(callKey(assembled.index ?? assembled.position, assembled.id))?.shift();
    if (!entry) return;
    calls.push(entry);
    toolCalls.push(turnCall(entry.call, view));
  });
  for (const list of waiting.values()) {
    for (const entry of list) {
      calls.push(entry);
      toolCalls.push(turnCall(entry.call, undefined));
    }
  }

  const { role: _role, content, tool_calls: _calls, ...fields } = choice?.message ?? { content: null };
  const message: Record<string, unknown> = { role: 'assistant' };
  // '' (a role chunk's content) becomes null beside tool calls, as OpenAI sends it.
  message.content = content || (toolCalls.length > 0 ? null : '');
  for (const [key, value] of Object.entries(fields)) if (value != null) message[key] = value;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return { merged, message: message as AssistantMessage, calls };
}

function turnCall(call: ValidToolCall | InvalidToolCall, view: ToolCall | undefined): ToolCall {
  const args = view?.function.arguments ?? ('input' in call ? call.function.arguments : call.arguments);
  const extra = view === undefined && 'extra_content' in call ? call.extra_content : undefined;
  return {
    ...view,
    ...(extra !== undefined && { extra_content: extra }),
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: isJsonObject(args) ? args : '{}' },
  };
}
