// Barrel of the mock provider and its script engine (re-exported by rxllm/testing).
export {
  scriptToChunks,
  scriptToCompletion,
  MOCK_SCRIPT_DEFAULTS,
  type MockScript,
  type MockScriptContext,
} from './script';
export { mockStream, type MockStreamOptions } from './stream';
export {
  mockProvider,
  defaultMockScript,
  estimatePromptTokens,
  mockSetup,
  type MockResponse,
  type MockRequestFields,
} from './provider';
