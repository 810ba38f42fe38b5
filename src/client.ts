/**
 * The public entry points: `stream`, `complete` and `createClient`.
 */
import { defer, type Observable } from 'rxjs';
import type { ChatCompletion, Chunk } from './chunk';
import { mergeOptions, type CallOptions, type ClientOptions } from './options';
import { getProvider } from './providers/registry';
import type { ProviderCall } from './providers/types';
import { splitModel, validateRequest, type ChatRequest } from './request';

function prepare(
  request: ChatRequest,
  options: CallOptions | undefined,
  defaults: ClientOptions | undefined,
) {
  const valid = validateRequest(request);
  const { provider: name, model } = splitModel(valid.model);
  const provider = getProvider(name);
  const { providers: perProvider, ...clientDefaults } = defaults ?? {};
  const call: ProviderCall = {
    model,
    request: valid,
    options: mergeOptions(clientDefaults, perProvider?.[name], options),
  };
  return { provider, call };
}

/**
 * Streams a chat completion as chunks. Cold: the request is validated and sent on subscribe, once per
 * subscriber; unsubscribing aborts it. A bad request errors with `RequestValidationError` before
 * anything is sent.
 *
 * @example
 * import { stream } from 'rxllm';
 * stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((chunk) => process.stdout.write(chunk.choices[0]?.delta.content ?? ''));
 */
export function stream(request: ChatRequest, options?: CallOptions): Observable<Chunk> {
  return streamWith(undefined, request, options);
}

/**
 * One non-streaming call, as an observable of one `ChatCompletion`. Cold and cancellable like `stream`.
 *
 * @example
 * import { complete } from 'rxllm';
 * complete({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .subscribe((res) => console.log(res.choices[0].message.content));
 */
export function complete(request: ChatRequest, options?: CallOptions): Observable<ChatCompletion> {
  return completeWith(undefined, request, options);
}

function streamWith(defaults: ClientOptions | undefined, request: ChatRequest, options?: CallOptions) {
  return defer(() => {
    const { provider, call } = prepare(request, options, defaults);
    return provider.stream(call);
  });
}

function completeWith(defaults: ClientOptions | undefined, request: ChatRequest, options?: CallOptions) {
  return defer(() => {
    const { provider, call } = prepare(request, options, defaults);
    return provider.complete(call);
  });
}

/** `stream` and `complete` bound to defaults. */
export interface Client {
  stream(request: ChatRequest, options?: CallOptions): Observable<Chunk>;
  complete(request: ChatRequest, options?: CallOptions): Observable<ChatCompletion>;
}

/**
 * A client bound to defaults, for dependency injection (a NestJS provider, an Angular service).
 *
 * @example
 * import { createClient } from 'rxllm';
 * const llm = createClient({ providers: { compat: { baseURL: 'http://127.0.0.1:8000/v1' } } });
 * llm.stream({ model: 'compat/llama-3', messages: [{ role: 'user', content: 'Hi' }] });
 */
export function createClient(defaults: ClientOptions = {}): Client {
  return {
    stream: (request, options) => streamWith(defaults, request, options),
    complete: (request, options) => completeWith(defaults, request, options),
  };
}
