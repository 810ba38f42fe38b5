/**
 * `toolLoop` step by step: the assistant turn it appends (whole, ids unique, model order), the error
 * flag on results, results that cannot be written as JSON, tool timeouts (virtual time),
 * `tool_choice` across steps and `prepareStep`. The exact bodies per wire format are in
 * toolLoopWire.spec.ts.
 */
import { from, lastValueFrom, map, NEVER, Observable, of, timer, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import type { ChatMessage, ChatRequest, Chunk } from '../../src';
import { TimeoutError } from '../../src/errors';
import { scriptToChunks, type MockScript } from '../../src/testing';
import { call, chunk, finish, tools } from '../quirks/toolCallQuirks';
import {
  isToolLoopEvent,
  toolLoop,
  TOOL_LOOP_DEFAULTS,
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
  schema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});
const events = (chunks: ToolLoopChunk[]): ToolLoopEvent[] =>
  chunks.filter(isToolLoopEvent).map((c) => c.tool_loop);
const finishOf = (chunks: ToolLoopChunk[]) => {
  const last = events(chunks).at(-1);
  if (last?.type !== 'finish') throw new Error(`expected a finish event, got ${last?.type}`);
  return last;
};
type Assistant = Extract<ChatMessage, { role: 'assistant' }>;

/** A client answering each request with the next script, synchronously; it records the requests. */
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

const lisbon = { toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: { city: 'Lisbon' } }] };

describe('toolLoop: the appended assistant turn', () => {
  it('is the whole merged message: reasoning and reasoning_details beside the calls', async () => {
    const thinking = { index: 0, type: 'thinking', text: 'Lisbon first.', signature: 'c2ln' };
    const { client, requests } = scripted(
      [
        chunk({ role: 'assistant', content: '' }),
        chunk({
          reasoning: 'Lisbon first.',
          reasoning_details: [{ index: 0, type: 'thinking', text: 'Lisbon first.' }],
        }),
        chunk({ reasoning_details: [{ index: 0, type: 'thinking', signature: 'c2ln' }] }),
        tools(call(0, 'toolu_1', 'get_weather', '{"city":"Lisbon"}')),
        finish('tool_calls'),
      ],
      'Sunny.',
    );
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );
    const turn: Assistant = {
      role: 'assistant',
      content: null,
      reasoning: 'Lisbon first.',
      reasoning_details: [thinking],
      tool_calls: [
        {
          id: 'toolu_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' },
        },
      ],
    };
    expect(requests[1].messages[1]).toEqual(turn);
    // The same turn in the step result and in the finish conversation.
    const stepEnd = events(chunks).find((e) => e.type === 'step-end');
    expect(stepEnd).toMatchObject({ step: 1, message: turn });
    expect(finishOf(chunks).messages[1]).toEqual(turn);
  });

  it('lists the calls in the model order even when the guard released them out of order', async () => {
    // No index: fragments are matched by id. "a" is not whole when "c" starts, so "b" goes out first.
    const { client, requests } = scripted(
      [
        tools(call(undefined, 'a', 'get_weather', '{"city":')),
        tools(call(undefined, 'b', 'get_weather', '{"city":"Porto"}')),
        tools(call(undefined, 'c', 'get_weather', '{"city":"Oslo"}')),
        tools(call(undefined, 'a', undefined, '"Lisbon"}')),
        finish('tool_calls'),
      ],
      'Done.',
    );
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );
    expect(
      events(chunks)
        .filter((e) => e.type === 'tool-call')
        .map((e) => e.toolCallId),
    ).toEqual(['b', 'a', 'c']);
    const turn = requests[1].messages[1] as Assistant;
    expect(turn.tool_calls?.map((c) => [c.id, c.function.arguments])).toEqual([
      ['a', '{"city":"Lisbon"}'],
      ['b', '{"city":"Porto"}'],
      ['c', '{"city":"Oslo"}'],
    ]);
    const results = requests[1].messages.slice(2) as Extract<ChatMessage, { role: 'tool' }>[];
    expect(results.map((m) => [m.tool_call_id, JSON.parse(m.content as string).city])).toEqual([
      ['a', 'Lisbon'],
      ['b', 'Porto'],
      ['c', 'Oslo'],
    ]);
  });

  it("keeps a refused call's Gemini signature, with {} as its arguments", async () => {
    const signature = { google: { thought_signature: 'c2lnbmF0dXJl' } };
    const { client, requests } = scripted(
      [
        tools({ ...call(0, 'g1', 'get_weather', '{"town":"Rome"}'), extra_content: signature }),
        finish('tool_calls'),
      ],
      'Sorry.',
    );
    await lastValueFrom(toolLoop(request, { client, tools: { get_weather: weather } }));
    expect((requests[1].messages[1] as Assistant).tool_calls).toEqual([
      {
        id: 'g1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"town":"Rome"}' },
        extra_content: signature,
      },
    ]);
  });
});

