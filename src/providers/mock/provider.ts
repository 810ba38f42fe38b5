/**
 * The built-in `mock` provider (`mock/<anything>`): streams `request.mock_response` (a string or a
 * script), else an echo of the last user message. It lives in the core because the registry needs
 * it and the core never imports `src/testing`.
 */
import { asyncScheduler, defer, NEVER, Observable, of, throwError } from 'rxjs';
import type { ChatCompletion } from '../../chunk';
import { markServedBy } from '../../cost/servedBy';
import { RequestValidationError } from '../../errors';
import type { MockRequestFields, MockScript } from '../../mockRequest';
import type { Provider, ProviderCall } from '../types';
import {
  finishOf,
  normalize,
  scriptProblems,
  scriptToChunks,
  scriptToCompletion,
  tokens,
  type MockScriptContext,
} from './script';
import { nonNegative, streamChunks } from './stream';

/** The content of the last user message, as text. */
function lastUserText(messages: readonly unknown[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string; content?: unknown };
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .map((p: { type?: string; text?: string }) => (p?.type === 'text' ? p.text : ''))
        .join('');
    }
  }
  return undefined;
}

/** What the mock answers when told nothing: `Mock reply to: <last user message>`. */
export function defaultMockScript(messages: readonly unknown[] = []): MockScript {
  const text = lastUserText(messages);
  return { text: text === undefined ? 'Mock reply.' : `Mock reply to: ${text}` };
}

/** ~1 token per 4 code points of the messages' text, for `usage: 'auto'`. */
export function estimatePromptTokens(messages: readonly unknown[] = []): number {
  return Math.max(
    1,
    tokens(JSON.stringify(messages.map((m) => (m as { content?: unknown })?.content ?? ''))),
  );
}

/** Requests sent per sequence (array or function), for the attempt number. */
const sent = new WeakMap<object, number>();

function invalid(problems: string[]): RequestValidationError {
  const issues = problems.map((p) => {
    const at = p.indexOf(': ');
    const field = p.slice(0, at);
    return {
      path: ['mock_response', ...(field === '(script)' ? [] : field.split('.'))].map((k) =>
        /^\d+$/.test(k) ? Number(k) : k,
      ),
      message: p.slice(at + 2),
    };
  });
  const text = problems.map((p) => p.replace(/^\(script\): /, '')).join('; ');
  return new RequestValidationError(`Invalid mock_response: ${text}.`, issues);
}

/**
 * The script a request answers with on `attempt` (1-based; for a sequence or a function), checked.
 * @internal shared with `chunkMarbles`
 */
export function mockScriptFor(
  given: unknown,
  messages: readonly unknown[] | undefined,
  attempt: number,
): MockScript {
  if (given === undefined) return defaultMockScript(messages);
  let script: unknown = given;
  if (Array.isArray(given)) {
    if (given.length === 0) throw invalid(['(script): an empty sequence has no script to answer with']);
    script = given[Math.min(attempt, given.length) - 1];
  } else if (typeof given === 'function') {
    script = (given as (attempt: number) => unknown)(attempt);
  }
  const problems = scriptProblems(script);
  if (problems.length > 0) throw invalid(problems);
  return normalize(script as MockScript | string);
}

/** Timing, script and context of one mock call: what the provider streams and `chunkMarbles` draws. @internal */
export function mockSetup(
  request: MockRequestFields & { messages?: readonly unknown[]; n?: number },
  model: string,
  includeUsage: boolean | undefined,
  attempt: number,
): { script: MockScript; context: MockScriptContext; delayMs: number; firstDelayMs: number } {
  let script = mockScriptFor(request.mock_response, request.messages, attempt);
  if (script.n === undefined && request.n !== undefined) script = { ...script, n: request.n };
  if (includeUsage === false) script = { ...script, usage: null };
  const delayMs = delayField(request, 'mock_delay_ms') ?? 0;
  const firstDelayMs = delayField(request, 'mock_first_chunk_delay_ms') ?? delayMs;
  return {
    script,
    context: { model, promptTokens: estimatePromptTokens(request.messages) },
    delayMs,
    firstDelayMs,
  };
}

