/**
 * Provider registry: the `provider` in `provider/model` names an entry here. Later providers
 * (Anthropic, Gemini, ...) plug in with `registerProvider` without touching the core.
 */
import { ConfigurationError } from '../errors';
import { anthropic } from './anthropic';
import { azureProvider } from './azure';
import { geminiProvider } from './gemini';
import { mockProvider } from './mock';
import { ollamaProvider } from './ollama';
import { openAICompatible } from './openai';
import { openAIResponsesProvider } from './openai-responses';
import type { Provider } from './types';

function builtins(): Map<string, Provider> {
  const list: Provider[] = [
    openAICompatible({ name: 'openai', baseURL: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' }),
    openAICompatible({
      name: 'deepseek',
      baseURL: 'https://api.deepseek.com/v1',
      apiKeyEnv: 'DEEPSEEK_API_KEY',
      reasoningContent: true,
    }),
    openAICompatible({ name: 'groq', baseURL: 'https://api.groq.com/openai/v1', apiKeyEnv: 'GROQ_API_KEY' }),
    // Any other OpenAI-compatible server (vLLM, LM Studio, proxies): baseURL is required.
    openAICompatible({ name: 'compat', apiKeyEnv: 'OPENAI_COMPAT_API_KEY', keyRequired: false }),
    mockProvider,
    anthropic,
    geminiProvider(),
    openAIResponsesProvider(),
    // Ollama's native /api/chat (NDJSON); its OpenAI-compatible /v1 is `compat/` with a baseURL.
    ollamaProvider(),
    azureProvider(),
  ];
  return new Map(list.map((p) => [p.name, p]));
}

let registry: Map<string, Provider> | undefined;

function table(): Map<string, Provider> {
  registry ??= builtins();
  return registry;
}

/** Adds or replaces a provider. Its `name` is the prefix users write in `provider/model`. */
export function registerProvider(provider: Provider): void {
  table().set(provider.name.toLowerCase(), provider);
}

/** The provider registered under `name`; throws `ConfigurationError` naming the known ones. */
export function getProvider(name: string): Provider {
  const provider = table().get(name.toLowerCase());
  if (!provider) {
    throw new ConfigurationError(
      `Unknown provider "${name}". Known: ${[...table().keys()].join(', ')}. Register one with registerProvider().`,
    );
  }
  return provider;
}

/** Names of the registered providers. */
export function listProviders(): string[] {
  return [...table().keys()];
}
