// Barrel of rxllm/nestjs (issue 12): NestJS module, injection token and recipes. Loads @nestjs/* only here.
export {
  RxllmModule,
  RXLLM_CLIENT,
  RXLLM_OPTIONS,
  type RxllmModuleOptions,
  type RxllmModuleAsyncOptions,
} from './module';
export { ChatRequestPipe, type ChatRequestPipeOptions } from './chatRequestPipe';
