/**
 * `RxllmModule`: an rxllm client for NestJS dependency injection, under the `RXLLM_CLIENT` token.
 * `@nestjs/common` is an optional peer dependency, loaded only by `rxllm/nestjs`.
 */
import {
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { createClient, type Client } from '../client';
import type { ClientOptions } from '../options';

/** The injection token of the `Client` (`@Inject(RXLLM_CLIENT) private readonly llm: Client`). */
export const RXLLM_CLIENT = 'RXLLM_CLIENT';
/** The injection token of the options given to `forRootAsync`'s factory. */
export const RXLLM_OPTIONS = 'RXLLM_OPTIONS';

export interface RxllmModuleOptions extends ClientOptions {
  /** Register the client for every module of the app. @defaultValue true */
  isGlobal?: boolean;
}

export interface RxllmModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Builds the client options (from a `ConfigService`, ...). */
  useFactory: (...args: any[]) => ClientOptions | Promise<ClientOptions>;
  /** Providers passed to `useFactory`. @defaultValue [] */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** @defaultValue true */
  isGlobal?: boolean;
}

/**
 * Provides an rxllm `Client` under {@link RXLLM_CLIENT}.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Module } from '@nestjs/common';
 * import { RxllmModule } from 'rxllm/nestjs';
 * @Module({ imports: [RxllmModule.forRoot({ providers: { compat: { baseURL: 'http://127.0.0.1:8000/v1' } } })] })
 * export class AppModule {}
 */
export class RxllmModule {
  /** The client built from `options` (resolved like `createClient`). */
  static forRoot(options: RxllmModuleOptions = {}): DynamicModule {
    const { isGlobal = true, ...clientOptions } = options;
    return {
      module: RxllmModule,
      global: isGlobal,
      providers: [
        { provide: RXLLM_OPTIONS, useValue: clientOptions },
        { provide: RXLLM_CLIENT, useValue: createClient(clientOptions) },
      ],
      exports: [RXLLM_CLIENT, RXLLM_OPTIONS],
    };
  }

  /** The client built from options a factory returns (may be async, may inject providers). */
  static forRootAsync(options: RxllmModuleAsyncOptions): DynamicModule {
    return {
      module: RxllmModule,
      global: options.isGlobal ?? true,
      imports: options.imports ?? [],
      providers: [
        { provide: RXLLM_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: RXLLM_CLIENT,
          useFactory: (clientOptions: ClientOptions): Client => createClient(clientOptions),
          inject: [RXLLM_OPTIONS],
        },
      ],
      exports: [RXLLM_CLIENT, RXLLM_OPTIONS],
    };
  }
}
// Applied as a call, so this file needs no decorator compiler option.
Module({})(RxllmModule);
