/**
 * A tool for `toolLoop`: its definition (schema, `execute`), what it gets when it runs, and how a call
 * ended. Below both `toolLoop.ts` and the code that runs one call (`internal/runToolCall.ts`), so
 * neither imports the other's types in a circle (`npm run depcheck`).
 */
import type { Observable } from 'rxjs';
import type { ChatMessage } from '../src/request';
import type { StandardSchemaV1 } from '../src/standardSchema';
import type { ValidToolCall } from './partialToolCallGuard';

/** What a running tool gets besides its input. */
export interface ToolExecuteContext {
  /**
   * Aborted when the call runs past its `timeoutMs` or the loop is unsubscribed (or fails) while it
   * runs: pass it to `fetch` and friends.
   */
  signal: AbortSignal;
  /** The validated call being run. */
  call: ValidToolCall;
  /** The step (1-based) whose model answer asked for the call. */
  step: number;
  /** The conversation so far, the assistant turn with this call included. */
  messages: readonly ChatMessage[];
}

/** A tool the model may call: its input schema, what it is for, and what it does. */
export interface ToolDefinition<S extends StandardSchemaV1 = StandardSchemaV1, R = unknown> {
  /** Told to the model. @defaultValue undefined */
  description?: string;
  /**
   * Validates the arguments: any Standard Schema (zod 3.25+ classic or `zod/v4`, zod 4, Valibot,
   * ArkType). Unless `parameters` is given, also sent to the model as JSON Schema: a zod 4 schema
   * (`zod` 4, `zod/v4`, `zod/mini`) and a Standard JSON Schema convert themselves; any other (zod 3
   * classic) needs `parameters`, else `toolLoop` throws a `TypeError` naming the tool (unless the
   * request brings its own `tools`).
   */
  schema: S;
  /**
   * JSON Schema sent to the model instead of the one derived from `schema` (required for a schema
   * that cannot give one, such as zod 3's). @defaultValue undefined
   */
  parameters?: Record<string, unknown>;
  /**
   * Runs the call. A string result is sent to the model as it is, anything else as JSON; a throw, a
   * rejection, a result `JSON.stringify` cannot write (a BigInt, a cycle) and a timeout are sent as
   * `Error: <message>` (with the provider's error flag, see {@link toolLoop}) and the loop goes on
   * (the model may try again). An Observable's last value is the result.
   */
  execute: (
    input: StandardSchemaV1.InferOutput<S>,
    context: ToolExecuteContext,
  ) => R | Promise<R> | Observable<R>;
  /**
   * Most milliseconds a call may run: then its `signal` is aborted and the model gets an error result
   * (`TimeoutError`, `timeout: 'tool'`). @defaultValue the loop's `toolTimeoutMs` (Infinity)
   */
  timeoutMs?: number;
}

/** Tools by name. */
export type ToolSet = Record<string, ToolDefinition<any, any>>;

/** Infers a tool's input type from its schema (an identity function, as the AI SDK's `tool()`). */
export function tool<S extends StandardSchemaV1, R>(definition: ToolDefinition<S, R>): ToolDefinition<S, R> {
  return definition;
}

/** How one tool call ended. */
export type ToolResultStatus = 'ok' | 'error' | 'invalid' | 'denied';

/** How one tool call ended, and what the model is sent for it. */
export interface ToolResult {
  step: number;
  /** The call's id in the conversation: the provider's, or the loop's when it sent none or a repeated one. */
  toolCallId: string;
  name: string;
  /** Anything but `ok` is sent with the provider's error flag (`is_error` on the tool message). */
  status: ToolResultStatus;
  /** What the model is sent (the tool message content). */
  content: string;
  /** What `execute` returned (`ok`, or `error` when it could not be written as JSON). */
  output?: unknown;
  /** What `execute` threw, the JSON error or the `TimeoutError` (`error`), or why the call was refused (`invalid`). */
  error?: unknown;
}
