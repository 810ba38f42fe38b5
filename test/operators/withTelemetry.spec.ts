import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { defer, from, lastValueFrom, Observable, take, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ChatRequest, Chunk } from '../../src';
import { RateLimitError, ServerError } from '../../src/errors';
import { scriptToChunks } from '../../src/testing';
import { withTelemetry, type TelemetryMeter, type WithTelemetryConfig } from '../../operators/withTelemetry';
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

// Metrics: the SDK's in-memory exporter behind a reader flushed by hand; DELTA temporality, so each
// flush holds only what was recorded since the previous one.
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 2 ** 31 - 1,
});
const meterProvider = new MeterProvider({ readers: [reader] });
// A real Meter type-checks as the structural TelemetryMeter.
const meter: TelemetryMeter = meterProvider.getMeter('rxllm-test');
afterEach(async () => {
  await reader.forceFlush();
  metricExporter.reset();
});
afterAll(() => meterProvider.shutdown());

/** The histograms recorded since the last flush, by name: their descriptors and data points. */
async function histograms() {
  await reader.forceFlush();
  const out = new Map<string, HistogramMetricData>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.dataPointType === DataPointType.HISTOGRAM && metric.dataPoints.length > 0)
          out.set(metric.descriptor.name, metric);
      }
    }
  }
  metricExporter.reset();
  return out;
}

/** Each data point as [attributes, count, sum]. */
const points = (metric: HistogramMetricData | undefined) =>
  (metric?.dataPoints ?? []).map((p) => [p.attributes, p.value.count, p.value.sum]);

