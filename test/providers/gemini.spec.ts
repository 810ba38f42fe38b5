/**
 * Gemini provider over real HTTP: hand-written `streamGenerateContent?alt=sse` streams (our own bytes,
 * CRLF and multi-byte text included) replayed from a local server, split at every or seeded-random
 * byte boundary. Recorded fixtures are covered by test/conformance.
 */
import { take } from 'rxjs';
import {
  ApiError,
  ConfigurationError,
  FinishReasonError,
  RateLimitError,
  RequestValidationError,
  ServerError,
  StreamCutError,
  StreamParseError,
  complete,
  isUsageChunk,
  stream,
  type ChatRequest,
} from '../../src';
import { splitBytes } from '../../src/testing';
import { accumulateChunks } from '../../operators/accumulateChunks';
import { collect, summarize } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

interface Reply {
  status?: number;
  body: string;
  /** Byte offsets where the body is cut into separate writes. */
  splitAt?: number[];
  /** Leave the connection open after the body (for unsubscribe tests). */
  hang?: boolean;
}

/** The shared replay server, fed Gemini replies: JSON for error statuses, SSE otherwise. */
class GeminiReplay extends ReplayServer {
  enqueueReply(reply: Reply): void {
    const status = reply.status ?? 200;
    this.enqueueResponse({
      status,
      // A whole JSON body (complete(), errors) is labelled as JSON, as Google does: the transport checks it.
      headers: {
        'content-type':
          status === 200 && !reply.body.startsWith('{') ? 'text/event-stream' : 'application/json',
      },
      pieces: splitBytes(reply.body, { splitAt: reply.splitAt }),
      hang: reply.hang,
    });
  }
}

const KEY = 'AIzaTestKeyThatMustNeverLeak0123456789';
const server = new GeminiReplay('/v1beta');
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());

const opts = () => ({ baseURL: server.url, apiKey: KEY });
const REQ: ChatRequest = { model: 'gemini/gemini-test', messages: [{ role: 'user', content: 'hi' }] };

/** One Gemini SSE event per object, with the given line ending. */
const gsse = (events: object[], eol = '\n') =>
  events.map((e) => `data: ${JSON.stringify(e)}${eol}${eol}`).join('');
const cand = (parts: object[], extra: object = {}) => ({
  content: { role: 'model', parts },
  index: 0,
  ...extra,
});
const everyByte = (s: string) => Array.from({ length: Buffer.byteLength(s) }, (_, i) => i + 1);

