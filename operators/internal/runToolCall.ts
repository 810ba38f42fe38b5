import { defer, from, isObservable, mergeMap, Observable, of, throwError } from 'rxjs';
import type { ChatMessage } from '../../src/request';
import type { InvalidToolCall, ValidToolCall } from '../partialToolCallGuard';
import type { ToolResult, ToolSet } from '../toolLoop';
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
  signal: AbortSignal;
  messages: readonly ChatMessage[];
}

/**
 * Runs one call of `toolLoop` and says how it ended, always as a result (never an error): a refused
 * call explains why (its raw arguments quoted when they are not a JSON object), a denied call says
 * so, an `execute` that throws or rejects becomes `Error: <message>`. Only a throwing `approve`
 * errors (a bug in the caller's code, not the model's).
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
        let output$: Observable<unknown>;
        const context = { signal: ctx.signal, call, step: ctx.step, messages: [...ctx.messages] };
        try {
          const out: unknown = ctx.tools[call.name].execute(call.input, context);
          output$ = isObservable(out) ? out : from(Promise.resolve(out));
        } catch (error) {
          output$ = throwError(() => error);
        }
        let last: unknown;
        output$.subscribe(
          linkedSubscriber<unknown>(subscriber, {
            next: (value) => {
              last = value;
            },
            error: (error) => {
              subscriber.next({ ...base, status: 'error', content: errorContent(error), error });
              subscriber.complete();
            },
            complete: () => {
              subscriber.next({ ...base, status: 'ok', content: contentOf(last), output: last });
              subscriber.complete();
            },
          }),
        );
      });
    }),
  );
}