// The conventions' own constants (@opentelemetry/semantic-conventions 1.45, incubating entry): the
// names below are checked against them. A require: moduleResolution "node" does not read `exports`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const semconv: Record<string, string> = require('@opentelemetry/semantic-conventions/incubating');

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

  it("records an error that is not rxllm's as a scrubbed copy: no key in the exported span", async () => {
    const error = new TypeError(
      'connect failed for https://user:pa55w0rd-XYZ-123456@proxy with sk-proj-AbCdEf0123456789',
    );
    const failing = new Observable<Chunk>((s) => s.error(error));
    await expect(lastValueFrom(failing.pipe(withTelemetry({ tracer, request })))).rejects.toBe(error);
    const [span] = spans();
    const exported = JSON.stringify([span.status, span.events]);
    expect(exported).toContain('TypeError');
    expect(exported).not.toMatch(/pa55w0rd|AbCdEf0123456789/);
  });

  it('names the error class by its written-out name, as in a minified bundle where the class is "u"', async () => {
    // What a minifier makes of `class RateLimitError`: renamed, its written-out errorName kept.
    const u = class extends RateLimitError {
      static override readonly errorName: string = 'RateLimitError';
    };
    const error = new u({ status: 429 });
    expect(error.constructor.name).not.toBe('RateLimitError');
    const failing = new Observable<Chunk>((s) => s.error(error));
    await expect(lastValueFrom(failing.pipe(withTelemetry({ tracer, request })))).rejects.toBe(error);
    expect(spans()[0].attributes['error.type']).toBe('RateLimitError');
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

describe('withTelemetry: provider names and usage details per the conventions', () => {
  const providerOf = async (config: Omit<WithTelemetryConfig, 'tracer'>) => {
    exporter.reset();
    await lastValueFrom(from([finish('stop')]).pipe(withTelemetry({ tracer, ...config })));
    return spans()[0].attributes;
  };
  const model = (m: string): ChatRequest => ({ ...request, model: m as ChatRequest['model'] });

  it.each([
    ['azure/my-deployment', 'GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI', 'azure.ai.openai'],
    ['openai-responses/gpt-5', 'GEN_AI_PROVIDER_NAME_VALUE_OPENAI', 'openai'],
    ['openai/gpt-4o', 'GEN_AI_PROVIDER_NAME_VALUE_OPENAI', 'openai'],
    ['gemini/gemini-2.5-flash', 'GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI', 'gcp.gemini'],
    ['anthropic/claude-x', 'GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC', 'anthropic'],
    ['deepseek/deepseek-chat', 'GEN_AI_PROVIDER_NAME_VALUE_DEEPSEEK', 'deepseek'],
    ['groq/llama', 'GEN_AI_PROVIDER_NAME_VALUE_GROQ', 'groq'],
  ])('names %s as the conventions do (%s)', async (m, constant, expected) => {
    expect(semconv[constant]).toBe(expected);
    expect((await providerOf({ request: model(m) }))['gen_ai.provider.name']).toBe(expected);
  });

  it('keeps prefixes the conventions do not list (ollama, mock, a registered provider) as they are', async () => {
    expect((await providerOf({ request: model('ollama/llama3') }))['gen_ai.provider.name']).toBe('ollama');
    expect((await providerOf({ request: model('my-proxy/x') }))['gen_ai.provider.name']).toBe('my-proxy');
  });

  it.each([
    ['https://api.mistral.ai/v1', 'mistral_ai', 'api.mistral.ai', 443],
    ['https://api.x.ai/v1', 'x_ai', 'api.x.ai', 443],
    [
      'https://generativelanguage.googleapis.com/v1beta/openai',
      'gcp.gemini',
      'generativelanguage.googleapis.com',
      443,
    ],
    [
      'https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/openapi',
      'gcp.vertex_ai',
      'us-central1-aiplatform.googleapis.com',
      443,
    ],
    ['https://res.openai.azure.com/openai/v1', 'azure.ai.openai', 'res.openai.azure.com', 443],
    [
      'https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1',
      'aws.bedrock',
      'bedrock-runtime.us-west-2.amazonaws.com',
      443,
    ],
    ['http://127.0.0.1:8000/v1', 'openai', '127.0.0.1', 8000],
    ['http://[::1]/v1', 'openai', '::1', 80],
  ])(
    'names a compat/ model by its server (%s) and sets server.address / server.port',
    async (baseURL, name, address, port) => {
      const attributes = await providerOf({ request: model('compat/some-model'), baseURL });
      expect(attributes['gen_ai.provider.name']).toBe(name);
      expect(attributes['server.address']).toBe(address);
      expect(attributes['server.port']).toBe(port);
    },
  );

  it('names a compat/ model without a baseURL openai, and lets providerName win over everything', async () => {
    expect((await providerOf({ request: model('compat/x') }))['gen_ai.provider.name']).toBe('openai');
    const named = await providerOf({
      request: model('compat/x'),
      baseURL: 'https://api.mistral.ai/v1',
      providerName: 'together_ai',
    });
    expect(named['gen_ai.provider.name']).toBe('together_ai');
  });

  it('writes cache_read, cache_creation and reasoning tokens when the usage carries them', async () => {
    const usage = chunk([], {
      usage: {
        prompt_tokens: 120,
        completion_tokens: 80,
        total_tokens: 200,
        prompt_tokens_details: { cached_tokens: 100, cache_creation_tokens: 15 },
        completion_tokens_details: { reasoning_tokens: 64 },
      },
    });
    await lastValueFrom(from([text('x'), finish('stop'), usage]).pipe(withTelemetry({ tracer })));
    const attributes = spans()[0].attributes;
    for (const [key, constant, value] of [
      ['gen_ai.usage.input_tokens', 'ATTR_GEN_AI_USAGE_INPUT_TOKENS', 120],
      ['gen_ai.usage.output_tokens', 'ATTR_GEN_AI_USAGE_OUTPUT_TOKENS', 80],
      ['gen_ai.usage.cache_read.input_tokens', 'ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS', 100],
      ['gen_ai.usage.cache_creation.input_tokens', 'ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS', 15],
      ['gen_ai.usage.reasoning.output_tokens', 'ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS', 64],
    ] as const) {
      expect(semconv[constant]).toBe(key);
      expect(attributes[key]).toBe(value);
    }
  });

  it('writes no detail attributes when the usage has none (or a zero cache read only)', async () => {
    await lastValueFrom(from([usageChunk(7, 3)]).pipe(withTelemetry({ tracer })));
    expect(Object.keys(spans()[0].attributes).filter((k) => k.startsWith('gen_ai.usage.'))).toEqual([
      'gen_ai.usage.input_tokens',
      'gen_ai.usage.output_tokens',
    ]);
    exporter.reset();
    const zero = chunk([], {
      usage: {
        prompt_tokens: 7,
        completion_tokens: 3,
        total_tokens: 10,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
    await lastValueFrom(from([zero]).pipe(withTelemetry({ tracer })));
    expect(spans()[0].attributes['gen_ai.usage.cache_read.input_tokens']).toBe(0);
    expect(spans()[0].attributes['gen_ai.usage.reasoning.output_tokens']).toBeUndefined();
  });
});

describe('withTelemetry: GenAI client metrics', () => {
  const metricRequest: ChatRequest = { ...request, model: 'azure/my-deployment' };
  const base = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'azure.ai.openai',
    'gen_ai.request.model': 'my-deployment',
    'gen_ai.response.model': 'quirk-model',
    'server.address': 'res.openai.azure.com',
    'server.port': 443,
  };
  const telemetry = (extra: Partial<WithTelemetryConfig> = {}) =>
    withTelemetry({
      tracer,
      meter,
      request: metricRequest,
      baseURL: 'https://res.openai.azure.com/openai',
      ...extra,
    });

  it('records duration, time to first chunk and token usage with the conventions names, units, buckets and attributes', async () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const source = cold('250ms a 99ms b 99ms (cu|)', {
        a: text('x'),
        b: text('y'),
        c: finish('stop'),
        u: usageChunk(12, 5),
      });
      expectObservable(source.pipe(telemetry())).toBe('250ms a 99ms b 99ms (cu|)', {
        a: text('x'),
        b: text('y'),
        c: finish('stop'),
        u: usageChunk(12, 5),
      });
    });
    const recorded = await histograms();
    expect([...recorded.keys()].sort()).toEqual([
      semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
      semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
      semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    ]);
    const duration = recorded.get('gen_ai.client.operation.duration')!;
    const ttfc = recorded.get('gen_ai.client.operation.time_to_first_chunk')!;
    const tokens = recorded.get('gen_ai.client.token.usage')!;
    expect(duration.descriptor).toMatchObject({
      unit: 's',
      valueType: 1,
      description: 'GenAI operation duration.',
    });
    expect(ttfc.descriptor).toMatchObject({ unit: 's', valueType: 1 });
    expect(tokens.descriptor).toMatchObject({
      unit: '{token}',
      valueType: 0,
      description: 'Number of input and output tokens used.',
    });
    const seconds = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    expect(duration.dataPoints[0].value.buckets.boundaries).toEqual(seconds);
    expect(ttfc.dataPoints[0].value.buckets.boundaries).toEqual(seconds);
    expect(tokens.dataPoints[0].value.buckets.boundaries).toEqual([
      1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ]);
    expect(points(duration)).toEqual([[base, 1, 0.45]]);
    expect(points(ttfc)).toEqual([[base, 1, 0.25]]);
    expect(points(tokens)).toEqual([
      [{ ...base, 'gen_ai.token.type': semconv.GEN_AI_TOKEN_TYPE_VALUE_INPUT }, 1, 12],
      [{ ...base, 'gen_ai.token.type': semconv.GEN_AI_TOKEN_TYPE_VALUE_OUTPUT }, 1, 5],
    ]);
  });

  it('counts durations from the subscription, retry waits included', async () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      let attempts = 0;
      const flaky = defer(() =>
        ++attempts === 1
          ? cold<Chunk>('10ms #', undefined, new ServerError({ status: 503 }))
          : cold('5ms (cu|)', { c: finish('stop'), u: usageChunk(2, 1) }),
      );
      const retried = flaky.pipe(telemetry({ retry: { initialDelayMs: 100, jitter: 0 } }));
      expectObservable(retried).toBe('115ms (cu|)', { c: finish('stop'), u: usageChunk(2, 1) });
    });
    const recorded = await histograms();
    expect(points(recorded.get('gen_ai.client.operation.duration'))).toEqual([[base, 1, 0.115]]);
    expect(points(recorded.get('gen_ai.client.operation.time_to_first_chunk'))).toEqual([[base, 1, 0.115]]);
  });

  it('records a failed call with error.type and no token usage, even when usage arrived', async () => {
    const error = new RateLimitError({ status: 429 });
    const failing = new Observable<Chunk>((s) => {
      s.next(text('partial'));
      s.next(usageChunk(12, 1));
      s.error(error);
    });
    await expect(lastValueFrom(failing.pipe(telemetry()))).rejects.toBe(error);
    const recorded = await histograms();
    expect(points(recorded.get('gen_ai.client.operation.duration'))).toEqual([
      [{ ...base, 'error.type': 'RateLimitError' }, 1, expect.any(Number)],
    ]);
    expect(points(recorded.get('gen_ai.client.operation.time_to_first_chunk'))).toEqual([
      [base, 1, expect.any(Number)],
    ]);
    expect(recorded.has('gen_ai.client.token.usage')).toBe(false);
  });

  it('records a call that failed before any chunk without time to first chunk, and a thrown non-Error as _OTHER', async () => {
    // In virtual time: on the real clock a busy machine lets a millisecond pass between subscribe and error.
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      expectObservable(cold<Chunk>('#', undefined, 'boom').pipe(telemetry())).toBe('#', undefined, 'boom');
    });
    const recorded = await histograms();
    const { 'gen_ai.response.model': _none, ...noResponse } = base;
    expect(points(recorded.get('gen_ai.client.operation.duration'))).toEqual([
      [{ ...noResponse, 'error.type': semconv.ERROR_TYPE_VALUE_OTHER }, 1, 0],
    ]);
    expect(recorded.has('gen_ai.client.operation.time_to_first_chunk')).toBe(false);
    expect(spans()[0].attributes['error.type']).toBe('_OTHER');
  });

  it('records an early unsubscribe as error.type cancelled, with its time to first chunk', async () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const source = cold('-a 9ms b 19ms c|', { a: text('a'), b: text('b'), c: finish('stop') });
      expectObservable(source.pipe(telemetry()), '^ 19ms !').toBe('-a 9ms b', { a: text('a'), b: text('b') });
    });
    const recorded = await histograms();
    expect(points(recorded.get('gen_ai.client.operation.duration'))).toEqual([
      [{ ...base, 'error.type': 'cancelled' }, 1, 0.02],
    ]);
    expect(points(recorded.get('gen_ai.client.operation.time_to_first_chunk'))).toEqual([[base, 1, 0.001]]);
  });

  it('records one set per subscription (state is not shared), and creates the instruments once per meter', async () => {
    const created: string[] = [];
    const counting: TelemetryMeter = {
      createHistogram: (name, options) => {
        created.push(name);
        return meter.createHistogram(name, options);
      },
    };
    const piped = from([text('x'), finish('stop'), usageChunk(3, 2)]).pipe(
      withTelemetry({ meter: counting, request: metricRequest }),
    );
    await lastValueFrom(piped);
    await lastValueFrom(piped);
    await lastValueFrom(
      from([finish('stop')]).pipe(withTelemetry({ meter: counting, request: metricRequest })),
    );
    expect(created).toHaveLength(3);
    const recorded = await histograms();
    expect(recorded.get('gen_ai.client.operation.duration')!.dataPoints[0].value.count).toBe(3);
    expect(
      points(recorded.get('gen_ai.client.token.usage')).map(([a, count, sum]) => [
        (a as Record<string, unknown>)['gen_ai.token.type'],
        count,
        sum,
      ]),
    ).toEqual([
      ['input', 2, 6],
      ['output', 2, 4],
    ]);
  });

  it('works with a meter alone: metrics, no spans', async () => {
    const out = await lastValueFrom(from(answer).pipe(withTelemetry({ meter, request }), toArray()));
    expect(out).toEqual(answer);
    expect(spans()).toHaveLength(0);
    const recorded = await histograms();
    expect(points(recorded.get('gen_ai.client.token.usage'))).toEqual([
      [
        {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
          'gen_ai.token.type': 'input',
        },
        1,
        10,
      ],
      [expect.objectContaining({ 'gen_ai.token.type': 'output' }), 1, 5],
    ]);
  });

  it.each([
    [{ meter: {} }, 'meter'],
    [{}, 'a meter'],
    [{ meter, activate: () => undefined }, 'with a tracer'],
    [{ tracer, baseURL: 'not a url' }, 'baseURL'],
    [{ tracer, providerName: 7 }, 'providerName'],
  ])('rejects bad metrics config %# with a TypeError at creation', (config, message) => {
    expect(() => withTelemetry(config as unknown as WithTelemetryConfig)).toThrow(TypeError);
    expect(() => withTelemetry(config as unknown as WithTelemetryConfig)).toThrow(message);
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