describe('gemini stream(): normalization', () => {
  it('streams multi-byte text over CRLF split at every byte, then one usage-only chunk at the end', async () => {
    const body = gsse(
      [
        {
          candidates: [cand([{ text: 'Grüße 🌸' }])],
          usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 },
        },
        {
          candidates: [cand([{ text: ' 写诗' }], { finishReason: 'STOP' })],
          usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 6, totalTokenCount: 10 },
          modelVersion: 'gemini-test-001',
          responseId: 'resp-1',
        },
      ],
      '\r\n',
    );
    server.enqueueReply({ body, splitAt: everyByte(body) });
    const { values, completed } = await collect(stream(REQ, opts()));
    expect(completed).toBe(true);
    const s = summarize(values);
    expect(s.text).toBe('Grüße 🌸 写诗');
    expect(s.finish).toBe('stop');
    expect(values[0].choices[0].delta.role).toBe('assistant');
    // The finish is held until the body ended whole (a later event may still change it).
    expect(values[1].choices[0].finish_reason).toBeNull();
    expect(values[2].choices[0]).toEqual({
      index: 0,
      delta: {},
      finish_reason: 'stop',
      raw_finish_reason: 'STOP',
    });
    expect(values.filter(isUsageChunk)).toHaveLength(1);
    const last = values[values.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });
    expect(values.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('keeps the last cumulative usageMetadata (never a sum) and counts thoughts as completion', async () => {
    const body = gsse([
      {
        candidates: [cand([{ text: 'a' }])],
        usageMetadata: {
          promptTokenCount: 9,
          candidatesTokenCount: 1,
          thoughtsTokenCount: 50,
          totalTokenCount: 60,
        },
      },
      {
        candidates: [cand([{ text: 'b' }])],
        usageMetadata: {
          promptTokenCount: 9,
          candidatesTokenCount: 2,
          thoughtsTokenCount: 50,
          totalTokenCount: 61,
        },
      },
      {
        candidates: [cand([{ text: '' }], { finishReason: 'STOP' })],
        usageMetadata: {
          promptTokenCount: 9,
          candidatesTokenCount: 3,
          thoughtsTokenCount: 50,
          cachedContentTokenCount: 5,
          totalTokenCount: 62,
        },
      },
    ]);
    server.enqueueReply({ body, splitAt: [7, 100, 101] });
    const { values } = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(values[0].usage).toEqual({
      prompt_tokens: 9,
      completion_tokens: 53,
      total_tokens: 62,
      prompt_tokens_details: { cached_tokens: 5 },
      completion_tokens_details: { reasoning_tokens: 50 },
    });
  });

  it('emits no usage chunk when the call sets includeUsage: false', async () => {
    const event = {
      candidates: [cand([{ text: 'x' }], { finishReason: 'STOP' })],
      usageMetadata: { promptTokenCount: 1 },
    };
    server.enqueueReply({ body: gsse([event]) });
    const { values, completed } = await collect(stream(REQ, { ...opts(), includeUsage: false }));
    expect(completed).toBe(true);
    expect(values.map((c) => c.usage ?? null)).toEqual([null, null]);
  });

  it('routes thought parts to reasoning, never content, and keeps text-part signatures where their part ended', async () => {
    const body = gsse([
      { candidates: [cand([{ text: 'Let me count…', thought: true }])] },
      { candidates: [cand([{ text: 'Three.', thoughtSignature: 'c2lnbmF0dXJl' }])] },
      { candidates: [cand([{ text: '', thoughtSignature: 'c2ln' }], { finishReason: 'STOP' })] },
    ]);
    server.enqueueReply({ body });
    const { values } = await collect(stream(REQ, opts()));
    const s = summarize(values);
    expect(s.reasoning).toBe('Let me count…');
    expect(s.text).toBe('Three.');
    const place = { content: 6, tool_calls: 0 };
    expect(values[1].choices[0].delta).toEqual({
      content: 'Three.',
      reasoning_details: [
        { index: 0, type: 'google.thought_signature', signature: 'c2lnbmF0dXJl', after: place },
      ],
    });
    // An empty part that only carries a signature (how a stream often ends) is kept too.
    expect(values[2].choices[0].delta).toEqual({
      reasoning_details: [{ index: 1, type: 'google.thought_signature', signature: 'c2ln', after: place }],
    });
    expect(values[3].choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
  });

  it('emits each function call whole, with a running index and generated id, and finishes tool_calls', async () => {
    const body = gsse(
      [
        { candidates: [cand([{ text: 'Checking.' }])] },
        {
          candidates: [
            cand(
              [
                { functionCall: { name: 'weather', args: { city: 'Zürich' } }, thoughtSignature: 'U0lH' },
                { functionCall: { name: 'time', args: {} } },
              ],
              { finishReason: 'STOP' },
            ),
          ],
        },
      ],
      '\r\n',
    );
    server.enqueueReply({ body, splitAt: everyByte(body) });
    const { values } = await collect(stream(REQ, opts()));
    const calls = values.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_[0-9a-f]{16}_0$/),
        type: 'function',
        function: { name: 'weather', arguments: '{"city":"Zürich"}' },
        extra_content: { google: { thought_signature: 'U0lH' } },
      },
      {
        index: 1,
        id: expect.stringMatching(/^call_[0-9a-f]{16}_1$/),
        type: 'function',
        function: { name: 'time', arguments: '{}' },
      },
    ]);
    const s = summarize(values);
    expect(s.finish).toBe('tool_calls');
    expect(values[2].choices[0].raw_finish_reason).toBe('STOP');
    // Ids are unique across responses: a second turn never repeats the first turn's ids.
    server.enqueueReply({ body });
    const again = (await collect(stream(REQ, opts()))).values;
    const againIds = again
      .flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      .map((t) => t.id);
    expect(againIds).toHaveLength(2);
    expect(againIds).not.toContain(calls[0].id);
    expect(againIds).not.toContain(calls[1].id);
  });

  it.each([
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['OTHER', 'stop'],
  ])('maps finishReason %s to %s and keeps the raw one', async (raw, mapped) => {
    server.enqueueReply({ body: gsse([{ candidates: [cand([{ text: 'x' }], { finishReason: raw })] }]) });
    const { values, completed } = await collect(stream(REQ, opts()));
    expect(completed).toBe(true);
    expect(values[1].choices[0]).toEqual({
      index: 0,
      delta: {},
      finish_reason: mapped,
      raw_finish_reason: raw,
    });
  });

  it('ends a blocked prompt with content_filter and the blockReason, no candidates needed', async () => {
    server.enqueueReply({ body: gsse([{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } }], '\r\n') });
    const { values, completed } = await collect(stream(REQ, opts()));
    expect(completed).toBe(true);
    expect(values).toHaveLength(1);
    expect(values[0].choices).toEqual([
      {
        index: 0,
        delta: { role: 'assistant' },
        finish_reason: 'content_filter',
        raw_finish_reason: 'PROHIBITED_CONTENT',
      },
    ]);
  });

  it('appends every part and lets the last finishReason win (n = 2, finishReason on every event)', async () => {
    const two = (a: object, b: object) => ({
      candidates: [
        { ...a, index: 0 },
        { ...b, index: 1 },
      ],
    });
    const text = (t: string, finishReason?: string) => ({ content: { parts: [{ text: t }] }, finishReason });
    server.enqueueReply({
      body: gsse([two(text('a', 'STOP'), text('b')), two(text('c'), text('d', 'MAX_TOKENS'))]),
    });
    const whole = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(whole.values[0].choices.map((c) => [c.message.content, c.finish_reason])).toEqual([
      ['ac', 'stop'],
      ['bd', 'length'],
    ]);
    // Real streams: STOP on every event, RECITATION on the last (issue 9).
    server.enqueueReply({
      body: gsse([
        { candidates: [cand([{ text: 'one ' }], { finishReason: 'STOP' })] },
        { candidates: [cand([{ text: 'two ' }], { finishReason: 'STOP' })] },
        { candidates: [cand([{ text: 'three' }], { finishReason: 'RECITATION' })] },
      ]),
    });
    const recited = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(recited.values[0].choices[0]).toMatchObject({
      message: { content: 'one two three' },
      finish_reason: 'content_filter',
      raw_finish_reason: 'RECITATION',
    });
    server.enqueueReply({ body: gsse([two(text('a', 'STOP'), text('b'))]) });
    const cut = await collect(stream(REQ, opts()));
    expect(cut.error).toBeInstanceOf(StreamCutError);
  });

  it('fails with StreamCutError, keeping what arrived, when the body ends before a finishReason', async () => {
    const body = gsse([
      { candidates: [cand([{ text: 'half an ans' }])], usageMetadata: { promptTokenCount: 3 } },
    ]);
    server.enqueueReply({ body: body + 'data: {"candidates": [{"content": {"par' });
    const { values, error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(StreamCutError);
    expect((error as StreamCutError).retryable).toBe(true);
    expect(summarize(values).text).toBe('half an ans');
    expect(values.some(isUsageChunk)).toBe(false);
  });

  it('turns an in-band error event into the typed ApiError its code implies', async () => {
    const errorEvent = (code: number, status: string) => ({
      error: { code, message: `boom ${status}`, status },
    });
    server.enqueueReply({
      body: gsse([{ candidates: [cand([{ text: 'x' }])] }, errorEvent(429, 'RESOURCE_EXHAUSTED')]),
    });
    const limited = await collect(stream(REQ, opts()));
    expect(limited.error).toBeInstanceOf(RateLimitError);
    expect((limited.error as ApiError).message).toContain('boom RESOURCE_EXHAUSTED');
    expect((limited.error as ApiError).code).toBe('RESOURCE_EXHAUSTED');
    server.enqueueReply({ body: gsse([{ error: { message: 'later', status: 'UNAVAILABLE' } }]) });
    const unavailable = await collect(stream(REQ, opts()));
    expect(unavailable.error).toBeInstanceOf(ServerError);
    expect((unavailable.error as ApiError).status).toBe(503);
  });

  it('shows the message of an HTTP error body and never the key', async () => {
    const body = JSON.stringify({
      error: { code: 400, message: `API key not valid: ${KEY}`, status: 'INVALID_ARGUMENT' },
    });
    server.enqueueReply({ status: 400, body });
    const { error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as Error).message).toContain('API key not valid');
    expect(String(error) + JSON.stringify((error as ApiError).body)).not.toContain(KEY);
  });

  it('aborts the request when unsubscribed after the first chunk', async () => {
    server.enqueueReply({ body: gsse([{ candidates: [cand([{ text: 'one' }])] }]), hang: true });
    const { values, completed } = await collect(stream(REQ, opts()).pipe(take(1)));
    expect(completed).toBe(true);
    expect(values[0].choices[0].delta.content).toBe('one');
    while (server.aborted === 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.aborted).toBe(1);
  });
});

