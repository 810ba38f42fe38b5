/**
 * Anthropic Messages provider over real HTTP: hand-written SSE streams (our own bytes, not
 * recordings) replayed by a local server, through `stream()` / `complete()`.
 */
import { firstValueFrom } from 'rxjs';
import {
  AuthenticationError,
  ConfigurationError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  complete,
  stream,
  type ChatRequest,
  type Chunk,
} from '../../src';
import { ANTHROPIC_REQUEST_DEFAULTS } from '../../src/providers/anthropic';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect, summarize } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const KEY = 'sk-ant-test-secret-key-0123456789';
const server = new ReplayServer();
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());

const opts = () => ({ baseURL: server.url, apiKey: KEY });
const REQUEST: ChatRequest = { model: 'anthropic/claude-test', messages: [{ role: 'user', content: 'hi' }] };

/** One SSE event in Anthropic's wire format: `event:` line, `data:` line with the same type. */
function ev(data: { type: string; [k: string]: unknown }, eol = '\n'): string {
  return `event: ${data.type}${eol}data: ${JSON.stringify(data)}${eol}${eol}`;
}
const start = (usage: object = { input_tokens: 10, output_tokens: 1 }) =>
  ev({
    type: 'message_start',
    message: { id: 'msg_own', type: 'message', role: 'assistant', model: 'claude-own', content: [], usage },
  });
const textStart = (index: number) =>
  ev({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
const text = (index: number, t: string) =>
  ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
const stop = (index: number) => ev({ type: 'content_block_stop', index });
const toolStart = (index: number, id: string, name: string) =>
  ev({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } });
const json = (index: number, partial: string) =>
  ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } });
const delta = (stopReason: string, usage: object = { output_tokens: 7 }) =>
  ev({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage });
const end = ev({ type: 'message_stop' });
const ping = ev({ type: 'ping' });

async function run(bytes: string, request: ChatRequest = REQUEST) {
  server.enqueue(bytes);
  return collect(stream(request, opts()));
}

