import { defer, from, isObservable, mergeMap, Observable, of, throwError, timer } from 'rxjs';
import { TimeoutError } from '../../src/errors';
import type { ChatMessage } from '../../src/request';
import type { InvalidToolCall, ValidToolCall } from '../partialToolCallGuard';
import type { ToolResult, ToolSet } from '../tool';
import { linkedSubscriber } from './operate';

/** True when `text` is a JSON object: what Anthropic and Gemini accept as a call's arguments. */
export function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** The tool message text of a result; throws what `JSON.stringify` throws (a BigInt, a cycle). */
function contentOf(output: unknown): string {
  if (typeof output === 'string') return output;
  return JSON.stringify(output) ?? 'null';
}

function errorContent(error: unknown): string {
  return `Error: ${error instanceof Error ? error.message : String(error)}`;
}

/** What the loop knows when it runs a call. */
export interface RunToolCallContext {
  tools: ToolSet;
  approve: ((call: ValidToolCall) => boolean | Promise<boolean>) | undefined;
  step: number;
  messages: readonly ChatMessage[];
  /** Most milliseconds the call may run (`Infinity`: no limit), timed on rxjs's async scheduler. */
  timeoutMs: number;
}

/**
 * Runs one call of `toolLoop` and says how it ended, always as a result (never an error): a refused
 * call explains why (its raw arguments quoted when they are not a JSON object), a denied call says
 * so, an `execute` that throws or rejects becomes `Error: <message>`, so does a result that
 * `JSON.stringify` cannot write and a call that runs past `timeoutMs`. Only a throwing `approve`
 * errors (a bug in the caller's code, not the model's). The tool's `signal` is its own: aborted when
 * the call times out or is unsubscribed (the loop ended early) while it runs.
 */
export function runToolCall(
  call: ValidToolCall | InvalidToolCall,
  ctx: RunToolCallContext,
): Observable<ToolResult> {
  const base = { step: ctx.step, toolCallId: call.id, name: call.name };
  if (!('input' in call)) {
    const quoted = isJsonObject(call.arguments)
      ? ''
      : ` Arguments received: ${JSON.stringify(call.arguments)}.`;
    const issues = call.issues
      .map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`)
      .join('; ');
    const content = `Error: ${call.message}${issues ? ` ${issues}.` : ''}${quoted}`;
    return of({ ...base, status: 'invalid', content, error: call });
  }
  const approve = ctx.approve;
  return defer(() => (approve ? from(Promise.resolve(approve(call))) : of(true))).pipe(
    mergeMap((approved) => {
      if (!approved) {
        return of<ToolResult>({
          ...base,
          status: 'denied',
          content: 'Error: the user denied this tool call.',
        });
      }
      return new Observable<ToolResult>((subscriber) => {
        const controller = new AbortController();
        let settled = false;
        const settle = (result: ToolResult) => {
          settled = true;
          subscriber.next(result);
          subscriber.complete();
        };
        let output$: Observable<unknown>;
        const context = { signal: controller.signal, call, step: ctx.step, messages: [...ctx.messages] };
        try {
          const out: unknown = ctx.tools[call.name].execute(call.input, context);
          output$ = isObservable(out) ? out : from(Promise.resolve(out));
        } catch (error) {
          output$ = throwError(() => error);
        }
        let last: unknown;
        const running = output$.subscribe(
          linkedSubscriber<unknown>(subscriber, {
            next: (value) => {
              last = value;
            },
            error: (error) => settle({ ...base, status: 'error', content: errorContent(error), error }),
            complete: () => {
              let content: string;
              try {
                content = contentOf(last);
              } catch (error) {
                // A BigInt, a cycle, a throwing toJSON: the model hears why instead of the loop dying.
                const why = error instanceof Error ? error.message : String(error);
                const text = `Error: the tool's result could not be written as JSON (${why}).`;
                return settle({ ...base, status: 'error', content: text, output: last, error });
              }
              settle({ ...base, status: 'ok', content, output: last });
            },
          }),
        );
        const ms = ctx.timeoutMs;
        if (!settled && Number.isFinite(ms)) {
          timer(ms).subscribe(
            linkedSubscriber<number>(subscriber, {
              next: () => {
                const error = new TimeoutError('tool', ms);
                controller.abort(error);
                running.unsubscribe();
                settle({ ...base, status: 'error', content: errorContent(error), error });
              },
              complete: () => undefined,
            }),
          );
        }
        // Unsubscribed while running (the loop was unsubscribed or failed): the tool stops too.
        return () => {
          if (!settled) controller.abort();
        };
      });
    }),
  );
}
