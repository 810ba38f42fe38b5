/**
 * `RxllmClient`: the injection token of the rxllm `Client` in NestJS, as a class. Nest resolves a
 * constructor parameter by the type `emitDecoratorMetadata` records, which must be a runtime value:
 * an interface (`Client`) erases to `Object`, an abstract class stays, so a class token needs no
 * `@Inject` (the pattern of Nest's own `ConfigService`, `HttpService`).
 */
import type { Observable } from 'rxjs';
import type { ChatCompletion, Chunk } from '../chunk';
import type { Client } from '../client';
import type { CallOptions } from '../options';
import type { ChatRequest } from '../request';

/**
 * The rxllm `Client` as a Nest provider: `constructor(private readonly llm: RxllmClient) {}`. The
 * value injected is the `Client` that `createClient` built (or the test double of
 * `RxllmTestingModule`), not an instance of this class, so `instanceof RxllmClient` is false; use
 * it as a type and a token only. `RXLLM_CLIENT` is an alias of the same provider.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Controller, Get, Module, Query } from '@nestjs/common';
 * import { collectText } from 'rxllm/operators';
 * import { RxllmClient, RxllmModule } from 'rxllm/nestjs';
 * @Controller('ask')
 * export class AskController {
 *   constructor(private readonly llm: RxllmClient) {}
 *   @Get()
 *   ask(@Query('q') q: string) {
 *     return this.llm.stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: q }] }).pipe(collectText());
 *   }
 * }
 * @Module({ imports: [RxllmModule.forRoot()], controllers: [AskController] })
 * export class AppModule {}
 */
export abstract class RxllmClient implements Client {
  /** @see Client.stream */
  abstract stream(request: ChatRequest, options?: CallOptions): Observable<Chunk>;
  /** @see Client.complete */
  abstract complete(request: ChatRequest, options?: CallOptions): Observable<ChatCompletion>;
}
