import { firstValueFrom, lastValueFrom, take, toArray, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isUsageChunk, type Chunk } from '../../src/chunk';
import { ChunkSchema } from 'rxllm/schemas';
import { mockProvider, mockStream, scriptToChunks, scriptToCompletion } from '../../src/providers/mock';
import type { ProviderCall } from '../../src/providers/types';
import { RequestValidationError } from '../../src/errors';
import { chunkMarbles, textOf } from '../../src/testing/marbles';

const deltas = (chunks: Chunk[]) => chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta);

describe('scriptToChunks', () => {
  it('starts with a role chunk, then content, a finish chunk and a usage chunk', () => {
    const chunks = scriptToChunks({ text: 'Hello world', chunkSize: 5 });
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hello' },
      { content: ' worl' },
      { content: 'd' },
      {},
    ]);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
    const usage = chunks[chunks.length - 1];
    expect(isUsageChunk(usage)).toBe(true);
    expect(usage.usage).toEqual({ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 });
    for (const chunk of chunks) expect(() => ChunkSchema.parse(chunk)).not.toThrow();
  });

  it('treats a string as { text }', () => {
    expect(scriptToChunks('abc')).toEqual(scriptToChunks({ text: 'abc' }));
  });

  it('never splits a surrogate pair (emoji and CJK)', () => {
    const text = '👋🏽世界😀a𝄞b中文🎉';
    for (const chunkSize of [1, 2, 3, 5]) {
      const chunks = scriptToChunks({ text, chunkSize });
      const parts = deltas(chunks).map((d) => d.content ?? '');
      expect(parts.join('')).toBe(text);
      for (const part of parts) expect(part).toBe(Buffer.from(part, 'utf8').toString('utf8')); // no lone surrogate
      expect(parts.filter(Boolean).every((p) => Array.from(p).length <= chunkSize)).toBe(true);
    }
  });

  it('streams reasoning before content, then tool calls as OpenAI fragments', () => {
    const chunks = scriptToChunks({
      reasoning: 'think',
      text: 'ok',
      toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, argumentChunkSize: 6 }],
      chunkSize: 10,
    });
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning: 'think' },
      { content: 'ok' },
      {
        tool_calls: [
          { index: 0, id: 'call_mock_0', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"city' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '":"Par' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'is"}' } }] },
      {},
    ]);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('tool_calls');
    expect(chunks[chunks.length - 1].usage?.completion_tokens_details).toEqual({ reasoning_tokens: 2 });
  });

  it('interleaves n choices with the same content', () => {
    const chunks = scriptToChunks({ text: 'abcd', chunkSize: 2, n: 2, usage: null });
    expect(chunks.map((c) => c.choices[0].index)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(textOf(chunks, 0)).toBe('abcd');
    expect(textOf(chunks, 1)).toBe('abcd');
  });

  it('sends no usage chunk for usage: null and the given usage as is', () => {
    expect(scriptToChunks({ text: 'a', usage: null }).some((c) => c.usage)).toBe(false);
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    expect(scriptToChunks({ text: 'a', usage }).pop()!.usage).toEqual(usage);
  });

  it('has no finish and no usage chunk for finishReason: null', () => {
    const chunks = scriptToChunks({ text: 'abcdefgh', finishReason: null });
    expect(chunks).toHaveLength(3);
    expect(chunks.every((c) => c.choices[0].finish_reason === null && !c.usage)).toBe(true);
  });

  it('is deterministic and uses a given id, model and created', () => {
    expect(scriptToChunks('same')).toEqual(scriptToChunks('same'));
    expect(scriptToChunks('same')[0].id).toMatch(/^chatcmpl-mock-[0-9a-f]{8}$/);
    expect(scriptToChunks('a')[0].id).not.toBe(scriptToChunks('b')[0].id);
    const [chunk] = scriptToChunks({ text: 'x', id: 'chatcmpl-1', model: 'm', created: 5 });
    expect(chunk).toMatchObject({
      id: 'chatcmpl-1',
      model: 'm',
      created: 5,
      object: 'chat.completion.chunk',
    });
  });

  it('throws a TypeError for a bad chunkSize or n', () => {
    expect(() => scriptToChunks({ text: 'x', chunkSize: 0 })).toThrow(TypeError);
    expect(() => scriptToChunks({ text: 'x', n: 1.5 })).toThrow(TypeError);
  });
});

