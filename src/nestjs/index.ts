// Barrel of rxllm/nestjs: NestJS module, injection tokens, request pipe and testing module. Loads @nestjs/* only here.
export {
  RxllmModule,
  RXLLM_CLIENT,
  RXLLM_OPTIONS,
  type RxllmModuleOptions,
  type RxllmModuleAsyncOptions,
} from './module';
export { RxllmClient } from './client';
export { RxllmTestingModule, type RxllmTestingOptions } from './testing';
export { ChatRequestPipe, type ChatRequestPipeOptions } from './chatRequestPipe';