describe('gemini request translation', () => {
  const lastBody = () => server.requests[server.requests.length - 1].body;
  const finished = () => gsse([{ candidates: [cand([{ text: 'ok' }], { finishReason: 'STOP' })] }]);

  it('posts to models/<model>:streamGenerateContent?alt=sse with the key only in x-goog-api-key', async () => {
    server.enqueueReply({ body: finished() });
    await collect(stream(REQ, opts()));
    const seen = server.requests[0];
    expect(seen.url).toBe('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
    expect(seen.headers['x-goog-api-key']).toBe(KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.url).not.toContain(KEY);
  });

  it('translates system, roles, tool calls and tool results, merging same-role turns', async () => {
    server.enqueueReply({ body: finished() });
    const request: ChatRequest = {
      model: 'gemini/gemini-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: 'Weather in Bern and Oslo?' },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Bern"}' } },
            { id: 'c2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: '{"temp":3}' },
        { role: 'tool', tool_call_id: 'c2', content: 'sunny' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
          ],
        },
      ],
    };
    await collect(stream(request, opts()));
    const body = lastBody();
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Use tools.' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Bern and Oslo?' }] },
      {
        role: 'model',
        parts: [
          { text: 'Looking.' },
          { functionCall: { id: 'c1', name: 'weather', args: { city: 'Bern' } } },
          { functionCall: { id: 'c2', name: 'weather', args: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { id: 'c1', name: 'weather', response: { temp: 3 } } },
          { functionResponse: { id: 'c2', name: 'weather', response: { content: 'sunny' } } },
          { text: 'And this?' },
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0K' } },
        ],
      },
    ]);
  });

  it('translates tools, tool_choice and sampling options into tools, toolConfig and generationConfig', async () => {
    server.enqueueReply({ body: finished() });
    await collect(
      stream(
        {
          ...REQ,
          tools: [
            {
              type: 'function',
              function: {
                name: 'weather',
                description: 'Current weather',
                parameters: {
                  $schema: 'https://json-schema.org/draft/2020-12/schema',
                  type: 'object',
                  properties: { city: { type: 'string' }, additionalProperties: { type: 'boolean' } },
                  required: ['city'],
                  additionalProperties: false,
                },
              },
            },
            { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
          ],
          tool_choice: { type: 'function', function: { name: 'weather' } },
          max_tokens: 50,
          max_completion_tokens: 64,
          temperature: 0.3,
          top_p: 0.9,
          stop: 'END',
          n: 2,
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'w', schema: { type: 'object', properties: { t: { type: 'number' } } } },
          },
        },
        opts(),
      ),
    );
    const body = lastBody();
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'weather',
            description: 'Current weather',
            parametersJsonSchema: {
              type: 'object',
              properties: { city: { type: 'string' }, additionalProperties: { type: 'boolean' } },
              required: ['city'],
              additionalProperties: false,
            },
          },
          { name: 'now' },
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] },
    });
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 64,
      temperature: 0.3,
      topP: 0.9,
      stopSequences: ['END'],
      candidateCount: 2,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object', properties: { t: { type: 'number' } } },
    });
    expect(body.model).toBeUndefined();
    expect(body.messages).toBeUndefined();
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['required', { mode: 'ANY' }],
    ['none', { mode: 'NONE' }],
  ] as const)('maps tool_choice %s', async (choice, config) => {
    server.enqueueReply({ body: finished() });
    await collect(stream({ ...REQ, tool_choice: choice }, opts()));
    expect(lastBody().toolConfig).toEqual({ functionCallingConfig: config });
  });

  it('sends json_object as responseMimeType only, and merges a caller generationConfig', async () => {
    server.enqueueReply({ body: finished() });
    const request = {
      ...REQ,
      response_format: { type: 'json_object' as const },
      generationConfig: { thinkingConfig: { includeThoughts: true } },
    };
    await collect(stream(request, opts()));
    expect(lastBody().generationConfig).toEqual({
      responseMimeType: 'application/json',
      thinkingConfig: { includeThoughts: true },
    });
  });

  it('fails before sending on a tool message that answers no known call, or an image URL that is not data:', async () => {
    const orphan = await collect(
      stream({ ...REQ, messages: [{ role: 'tool', tool_call_id: 'x', content: '1' }] }, opts()),
    );
    expect(orphan.error).toBeInstanceOf(RequestValidationError);
    const url = { type: 'image_url' as const, image_url: { url: 'https://example.com/a.png' } };
    const remote = await collect(stream({ ...REQ, messages: [{ role: 'user', content: [url] }] }, opts()));
    expect(remote.error).toBeInstanceOf(RequestValidationError);
    expect(server.requests).toHaveLength(0);
  });

  const emptyCases: [string, ChatRequest['messages']][] = [
    [
      'all empty',
      [
        { role: 'user', content: '' },
        { role: 'assistant', content: '' },
      ],
    ],
    ['empty text parts', [{ role: 'user', content: [{ type: 'text', text: '' }] }]],
    [
      'only system text',
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: '' },
      ],
    ],
  ];
  it.each(emptyCases)(
    'refuses messages that leave contents empty (%s) before any network call',
    async (_case, messages) => {
      const streamed = await collect(stream({ ...REQ, messages }, opts()));
      const completed = await collect(complete({ ...REQ, messages }, opts()));
      for (const { error } of [streamed, completed]) {
        expect(error).toBeInstanceOf(RequestValidationError);
        expect((error as RequestValidationError).issues).toEqual([
          {
            path: ['messages'],
            message: expect.stringContaining('at least one user, assistant or tool message'),
          },
        ]);
      }
      expect(server.requests).toHaveLength(0);
    },
  );

  it('needs a key: ConfigurationError without options.apiKey or the env vars', async () => {
    const saved = [process.env.GEMINI_API_KEY, process.env.GOOGLE_API_KEY];
    delete process.env.GEMINI_API_KEY;
    delete process.env.GOOGLE_API_KEY;
    try {
      const { error } = await collect(stream(REQ, { baseURL: server.url }));
      expect(error).toBeInstanceOf(ConfigurationError);
      process.env.GOOGLE_API_KEY = 'google-env-key-12345';
      server.enqueueReply({ body: finished() });
      await collect(stream(REQ, { baseURL: server.url }));
      expect(server.requests[0].headers['x-goog-api-key']).toBe('google-env-key-12345');
    } finally {
      if (saved[0] === undefined) delete process.env.GEMINI_API_KEY;
      else process.env.GEMINI_API_KEY = saved[0];
      if (saved[1] === undefined) delete process.env.GOOGLE_API_KEY;
      else process.env.GOOGLE_API_KEY = saved[1];
    }
  });
});

