/**
 * The built-in `mock` provider (`mock/<anything>`): streams `request.mock_response` (a string or a
 * script), else an echo of the last user message. It lives in the core because the registry needs
 * it and the core never imports `src/testing`.
 */
import { asyncScheduler, defer, NEVER, Observable, throwError } from 'rxjs';
import type { ChatCompletion } from '../../chunk';
import type { Provider, ProviderCall } from '../types';
import {
  finishOf,
  normalize,
  scriptToChunks,
  scriptToCompletion,
  tokens,
  type MockScript,
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

function scriptOf(call: ProviderCall): { script: MockScript; context: MockScriptContext; delayMs: number } {
  const request = call.request as ProviderCall['request'] & {
    mock_response?: unknown;
    mock_delay_ms?: unknown;
  };
  const given = request.mock_response;
  let script: MockScript =
    given === undefined ? defaultMockScript(request.messages) : normalize(given as MockScript);
  if (script.n === undefined && request.n !== undefined) script = { ...script, n: request.n };
  if (call.options.includeUsage === false) script = { ...script, usage: null };
  const delayMs = nonNegative(request.mock_delay_ms as number | undefined, 'mock_delay_ms') ?? 0;
  return {
    script,
    context: { model: call.model, promptTokens: estimatePromptTokens(request.messages) },
    delayMs,
  };
}

/**
 * The `mock/<anything>` provider: no network. It streams the request's `mock_response` (a string
 * or a {@link MockScript}), else `Mock reply to: <last user message>`, timed by
 * `options.scheduler` (default asyncScheduler) with `mock_delay_ms` between chunks (default 0).
 *
 * @example
 * import { stream } from 'rxllm';
 * stream({ model: 'mock/any', messages: [{ role: 'user', content: 'Hi' }], mock_response: { text: 'Hello!' } } as any);
 */
export const mockProvider: Provider = {
  name: 'mock',
  stream(call) {
    return defer(() => {
      const { script, context, delayMs } = scriptOf(call);
      const chunks = scriptToChunks(script, context);
      return streamChunks(chunks, script, call.options.scheduler ?? asyncScheduler, delayMs, delayMs);
    });
  },
  complete(call) {
    return defer(() => {
      const { script, context, delayMs } = scriptOf(call);
      if (script.errorAfter) return throwError(() => script.errorAfter!.error);
      const completion = scriptToCompletion(script, context);
      // A script that never finishes never answers, like a server that hangs.
      if (finishOf(script) === null) return NEVER;
      return new Observable<ChatCompletion>((subscriber) =>
        (call.options.scheduler ?? asyncScheduler).schedule(() => {
          subscriber.next(completion);
          subscriber.complete();
        }, delayMs),
      );
    });
  },
};
