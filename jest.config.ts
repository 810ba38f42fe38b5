import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
  },
  moduleNameMapper: {
    '^rxllm$': '<rootDir>/src/index.ts',
    '^rxllm/operators$': '<rootDir>/operators/index.ts',
    '^rxllm/testing$': '<rootDir>/src/testing/index.ts',
    '^rxllm/browser$': '<rootDir>/src/browser.ts',
    '^rxllm/nestjs$': '<rootDir>/src/nestjs/index.ts',
    '^rxllm/redis$': '<rootDir>/src/redis/index.ts',
  },
  // Open-handle detection: a leaked socket or timer keeps the process alive and is reported.
  detectOpenHandles: true,
  testTimeout: 20000,
};

export default config;
