/**
 * `RxllmModule`: an rxllm client for NestJS dependency injection, under the class token
 * `RxllmClient` (and its alias `RXLLM_CLIENT`). `@nestjs/common` is an optional peer dependency,
 * loaded only by `rxllm/nestjs`.
 */
import {
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { createClient, type Client } from '../client';
import type { ClientOptions } from '../options';
import { RxllmClient } from './client';

/**
 * The string token of the client, an alias of {@link RxllmClient} (the same instance): for
 * `@Inject(RXLLM_CLIENT) private readonly llm: Client`. Prefer `private readonly llm: RxllmClient`.
 */
export const RXLLM_CLIENT = 'RXLLM_CLIENT';
/** The injection token of the options given to `forRoot` or returned by `forRootAsync`'s factory. */
export const RXLLM_OPTIONS = 'RXLLM_OPTIONS';

export interface RxllmModuleOptions extends ClientOptions {
  /**
   * Register the client for every module of the app, not only the modules that import this one
   * (as Nest's `ConfigModule`). @defaultValue false
   */
  isGlobal?: boolean;
}

export interface RxllmModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Builds the client options (from a `ConfigService`, ...). */
  useFactory: (...args: any[]) => ClientOptions | Promise<ClientOptions>;
  /** Providers passed to `useFactory`. @defaultValue [] */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Register the client for every module of the app. @defaultValue false */
  isGlobal?: boolean;
}

/** The client provider, its string alias and the options, as every variant of the module exports them. @internal */
export function clientProviders(client: Provider, options: Provider): Provider[] {
  return [options, client, { provide: RXLLM_CLIENT, useExisting: RxllmClient }];
}
const EXPORTS = [RxllmClient, RXLLM_CLIENT, RXLLM_OPTIONS];

/**
 * Provides an rxllm `Client` under {@link RxllmClient} (inject it by type, no `@Inject` needed)
 * and {@link RXLLM_CLIENT}. Not global unless `isGlobal: true`: a module that injects the client
 * imports `RxllmModule` (or a module that re-exports it), as with Nest's own `ConfigModule`.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Module } from '@nestjs/common';
 * import { RxllmModule } from 'rxllm/nestjs';
 * @Module({
 *   imports: [RxllmModule.forRoot({ providers: { compat: { baseURL: 'http://127.0.0.1:8000/v1' } }, isGlobal: true })],
 * })
 * export class AppModule {}
 */
export class RxllmModule {
  /** The client built from `options` (resolved like `createClient`). */
  static forRoot(options: RxllmModuleOptions = {}): DynamicModule {
    const { isGlobal = false, ...clientOptions } = options;
    return {
      module: RxllmModule,
      global: isGlobal,
      providers: clientProviders(
        { provide: RxllmClient, useValue: createClient(clientOptions) },
        { provide: RXLLM_OPTIONS, useValue: clientOptions },
      ),
      exports: EXPORTS,
    };
  }

  /** The client built from options a factory returns (may be async, may inject providers). */
  static forRootAsync(options: RxllmModuleAsyncOptions): DynamicModule {
    return {
      module: RxllmModule,
      global: options.isGlobal ?? false,
      imports: options.imports ?? [],
      providers: clientProviders(
        {
          provide: RxllmClient,
          useFactory: (clientOptions: ClientOptions): Client => createClient(clientOptions),
          inject: [RXLLM_OPTIONS],
        },
        { provide: RXLLM_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
      ),
      exports: EXPORTS,
    };
  }
}
// Applied as a call, so this file needs no decorator compiler option.
Module({})(RxllmModule);
