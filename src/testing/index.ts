// Barrel of rxllm/testing.
export * from './mockServer';
export { seededRandom, splitBytes, type SplitOptions } from './bytes';
export {
  scriptToChunks,
  scriptToCompletion,
  mockStream,
  defaultMockScript,
  MOCK_SCRIPT_DEFAULTS,
  type MockScript,
  type MockScriptContext,
  type MockStreamOptions,
  type MockResponse,
  type MockRequestFields,
} from '../providers/mock';
export * from './marbles';
