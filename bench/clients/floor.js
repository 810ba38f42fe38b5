'use strict';
// The floor: the least work any client can do. undici request() over one shared Agent, a streaming
// TextDecoder, eventsource-parser, JSON.parse, and joining delta.content. No validation, no objects
// beyond what JSON.parse makes, no retries.
const { load } = require('../lib/paths');
const { MESSAGES, MODEL } = require('./common');

function create({ baseURL, apiKey }) {
  const { Agent, request } = load('undici', 'floor');
  const { createParser } = load('eventsource-parser', 'floor');
  const agent = new Agent();
  const url = `${baseURL}/chat/completions`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const streamBody = JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true });
  const completeBody = JSON.stringify({ model: MODEL, messages: MESSAGES });

  async function post(body) {
    const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`floor: HTTP ${res.statusCode}: ${await res.body.text()}`);
    return res.body;
  }

  return {
    async streamText() {
      const body = await post(streamBody);
      let text = '';
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return;
          const choice = JSON.parse(event.data).choices[0];
          if (choice && choice.delta.content) text += choice.delta.content;
        },
      });
      const decoder = new TextDecoder();
      // 'data' events, not `for await`: the async iterator merges reads into 64 KiB chunks and stalls
      // on backpressure, which made it ~1.8x slower in B1 here; the floor must be the fastest way.
      await new Promise((resolve, reject) => {
        body.on('data', (bytes) => parser.feed(decoder.decode(bytes, { stream: true })));
        body.on('end', resolve);
        body.on('error', reject);
      });
      parser.feed(decoder.decode());
      return text;
    },
    async completeText() {
      const body = await post(completeBody);
      return (await body.json()).choices[0].message.content;
    },
  };
}

module.exports = { create };
