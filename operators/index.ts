// Barrel of rxllm/operators: one line per operator file, values and types.
export {
  accumulateChunks,
  mergeChunks,
  ACCUMULATE_CHUNKS_DEFAULTS,
  type AccumulateChunksConfig,
} from './accumulateChunks';
export {
  partialToolCallGuard,
  PARTIAL_TOOL_CALL_GUARD_DEFAULTS,
  type PartialToolCallGuardConfig,
  type ToolSchemas,
  type ValidToolCall,
  type UnvalidatedToolCall,
  type ValidToolCallOf,
  type InvalidToolCall,
  type GuardedChunk,
  type GuardedChoice,
  type GuardedDelta,
  type ReleasedToolCall,
} from './partialToolCallGuard';
export {
  finishReasonWarn,
  FINISH_REASON_WARN_DEFAULTS,
  type FinishReasonWarnConfig,
  type FinishReasonWarning,
} from './finishReasonWarn';
export { textDeltas, TEXT_DELTAS_DEFAULTS, type TextDeltasConfig } from './textDeltas';
export { reasoningDeltas } from './reasoningDeltas';
export { collectText } from './collectText';
export { usage } from './usage';
export * from './retryBackoff';
export * from './timeouts';
export * from './mapConcurrent';
export * from './rateLimit';
export * from './trackUsage';
export * from './budget';
export {
  partialObject,
  PARTIAL_OBJECT_DEFAULTS,
  type PartialObjectConfig,
  type PartialObjectUpdate,
  type DeepPartial,
} from './partialObject';
export { arrayElements, ARRAY_ELEMENTS_DEFAULTS, type ArrayElementsConfig } from './arrayElements';
export type { JsonTextSource, JsonTextConfig } from './internal/jsonText';
export type { StandardSchemaV1 } from '../src/standardSchema';
export {
  tool,
  type ToolDefinition,
  type ToolSet,
  type ToolExecuteContext,
  type ToolResult,
  type ToolResultStatus,
} from './tool';
export {
  toolLoop,
  isToolLoopEvent,
  TOOL_LOOP_DEFAULTS,
  type ToolLoopConfig,
  type ToolLoopClient,
  type ToolLoopChunk,
  type ToolLoopEvent,
  type ToolLoopState,
  type ToolLoopFinishReason,
  type StepResult,
  type PrepareStepState,
  type PrepareStepResult,
} from './toolLoop';
export {
  smoothText,
  SMOOTH_TEXT_DEFAULTS,
  type SmoothTextConfig,
  type SmoothTextChunking,
} from './smoothText';
export {
  withTelemetry,
  WITH_TELEMETRY_DEFAULTS,
  type WithTelemetryConfig,
  type TelemetryTracer,
  type TelemetrySpan,
  type TelemetryAttributeValue,
  type TelemetryAttributes,
  type TelemetryMeter,
  type TelemetryHistogram,
  type TelemetryHistogramOptions,
} from './withTelemetry';
export { resumable, RESUMABLE_DEFAULTS, type ResumableConfig } from './resumable';
