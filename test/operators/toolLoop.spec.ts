import { firstValueFrom, from, lastValueFrom, map, NEVER, Observable, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import { cost, createClient, type ChatMessage, type ChatRequest, type Chunk, type Usage } from '../../src';
import { ServerError } from '../../src/errors';
import { toAnthropicBody } from '../../src/providers/anthropic/request';
import { toGeminiBody } from '../../src/providers/gemini/request';
import {
  createMockServer,
  scriptToChunks,
  type MockChatBody,
  type MockScript,
  type MockServer,
} from '../../src/testing';
import { textDeltas } from '../../operators/textDeltas';
import { call, chunk, finish, text, tools } from '../quirks/toolCallQuirks';
import {
  isToolLoopEvent,
  toolLoop,
  type ToolLoopChunk,
  type ToolLoopConfig,
  type ToolLoopEvent,
} from '../../operators/toolLoop';
import { tool } from '../../operators/tool';

const request: ChatRequest = {
  model: 'compat/mock',
  messages: [{ role: 'user', content: 'What is the weather in Lisbon?' }],
};

const weather = tool({
  description: 'Current weather for a city',
  schema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});

const events = (chunks: ToolLoopChunk[]): ToolLoopEvent[] =>
  chunks.filter(isToolLoopEvent).map((c) => c.tool_loop);
const types = (chunks: ToolLoopChunk[]) => events(chunks).map((e) => e.type);

/** A client that answers each request with the next script's chunks, synchronously. */
function scripted(...scripts: (MockScript | string | Chunk[])[]) {
  const requests: ChatRequest[] = [];
  return {
    requests,
    client: {
      stream: (body: ChatRequest) =>
        new Observable<Chunk>((subscriber) => {
          requests.push(structuredClone(body));
          const script = scripts.shift();
          if (script === undefined) throw new Error('no script left');
          return from(Array.isArray(script) ? script : scriptToChunks(script)).subscribe(subscriber);
        }),
    },
  };
}

describe('toolLoop usage', () => {
  it('sums cached and reasoning tokens over the steps, so the finish usage prices right', async () => {
    const usageChunk = (prompt: number, completion: number, cached: number, reasoning: number) =>
      chunk([], {
        usage: {
          prompt_tokens: prompt,
          completion_tokens: completion,
          total_tokens: prompt + completion,
          prompt_tokens_details: { cached_tokens: cached },
          completion_tokens_details: { reasoning_tokens: reasoning },
        },
      });
    const { client } = scripted(
      [
        tools(call(0, 'call_w', 'get_weather', '{"city":"Lisbon"}')),
        finish('tool_calls'),
        usageChunk(100, 20, 80, 5),
      ],
      [text('21 °C.'), finish('stop'), usageChunk(150, 10, 100, 0)],
    );
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );
    const end = events(chunks).at(-1)!;
    if (end.type !== 'finish') throw new Error(`expected finish, got ${end.type}`);
    expect(end.usage).toEqual({
      prompt_tokens: 250,
      completion_tokens: 30,
      total_tokens: 280,
      prompt_tokens_details: { cached_tokens: 180 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
  });
});

describe('toolLoop usage: cache writes', () => {
  it('keeps Anthropic cache writes (5-minute and 1-hour) in the finish usage: its cost is the sum of the steps', async () => {
    const written = (prompt: number, completion: number, writes: number, writes1h: number): Usage => ({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cache_creation_tokens: writes, cache_creation_1h_tokens: writes1h },
    });
    const steps = [written(100_050, 10, 100_000, 100_000), written(100_050, 10, 0, 0)];
    const { client } = scripted(
      [
        tools(call(0, 'call_w', 'get_weather', '{"city":"Lisbon"}')),
        finish('tool_calls'),
        chunk([], { usage: steps[0] }),
      ],
      [text('21 °C.'), finish('stop'), chunk([], { usage: steps[1] })],
    );
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );
    const end = events(chunks).at(-1)!;
    if (end.type !== 'finish') throw new Error(`expected finish, got ${end.type}`);
    expect(end.usage?.prompt_tokens_details).toEqual({
      cache_creation_tokens: 100_000,
      cache_creation_1h_tokens: 100_000,
    });
    const model = 'anthropic/claude-sonnet-4-5';
    const stepCosts = steps.map((u) => cost(u, model)!.total);
    expect(cost(end.usage!, model)!.total).toBeCloseTo(stepCosts[0] + stepCosts[1], 12);
  });
});

describe('toolLoop over the OpenAI-compatible mock server', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await createMockServer();
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('runs the two-step weather example: call, result, answer', async () => {
    server.enqueue(
      {
        text: 'Let me check.',
        toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: { city: 'Lisbon' } }],
        chunkSize: 3,
      },
      { text: 'It is 21 °C in Lisbon.', chunkSize: 3 },
    );
    const client = createClient({ baseURL: server.url });
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );

    expect(types(chunks)).toEqual([
      'step-start',
      'tool-call',
      'tool-result',
      'step-end',
      'step-start',
      'step-end',
      'finish',
    ]);
    const text = await lastValueFrom(from(chunks).pipe(textDeltas(), toArray()));
    expect(text.join('')).toBe('Let me check.It is 21 °C in Lisbon.');

    const [first, second] = server.requests.map((r) => r.body as MockChatBody);
    expect(first.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: expect.objectContaining({ type: 'object', required: ['city'] }),
        },
      },
    ]);
    expect(second.messages).toEqual([
      { role: 'user', content: 'What is the weather in Lisbon?' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'call_w',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_w', content: '{"city":"Lisbon","celsius":21}' },
    ]);

    const finish = events(chunks).at(-1)!;
    expect(finish).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
    if (finish.type !== 'finish') throw new Error('unreachable');
    expect(finish.messages).toHaveLength(4);
    expect(finish.usage?.completion_tokens).toBeGreaterThan(0);
    expect(events(chunks).find((e) => e.type === 'tool-call')).toMatchObject({
      toolCallId: 'call_w',
      name: 'get_weather',
      arguments: '{"city":"Lisbon"}',
      valid: true,
      call: { input: { city: 'Lisbon' } },
    });
    const result = events(chunks).find((e) => e.type === 'tool-result');
    expect(result).toMatchObject({
      status: 'ok',
      output: { city: 'Lisbon', celsius: 21 },
      toolCallId: 'call_w',
    });
  });

  it('appends turns that the Anthropic and Gemini request mappings accept', async () => {
    server.enqueue(
      { toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: { city: 'Lisbon' } }] },
      { text: 'Sunny.' },
    );
    const chunks = await lastValueFrom(
      toolLoop(request, {
        client: createClient({ baseURL: server.url }),
        tools: { get_weather: weather },
      }).pipe(toArray()),
    );
    const finish = events(chunks).at(-1)!;
    if (finish.type !== 'finish') throw new Error('no finish event');
    const next: ChatRequest = { ...request, messages: finish.messages };

    const anthropic = toAnthropicBody(next, 'claude-x', true) as { messages: unknown[] };
    expect(anthropic.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'What is the weather in Lisbon?' }] },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'call_w', name: 'get_weather', input: { city: 'Lisbon' } }],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'call_w', content: '{"city":"Lisbon","celsius":21}' }],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'Sunny.' }] },
    ]);

    const gemini = toGeminiBody(next) as { contents: unknown[] };
    expect(gemini.contents).toEqual([
      { role: 'user', parts: [{ text: 'What is the weather in Lisbon?' }] },
      // The call's id goes back on the call and on its result (Gemini's optional FunctionCall.id /
      // FunctionResponse.id, https://ai.google.dev/api/caching#FunctionCall): that is what pairs them.
      {
        role: 'model',
        parts: [{ functionCall: { id: 'call_w', name: 'get_weather', args: { city: 'Lisbon' } } }],
      },
      {
        role: 'user',
        parts: [
          {
            functionResponse: {
              id: 'call_w',
              name: 'get_weather',
              response: { city: 'Lisbon', celsius: 21 },
            },
          },
        ],
      },
      { role: 'model', parts: [{ text: 'Sunny.' }] },
    ]);
  });

  it('aborts the model call in flight when unsubscribed', async () => {
    server.enqueue({ text: 'never ends', stall: { afterChunks: 1 } });
    const seen: ToolLoopChunk[] = [];
    const subscription = toolLoop(request, {
      client: createClient({ baseURL: server.url }),
      tools: { get_weather: weather },
    }).subscribe((c) => seen.push(c));
    while (seen.filter((c) => !isToolLoopEvent(c)).length === 0) await new Promise((r) => setTimeout(r, 5));
    subscription.unsubscribe();
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
  });
});