describe('gemini complete()', () => {
  it('a :generateContent body of the wrong shape (candidates: [null]) is a StreamParseError, not a TypeError', async () => {
    server.enqueueReply({ body: JSON.stringify({ candidates: [null], responseId: 'r-1' }) });
    const { values, error } = await collect(complete(REQ, opts()));
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).type).toBe('invalid-body');
    expect((error as StreamParseError).message).toContain('Gemini');
  });

  it('posts to :generateContent and translates the response to a ChatCompletion', async () => {
    server.enqueueReply({
      body: JSON.stringify({
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { text: 'thinking…', thought: true },
                { text: 'Calling ' },
                { functionCall: { name: 'weather', args: { city: 'Köln' } } },
              ],
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: {
          promptTokenCount: 5,
          candidatesTokenCount: 7,
          thoughtsTokenCount: 2,
          totalTokenCount: 14,
        },
        modelVersion: 'gemini-test-002',
        responseId: 'r-9',
      }),
    });
    const { values } = await collect(complete(REQ, opts()));
    expect(server.requests[0].url).toBe('/v1beta/models/gemini-test:generateContent');
    expect(values[0].created).toBeGreaterThan(1_700_000_000);
    expect(values).toEqual([
      {
        id: 'r-9',
        object: 'chat.completion',
        created: expect.any(Number),
        model: 'gemini-test-002',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: 'Calling ',
              reasoning: 'thinking…',
              tool_calls: [
                {
                  id: expect.stringMatching(/^call_[0-9a-f]{16}_0$/),
                  type: 'function',
                  function: { name: 'weather', arguments: '{"city":"Köln"}' },
                },
              ],
            },
            finish_reason: 'tool_calls',
            raw_finish_reason: 'STOP',
          },
        ],
        usage: {
          prompt_tokens: 5,
          completion_tokens: 9,
          total_tokens: 14,
          completion_tokens_details: { reasoning_tokens: 2 },
        },
      },
    ]);
  });

  it('answers a blocked prompt with one content_filter choice and usage null', async () => {
    server.enqueueReply({ body: JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' } }) });
    const { values } = await collect(complete(REQ, opts()));
    expect(values[0].choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: null },
        finish_reason: 'content_filter',
        raw_finish_reason: 'SAFETY',
      },
    ]);
    expect(values[0].usage).toBeNull();
  });

  it('maps an HTTP 429 with a Google error body to RateLimitError with its message', async () => {
    server.enqueueReply({
      status: 429,
      body: JSON.stringify({ error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } }),
    });
    const { error } = await collect(complete(REQ, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as Error).message).toContain('Quota exceeded');
  });
});