/**
 * A delay field of the request: a `RequestValidationError` when it is no finite number >= 0 (the
 * request may come as JSON, through a gateway), not `mockStream`'s `TypeError` for its own options.
 */
function delayField(
  request: MockRequestFields,
  field: 'mock_delay_ms' | 'mock_first_chunk_delay_ms',
): number | undefined {
  try {
    return nonNegative(request[field], field);
  } catch {
    const message = 'must be a finite number >= 0';
    throw new RequestValidationError(`Invalid ${field}: ${message}.`, [{ path: [field], message }]);
  }
}

function scriptOf(call: ProviderCall) {
  const request = call.request as ProviderCall['request'] & MockRequestFields;
  const given = request.mock_response as unknown;
  let attempt = 1;
  if ((Array.isArray(given) || typeof given === 'function') && given !== null) {
    attempt = (sent.get(given) ?? 0) + 1;
    sent.set(given, attempt);
  }
  return mockSetup(request, call.model, call.options.includeUsage, attempt);
}

/**
 * The `mock/<anything>` provider: no network. It streams the request's `mock_response` (a string,
 * a {@link MockScript}, or one per attempt: see {@link MockResponse}), else
 * `Mock reply to: <last user message>`, with `mock_first_chunk_delay_ms` before the first chunk and
 * `mock_delay_ms` between chunks (both default 0), timed by `options.scheduler`. With no delay and
 * no scheduler it emits synchronously, without a timer, so it works under `jest.useFakeTimers()`;
 * with a delay and no scheduler it uses `asyncScheduler`. A mistyped script (`{ content: 'Hi' }`)
 * fails with a `RequestValidationError` naming the field.
 *
 * @example
 * import { ServerError, stream } from 'rxllm';
 * import { collectText, retryBackoff } from 'rxllm/operators';
 * // Fails once (a 503 before the first chunk), then succeeds: one script per attempt.
 * stream({
 *   model: 'mock/any',
 *   messages: [{ role: 'user', content: 'Hi' }],
 *   mock_response: [{ errorAfter: { chunks: 0, error: new ServerError({ status: 503 }) } }, 'Hello!'],
 * })
 *   .pipe(retryBackoff({ initialDelayMs: 10 }), collectText())
 *   .subscribe((text) => console.log(text)); // Hello!
 */
export const mockProvider: Provider = {
  name: 'mock',
  stream(call) {
    return defer(() => {
      const { script, context, delayMs, firstDelayMs } = scriptOf(call);
      // Marked so that pricing by the chunks' `model` (`gpt-4o-mini`) sees `mock/gpt-4o-mini`: no price.
      const chunks = scriptToChunks(script, context).map((c) => markServedBy(c, 'mock'));
      return streamChunks(chunks, script, call.options.scheduler, delayMs, firstDelayMs);
    });
  },
  complete(call) {
    return defer(() => {
      const { script, context, firstDelayMs } = scriptOf(call);
      if (script.errorAfter) return throwError(() => script.errorAfter!.error);
      const completion = markServedBy(scriptToCompletion(script, context), 'mock');
      // A script that never finishes never answers, like a server that hangs.
      if (finishOf(script) === null) return NEVER;
      const scheduler = call.options.scheduler;
      // No delay and no scheduler: answer synchronously (no timer, so fake timers need no advancing).
      if (!scheduler && firstDelayMs === 0) return of(completion);
      return new Observable<ChatCompletion>((subscriber) =>
        (scheduler ?? asyncScheduler).schedule(() => {
          subscriber.next(completion);
          subscriber.complete();
        }, firstDelayMs),
      );
    });
  },
};
