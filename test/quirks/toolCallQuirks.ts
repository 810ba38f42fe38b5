/**
 * Hand-written streams, one per tool-call / merge rule real providers need (our own bytes, not
 * recordings), so the rules are tested without ../shared/fixtures. Each case says what merging it
 * must give; the operator specs use the chunks directly, the conformance suite replays them over HTTP.
 */
import type { Chunk, ChunkChoice, ChunkDelta, FinishReason, ToolCallDelta, Usage } from '../../src/chunk';

/** A chunk with one choice (or several, for n > 1). */
export function chunk(choices: Partial<ChunkChoice>[] | ChunkDelta, extra: Partial<Chunk> = {}): Chunk {
  const list: ChunkChoice[] = Array.isArray(choices)
    ? choices.map((c) => ({ index: 0, delta: {}, finish_reason: null, ...c }))
    : [{ index: 0, delta: choices, finish_reason: null }];
  return {
    id: 'chatcmpl-q',
    object: 'chat.completion.chunk',
    created: 7,
    model: 'quirk-model',
    choices: list,
    ...extra,
  };
}

export const text = (content: string | null, extra: Partial<ChunkChoice> = {}): Chunk =>
  chunk([{ delta: { content }, ...extra }]);
export const tools = (...calls: ToolCallDelta[]): Chunk => chunk({ tool_calls: calls });
export const finish = (reason: FinishReason, index = 0): Chunk =>
  chunk([{ index, delta: {}, finish_reason: reason }]);
export const usageChunk = (prompt: number, completion: number): Chunk =>
  chunk([], {
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });
export const call = (
  index: number | undefined,
  id: string | undefined,
  name: string | undefined,
  args?: string,
) => {
  const d: ToolCallDelta = {};
  if (index !== undefined) d.index = index;
  if (id !== undefined) d.id = id;
  if (name !== undefined) d.type = 'function';
  const fn: { name?: string; arguments?: string } = {};
  if (name !== undefined) fn.name = name;
  if (args !== undefined) fn.arguments = args;
  d.function = fn;
  return d;
};

export interface QuirkCase {
  name: string;
  /** The rule the case pins down. */
  rule: string;
  chunks: Chunk[];
  expected: {
    text: string;
    tool_calls: { id: string; name: string; arguments: string }[];
    finish_reason: FinishReason | null;
    usage: Usage | null;
  };
}

const u = (p: number, c: number): Usage => ({ prompt_tokens: p, completion_tokens: c, total_tokens: p + c });

