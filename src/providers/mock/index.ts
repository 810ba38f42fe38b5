// Barrel of the mock provider and its script engine (re-exported by rxllm/testing).
export { scriptToChunks, scriptToCompletion, MOCK_SCRIPT_DEFAULTS, type MockScriptContext } from './script';
export type { MockScript, MockResponse, MockRequestFields } from '../../mockRequest';
export { mockStream, type MockStreamOptions } from './stream';
export { mockProvider, defaultMockScript, estimatePromptTokens, mockSetup } from './provider';
