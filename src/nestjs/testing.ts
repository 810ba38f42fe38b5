/**
 * `RxllmTestingModule`: the client of `RxllmModule` swapped for the built-in mock provider in a
 * Nest `TestingModule`, so a controller or service is tested with scripted answers, no key and no
 * network.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { createClient, type Client } from '../client';
import type { MockResponse } from '../mockRequest';
import type { ChatRequest } from '../request';
import { RxllmClient } from './client';
import { clientProviders, RXLLM_CLIENT, RXLLM_OPTIONS } from './module';

export interface RxllmTestingOptions {
  /**
   * What every call answers, whatever model it names: a string, a `MockScript` (text, tool calls,
   * usage, an error after k chunks...), a sequence (one script per request, in order, the last one
   * repeating; shared by every call of this client) or a function of the request's number.
   * @defaultValue the mock's echo, `Mock reply to: <last user message>`
   */
  script?: MockResponse;
  /** Time between two chunks, in ms (the call's `scheduler` if it gives one). @defaultValue 0 */
  delayMs?: number;
  /** Register the client for every module of the app. @defaultValue false */
  isGlobal?: boolean;
}

/**
 * A `Client` whose every call goes to the `mock` provider: `openai/gpt-4o` becomes `mock/gpt-4o`,
 * answered with `script`. With no delay it answers synchronously (fake timers need no advancing).
 */
function mockBackedClient({ script, delayMs }: RxllmTestingOptions): Client {
  const client = createClient();
  const toMock = (request: ChatRequest): ChatRequest => ({
    ...request,
    model: `mock/${request.model.slice(request.model.indexOf('/') + 1)}`,
    ...(script !== undefined && { mock_response: script }),
    ...(delayMs !== undefined && { mock_delay_ms: delayMs }),
  });
  return {
    stream: (request, options) => client.stream(toMock(request), options),
    complete: (request, options) => client.complete(toMock(request), options),
  };
}

/**
 * `RxllmModule` for tests: the same tokens (`RxllmClient`, `RXLLM_CLIENT`, `RXLLM_OPTIONS`), a
 * client answered by the mock provider. Import it in place of `RxllmModule`, or keep your app
 * module and override the client: `.overrideProvider(RxllmClient).useValue(
 * RxllmTestingModule.createClient({ script }))` (`RXLLM_CLIENT` follows, being an alias).
 *
 * @example
 * import { Test } from '@nestjs/testing';
 * import { lastValueFrom } from 'rxjs';
 * import { collectText } from 'rxllm/operators';
 * import { RxllmClient, RxllmTestingModule } from 'rxllm/nestjs';
 * async function main() {
 *   const moduleRef = await Test.createTestingModule({
 *     imports: [RxllmTestingModule.forRoot({ script: { text: 'Hello from the mock', chunkSize: 5 } })],
 *   }).compile();
 *   const llm = moduleRef.get(RxllmClient);
 *   const answer = llm.stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
 *   console.log(await lastValueFrom(answer.pipe(collectText()))); // Hello from the mock
 *   await moduleRef.close();
 * }
 * void main();
 */
export class RxllmTestingModule {
  /** The module: a mock-backed client under the tokens of `RxllmModule`. */
  static forRoot(options: RxllmTestingOptions = {}): DynamicModule {
    const { isGlobal = false, ...mock } = options;
    return {
      module: RxllmTestingModule,
      global: isGlobal,
      providers: clientProviders(
        { provide: RxllmClient, useValue: mockBackedClient(mock) },
        { provide: RXLLM_OPTIONS, useValue: {} },
      ),
      exports: [RxllmClient, RXLLM_CLIENT, RXLLM_OPTIONS],
    };
  }

  /** The mock-backed client alone, for `overrideProvider(RxllmClient).useValue(...)`. */
  static createClient(options: Omit<RxllmTestingOptions, 'isGlobal'> = {}): Client {
    return mockBackedClient(options);
  }
}
// Applied as a call, so this file needs no decorator compiler option.
Module({})(RxllmTestingModule);
