/**
 * `afterFirstChunk: 'continue'`: how each provider is asked to continue the answer so far instead of
 * starting a new one. A server that gets a trailing assistant message without its flag answers anew,
 * restating the partial text ("One two One two three four."), so the router sends the flag of the
 * deployment's provider or refuses `'continue'` at creation.
 */
import type { ChatMessage, ChatRequest } from '../request';
import type { CallOptions } from '../options';

/**
 * How a deployment continues a trailing assistant message:
 * - `'prefill'`: natively (Anthropic's prefill, llama.cpp's server). The text is sent without its
 *   trailing whitespace: Anthropic refuses it with a 400 "final assistant content cannot end with
 *   trailing whitespace" (https://docs.anthropic.com/en/api/messages, `messages`); the whitespace is
 *   dropped from the start of the continuation instead, so the consumer's text stays exact.
 * - `'deepseek-prefix'`: DeepSeek's prefix completion: `prefix: true` on the last assistant message,
 *   sent to the beta endpoint (`<origin>/beta`; https://api-docs.deepseek.com/guides/chat_prefix_completion).
 * - `'vllm'`: vLLM's chat extras `continue_final_message: true` and `add_generation_prompt: false`
 *   (both are needed: vLLM refuses `continue_final_message` with the default `add_generation_prompt`;
 *   https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html, "Chat API extra parameters").
 * - `false`: cannot continue (OpenAI, Gemini, Azure, Groq...): `afterFirstChunk: 'continue'` is refused.
 */
export type ContinuationMode = 'prefill' | 'deepseek-prefix' | 'vllm' | false;

/** The mode of each provider that has one; any other provider needs the deployment's `continuation`. */
const BY_PROVIDER: Record<string, ContinuationMode> = {
  anthropic: 'prefill',
  deepseek: 'deepseek-prefix',
  // rxllm's in-process mock answers its script whatever the messages are: nothing is restated.
  mock: 'prefill',
};

/** The continuation mode of a deployment: its own, else its provider's, else `false`. */
export function continuationOf(model: string, own: ContinuationMode | undefined): ContinuationMode {
  if (own !== undefined) return own;
  return BY_PROVIDER[model.slice(0, model.indexOf('/')).toLowerCase()] ?? false;
}

/** A request continuing `prefix`, and the text to drop from the start of the continuation. */
export interface Continued {
  request: ChatRequest;
  options: CallOptions;
  /** What was trimmed off the prefix; the continuation's first characters, when they equal it, are dropped. */
  skip: string;
}

/** The request and options asking a deployment of `mode` to continue `prefix`. */
export function continueRequest(
  request: ChatRequest,
  options: CallOptions,
  prefix: string,
  mode: Exclude<ContinuationMode, false>,
): Continued {
  let text = prefix;
  let skip = '';
  if (mode === 'prefill') {
    text = prefix.trimEnd();
    skip = prefix.slice(text.length);
  }
  const last: ChatMessage = { role: 'assistant', content: text };
  if (mode === 'deepseek-prefix') last.prefix = true;
  // All whitespace: nothing to prefill; the fresh answer's leading whitespace is dropped.
  const messages = text === '' ? request.messages : [...request.messages, last];
  let out: ChatRequest = { ...request, messages };
  let opts = options;
  if (mode === 'vllm' && text !== '')
    out = { ...out, continue_final_message: true, add_generation_prompt: false } as ChatRequest;
  if (mode === 'deepseek-prefix' && text !== '') {
    const origin = (options.baseURL ?? 'https://api.deepseek.com')
      .replace(/\/+$/, '')
      .replace(/\/(v1|beta)$/, '');
    opts = { ...options, baseURL: `${origin}/beta` };
  }
  return { request: out, options: opts, skip };
}

/**
 * Drops from the start of a continuation the whitespace trimmed off the prefix, across chunks: returns
 * the text to deliver and what is left to drop (`''` once the continuation went past it or differed).
 */
export function dropSkipped(content: string, skip: string): { content: string; skip: string } {
  let k = 0;
  while (k < content.length && k < skip.length && content[k] === skip[k]) k++;
  return { content: content.slice(k), skip: k === content.length ? skip.slice(k) : '' };
}
