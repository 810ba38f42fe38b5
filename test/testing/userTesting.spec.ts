/**
 * Testing a service built on `stream()` with `rxllm/testing`, as its users do: marble tests whose
 * expected values come from `chunkMarbles`, "fails once, then succeeds" with `retryBackoff`, jest
 * fake timers, and an abort while a retry waits. Public entry points only.
 */
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  RateLimitError,
  RequestAbortedError,
  ServerError,
  stream,
  type CallOptions,
  type ChatRequest,
  type Chunk,
} from 'rxllm';
import { collectText, retryBackoff } from 'rxllm/operators';
import { chunkMarbles, createMockServer, mockStream, textOf, type MockResponse } from 'rxllm/testing';

/** A "service" under test: streams an answer with retries, as an app would. */
class AnswerService {
  constructor(private readonly options: CallOptions = {}) {}
  answer(question: string, mock_response?: MockResponse, signal?: AbortSignal): Observable<Chunk> {
    const request = {
      model: 'mock/gpt-test',
      messages: [{ role: 'user' as const, content: question }],
      mock_response,
    } as ChatRequest;
    return stream(request, { ...this.options, signal }).pipe(
      retryBackoff({
        maxRetries: 2,
        initialDelayMs: 100,
        jitter: 0,
        signal,
        scheduler: this.options.scheduler,
      }),
    );
  }
}

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('chunkMarbles with { request }', () => {
  it.each([
    ['a string', { mock_response: 'Hello there', mock_delay_ms: 3 }, {}],
    ['n = 2 and no delay', { mock_response: { text: 'Hi', chunkSize: 1 }, n: 2 }, {}],
    ['a first-chunk delay', { mock_response: 'Hey', mock_delay_ms: 2, mock_first_chunk_delay_ms: 20 }, {}],
    ['usage off', { mock_response: 'No usage', mock_delay_ms: 2 }, { includeUsage: false }],
    ['the echo', {}, {}],
  ])('gives exactly what stream() emits for %s', (_label, fields, callOptions) => {
    const request = {
      model: 'mock/gpt-4o-mini',
      messages: [
        {
          role: 'user' as const,
          content:
            'What is the weather in Paris today, and should I take an umbrella to work tomorrow morning?',
        },
      ],
      ...fields,
    };
    const scheduler = newScheduler();
    scheduler.run(({ expectObservable }) => {
      const { marbles, values } = chunkMarbles(undefined, { request, ...callOptions });
      expectObservable(stream(request as ChatRequest, { scheduler, ...callOptions })).toBe(marbles, values);
      // Model and usage estimate are the provider's, not mockStream's defaults.
      const usage = Object.values(values).find((c) => c.usage)?.usage;
      expect(Object.values(values)[0].model).toBe('gpt-4o-mini');
      if (usage) expect(usage.prompt_tokens).toBeGreaterThan(MOCK_DEFAULT_PROMPT_TOKENS);
    });
  });

  it('draws the chosen attempt of a sequence', () => {
    const boom = new ServerError({ status: 503 });
    const sequence = [{ errorAfter: { chunks: 0, error: boom } }, 'Recovered'];
    const request = { model: 'mock/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
    expect(chunkMarbles(sequence, { request, attempt: 1 })).toEqual({
      marbles: '#',
      values: {},
      error: boom,
    });
    expect(textOf(Object.values(chunkMarbles(sequence, { request, attempt: 2 }).values))).toBe('Recovered');
  });

  it('keeps the mockStream defaults without a request, and refuses a mistyped script', () => {
    const scheduler = newScheduler();
    scheduler.run(({ expectObservable }) => {
      const { marbles, values } = chunkMarbles('Hello', { delayMs: 4 });
      expectObservable(mockStream('Hello', { delayMs: 4 })).toBe(marbles, values);
    });
    expect(() => chunkMarbles({ content: 'Hello' } as never)).toThrow(
      'Invalid mock script: content: unknown field (did you mean "text"?).',
    );
    expect(() => mockStream({ content: 'Hello' } as never)).toThrow(TypeError);
  });
});

const MOCK_DEFAULT_PROMPT_TOKENS = 10;

describe('the mock provider in a service test', () => {
  it('fails once, then succeeds, through retryBackoff (one script per attempt)', async () => {
    const service = new AnswerService();
    const chunks = await lastValueFrom(
      service
        .answer('Hi', [{ errorAfter: { chunks: 0, error: new ServerError({ status: 503 }) } }, 'Hello!'])
        .pipe(toArray()),
    );
    expect(textOf(chunks)).toBe('Hello!');
  });

  it('fails once, then succeeds, in a marble test (a function of the attempt)', () => {
    const scheduler = newScheduler();
    scheduler.run(({ expectObservable }) => {
      const script = (attempt: number) =>
        attempt === 1 ? { errorAfter: { chunks: 0, error: new ServerError({ status: 500 }) } } : 'Done';
      const request = { model: 'mock/gpt-test', messages: [{ role: 'user' as const, content: 'Q' }] };
      const ok = chunkMarbles(script, { request, attempt: 2 });
      // The first attempt fails at 0, the retry waits 100 frames, then the script's chunks (no delay).
      expectObservable(new AnswerService({ scheduler }).answer('Q', script)).toBe(
        `100ms ${ok.marbles}`,
        ok.values,
      );
    });
  });

  it('streams under jest.useFakeTimers() without a timer when there is no delay', async () => {
    jest.useFakeTimers();
    try {
      const text = await lastValueFrom(
        stream({
          model: 'mock/x',
          messages: [{ role: 'user', content: 'Hi' }],
          mock_response: 'Fake time',
        } as ChatRequest).pipe(collectText()),
      );
      expect(text).toBe('Fake time');
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('ends at once with RequestAbortedError when the signal fires during a 30 s Retry-After wait', async () => {
    jest.useFakeTimers();
    try {
      const controller = new AbortController();
      const limited = new RateLimitError({ status: 429, headers: { 'retry-after': '30' } });
      const service = new AnswerService();
      const result = lastValueFrom(
        service.answer('Hi', [{ errorAfter: { chunks: 0, error: limited } }, 'late'], controller.signal),
      ).catch((e: unknown) => e);
      expect(jest.getTimerCount()).toBe(1); // the 30 s wait
      jest.advanceTimersByTime(300);
      controller.abort();
      const error = await result;
      expect(error).toBeInstanceOf(RequestAbortedError);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('the mock server refuses a mistyped script', () => {
  it('throws a TypeError naming the field from enqueue and setDefault', async () => {
    const server = await createMockServer();
    try {
      expect(() => server.enqueue('fine', { content: 'Hello' } as never)).toThrow(
        'Mock server enqueue: script 2: invalid script: content: unknown field (did you mean "text"?).',
      );
      expect(() => server.setDefault({ text: 42 } as never)).toThrow('text: must be a string');
      // Transport fields are its own, and a valid script is still queued.
      server.enqueue({ text: 'ok', latencyMs: 1, status: 200 });
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});
