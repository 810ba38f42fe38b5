// Barrel of rxllm/nestjs (issue 12): NestJS module, injection token and recipes. Loads @nestjs/* only here.
export {};
