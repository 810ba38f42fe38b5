'use strict';
// The Vercel AI SDK as its docs show it: `streamText` over `@ai-sdk/openai`'s Chat Completions model
// (`provider.chat()`: the default `provider()` speaks the Responses API), reading `textStream`.
const { load } = require('../lib/paths');
const { MESSAGES, MODEL } = require('./common');

function create({ baseURL, apiKey }) {
  // Unsupported-setting warnings would go to the console and into the measurement.
  globalThis.AI_SDK_LOG_WARNINGS = false;
  const { streamText, generateText } = load('ai', 'ai');
  const { createOpenAI } = load('@ai-sdk/openai', 'ai');
  const model = createOpenAI({ baseURL, apiKey }).chat(MODEL);
  return {
    async streamText() {
      let failure;
      // streamText reports errors to onError and ends the text stream; keep them so the run fails loudly.
      const result = streamText({ model, messages: MESSAGES, onError: ({ error }) => (failure = error) });
      let text = '';
      for await (const part of result.textStream) text += part;
      if (failure) throw failure;
      return text;
    },
    async completeText() {
      const res = await generateText({ model, messages: MESSAGES });
      return res.text;
    },
  };
}

module.exports = { create };