describe('anthropic stream()', () => {
  it('streams text and ignores ping; a role chunk first, then finish, then a usage-only chunk', async () => {
    const { values, completed } = await run(
      start() +
        textStart(0) +
        ping +
        text(0, 'Hel') +
        ping +
        text(0, 'lo') +
        stop(0) +
        delta('end_turn') +
        end,
    );
    expect(completed).toBe(true);
    expect(values[0]).toMatchObject({
      id: 'msg_own',
      object: 'chat.completion.chunk',
      model: 'claude-own',
      choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }],
    });
    expect(Math.abs(values[0].created - Date.now() / 1000)).toBeLessThan(60);
    expect(summarize(values).text).toBe('Hello');
    const finishAt = values.findIndex((c) => c.choices[0]?.finish_reason != null);
    expect(values[finishAt].choices[0]).toMatchObject({
      finish_reason: 'stop',
      raw_finish_reason: 'end_turn',
    });
    expect(values[finishAt + 1]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 },
    });
    expect(values).toHaveLength(finishAt + 2);
    expect(values.every((c) => c.id === 'msg_own' && c.model === 'claude-own')).toBe(true);
  });

  it('puts thinking in delta.reasoning, never in content, and the block with its signature in reasoning_details', async () => {
    const bytes =
      start() +
      ev({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      }) +
      ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } }) +
      ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think.' } }) +
      ev({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: 'c2lnbmF0dXJl' },
      }) +
      stop(0) +
      textStart(1) +
      text(1, 'Answer: 4') +
      stop(1) +
      delta('end_turn') +
      end;
    const { values } = await run(bytes);
    const s = summarize(values);
    expect(s.reasoning).toBe('Let me think.');
    expect(s.text).toBe('Answer: 4');
    server.enqueue(bytes, { seed: 3, pieces: 40 });
    const [whole] = (await collect(stream(REQUEST, opts()).pipe(accumulateChunks()))).values;
    expect(whole.choices[0].message.reasoning_details).toEqual([
      { index: 0, type: 'thinking', text: 'Let me think.', signature: 'c2lnbmF0dXJl' },
    ]);
    expect(whole.choices[0].message.content).toBe('Answer: 4');
  });

  it('streams text then tool_use blocks as tool_calls indexed by tool ordinal, fragments concatenated', async () => {
    const bytes =
      start() +
      textStart(0) +
      text(0, 'Checking.') +
      stop(0) +
      toolStart(1, 'toolu_a', 'get_weather') +
      json(1, '') +
      json(1, '{"city":') +
      json(1, ' "Paris"}') +
      stop(1) +
      toolStart(2, 'toolu_b', 'get_time') +
      json(2, '{"tz":"CET"}') +
      stop(2) +
      delta('tool_use') +
      end;
    const { values } = await run(bytes);
    const starts = values.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id);
    expect(starts).toEqual([
      { index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '' } },
    ]);
    server.enqueue(bytes, { seed: 7, pieces: 30 });
    const merged = await firstValueFrom(stream(REQUEST, opts()).pipe(accumulateChunks()));
    expect(merged.choices[0].message.content).toBe('Checking.');
    expect(merged.choices[0].message.tool_calls).toEqual([
      { id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
      { id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
    ]);
    expect(merged.choices[0]).toMatchObject({ finish_reason: 'tool_calls', raw_finish_reason: 'tool_use' });
  });

  it('gives a tool_use with no fragments, or only "", the arguments "{}"', async () => {
    const bytes =
      start() +
      toolStart(0, 'toolu_none', 'now') +
      stop(0) +
      toolStart(1, 'toolu_empty', 'today') +
      json(1, '') +
      stop(1) +
      delta('tool_use') +
      end;
    server.enqueue(bytes);
    const merged = await firstValueFrom(stream(REQUEST, opts()).pipe(accumulateChunks()));
    expect(merged.choices[0].message.tool_calls?.map((t) => t.function.arguments)).toEqual(['{}', '{}']);
  });

  it.each([
    ['max_tokens', 'length'],
    ['stop_sequence', 'stop'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'stop'],
    ['model_context_window_exceeded', 'length'],
  ])('maps stop_reason %s to finish_reason %s and keeps the raw value', async (raw, mapped) => {
    const { values } = await run(start() + textStart(0) + text(0, 'x') + stop(0) + delta(raw) + end);
    const finish = values.find((c) => c.choices[0]?.finish_reason != null);
    expect(finish?.choices[0]).toMatchObject({ finish_reason: mapped, raw_finish_reason: raw });
  });

  it('counts cache reads and writes in prompt_tokens; output_tokens is cumulative, the last one wins', async () => {
    const usage = {
      input_tokens: 5,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 20,
      output_tokens: 3,
    };
    const { values } = await run(
      start(usage) + textStart(0) + text(0, 'x') + stop(0) + delta('end_turn', { output_tokens: 42 }) + end,
    );
    const usages = values.filter((c) => c.usage).map((c) => c.usage);
    expect(usages).toEqual([
      {
        prompt_tokens: 125,
        completion_tokens: 42,
        total_tokens: 167,
        prompt_tokens_details: { cached_tokens: 20, cache_creation_tokens: 100 },
      },
    ]);
  });

  it('emits no usage chunk when includeUsage is false', async () => {
    server.enqueue(start() + textStart(0) + text(0, 'x') + stop(0) + delta('end_turn') + end);
    const { values, completed } = await collect(stream(REQUEST, { ...opts(), includeUsage: false }));
    expect(completed).toBe(true);
    expect(values.some((c) => c.usage)).toBe(false);
    expect(summarize(values).finish).toBe('stop');
  });

  it('ends with a retryable 529 ServerError on an overloaded error event, after delivering the chunks before it', async () => {
    const bytes =
      start() +
      textStart(0) +
      text(0, 'Partial ') +
      text(0, 'answer') +
      ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }) +
      text(0, ' never seen');
    const { values, error } = await run(bytes);
    expect(summarize(values).text).toBe('Partial answer');
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 529, retryable: true, code: 'overloaded_error' });
    expect((error as Error).message).toContain('Overloaded');

    server.enqueue(bytes, { seed: 3, pieces: 12 });
    const merged = await collect(stream(REQUEST, opts()).pipe(accumulateChunks()));
    expect(merged.error).toBeInstanceOf(ServerError);
    expect((merged.error as ServerError).partial?.choices[0].message.content).toBe('Partial answer');
    expect((merged.error as ServerError).partial?.usage).toBeNull();
  });

  it('errors with a retryable StreamCutError when the stream ends before message_stop', async () => {
    const cutMidText = await run(start() + textStart(0) + text(0, 'Half'));
    expect(cutMidText.error).toBeInstanceOf(StreamCutError);
    expect((cutMidText.error as StreamCutError).retryable).toBe(true);
    expect(summarize(cutMidText.values).text).toBe('Half');

    // Even with a stop reason: without message_stop the stream is not known to be whole.
    const cutAfterDelta = await run(start() + textStart(0) + text(0, 'All') + stop(0) + delta('end_turn'));
    expect(cutAfterDelta.error).toBeInstanceOf(StreamCutError);
    expect(summarize(cutAfterDelta.values).finish).toBe('stop');
  });

  it('turns a malformed event into a StreamParseError', async () => {
    const { error, values } = await run(
      start() + 'event: content_block_delta\ndata: {"type":"content_bl\n\n' + end,
    );
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).type).toBe('invalid-json');
    expect(values).toHaveLength(1);
  });

  it('skips unknown event and delta types', async () => {
    const { values, completed } = await run(
      start() +
        ev({ type: 'future_event', foo: 1 }) +
        textStart(0) +
        ev({ type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: {} } }) +
        text(0, 'ok') +
        stop(0) +
        delta('end_turn') +
        end,
    );
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('ok');
  });

  it('keeps multi-byte characters and CRLF pairs split across one-byte network reads', async () => {
    const t = '写一首诗 🌸👩‍👩‍👧 café ÷';
    const bytes = [start(), textStart(0), ...[...t].map((ch) => text(0, ch)), stop(0), delta('end_turn'), end]
      .join('')
      .replace(/\n/g, '\r\n');
    const raw = Buffer.from(bytes);
    server.enqueue(raw, { splitAt: Array.from({ length: raw.length - 1 }, (_, i) => i + 1) });
    const { values, completed } = await collect(stream(REQUEST, opts()));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe(t);
  }, 60_000); // one write per byte: ~10 s on a loaded 2-core machine (a hang guard, not a speed limit)

  it('merges to the same response at random byte splits', async () => {
    const bytes = Buffer.from(
      start() +
        textStart(0) +
        text(0, 'Ünïcödé ✓ ') +
        text(0, '🌍') +
        stop(0) +
        toolStart(1, 'toolu_x', 'f') +
        json(1, '{"q":"naïve') +
        json(1, ' ☃"}') +
        stop(1) +
        delta('tool_use') +
        end,
    );
    for (const seed of [1, 2, 3, 4, 5]) {
      server.enqueue(bytes, { seed, pieces: 5 + seed * 20 });
      const merged = await firstValueFrom(stream(REQUEST, opts()).pipe(accumulateChunks()));
      expect(merged.choices[0].message.content).toBe('Ünïcödé ✓ 🌍');
      expect(merged.choices[0].message.tool_calls?.[0].function.arguments).toBe('{"q":"naïve ☃"}');
    }
  });
});

