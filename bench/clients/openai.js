'use strict';
// The openai SDK as its README shows it: one client, `stream: true`, for await over the chunks.
const { load } = require('../lib/paths');
const { MESSAGES, MODEL } = require('./common');

function create({ baseURL, apiKey }) {
  const mod = load('openai', 'openai');
  const OpenAI = mod.OpenAI || mod.default || mod;
  const client = new OpenAI({ baseURL, apiKey });
  return {
    async streamText() {
      const chunks = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true });
      let text = '';
      for await (const chunk of chunks) {
        const choice = chunk.choices[0];
        if (choice && choice.delta.content) text += choice.delta.content;
      }
      return text;
    },
    async completeText() {
      const res = await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
      return res.choices[0].message.content;
    },
  };
}

module.exports = { create };
