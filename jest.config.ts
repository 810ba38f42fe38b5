import type { Config } from 'jest';
import { entries } from './scripts/entries.json';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // Errors compare by class in toEqual and marble expectations (see the file).
  setupFilesAfterEnv: ['<rootDir>/test/setup/errorClasses.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
  },
  // The public entry points (scripts/entries.json), mapped to source.
  moduleNameMapper: Object.fromEntries(
    Object.entries(entries).map(([subpath, src]) => [
      `^rxllm${subpath === '.' ? '' : subpath.slice(1)}$`,
      `<rootDir>/${src}`,
    ]),
  ),
  // Open-handle detection: a leaked socket or timer keeps the process alive and is reported.
  detectOpenHandles: true,
  testTimeout: 20000,
};

export default config;
