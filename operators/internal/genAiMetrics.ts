/**
 * The GenAI client metrics of `withTelemetry`, as @opentelemetry/semantic-conventions 1.45 defines
 * them (semantic-conventions `model/gen-ai/metrics.yaml` and `docs/gen-ai/gen-ai-metrics.md`):
 * three histograms with their units, value types and the bucket boundaries the conventions advise.
 * The meter is structural, like the tracer: @opentelemetry/api is never loaded here.
 */
import type { TelemetryAttributes } from './genAiAttributes';

/** The part of an OpenTelemetry `Histogram` that `withTelemetry` uses. */
export interface TelemetryHistogram {
  record(value: number, attributes?: TelemetryAttributes): void;
}

/** Options of `createHistogram`, as @opentelemetry/api's `MetricOptions` has them. */
export interface TelemetryHistogramOptions {
  description?: string;
  unit?: string;
  /** `ValueType.INT` (0) or `ValueType.DOUBLE` (1). */
  valueType?: number;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** The part of an OpenTelemetry `Meter` that `withTelemetry` uses: `metrics.getMeter('my-app')` fits. */
export interface TelemetryMeter {
  createHistogram(name: string, options?: TelemetryHistogramOptions): TelemetryHistogram;
}

/** `ValueType.INT` and `ValueType.DOUBLE` of @opentelemetry/api, which is not imported. */
const VALUE_TYPE_INT = 0;
const VALUE_TYPE_DOUBLE = 1;

/** The conventions' advice for `gen_ai.client.token.usage` (powers of 4 up to 4^13 tokens). */
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** The conventions' advice for the duration histograms (10 ms doubling to 81.92 s). */
export const SECONDS_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

export interface GenAiInstruments {
  /** `gen_ai.client.token.usage`, `{token}`, with `gen_ai.token.type` `input` / `output`. */
  tokenUsage: TelemetryHistogram;
  /** `gen_ai.client.operation.duration`, `s`, with `error.type` when the call failed. */
  duration: TelemetryHistogram;
  /** `gen_ai.client.operation.time_to_first_chunk`, `s` (streaming calls only, which these all are). */
  timeToFirstChunk: TelemetryHistogram;
}

// Instruments are handles, not state: one set per meter serves every call and subscription
// (a withTelemetry per request would otherwise register the same three instruments each time).
const byMeter = new WeakMap<TelemetryMeter, GenAiInstruments>();

/** The three instruments on `meter`, created on first use. */
export function genAiInstruments(meter: TelemetryMeter): GenAiInstruments {
  let instruments = byMeter.get(meter);
  if (!instruments) {
    instruments = {
      tokenUsage: meter.createHistogram('gen_ai.client.token.usage', {
        description: 'Number of input and output tokens used.',
        unit: '{token}',
        valueType: VALUE_TYPE_INT,
        advice: { explicitBucketBoundaries: [...TOKEN_BUCKETS] },
      }),
      duration: meter.createHistogram('gen_ai.client.operation.duration', {
        description: 'GenAI operation duration.',
        unit: 's',
        valueType: VALUE_TYPE_DOUBLE,
        advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
      }),
      timeToFirstChunk: meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
        description:
          'Time to receive the first chunk, measured from when the client issues the generation request to when the first chunk is received in the response stream.',
        unit: 's',
        valueType: VALUE_TYPE_DOUBLE,
        advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
      }),
    };
    byMeter.set(meter, instruments);
  }
  return instruments;
}