describe('scriptToCompletion', () => {
  it('merges the script into one ChatCompletion with usage', () => {
    const completion = scriptToCompletion({ text: 'Hi', reasoning: 'r', n: 2 }, { model: 'm', id: 'id-1' });
    expect(completion).toMatchObject({ id: 'id-1', object: 'chat.completion', model: 'm' });
    expect(completion.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Hi', reasoning: 'r' }, finish_reason: 'stop' },
      { index: 1, message: { role: 'assistant', content: 'Hi', reasoning: 'r' }, finish_reason: 'stop' },
    ]);
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('has content null when it only calls tools', () => {
    const completion = scriptToCompletion({ toolCalls: [{ name: 'f', arguments: '{}' }] });
    expect(completion.choices[0].message.content).toBeNull();
    expect(completion.choices[0].finish_reason).toBe('tool_calls');
  });
});

describe('mockStream', () => {
  const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  it('emits one chunk every delayMs frames and completes with the last one', () => {
    testScheduler().run(({ expectObservable }) => {
      const chunks = scriptToChunks({ text: 'Hello', chunkSize: 5 });
      const values = { a: chunks[0], b: chunks[1], c: chunks[2], d: chunks[3] };
      expectObservable(mockStream({ text: 'Hello', chunkSize: 5 }, { delayMs: 3 })).toBe(
        '3ms a 2ms b 2ms c 2ms (d|)',
        values,
      );
    });
  });

  it('waits firstChunkDelayMs before the first chunk', () => {
    testScheduler().run(({ expectObservable }) => {
      const { marbles, values } = chunkMarbles('Hi', { delayMs: 2, firstChunkDelayMs: 10 });
      expect(marbles).toBe('10ms a-b-c-(d|)');
      expectObservable(mockStream('Hi', { delayMs: 2, firstChunkDelayMs: 10 })).toBe(marbles, values);
    });
  });

  it('emits everything in one frame with a scheduler and no delay', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const [a, b, c, d] = scriptToChunks('Hi');
      expectObservable(mockStream('Hi', { scheduler, delayMs: 0 })).toBe('(abcd|)', { a, b, c, d });
    });
  });

  it('emits synchronously without a scheduler and without delays', () => {
    const seen: Chunk[] = [];
    mockStream('Hi').subscribe((c) => seen.push(c));
    expect(seen).toEqual(scriptToChunks('Hi'));
  });

  it('errors where chunk k + 1 would have been with errorAfter', () => {
    testScheduler().run(({ expectObservable }) => {
      const error = new Error('boom');
      const script = { text: 'abcdefgh', errorAfter: { chunks: 2, error } };
      const { marbles, values } = chunkMarbles(script, { delayMs: 2 });
      expect(marbles).toBe('--a-b-#');
      expectObservable(mockStream(script, { delayMs: 2 })).toBe(marbles, values, error);
    });
  });

  it('errors after the last chunk when errorAfter exceeds the chunk count', async () => {
    const error = new Error('late');
    const seen: Chunk[] = [];
    await expect(
      lastValueFrom(mockStream({ text: 'ab', errorAfter: { chunks: 99, error } }).pipe(toArray())),
    ).rejects.toBe(error);
    mockStream({ text: 'ab', errorAfter: { chunks: 99, error } }).subscribe({
      next: (c) => seen.push(c),
      error: () => {},
    });
    expect(seen).toHaveLength(4);
  });

  it('never completes with finishReason: null', () => {
    testScheduler().run(({ expectObservable }) => {
      const { marbles, values } = chunkMarbles({ text: 'ab', finishReason: null }, { delayMs: 1 });
      expect(marbles).toBe('-ab');
      expectObservable(mockStream({ text: 'ab', finishReason: null }, { delayMs: 1 })).toBe(marbles, values);
    });
  });

  it('stops emitting on early unsubscribe', () => {
    const scheduler = testScheduler();
    let pendingAfterUnsubscribe = -1;
    scheduler.run(({ expectObservable }) => {
      const [a, b] = scriptToChunks('abcdefgh');
      expectObservable(mockStream('abcdefgh', { delayMs: 5 }), '^ 7ms !').toBe('5ms a', { a, b });
      // The recording drops what comes after `!` whether or not the stream stops: what proves it
      // stopped is that nothing of it is still scheduled between the unsubscribe (8) and `b` (10).
      scheduler.schedule(() => (pendingAfterUnsubscribe = scheduler.actions.length), 9);
    });
    expect(pendingAfterUnsubscribe).toBe(0);
  });

  it('leaves no scheduled action after unsubscribe', () => {
    const scheduler = new VirtualTimeScheduler();
    const seen: Chunk[] = [];
    const sub = mockStream('abcdefghijklmnop', { scheduler, delayMs: 10 }).subscribe((c) => seen.push(c));
    expect(scheduler.actions).toHaveLength(1);
    sub.unsubscribe();
    expect(scheduler.actions).toHaveLength(0);
    scheduler.flush();
    expect(seen).toEqual([]);
  });

  it('is cold: each subscription gets its own timeline', () => {
    testScheduler().run(({ expectObservable }) => {
      const source = mockStream('ab', { delayMs: 2 });
      const first = chunkMarbles('ab', { delayMs: 2 });
      const late = chunkMarbles('ab', { delayMs: 2, firstChunkDelayMs: 5 });
      expectObservable(source).toBe(first.marbles, first.values);
      expectObservable(source, '---^').toBe(late.marbles, late.values);
    });
  });

  it('throws a TypeError at creation for a negative delay', () => {
    expect(() => mockStream('x', { delayMs: -1 })).toThrow(TypeError);
  });
});

