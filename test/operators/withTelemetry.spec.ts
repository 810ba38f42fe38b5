import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { from, lastValueFrom, Observable, take, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ChatRequest, Chunk } from '../../src';
import { RateLimitError, ServerError } from '../../src/errors';
import { scriptToChunks } from '../../src/testing';
import { withTelemetry, type WithTelemetryConfig } from '../../operators/withTelemetry';
import { chunk, finish, text, usageChunk } from '../quirks/toolCallQuirks';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// A real Tracer type-checks as the structural TelemetryTracer.
const tracer = provider.getTracer('rxllm-test');
const spans = (): ReadableSpan[] => exporter.getFinishedSpans();

const request: ChatRequest = {
  model: 'openai/gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Secret prompt text' },
  ],
  temperature: 0.2,
  max_tokens: 50,
};
const answer = scriptToChunks({
  text: 'Secret answer text',
  model: 'gpt-4o-mini-2024-07-18',
  id: 'chatcmpl-1',
});

afterEach(() => exporter.reset());

describe('withTelemetry', () => {
  it('records one CLIENT span with the GenAI semantic-convention attributes', async () => {
    const out = await lastValueFrom(from(answer).pipe(withTelemetry({ tracer, request }), toArray()));
    expect(out).toEqual(answer);
    expect(spans()).toHaveLength(1);
    const [span] = spans();
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe(2);
    expect(span.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.response.time_to_first_chunk': expect.any(Number),
      'rxllm.chunk_count': answer.length,
    });
    expect(span.status.code).toBe(0);
  });

  it('records no prompt or completion text unless asked', async () => {
    await lastValueFrom(from(answer).pipe(withTelemetry({ tracer, request })));
    expect(JSON.stringify(spans()[0].attributes)).not.toMatch(/Secret/);
    await lastValueFrom(from(answer).pipe(withTelemetry({ tracer, request, captureContent: true })));
    const attributes = spans()[1].attributes;
    expect(JSON.parse(attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Secret prompt text' }] },
    ]);
    expect(JSON.parse(attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'Secret answer text' }], finish_reason: 'stop' },
    ]);
  });

  it('measures time to first chunk on the rxjs scheduler', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable, flush }) => {
      const source = cold('250ms a 99ms b 99ms (c|)', { a: text('x'), b: text('y'), c: finish('stop') });
      expectObservable(source.pipe(withTelemetry({ tracer, request }))).toBe('250ms a 99ms b 99ms (c|)', {
        a: text('x'),
        b: text('y'),
        c: finish('stop'),
      });
      flush();
      expect(spans()[0].attributes['gen_ai.response.time_to_first_chunk']).toBe(0.25);
      expect(spans()[0].attributes['rxllm.chunk_count']).toBe(3);
    });
  });

  it('records an error with its class, as an exception and status ERROR, and passes it on', async () => {
    const error = new RateLimitError({ status: 429 });
    const failing = new Observable<Chunk>((s) => {
      s.next(text('partial'));
      s.error(error);
    });
    await expect(lastValueFrom(failing.pipe(withTelemetry({ tracer, request })))).rejects.toBe(error);
    const [span] = spans();
    expect(span.attributes['error.type']).toBe('RateLimitError');
    expect(span.status).toEqual({ code: 2, message: error.message });
    expect(span.events.map((e) => e.name)).toContain('exception');
    expect(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.type']).toBe(
      'RateLimitError',
    );
  });

  it('records retries inside the span as events', async () => {
    let attempts = 0;
    const flaky = new Observable<Chunk>((s) => {
      if (++attempts < 3) return s.error(new ServerError({ status: 503 }));
      from(answer).subscribe(s);
    });
    const out = await lastValueFrom(
      flaky.pipe(withTelemetry({ tracer, request, retry: { initialDelayMs: 1, jitter: 0 } }), toArray()),
    );
    expect(out).toEqual(answer);
    const [span] = spans();
    expect(spans()).toHaveLength(1);
    expect(
      span.events.map((e) => [e.name, e.attributes?.['rxllm.attempt'], e.attributes?.['error.type']]),
    ).toEqual([
      ['rxllm.retry', 1, 'ServerError'],
      ['rxllm.retry', 2, 'ServerError'],
    ]);
    expect(span.attributes['error.type']).toBeUndefined();
  });

  it('records fallbacks as events and the model that answered', async () => {
    const fallback = from(scriptToChunks({ text: 'from the fallback', model: 'claude-x' }));
    const out = await lastValueFrom(
      throwError(() => new ServerError({ status: 500 })).pipe(
        withTelemetry({ tracer, request, fallbacks: [fallback] }),
        toArray(),
      ),
    );
    expect(out.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('from the fallback');
    const [span] = spans();
    expect(span.events.map((e) => [e.name, e.attributes?.['rxllm.fallback.index']])).toEqual([
      ['rxllm.fallback', 1],
    ]);
    expect(span.attributes['gen_ai.response.model']).toBe('claude-x');
  });

  it('does not fall back after the first chunk (the text would repeat)', async () => {
    const error = new ServerError({ status: 500 });
    const cut = new Observable<Chunk>((s) => {
      s.next(text('half'));
      s.error(error);
    });
    const fallback = from([text('never')]);
    await expect(
      lastValueFrom(cut.pipe(withTelemetry({ tracer, request, fallbacks: [fallback] }), toArray())),
    ).rejects.toBe(error);
    expect(spans()[0].events.map((e) => e.name)).toEqual(['exception']);
  });

  it('records reset chunks from an upstream retry as events', async () => {
    const reset = chunk([], { reset: { attempt: 1, reason: 'cut' } });
    await lastValueFrom(
      from([text('a'), reset, text('b'), finish('length')]).pipe(withTelemetry({ tracer })),
    );
    const [span] = spans();
    expect(span.events.map((e) => e.name)).toEqual(['rxllm.reset']);
    expect(span.attributes['gen_ai.response.finish_reasons']).toEqual(['length']);
    expect(span.name).toBe('chat');
  });

  it('maps the gemini provider to gcp.gemini and keeps other prefixes', async () => {
    await lastValueFrom(
      from([finish('stop')]).pipe(
        withTelemetry({ tracer, request: { ...request, model: 'gemini/gemini-2.5-flash' } }),
      ),
    );
    await lastValueFrom(
      from([finish('stop')]).pipe(
        withTelemetry({ tracer, request: { ...request, model: 'anthropic/claude-x' } }),
      ),
    );
    expect(spans().map((s) => s.attributes['gen_ai.provider.name'])).toEqual(['gcp.gemini', 'anthropic']);
  });

  it('ends the span as cancelled on early unsubscribe and unsubscribes the source', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(
      ({ cold, expectObservable, expectSubscriptions, flush }) => {
        const source = cold('-a-b-c-|', { a: text('a'), b: text('b'), c: finish('stop') });
        expectObservable(source.pipe(withTelemetry({ tracer, request })), '^--!').toBe('-a-', {
          a: text('a'),
        });
        expectSubscriptions(source.subscriptions).toBe('^--!');
        flush();
        expect(spans()[0].attributes['rxllm.cancelled']).toBe(true);
        expect(spans()[0].attributes['rxllm.chunk_count']).toBe(1);
      },
    );
  });

  it('handles empty and never sources, one span per subscription', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(
      ({ cold, expectObservable, expectSubscriptions, flush }) => {
        const empty = cold<Chunk>('|').pipe(withTelemetry({ tracer, request }));
        expectObservable(empty).toBe('|');
        expectObservable(empty).toBe('|');
        const never = cold<Chunk>('-');
        expectObservable(never.pipe(withTelemetry({ tracer, request }))).toBe('-');
        expectSubscriptions(never.subscriptions).toBe('^');
        flush();
        expect(spans()).toHaveLength(2);
        expect(spans().map((s) => s.attributes['rxllm.chunk_count'])).toEqual([0, 0]);
      },
    );
  });

  it('stops a synchronous source when downstream takes what it needs', async () => {
    let pulled = 0;
    const endless = new Observable<Chunk>((s) => {
      while (!s.closed) {
        pulled++;
        s.next(text('x'));
      }
    });
    await lastValueFrom(endless.pipe(withTelemetry({ tracer }), take(2)));
    expect(pulled).toBe(2);
  });

  it('turns a throwing tracer into the stream error', async () => {
    const broken = {
      startSpan: () => ({
        setAttribute: () => {
          throw new Error('exporter broke');
        },
        addEvent: () => undefined,
        recordException: () => undefined,
        setStatus: () => undefined,
        end: () => undefined,
      }),
    };
    await expect(lastValueFrom(from([text('x')]).pipe(withTelemetry({ tracer: broken })))).rejects.toThrow(
      'exporter broke',
    );
  });

  it.each([
    ['at the first chunk', () => from([text('x'), text('y')])],
    ['at completion', () => from<Chunk[]>([])],
    ['on a source error', () => throwError(() => new ServerError({ status: 500 }))],
  ])(
    'still ends the span when setAttribute throws %s, and the throw is the stream error',
    async (_, source) => {
      let ends = 0;
      let sets = 0;
      const boom = new Error('exporter broke');
      const broken = {
        startSpan: () => ({
          setAttribute: () => {
            sets++;
            throw boom;
          },
          addEvent: () => undefined,
          recordException: () => undefined,
          setStatus: () => undefined,
          end: () => {
            ends++;
          },
        }),
      };
      await expect(lastValueFrom(source().pipe(withTelemetry({ tracer: broken })))).rejects.toBe(boom);
      expect(ends).toBe(1);
      expect(sets).toBeGreaterThan(0);
    },
  );

  it('works with the global API tracer (a no-op without a registered provider)', async () => {
    const out = await lastValueFrom(
      from([text('x')]).pipe(withTelemetry({ tracer: trace.getTracer('noop') }), toArray()),
    );
    expect(out).toEqual([text('x')]);
    expect(spans()).toHaveLength(0);
  });

  it.each([
    [null, 'config'],
    [{}, 'tracer'],
    [{ tracer, operationName: '' }, 'operationName'],
    [{ tracer, fallbacks: 'x' }, 'fallbacks'],
    [{ tracer, request: { messages: [] } }, 'request'],
    [{ tracer, retry: { maxRetries: -1 } }, 'maxRetries'],
    [{ tracer, activate: 'yes' }, 'activate'],
  ])('rejects bad config %# with a TypeError at creation', (config, message) => {
    expect(() => withTelemetry(config as unknown as WithTelemetryConfig)).toThrow(TypeError);
    expect(() => withTelemetry(config as unknown as WithTelemetryConfig)).toThrow(message);
  });

  it('subscribes the source inside activate, with the span', async () => {
    let active: unknown;
    let subscribedWith: unknown;
    const source = new Observable<Chunk>((s) => {
      subscribedWith = active;
      s.next(text('x'));
      s.complete();
    });
    await lastValueFrom(
      source.pipe(
        withTelemetry({
          tracer,
          activate: (span, run) => {
            active = span;
            run();
            active = undefined;
          },
        }),
      ),
    );
    expect(subscribedWith).toBeDefined();
    expect((subscribedWith as ReadableSpan).name).toBe('chat');
  });

  it('keeps usage from the usage chunk', async () => {
    await lastValueFrom(from([text('x'), finish('stop'), usageChunk(7, 3)]).pipe(withTelemetry({ tracer })));
    expect(spans()[0].attributes['gen_ai.usage.input_tokens']).toBe(7);
    expect(spans()[0].attributes['gen_ai.usage.output_tokens']).toBe(3);
  });
});

describe('the rxllm/operators entry', () => {
  it('never loads @opentelemetry/api (an optional peer)', () => {
    const script = [
      "require('./operators/index.ts');",
      "const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'));",
      "const ops = Object.keys(require.cache).filter((k) => k.includes('withTelemetry')).length;",
      'process.stdout.write(JSON.stringify({ loaded, ops }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: join(__dirname, '../..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ loaded: [], ops: 1 });
  });
});