describe('toolLoop', () => {
  it('sends execute errors and invalid arguments back to the model as tool results', async () => {
    const { client, requests } = scripted(
      {
        toolCalls: [
          { id: 'a', name: 'get_weather', arguments: { city: 'Oslo' } },
          { id: 'b', name: 'get_weather', arguments: { town: 'Bergen' } },
          { id: 'c', name: 'get_weather', arguments: '{"city": "Tro' },
          { id: 'd', name: 'launch_rockets', arguments: {} },
        ],
      },
      'Sorry, some lookups failed.',
    );
    const failing = tool({
      schema: z.object({ city: z.string() }),
      execute: () => {
        throw new Error('weather service down');
      },
    });
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: failing } }).pipe(toArray()),
    );
    const results = events(chunks).filter((e) => e.type === 'tool-result');
    expect(results.map((r) => [r.toolCallId, r.status])).toEqual(
      expect.arrayContaining([
        ['a', 'error'],
        ['b', 'invalid'],
        ['c', 'invalid'],
        ['d', 'invalid'],
      ]),
    );
    const sent = requests[1].messages;
    expect(sent[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        { id: 'b', type: 'function', function: { name: 'get_weather', arguments: '{"town":"Bergen"}' } },
        // Not a JSON object: sent back as {} (Anthropic and Gemini need parsed objects), quoted in the result.
        { id: 'c', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
        { id: 'd', type: 'function', function: { name: 'launch_rockets', arguments: '{}' } },
      ],
    });
    const toolMessages = sent.slice(2) as Extract<ChatMessage, { role: 'tool' }>[];
    expect(toolMessages.map((m) => m.tool_call_id)).toEqual(['a', 'b', 'c', 'd']);
    expect(toolMessages[0].content).toBe('Error: weather service down');
    expect(toolMessages[1].content).toContain('city');
    expect(toolMessages[2].content).toContain('Arguments received: "{\\"city\\": \\"Tro"');
    expect(toolMessages[3].content).toContain('launch_rockets');
    expect(events(chunks).at(-1)).toMatchObject({ type: 'finish', reason: 'done' });
  });

  it("keeps a provider's data on the call (Gemini thought signatures) in the appended turn", async () => {
    const signature = { google: { thought_signature: 'c2lnbmF0dXJl' } };
    const [role, , finish] = scriptToChunks({ text: 'x', usage: null });
    const callChunk: Chunk = {
      ...role,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              {
                index: 0,
                id: 'g1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
                extra_content: signature,
              },
            ],
          },
          finish_reason: null,
        },
      ],
    };
    const done: Chunk = { ...finish, choices: [{ ...finish.choices[0], finish_reason: 'tool_calls' }] };
    const { client, requests } = scripted([role, callChunk, done], 'Sunny in Rome.');
    await lastValueFrom(toolLoop(request, { client, tools: { get_weather: weather } }));
    const turn = requests[1].messages[1] as Extract<ChatMessage, { role: 'assistant' }>;
    expect(turn.tool_calls?.[0]).toEqual({
      id: 'g1',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
      extra_content: signature,
    });
    const gemini = toGeminiBody(requests[1]) as { contents: { parts: Record<string, unknown>[] }[] };
    expect(gemini.contents[1].parts[0]).toEqual({
      functionCall: { id: 'g1', name: 'get_weather', args: { city: 'Rome' } },
      thoughtSignature: 'c2lnbmF0dXJl',
    });
    // The result answers the same call id.
    expect(gemini.contents[2].parts[0]).toMatchObject({
      functionResponse: { id: 'g1', name: 'get_weather' },
    });
  });

  it('stops after maxSteps model calls', async () => {
    const call = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
    const { client, requests } = scripted(call, call, call, call);
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather }, maxSteps: 3 }).pipe(toArray()),
    );
    expect(requests).toHaveLength(3);
    expect(events(chunks).at(-1)).toMatchObject({ type: 'finish', reason: 'max-steps', steps: 3 });
    // The tools of the last step ran: every call in the conversation has its result.
    const finish = events(chunks).at(-1) as Extract<ToolLoopEvent, { type: 'finish' }>;
    expect(finish.messages.filter((m) => m.role === 'tool')).toHaveLength(3);
  });

  it('defaults maxSteps to 10', async () => {
    const call = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
    const { client, requests } = scripted(...Array.from({ length: 12 }, () => call));
    await lastValueFrom(toolLoop(request, { client, tools: { get_weather: weather } }));
    expect(requests).toHaveLength(10);
  });

  it('stops when stopWhen says so, with the state so far', async () => {
    const call = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
    const { client, requests } = scripted(call, call, call);
    const seen: number[] = [];
    const chunks = await lastValueFrom(
      toolLoop(request, {
        client,
        tools: { get_weather: weather },
        stopWhen: ({ step, steps, messages }) => {
          seen.push(step, steps.length, messages.length);
          return step === 2;
        },
      }).pipe(toArray()),
    );
    expect(requests).toHaveLength(2);
    expect(seen).toEqual([1, 1, 3, 2, 2, 5]);
    expect(events(chunks).at(-1)).toMatchObject({ type: 'finish', reason: 'stop-when', steps: 2 });
  });

  it('asks approve before running a call and sends a denial instead', async () => {
    const { client, requests } = scripted(
      {
        toolCalls: [
          { id: 'ok', name: 'get_weather', arguments: { city: 'Oslo' } },
          { id: 'no', name: 'get_weather', arguments: { city: 'Mordor' } },
        ],
      },
      'Done.',
    );
    const ran: string[] = [];
    const tools = {
      get_weather: tool({
        schema: z.object({ city: z.string() }),
        execute: ({ city }) => {
          ran.push(city);
          return 'fine';
        },
      }),
    };
    await lastValueFrom(
      toolLoop(request, {
        client,
        tools,
        approve: async (call) => (call.input as { city: string }).city !== 'Mordor',
      }),
    );
    expect(ran).toEqual(['Oslo']);
    expect(requests[1].messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'ok', content: 'fine' },
      { role: 'tool', tool_call_id: 'no', content: 'Error: the user denied this tool call.', is_error: true },
    ]);
  });

  it('runs at most `concurrency` tools at once, results in call order', async () => {
    const run = async (concurrency: number) => {
      const calls = ['a', 'b', 'c'].map((id) => ({ id, name: 'slow', arguments: { id } }));
      const { client, requests } = scripted({ toolCalls: calls }, 'ok');
      let running = 0;
      let most = 0;
      const slow = tool({
        schema: z.object({ id: z.string() }),
        execute: async ({ id }) => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, id === 'a' ? 30 : 5));
          running--;
          return id;
        },
      });
      await lastValueFrom(toolLoop(request, { client, tools: { slow }, concurrency }));
      return { most, order: requests[1].messages.slice(2).map((m) => (m as { content: string }).content) };
    };
    expect(await run(1)).toEqual({ most: 1, order: ['a', 'b', 'c'] });
    expect(await run(Infinity)).toEqual({ most: 3, order: ['a', 'b', 'c'] });
  });

  it('aborts the signal given to running tools when unsubscribed', async () => {
    const { client } = scripted({ toolCalls: [{ name: 'wait', arguments: {} }] });
    let signal: AbortSignal | undefined;
    const wait = tool({
      schema: z.object({}),
      execute: (_input, context) => {
        signal = context.signal;
        return new Promise<string>(() => undefined);
      },
    });
    const subscription = toolLoop(request, { client, tools: { wait } }).subscribe();
    while (!signal) await new Promise((r) => setTimeout(r, 5)); // the tool is running
    expect(signal.aborted).toBe(false);
    subscription.unsubscribe();
    expect(signal?.aborted).toBe(true);
  });

  it('ends with the model error and keeps what was streamed', async () => {
    const error = new ServerError({ status: 500 });
    const client = {
      stream: () =>
        new Observable<Chunk>((s) => {
          s.next(scriptToChunks('Hi')[1]);
          s.error(error);
        }),
    };
    const seen: ToolLoopChunk[] = [];
    const failure = await new Promise((resolve) =>
      toolLoop(request, { client, tools: {} }).subscribe({ next: (c) => seen.push(c), error: resolve }),
    );
    expect(failure).toBe(error);
    expect(types(seen)).toEqual(['step-start']);
    expect(seen[1].choices[0].delta.content).toBe('Hi');
  });

  it('turns a throwing approve or stopWhen into the stream error', async () => {
    const call = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
    const a = scripted(call, 'x');
    await expect(
      lastValueFrom(
        toolLoop(request, {
          client: a.client,
          tools: { get_weather: weather },
          approve: () => {
            throw new Error('approve failed');
          },
        }),
      ),
    ).rejects.toThrow('approve failed');
    const b = scripted(call, 'x');
    await expect(
      lastValueFrom(
        toolLoop(request, {
          client: b.client,
          tools: { get_weather: weather },
          stopWhen: () => {
            throw new Error('stopWhen failed');
          },
        }),
      ),
    ).rejects.toThrow('stopWhen failed');
  });

  it('keeps the conversation per subscription', async () => {
    const call = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
    const { client, requests } = scripted(call, 'one', call, 'two');
    const loop$ = toolLoop(request, { client, tools: { get_weather: weather } });
    await lastValueFrom(loop$);
    await lastValueFrom(loop$);
    expect(requests.map((r) => r.messages.length)).toEqual([1, 3, 1, 3]);
  });

  it('stops a synchronous model stream when downstream takes what it needs', async () => {
    let pulled = 0;
    const client = {
      stream: () =>
        new Observable<Chunk>((s) => {
          const chunk = scriptToChunks('x')[1];
          while (!s.closed) {
            pulled++;
            s.next(chunk);
          }
        }),
    };
    const first = await firstValueFrom(
      toolLoop(request, { client, tools: {} }).pipe((src) => src, take(3), toArray()),
    );
    expect(first).toHaveLength(3);
    expect(pulled).toBe(2);
  });

  it('is cold, emits step events around model chunks in marble time, and unsubscribes early', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(
      ({ cold, expectObservable, expectSubscriptions }) => {
        const [role, text, finish] = scriptToChunks({ text: 'Hi', usage: null });
        const model = cold('-r-t-f-|', { r: role, t: text, f: finish });
        const loop$ = toolLoop(request, { client: { stream: () => model }, tools: {} });
        const kinds = (c: ToolLoopChunk) => (isToolLoopEvent(c) ? c.tool_loop.type : 'chunk');
        const mapped = new Observable<string>((s) =>
          loop$.subscribe({ next: (c) => s.next(kinds(c)), complete: () => s.complete() }),
        );
        expectObservable(mapped).toBe('Sc-c-c-(EF|)', {
          S: 'step-start',
          c: 'chunk',
          E: 'step-end',
          F: 'finish',
        });
        expectSubscriptions(model.subscriptions).toBe('^------!');
        const empty = toolLoop(request, { client: { stream: () => cold<Chunk>('|') }, tools: {} });
        expectObservable(empty.pipe(map(kinds))).toBe('(SEF|)', {
          S: 'step-start',
          E: 'step-end',
          F: 'finish',
        });
        const never = toolLoop(request, { client: { stream: () => NEVER }, tools: {} });
        expectObservable(never).toBe('s', {
          s: expect.objectContaining({ tool_loop: { type: 'step-start', step: 1 } }),
        });
        const model2 = cold('-r-t-f-|', { r: role, t: text, f: finish });
        expectObservable(toolLoop(request, { client: { stream: () => model2 }, tools: {} }), '^--!').toBe(
          'Sc-',
          { S: expect.anything(), c: role },
        );
        expectSubscriptions(model2.subscriptions).toBe('^--!');
      },
    );
  });

  it.each([
    [{}, 'client'],
    [{ client: { stream: () => NEVER } }, 'tools must be'],
    [{ client: { stream: () => NEVER }, tools: { x: { schema: {}, execute: () => 1 } } }, 'schema'],
    [{ client: { stream: () => NEVER }, tools: { x: { schema: z.object({}) } } }, 'execute'],
    [{ client: { stream: () => NEVER }, tools: {}, maxSteps: 0 }, 'maxSteps'],
    [{ client: { stream: () => NEVER }, tools: {}, concurrency: 0 }, 'concurrency'],
    [{ client: { stream: () => NEVER }, tools: {}, approve: true }, 'approve'],
  ])('rejects bad config %# with a TypeError at creation', (config, message) => {
    expect(() => toolLoop(request, config as unknown as ToolLoopConfig)).toThrow(TypeError);
    expect(() => toolLoop(request, config as unknown as ToolLoopConfig)).toThrow(message);
  });
});