describe('mockProvider', () => {
  const call = (request: object, options: ProviderCall['options'] = {}): ProviderCall => ({
    model: 'echo',
    request: { model: 'mock/echo', messages: [{ role: 'user', content: 'Hi there' }], ...request } as any,
    options,
  });

  it('is named mock', () => {
    expect(mockProvider.name).toBe('mock');
  });

  it('echoes the last user message by default', async () => {
    const chunks = await lastValueFrom(mockProvider.stream(call({})).pipe(toArray()));
    expect(textOf(chunks)).toBe('Mock reply to: Hi there');
    expect(chunks[0].model).toBe('echo');
    expect(isUsageChunk(chunks[chunks.length - 1])).toBe(true);
  });

  it('streams mock_response, a string or a script', async () => {
    const a = await lastValueFrom(mockProvider.stream(call({ mock_response: 'Yo 👋' })).pipe(toArray()));
    expect(textOf(a)).toBe('Yo 👋');
    const b = await lastValueFrom(
      mockProvider
        .stream(call({ mock_response: { toolCalls: [{ name: 'f', arguments: {} }] } }))
        .pipe(toArray()),
    );
    expect(b[b.length - 2].choices[0].finish_reason).toBe('tool_calls');
  });

  it('drops the usage chunk when includeUsage is false', async () => {
    const chunks = await lastValueFrom(
      mockProvider.stream(call({}, { includeUsage: false })).pipe(toArray()),
    );
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('times chunks with options.scheduler and mock_delay_ms', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ expectObservable }) => {
      const source = mockProvider.stream(call({ mock_response: 'ab', mock_delay_ms: 4 }, { scheduler }));
      expectObservable(source.pipe(take(2))).toBe('4ms a 3ms (b|)', {
        a: expect.objectContaining({
          choices: [expect.objectContaining({ delta: { role: 'assistant', content: '' } })],
        }),
        b: expect.objectContaining({ choices: [expect.objectContaining({ delta: { content: 'ab' } })] }),
      });
    });
  });

  it('emits synchronously, without a timer, when there is no delay and no scheduler', () => {
    jest.useFakeTimers();
    try {
      const seen: Chunk[] = [];
      let completed = false;
      mockProvider
        .stream(call({}))
        .subscribe({ next: (c) => seen.push(c), complete: () => (completed = true) });
      expect(textOf(seen)).toBe('Mock reply to: Hi there');
      expect(completed).toBe(true);
      expect(jest.getTimerCount()).toBe(0);
      let answer: unknown;
      mockProvider.complete(call({ mock_response: 'Done' })).subscribe((c) => (answer = c));
      expect(answer).toMatchObject({ choices: [{ message: { content: 'Done' } }] });
    } finally {
      jest.useRealTimers();
    }
  });

  it('uses asyncScheduler when there is a delay, which jest fake timers drive', async () => {
    jest.useFakeTimers();
    try {
      const seen: Chunk[] = [];
      const sub = mockProvider
        .stream(call({ mock_response: 'ab', mock_delay_ms: 50 }))
        .subscribe((c) => seen.push(c));
      expect(seen).toEqual([]);
      jest.advanceTimersByTime(50);
      expect(seen).toHaveLength(1);
      jest.advanceTimersByTime(50);
      expect(textOf(seen)).toBe('ab');
      sub.unsubscribe();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('waits mock_first_chunk_delay_ms before the first chunk, then mock_delay_ms between chunks', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ expectObservable }) => {
      const request = { mock_response: 'ab', mock_delay_ms: 2, mock_first_chunk_delay_ms: 10 };
      const source = mockProvider.stream(call(request, { scheduler }));
      expectObservable(source.pipe(take(2))).toBe('10ms a-(b|)', {
        a: expect.objectContaining({
          choices: [expect.objectContaining({ delta: { role: 'assistant', content: '' } })],
        }),
        b: expect.objectContaining({ choices: [expect.objectContaining({ delta: { content: 'ab' } })] }),
      });
      expectObservable(mockProvider.complete(call(request, { scheduler }))).toBe('10ms (c|)', {
        c: expect.objectContaining({ object: 'chat.completion' }),
      });
    });
  });

  it('answers a sequence one script per request sent, the last one repeating', async () => {
    const sequence = ['first', { text: 'second' }, 'last'];
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      texts.push(
        textOf(await lastValueFrom(mockProvider.stream(call({ mock_response: sequence })).pipe(toArray()))),
      );
    }
    expect(texts).toEqual(['first', 'second', 'last', 'last']);
    const completion = await firstValueFrom(mockProvider.complete(call({ mock_response: ['only'] })));
    expect(completion.choices[0].message.content).toBe('only');
  });

  it('calls a function of the 1-based attempt number', async () => {
    const attempts: number[] = [];
    const script = (attempt: number) => {
      attempts.push(attempt);
      return `attempt ${attempt}`;
    };
    const one = await lastValueFrom(mockProvider.stream(call({ mock_response: script })).pipe(toArray()));
    const two = await lastValueFrom(mockProvider.stream(call({ mock_response: script })).pipe(toArray()));
    expect([textOf(one), textOf(two)]).toEqual(['attempt 1', 'attempt 2']);
    expect(attempts).toEqual([1, 2]);
  });

  it('errors the stream with what a mock_response function throws', async () => {
    const boom = new Error('script failed');
    const script = () => {
      throw boom;
    };
    await expect(lastValueFrom(mockProvider.stream(call({ mock_response: script })))).rejects.toBe(boom);
  });

  it('fails a bad mock_delay_ms / mock_first_chunk_delay_ms with a RequestValidationError naming it', async () => {
    const bad = (fields: object) =>
      lastValueFrom(mockProvider.stream(call({ mock_response: 'ab', ...fields }))).catch((e: unknown) => e);
    const negative = await bad({ mock_delay_ms: -1 });
    expect(negative).toBeInstanceOf(RequestValidationError);
    expect((negative as RequestValidationError).issues).toEqual([
      { path: ['mock_delay_ms'], message: 'must be a finite number >= 0' },
    ]);
    const text = await bad({ mock_first_chunk_delay_ms: '10' });
    expect(text).toBeInstanceOf(RequestValidationError);
    expect((text as Error).message).toBe('Invalid mock_first_chunk_delay_ms: must be a finite number >= 0.');
  });

  it('fails with a RequestValidationError naming the field for a mistyped script', async () => {
    const error = await lastValueFrom(
      mockProvider.stream(call({ mock_response: { content: 'Hello' } })),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).message).toBe(
      'Invalid mock_response: content: unknown field (did you mean "text"?).',
    );
    expect((error as RequestValidationError).issues).toEqual([
      { path: ['mock_response', 'content'], message: 'unknown field (did you mean "text"?)' },
    ]);
    await expect(lastValueFrom(mockProvider.stream(call({ mock_response: [] })))).rejects.toBeInstanceOf(
      RequestValidationError,
    );
    await expect(
      firstValueFrom(mockProvider.complete(call({ mock_response: () => ({ toolCalls: [{ name: '' }] }) }))),
    ).rejects.toMatchObject({
      issues: [
        { path: ['mock_response', 'toolCalls', 0, 'name'], message: 'must be a non-empty string' },
        { path: ['mock_response', 'toolCalls', 0, 'arguments'], message: 'must be a string or an object' },
      ],
    });
  });

  it('complete() returns one ChatCompletion', async () => {
    const completion = await firstValueFrom(
      mockProvider.complete(call({ mock_response: { text: 'Done', n: 2 } })),
    );
    expect(completion.choices.map((c) => c.message.content)).toEqual(['Done', 'Done']);
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('complete() errors with errorAfter.error', async () => {
    const error = new Error('nope');
    await expect(
      firstValueFrom(
        mockProvider.complete(call({ mock_response: { text: 'x', errorAfter: { chunks: 1, error } } })),
      ),
    ).rejects.toBe(error);
  });

  it('errors with a RequestValidationError for a mock_response that is no script', async () => {
    await expect(lastValueFrom(mockProvider.stream(call({ mock_response: 42 })))).rejects.toThrow(
      'Invalid mock_response: a mock script is a string or an object like { text: "..." }.',
    );
    await expect(lastValueFrom(mockProvider.stream(call({ mock_response: 42 })))).rejects.toBeInstanceOf(
      RequestValidationError,
    );
  });
});