describe('toolLoop: call ids', () => {
  it('renames an id the conversation already has (a server that says call_0 every step)', async () => {
    const earlier: ChatMessage[] = [
      { role: 'user', content: 'Earlier question' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_0', content: 'old result' },
      { role: 'user', content: 'And now?' },
    ];
    const { client, requests } = scripted(lisbon, lisbon, 'Done.');
    const seen: string[] = [];
    const spy = tool({
      schema: z.object({ city: z.string() }),
      execute: (_input, { call }) => {
        seen.push(call.id);
        return 'ok';
      },
    });
    const chunks = await lastValueFrom(
      toolLoop({ ...request, messages: earlier }, { client, tools: { get_weather: spy } }).pipe(toArray()),
    );
    expect(seen).toEqual(['call_rxllm_1', 'call_rxllm_2']);
    // The model chunk carries the loop's id too, so its calls pair with the events.
    const modelCalls = chunks
      .filter((c) => !isToolLoopEvent(c))
      .flatMap((c) => c.choices.flatMap((x) => x.delta.tool_calls ?? []))
      .map((c) => c.id);
    expect(modelCalls).toEqual(['call_rxllm_1', 'call_rxllm_2']);
    const ids = requests[2].messages.flatMap((m) =>
      m.role === 'assistant'
        ? (m.tool_calls ?? []).map((c) => c.id)
        : m.role === 'tool'
          ? [m.tool_call_id]
          : [],
    );
    expect(ids).toEqual(['call_0', 'call_0', 'call_rxllm_1', 'call_rxllm_1', 'call_rxllm_2', 'call_rxllm_2']);
  });

  it('counts made-up ids per subscription', async () => {
    const { client, requests } = scripted(
      [tools(call(0, '', 'get_weather', '{"city":"Oslo"}')), finish('tool_calls')],
      'one',
      [tools(call(0, '', 'get_weather', '{"city":"Oslo"}')), finish('tool_calls')],
      'two',
    );
    const loop$ = toolLoop(request, { client, tools: { get_weather: weather } });
    await lastValueFrom(loop$);
    await lastValueFrom(loop$);
    expect(
      [requests[1], requests[3]].map((r) => (r.messages[2] as { tool_call_id: string }).tool_call_id),
    ).toEqual(['call_rxllm_1', 'call_rxllm_1']);
  });

  it('frees the ids of a restarted stream (a reset chunk), so the retry keeps the same ones', async () => {
    const reset: Chunk = { ...chunk([]), reset: { attempt: 1, reason: 'cut' } };
    const a = tools(call(0, 'call_a', 'get_weather', '{"city":"Oslo"}'));
    const b = tools(call(1, 'call_b', 'get_weather', '{"city":"Bern"}'));
    // call_a is released (and gets its id) when call_b starts; then the stream restarts.
    const { client, requests } = scripted([a, b, reset, a, b, finish('tool_calls')], 'Done.');
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: weather } }).pipe(toArray()),
    );
    expect(
      events(chunks)
        .filter((e) => e.type === 'tool-call')
        .map((e) => e.toolCallId),
    ).toEqual(['call_a', 'call_a', 'call_b']);
    const ids = requests[1].messages.flatMap((m) =>
      m.role === 'assistant'
        ? (m.tool_calls ?? []).map((c) => c.id)
        : m.role === 'tool'
          ? [m.tool_call_id]
          : [],
    );
    expect(ids).toEqual(['call_a', 'call_b', 'call_a', 'call_b']);
  });
});