describe('anthropic request translation', () => {
  const whole = start() + textStart(0) + text(0, 'x') + stop(0) + delta('end_turn') + end;

  async function sent(request: ChatRequest) {
    server.enqueue(whole);
    const result = await collect(stream(request, opts()));
    expect(result.error).toBeUndefined();
    return server.requests[server.requests.length - 1];
  }

  it('POSTs to {baseURL}/messages with x-api-key, anthropic-version, stream:true and the bare model', async () => {
    const req = await sent(REQUEST);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe(KEY);
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual({
      model: 'claude-test',
      max_tokens: ANTHROPIC_REQUEST_DEFAULTS.maxTokens,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      stream: true,
    });
  });

  it('moves system and developer messages to the top-level system field', async () => {
    const one = await sent({
      ...REQUEST,
      messages: [{ role: 'system', content: 'Be brief.' }, ...REQUEST.messages],
    });
    expect(one.body.system).toBe('Be brief.');
    expect(one.body.messages).toHaveLength(1);
    const two = await sent({
      ...REQUEST,
      messages: [
        { role: 'system', content: 'A' },
        { role: 'developer', content: [{ type: 'text', text: 'B' }] },
        ...REQUEST.messages,
      ],
    });
    expect(two.body.system).toEqual([
      { type: 'text', text: 'A' },
      { type: 'text', text: 'B' },
    ]);
  });

  it('turns assistant tool_calls into tool_use blocks and merges consecutive tool results into one user turn', async () => {
    const req = await sent({
      ...REQUEST,
      messages: [
        { role: 'user', content: 'weather and time?' },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'thanks' },
      ],
    });
    expect(req.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather and time?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'time', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
          { type: 'text', text: 'thanks' },
        ],
      },
    ]);
  });

  it('translates image parts: data URLs to base64 sources, others to url sources', async () => {
    const req = await sent({
      ...REQUEST,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(req.body.messages[0].content).toEqual([
      { type: 'text', text: 'compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('translates tools to input_schema and each tool_choice to Anthropic vocabulary', async () => {
    const tools: ChatRequest['tools'] = [
      {
        type: 'function',
        function: {
          name: 'weather',
          description: 'Get weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
      { type: 'function', function: { name: 'now' } },
    ];
    const req = await sent({ ...REQUEST, tools });
    expect(req.body.tools).toEqual([
      {
        name: 'weather',
        description: 'Get weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(req.body.tool_choice).toBeUndefined();
    const choices: [ChatRequest['tool_choice'], object][] = [
      ['auto', { type: 'auto' }],
      ['required', { type: 'any' }],
      ['none', { type: 'none' }],
      [
        { type: 'function', function: { name: 'now' } },
        { type: 'tool', name: 'now' },
      ],
    ];
    for (const [choice, want] of choices) {
      expect((await sent({ ...REQUEST, tools, tool_choice: choice })).body.tool_choice).toEqual(want);
    }
    const serial = await sent({ ...REQUEST, tools, parallel_tool_calls: false });
    expect(serial.body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  });

  it('maps sampling fields, passes Anthropic-only extras through and drops OpenAI-only ones', async () => {
    const req = await sent({
      ...REQUEST,
      max_completion_tokens: 300,
      temperature: 0.5,
      top_p: 0.9,
      stop: 'END',
      seed: 1,
      frequency_penalty: 0.5,
      user: 'u-42',
      ...({
        top_k: 20,
        thinking: { type: 'enabled', budget_tokens: 256 },
        reasoning_effort: 'high',
      } as object),
    });
    expect(req.body).toEqual({
      model: 'claude-test',
      max_tokens: 300,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ['END'],
      top_k: 20,
      thinking: { type: 'enabled', budget_tokens: 256 },
      metadata: { user_id: 'u-42' },
      stream: true,
    });
    expect((await sent({ ...REQUEST, max_tokens: 99, max_completion_tokens: 300 })).body.max_tokens).toBe(99);
    expect((await sent({ ...REQUEST, stop: ['a', 'b'] })).body.stop_sequences).toEqual(['a', 'b']);
  });

  it('rejects tool call arguments that are not a JSON object before sending anything', async () => {
    const result = await collect(
      stream(
        {
          ...REQUEST,
          messages: [
            { role: 'user', content: 'x' },
            {
              role: 'assistant',
              tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{bad' } }],
            },
          ],
        },
        opts(),
      ),
    );
    expect(result.error).toBeInstanceOf(RequestValidationError);
    expect((result.error as RequestValidationError).issues[0].path).toEqual([
      'messages',
      1,
      'tool_calls',
      0,
      'function',
      'arguments',
    ]);
    expect(server.requests).toHaveLength(0);
  });

  it('fails with ConfigurationError before sending when there is no key', async () => {
    const saved = process.env.ANTHROPIC_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const result = await collect(stream(REQUEST, { baseURL: server.url }));
      expect(result.error).toBeInstanceOf(ConfigurationError);
      expect((result.error as Error).message).toContain('ANTHROPIC_API_KEY');
      expect(server.requests).toHaveLength(0);
    } finally {
      if (saved !== undefined) process.env.ANTHROPIC_API_KEY = saved;
    }
  });
});

describe('anthropic HTTP errors', () => {
  const errorBody = (type: string, message: string) =>
    Buffer.from(JSON.stringify({ type: 'error', error: { type, message } }));

  it("shows Anthropic's error message and never the API key, even when the server echoes it", async () => {
    server.enqueueResponse({
      status: 401,
      headers: { 'content-type': 'application/json', 'request-id': 'req_own' },
      pieces: [errorBody('authentication_error', `invalid x-api-key ${KEY}`)],
    });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(AuthenticationError);
    const e = error as AuthenticationError;
    expect(e.message).toContain('invalid x-api-key');
    expect(e.requestId).toBe('req_own');
    expect(`${e.message} ${String(e)} ${JSON.stringify(e.body)} ${JSON.stringify(e.headers)}`).not.toContain(
      KEY,
    );
  });

  it('maps HTTP 529 overloaded to a retryable ServerError', async () => {
    server.enqueueResponse({
      status: 529,
      headers: { 'content-type': 'application/json' },
      pieces: [errorBody('overloaded_error', 'Overloaded')],
    });
    const { error } = await collect(stream(REQUEST, opts()));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 529, retryable: true, code: 'overloaded_error' });
    expect((error as Error).message).toContain('Overloaded');
  });
});

describe('anthropic complete()', () => {
  const message = {
    id: 'msg_whole',
    type: 'message',
    role: 'assistant',
    model: 'claude-own',
    content: [
      { type: 'thinking', thinking: 'Hmm.', signature: 'sig' },
      { type: 'text', text: 'Calling ' },
      { type: 'text', text: 'tools.' },
      { type: 'tool_use', id: 'toolu_w', name: 'weather', input: { city: 'Köln' } },
      { type: 'tool_use', id: 'toolu_n', name: 'now', input: {} },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 10, cache_read_input_tokens: 4, output_tokens: 9 },
  };

  it('translates a Message to a ChatCompletion and sends no stream flag', async () => {
    server.enqueueResponse({
      headers: { 'content-type': 'application/json' },
      pieces: [Buffer.from(JSON.stringify(message))],
    });
    const res = await firstValueFrom(complete(REQUEST, opts()));
    expect(server.requests[0].body.stream).toBeUndefined();
    expect(server.requests[0].headers.accept).toBe('application/json');
    expect(res).toMatchObject({ id: 'msg_whole', object: 'chat.completion', model: 'claude-own' });
    expect(res.choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Calling tools.',
          reasoning: 'Hmm.',
          reasoning_details: [{ index: 0, type: 'thinking', text: 'Hmm.', signature: 'sig' }],
          tool_calls: [
            { id: 'toolu_w', type: 'function', function: { name: 'weather', arguments: '{"city":"Köln"}' } },
            { id: 'toolu_n', type: 'function', function: { name: 'now', arguments: '{}' } },
          ],
        },
        finish_reason: 'tool_calls',
        raw_finish_reason: 'tool_use',
      },
    ]);
    expect(res.usage).toEqual({
      prompt_tokens: 14,
      completion_tokens: 9,
      total_tokens: 23,
      prompt_tokens_details: { cached_tokens: 4 },
    });
  });

  it('gives content null for a tool-only message, and errors on an error body inside a 200', async () => {
    server.enqueueResponse({
      headers: { 'content-type': 'application/json' },
      pieces: [Buffer.from(JSON.stringify({ ...message, content: [message.content[3]] }))],
    });
    const res = await firstValueFrom(complete(REQUEST, opts()));
    expect(res.choices[0].message.content).toBeNull();

    server.enqueueResponse({
      headers: { 'content-type': 'application/json' },
      pieces: [
        Buffer.from(
          JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
        ),
      ],
    });
    const { error } = await collect(complete(REQUEST, opts()));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).status).toBe(529);
  });
});

// Keeps the Chunk type import honest for readers: every value above is one.
export type { Chunk };
