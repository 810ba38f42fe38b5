import type { Observable } from 'rxjs';
import type { ChatCompletion, Chunk } from '../chunk';
import type { CallOptions } from '../options';
import type { ChatRequest } from '../request';

/** What a provider gets for one call: the validated request with `model` already stripped of its prefix. */
export interface ProviderCall {
  /** The model name without the `provider/` prefix. */
  model: string;
  request: ChatRequest;
  options: CallOptions;
}

/**
 * A provider turns a neutral request into chunks. Both methods must return cold observables:
 * nothing is sent before subscribe, each subscriber gets its own request, and unsubscribe aborts it.
 */
export interface Provider {
  readonly name: string;
  stream(call: ProviderCall): Observable<Chunk>;
  complete(call: ProviderCall): Observable<ChatCompletion>;
}