describe('gemini: right on the wire (issue 13)', () => {
  const lastBody = () => server.requests[server.requests.length - 1].body;
  const finished = () => gsse([{ candidates: [cand([{ text: 'ok' }], { finishReason: 'STOP' })] }]);

  it('ends MALFORMED_FUNCTION_CALL with a FinishReasonError carrying finishMessage, keeping what arrived', async () => {
    server.enqueueReply({
      body: gsse([
        { candidates: [cand([{ text: 'Let me call.' }])] },
        {
          candidates: [
            cand([], {
              finishReason: 'MALFORMED_FUNCTION_CALL',
              finishMessage: 'Malformed function call: foo(',
            }),
          ],
        },
      ]),
    });
    const { values, error } = await collect(stream(REQ, opts()));
    expect(error).toBeInstanceOf(FinishReasonError);
    expect((error as FinishReasonError).message).toContain('Malformed function call: foo(');
    expect(summarize(values).text).toBe('Let me call.');
    expect(summarize(values).finish).toBeNull();
  });

  it('keeps Gemini’s own call id and stamps created with the time of the call', async () => {
    server.enqueueReply({
      body: gsse([
        {
          candidates: [
            cand([{ functionCall: { id: 'gem-7', name: 'f', args: { a: [1, 2] } } }], {
              finishReason: 'STOP',
            }),
          ],
        },
      ]),
    });
    const { values } = await collect(stream(REQ, opts()).pipe(accumulateChunks()));
    expect(values[0].created).toBeGreaterThan(1_700_000_000);
    expect(values[0].choices[0].message.tool_calls).toEqual([
      { id: 'gem-7', type: 'function', function: { name: 'f', arguments: '{"a":[1,2]}' } },
    ]);
  });

  it('sends no empty text part in user turns or systemInstruction, and zod 4 JSON Schema untouched', async () => {
    server.enqueueReply({ body: finished() });
    const schema = {
      type: 'object',
      properties: {
        kind: { const: 'point' },
        note: { type: ['string', 'null'] },
        tags: {
          type: 'object',
          propertyNames: { pattern: '^[a-z]+$' },
          additionalProperties: { type: 'string' },
        },
      },
      required: ['kind', 'note', 'tags'],
      additionalProperties: false,
    };
    await collect(
      stream(
        {
          ...REQ,
          messages: [
            { role: 'system', content: '' },
            {
              role: 'system',
              content: [
                { type: 'text', text: '' },
                { type: 'text', text: 'Be brief.' },
              ],
            },
            {
              role: 'user',
              content: [
                { type: 'text', text: '' },
                { type: 'text', text: 'hi' },
              ],
            },
            { role: 'user', content: '' },
          ],
          tools: [{ type: 'function', function: { name: 'f', parameters: schema } }],
          response_format: { type: 'json_schema', json_schema: { name: 'p', schema } },
        },
        opts(),
      ),
    );
    const body = lastBody();
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'hi' }] }]);
    expect(body.tools[0].functionDeclarations[0]).toEqual({ name: 'f', parametersJsonSchema: schema });
    expect(body.generationConfig.responseJsonSchema).toEqual(schema);
    expect(body.generationConfig.responseSchema).toBeUndefined();
  });

  it('rejects arguments that are a JSON array before sending (Gemini takes a Struct)', async () => {
    const { error } = await collect(
      stream(
        {
          ...REQ,
          messages: [
            { role: 'user', content: 'x' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '[1,2]' } }],
            },
            { role: 'tool', tool_call_id: 'c1', content: 'ok' },
          ],
        },
        opts(),
      ),
    );
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as Error).message).toContain('JSON object');
    expect(server.requests).toHaveLength(0);
  });
});