describe('toolLoop: error results', () => {
  it('marks every result but ok with is_error (error, invalid, denied)', async () => {
    const { client, requests } = scripted(
      {
        toolCalls: [
          { id: 'ok', name: 'get_weather', arguments: { city: 'Lisbon' } },
          { id: 'boom', name: 'get_weather', arguments: { city: 'Atlantis' } },
          { id: 'bad', name: 'get_weather', arguments: { town: 'Porto' } },
          { id: 'no', name: 'get_weather', arguments: { city: 'Mordor' } },
        ],
      },
      'Done.',
    );
    const picky = tool({
      schema: z.object({ city: z.string() }),
      execute: ({ city }) => {
        if (city === 'Atlantis') throw new Error('sunk');
        return 'fine';
      },
    });
    await lastValueFrom(
      toolLoop(request, {
        client,
        tools: { get_weather: picky },
        approve: (c) => (c.input as { city: string }).city !== 'Mordor',
      }),
    );
    expect(
      requests[1].messages
        .slice(2)
        .map((m) => [(m as { tool_call_id: string }).tool_call_id, 'is_error' in m && m.is_error]),
    ).toEqual([
      ['ok', false],
      ['boom', true],
      ['bad', true],
      ['no', true],
    ]);
  });

  it.each([
    ['a BigInt', () => ({ big: 1n }), /BigInt/],
    [
      'a cycle',
      () => {
        const a: Record<string, unknown> = { name: 'loop' };
        a.self = a;
        return a;
      },
      /circular/i,
    ],
    [
      'a throwing toJSON',
      () => ({
        toJSON() {
          throw new Error('no JSON today');
        },
      }),
      /no JSON today/,
    ],
  ])('sends a result that JSON cannot write (%s) back as an error, and goes on', async (_, make, why) => {
    const { client, requests } = scripted(lisbon, 'Sorry.');
    const odd = tool({ schema: z.object({ city: z.string() }), execute: make });
    const chunks = await lastValueFrom(
      toolLoop(request, { client, tools: { get_weather: odd } }).pipe(toArray()),
    );
    const result = events(chunks).find((e) => e.type === 'tool-result');
    expect(result).toMatchObject({ status: 'error', toolCallId: 'call_0', error: expect.any(Error) });
    if (result?.type !== 'tool-result') throw new Error('no tool-result');
    expect(result.content).toMatch(/^Error: the tool's result could not be written as JSON \(/);
    expect(result.content).toMatch(why);
    expect(result.output).toBeDefined();
    expect(requests[1].messages[2]).toEqual({
      role: 'tool',
      tool_call_id: 'call_0',
      content: result.content,
      is_error: true,
    });
    expect(finishOf(chunks)).toMatchObject({ reason: 'done', steps: 2 });
  });
});

describe('toolLoop: running tools', () => {
  it("takes an Observable's last value as the result", async () => {
    const { client, requests } = scripted(lisbon, 'Done.');
    const counting = tool({ schema: z.object({ city: z.string() }), execute: () => of(1, 2, 3) });
    await lastValueFrom(toolLoop(request, { client, tools: { get_weather: counting } }));
    expect(requests[1].messages[2]).toEqual({ role: 'tool', tool_call_id: 'call_0', content: '3' });
  });

  it('aborts the signal of a running tool when the loop fails (approve throws for another call)', async () => {
    const { client } = scripted({
      toolCalls: [
        { id: 'slow', name: 'get_weather', arguments: { city: 'Lisbon' } },
        { id: 'bad', name: 'get_weather', arguments: { city: 'Porto' } },
      ],
    });
    let signal: AbortSignal | undefined;
    const hang = tool({
      schema: z.object({ city: z.string() }),
      execute: (_input, context) => {
        signal = context.signal;
        return NEVER;
      },
    });
    const boom = new Error('approve failed');
    await expect(
      lastValueFrom(
        toolLoop(request, {
          client,
          tools: { get_weather: hang },
          // "bad" is refused (with a throw) once "slow" is running.
          approve: async (c) => {
            if (c.id !== 'bad') return true;
            while (signal === undefined) await new Promise((r) => setTimeout(r, 1));
            throw boom;
          },
        }),
      ),
    ).rejects.toBe(boom);
    expect(signal?.aborted).toBe(true);
  });
});

describe('toolLoop: tool timeouts (virtual time)', () => {
  /** Runs the loop in virtual time; returns when each event came and the requests sent. */
  function runVirtual(config: Omit<ToolLoopConfig, 'client'>, scripts: (MockScript | string)[]) {
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { client, requests } = scripted(...scripts);
    const seen: [number, ToolLoopEvent][] = [];
    scheduler.run(({ flush }) => {
      toolLoop(request, { ...config, client }).subscribe((c) => {
        if (isToolLoopEvent(c)) seen.push([scheduler.now(), c.tool_loop]);
      });
      flush();
    });
    return { seen, requests };
  }

  it('aborts a call past toolTimeoutMs, sends a TimeoutError result and goes on', () => {
    let signal: AbortSignal | undefined;
    const hang = tool({
      schema: z.object({ city: z.string() }),
      execute: (_input, context) => {
        signal = context.signal;
        return NEVER;
      },
    });
    const { seen, requests } = runVirtual({ tools: { get_weather: hang }, toolTimeoutMs: 50 }, [
      lisbon,
      'Sorry.',
    ]);
    const result = seen.find(([, e]) => e.type === 'tool-result')!;
    expect(result[0]).toBe(50);
    expect(result[1]).toMatchObject({
      status: 'error',
      content: 'Error: The tool timeout of 50 ms fired; the tool call was aborted.',
      error: expect.any(TimeoutError),
    });
    expect((result[1] as { error: TimeoutError }).error).toMatchObject({ timeout: 'tool', ms: 50 });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
    expect(requests[1].messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_0', is_error: true });
    expect(seen.at(-1)?.[1]).toMatchObject({ type: 'finish', reason: 'done', steps: 2 });
  });

  it("uses the tool's own timeoutMs over the loop's, and leaves a call that ends in time alone", () => {
    const signals: AbortSignal[] = [];
    // `timer` inside execute runs on the test scheduler too: the whole test is in virtual time.
    const after = (ms: number, value: string, timeoutMs?: number) =>
      tool({
        schema: z.object({}),
        timeoutMs,
        execute: (_input, context) => {
          signals.push(context.signal);
          return timer(ms).pipe(map(() => value));
        },
      });
    const { seen } = runVirtual(
      { tools: { strict: after(1_000, 'late', 20), quick: after(30, 'quick') }, toolTimeoutMs: 500 },
      [
        {
          toolCalls: [
            { id: 's', name: 'strict', arguments: {} },
            { id: 'q', name: 'quick', arguments: {} },
          ],
        },
        'ok',
      ],
    );
    const results = seen.filter(([, e]) => e.type === 'tool-result');
    expect(results).toEqual([
      [
        20,
        expect.objectContaining({
          toolCallId: 's',
          status: 'error',
          error: expect.objectContaining({ ms: 20 }),
        }),
      ],
      [30, expect.objectContaining({ toolCallId: 'q', status: 'ok', content: 'quick' })],
    ]);
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
  });

  it('defaults toolTimeoutMs to Infinity (no timer)', () => {
    expect(TOOL_LOOP_DEFAULTS.toolTimeoutMs).toBe(Infinity);
  });
});

describe('toolLoop: tool_choice across steps', () => {
  /** A model that obeys tool_choice: a forced choice gets a call, anything else an answer. */
  function obedient() {
    const requests: ChatRequest[] = [];
    const client = {
      stream: (body: ChatRequest) => {
        requests.push(structuredClone(body));
        const forced = body.tool_choice === 'required' || typeof body.tool_choice === 'object';
        return from(scriptToChunks(forced ? lisbon : 'It is 21 °C.'));
      },
    };
    return { client, requests };
  }

  it.each([
    ['one named function', { type: 'function' as const, function: { name: 'get_weather' } }],
    ['required', 'required' as const],
  ])('sends a forcing tool_choice (%s) on step 1 only, then auto, so the loop ends', async (_, forced) => {
    const { client, requests } = obedient();
    const chunks = await lastValueFrom(
      toolLoop({ ...request, tool_choice: forced }, { client, tools: { get_weather: weather } }).pipe(
        toArray(),
      ),
    );
    expect(requests.map((r) => r.tool_choice)).toEqual([forced, 'auto']);
    expect(finishOf(chunks)).toMatchObject({ reason: 'done', steps: 2 });
  });

  it.each(['auto', 'none'] as const)('keeps tool_choice %s on every step', async (choice) => {
    const { client, requests } = scripted(lisbon, 'Done.');
    await lastValueFrom(
      toolLoop({ ...request, tool_choice: choice }, { client, tools: { get_weather: weather } }),
    );
    expect(requests.map((r) => r.tool_choice)).toEqual([choice, choice]);
  });

  it('forces on every step when prepareStep says so (an agent that must end with a tool)', async () => {
    const { client, requests } = obedient();
    const chunks = await lastValueFrom(
      toolLoop(
        { ...request, tool_choice: 'required' },
        {
          client,
          tools: { get_weather: weather },
          maxSteps: 3,
          prepareStep: () => ({ tool_choice: 'required' }),
        },
      ).pipe(toArray()),
    );
    expect(requests.map((r) => r.tool_choice)).toEqual(['required', 'required', 'required']);
    expect(finishOf(chunks)).toMatchObject({ reason: 'max-steps', steps: 3 });
  });
});

describe('toolLoop: prepareStep', () => {
  it('sees each step before its model call and changes that call only', async () => {
    const { client, requests } = scripted(lisbon, 'Done.');
    const seen: unknown[] = [];
    const chunks = await lastValueFrom(
      toolLoop(
        { ...request, tool_choice: 'required' },
        {
          client,
          tools: { get_weather: weather },
          prepareStep: ({ step, steps, messages, request: body }) => {
            seen.push([step, steps.length, messages.length, body.messages.length, body.tool_choice]);
            // Step 2: another model, and only the last two messages.
            if (step === 2) return { model: 'compat/bigger', messages: body.messages.slice(-2) };
            return undefined;
          },
        },
      ).pipe(toArray()),
    );
    expect(seen).toEqual([
      [1, 0, 1, 1, 'required'],
      [2, 1, 3, 3, 'auto'],
    ]);
    expect(requests.map((r) => [r.model, r.messages.length])).toEqual([
      ['compat/mock', 1],
      ['compat/bigger', 2],
    ]);
    // The loop's own conversation is whole.
    expect(finishOf(chunks).messages).toHaveLength(4);
  });

  it('may answer with a Promise', async () => {
    const { client, requests } = scripted('Hi.');
    await lastValueFrom(
      toolLoop(request, {
        client,
        tools: {},
        prepareStep: async () => ({ temperature: 0.5 }),
      }),
    );
    expect(requests[0].temperature).toBe(0.5);
  });

  it('ends the stream with a TypeError when it returns something that is not request fields', async () => {
    const { client, requests } = scripted('Hi.');
    const loop$ = toolLoop(request, {
      client,
      tools: {},
      prepareStep: (() => 'auto') as unknown as ToolLoopConfig['prepareStep'],
    });
    await expect(lastValueFrom(loop$)).rejects.toThrow(TypeError);
    await expect(lastValueFrom(loop$)).rejects.toThrow('prepareStep must return an object');
    expect(requests).toHaveLength(0);
  });

  it('ends the stream with what it throws or rejects with', async () => {
    const boom = new Error('prepare failed');
    for (const prepareStep of [
      () => {
        throw boom;
      },
      () => Promise.reject(boom),
    ]) {
      const { client } = scripted('Hi.');
      await expect(lastValueFrom(toolLoop(request, { client, tools: {}, prepareStep }))).rejects.toBe(boom);
    }
  });
});

describe('toolLoop: new config', () => {
  const base = { client: { stream: () => NEVER }, tools: {} };
  it.each([
    [{ ...base, toolTimeoutMs: 0 }, 'toolTimeoutMs'],
    [{ ...base, toolTimeoutMs: -5 }, 'toolTimeoutMs'],
    [{ ...base, toolTimeoutMs: '50' }, 'toolTimeoutMs'],
    [{ ...base, toolTimeoutMs: NaN }, 'toolTimeoutMs'],
    [
      { ...base, tools: { t: { schema: z.object({}), execute: () => 1, timeoutMs: 0 } } },
      'tools.t.timeoutMs',
    ],
    [{ ...base, prepareStep: {} }, 'prepareStep'],
  ])('rejects bad config %# with a TypeError at creation', (config, message) => {
    expect(() => toolLoop(request, config as unknown as ToolLoopConfig)).toThrow(TypeError);
    expect(() => toolLoop(request, config as unknown as ToolLoopConfig)).toThrow(message);
  });

  it('accepts Infinity and positive timeouts', () => {
    expect(() => toolLoop(request, { ...base, toolTimeoutMs: Infinity })).not.toThrow();
    expect(() =>
      toolLoop(request, { ...base, tools: { t: { schema: z.object({}), execute: () => 1, timeoutMs: 5 } } }),
    ).not.toThrow();
  });
});