export const QUIRKS: QuirkCase[] = [
  {
    name: 'index-starts-at-1',
    rule: 'tool-call indexes may start at 1 (Anthropic via OpenAI-compatible proxies)',
    chunks: [
      text('Let me look.'),
      tools(call(1, 'call_a', 'read_file', '')),
      tools(call(1, undefined, undefined, '{"path":')),
      tools(call(1, undefined, undefined, '"a.txt"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: 'Let me look.',
      tool_calls: [{ id: 'call_a', name: 'read_file', arguments: '{"path":"a.txt"}' }],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'no-index-matched-by-id',
    rule: 'a fragment without index is matched by its id (calls interleaved)',
    chunks: [
      tools(call(undefined, 'call_a', 'get_weather', '{"city":')),
      tools(call(undefined, 'call_b', 'get_time', '{"tz":')),
      tools(call(undefined, 'call_a', undefined, '"Paris"}')),
      tools(call(undefined, 'call_b', undefined, '"CET"}')),
      finish('tool_calls'),
      usageChunk(20, 12),
    ],
    expected: {
      text: '',
      tool_calls: [
        { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'call_b', name: 'get_time', arguments: '{"tz":"CET"}' },
      ],
      finish_reason: 'tool_calls',
      usage: u(20, 12),
    },
  },
  {
    name: 'no-index-no-id-continues-last',
    rule: 'a fragment with neither index nor id continues the last call',
    chunks: [
      tools(call(undefined, 'call_a', 'search', '')),
      tools(call(undefined, undefined, undefined, '{"q":')),
      tools(call(undefined, undefined, undefined, '"rxjs"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [{ id: 'call_a', name: 'search', arguments: '{"q":"rxjs"}' }],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'new-id-on-used-index',
    rule: 'a different non-empty id on an index already in use starts a new call',
    chunks: [
      tools(call(0, 'call_a', 'get_weather', '{"city":"Oslo"}')),
      tools(call(0, 'call_b', 'get_weather', '{"city":')),
      tools(call(0, undefined, undefined, '"Rome"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [
        { id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}' },
      ],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'later-empty-and-repeated-name',
    rule: 'a later name "" does not clobber the name; a repeated name is not concatenated; same id continues',
    chunks: [
      tools(call(0, 'call_a', 'get_weather', '')),
      tools(call(0, 'call_a', '', '{"city"')),
      tools(call(0, 'call_a', 'get_weather', ':"Lima"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [{ id: 'call_a', name: 'get_weather', arguments: '{"city":"Lima"}' }],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'whole-calls-in-one-delta',
    rule: 'whole calls may arrive in one delta (Gemini-style), two in one chunk, finish in the same chunk',
    chunks: [
      chunk([
        {
          delta: {
            content: 'Both.',
            tool_calls: [
              call(0, 'call_a', 'get_weather', '{"city":"Kyiv"}'),
              call(1, 'call_b', 'get_time', '{}'),
            ],
          },
          finish_reason: 'tool_calls',
        },
      ]),
    ],
    expected: {
      text: 'Both.',
      tool_calls: [
        { id: 'call_a', name: 'get_weather', arguments: '{"city":"Kyiv"}' },
        { id: 'call_b', name: 'get_time', arguments: '{}' },
      ],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'whole-calls-one-index-no-id',
    rule: 'whole calls under one index and no id are separate calls (Gemini OpenAI-compatible endpoint)',
    chunks: [
      tools(call(0, undefined, 'get_weather', '{"city":"Kyiv"}')),
      tools(call(0, undefined, 'get_weather', '{"city":"Lviv"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [
        { id: '', name: 'get_weather', arguments: '{"city":"Kyiv"}' },
        { id: '', name: 'get_weather', arguments: '{"city":"Lviv"}' },
      ],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'whole-calls-no-index-same-id',
    rule: 'whole calls with no index and a repeated (or empty) id are separate calls',
    chunks: [
      tools(call(undefined, 'call_0', 'get_weather', '{"city":"Kyiv"}')),
      tools(call(undefined, 'call_0', 'get_time', '{}')),
      tools(call(undefined, '', 'get_weather', '{"city":"Lviv"}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [
        { id: 'call_0', name: 'get_weather', arguments: '{"city":"Kyiv"}' },
        { id: 'call_0', name: 'get_time', arguments: '{}' },
        { id: '', name: 'get_weather', arguments: '{"city":"Lviv"}' },
      ],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'no-index-id-on-every-fragment',
    rule: 'fragments without index that repeat their call id (and name) continue it until its JSON is whole',
    chunks: [
      tools(call(undefined, '0', 'get_weather', '')),
      tools(call(undefined, '0', 'get_weather', '{"city":')),
      tools(call(undefined, '0', undefined, '"Kyiv"}')),
      tools(call(undefined, '1', 'get_time', '{}')),
      finish('tool_calls'),
    ],
    expected: {
      text: '',
      tool_calls: [
        { id: '0', name: 'get_weather', arguments: '{"city":"Kyiv"}' },
        { id: '1', name: 'get_time', arguments: '{}' },
      ],
      finish_reason: 'tool_calls',
      usage: null,
    },
  },
  {
    name: 'cumulative-usage-last-wins',
    rule: 'usage is cumulative: the last non-null usage wins, never a sum; null usage does not erase it',
    chunks: [
      chunk({ content: 'Hi' }, { usage: u(5, 1) }),
      chunk({ content: ' there' }, { usage: u(5, 2) }),
      chunk([{ delta: {}, finish_reason: 'stop' }], { usage: null }),
      usageChunk(5, 3),
    ],
    expected: { text: 'Hi there', tool_calls: [], finish_reason: 'stop', usage: u(5, 3) },
  },
  {
    name: 'null-content-and-empty-deltas',
    rule: 'content null and empty deltas add nothing; no usage stays null, never 0',
    chunks: [chunk({ role: 'assistant', content: null }), text(''), text('ok'), text(null), finish('stop')],
    expected: { text: 'ok', tool_calls: [], finish_reason: 'stop', usage: null },
  },
];
