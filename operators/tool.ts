/**
 * A tool for `toolLoop`: its definition (schema, `execute`), what it gets when it runs, and how a call
 * ended. Below both `toolLoop.ts` and the code that runs one call (`internal/runToolCall.ts`), so
 * neither imports the other's types in a circle (`npm run depcheck`).
 */
import type { Observable } from 'rxjs';
import type { z } from 'zod';
import type { ChatMessage } from '../src/request';
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

/** A tool the model may call: its input schema (zod), what it is for, and what it does. */
export interface ToolDefinition<S extends z.ZodType = z.ZodType, R = unknown> {
  /** Told to the model. @defaultValue undefined */
  description?: string;
  /** Validates the arguments; also sent to the model as JSON Schema (`schema.toJSONSchema()`) unless `parameters` is given. */
  schema: S;
  /** JSON Schema sent to the model instead of the one derived from `schema`. @defaultValue undefined */
  parameters?: Record<string, unknown>;
  /**
   * Runs the call. A string result is sent to the model as it is, anything else as JSON; a throw, a
   * rejection, a result `JSON.stringify` cannot write (a BigInt, a cycle) and a timeout are sent as
   * `Error: <message>` (with the provider's error flag, see {@link toolLoop}) and the loop goes on
   * (the model may try again). An Observable's last value is the result.
   */
  execute: (input: z.output<S>, context: ToolExecuteContext) => R | Promise<R> | Observable<R>;
  /**
   * Most milliseconds a call may run: then its `signal` is aborted and the model gets an error result
   * (`TimeoutError`, `timeout: 'tool'`). @defaultValue the loop's `toolTimeoutMs` (Infinity)
   */
  timeoutMs?: number;
}

/** Tools by name. */
export type ToolSet = Record<string, ToolDefinition<any, any>>;

/** Infers a tool's input type from its schema (an identity function, as the AI SDK's `tool()`). */
export function tool<S extends z.ZodType, R>(definition: ToolDefinition<S, R>): ToolDefinition<S, R> {
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
