import { Agent, request } from 'undici';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';

const messages = [{ role: 'user', content: 'Hello there' }];

function post(server: MockServer, body: object, extra: { dispatcher?: Agent; signal?: AbortSignal } = {}) {
  return request(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: JSON.stringify(body),
    ...extra,
  });
}

/** The `data:` payloads of an SSE body. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.length)
    .map((e) => e.replace(/^data: /, ''));
}

function contentOf(payloads: string[]): string {
  return payloads
    .filter((p) => p.startsWith('{') && p !== '{not json')
    .map((p) => JSON.parse(p))
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
}

describe('createMockServer', () => {
  let server: MockServer;
  let agent: Agent;

  beforeEach(async () => {
    server = await createMockServer();
    agent = new Agent();
  });
  afterEach(async () => {
    await agent.close();
    await server.close();
  });

  it('listens on 127.0.0.1 and exposes a /v1 base URL', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/v1`);
    expect(server.port).toBeGreaterThan(0);
  });

  it('streams a script as OpenAI SSE events ending with [DONE]', async () => {
    server.enqueue({ text: 'Hi 👋 世界!', chunkSize: 2 });
    const res = await post(server, { model: 'm', stream: true, messages }, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const payloads = events(await res.body.text());
    expect(payloads[payloads.length - 1]).toBe('[DONE]');
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'm')).toBe(true);
    expect(contentOf(payloads)).toBe('Hi 👋 世界!');
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('stop');
    // No usage chunk unless asked for, like OpenAI.
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('adds the usage chunk when stream_options.include_usage is true', async () => {
    server.enqueue('abcdefgh');
    const res = await post(server, {
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      messages,
    });
    const chunks = events(await res.body.text())
      .slice(0, -1)
      .map((p) => JSON.parse(p));
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: 2,
      total_tokens: expect.any(Number),
    });
  });

  it('answers a JSON ChatCompletion with usage when stream is not true', async () => {
    server.enqueue({ text: 'Whole answer', toolCalls: [{ name: 'f', arguments: { a: 1 } }] });
    const res = await post(server, { model: 'm', messages });
    const body = (await res.body.json()) as any;
    expect(res.headers['content-type']).toBe('application/json');
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message).toEqual({
      role: 'assistant',
      content: 'Whole answer',
      tool_calls: [{ id: 'call_mock_0', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
    });
    expect(body.choices[0].finish_reason).toBe('tool_calls');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
  });

  it('echoes the last user message by default', async () => {
    const body = (await (await post(server, { model: 'm', messages })).body.json()) as any;
    expect(body.choices[0].message.content).toBe('Mock reply to: Hello there');
  });

  it('records each request with lower-case headers and the parsed body', async () => {
    await (await post(server, { model: 'm', messages, stream: false })).body.text();
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-test');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({ model: 'm', messages, stream: false });
  });

  it('consumes enqueued scripts first in first out, then the default', async () => {
    server.setDefault((req) => `default for ${(req.body as MockChatBody).model}`);
    server.enqueue('one', 'two');
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = (await (await post(server, { model: `m${i}`, messages })).body.json()) as any;
      texts.push(body.choices[0].message.content);
    }
    expect(texts).toEqual(['one', 'two', 'default for m2']);
  });

  it('answers an HTTP error with its headers and an OpenAI-like error body', async () => {
    server.enqueue({ status: 429, headers: { 'Retry-After': '3' } });
    const res = await post(server, { model: 'm', stream: true, messages });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(await res.body.json()).toEqual({
      error: { message: 'Mock error (HTTP 429)', type: 'rate_limit_error', param: null, code: null },
    });
  });

  it('sends a given errorBody', async () => {
    server.enqueue({
      status: 500,
      errorBody: { error: { message: 'boom', type: 'server_error', code: 'x' } },
    });
    const res = await post(server, { model: 'm', messages });
    expect(res.statusCode).toBe(500);
    expect(((await res.body.json()) as any).error.message).toBe('boom');
  });

  it('cuts the connection after k events without [DONE]', async () => {
    server.enqueue({ text: 'abcdefghijklmnop', cutAfterChunks: 2 });
    const res = await post(server, { model: 'm', stream: true, messages });
    const received: string[] = [];
    res.body.setEncoding('utf8');
    await expect(
      (async () => {
        for await (const part of res.body) received.push(part as string);
      })(),
    ).rejects.toThrow();
    const payloads = events(received.join(''));
    expect(payloads).toHaveLength(2);
    expect(payloads).not.toContain('[DONE]');
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(0);
  });

  it('resets the socket before the headers when asked', async () => {
    server.enqueue({ resetBeforeHeaders: true });
    await expect(post(server, { model: 'm', stream: true, messages })).rejects.toThrow();
    expect(server.stats.requests).toBe(1);
  });

  it('stalls before the headers and counts the client abort', async () => {
    server.enqueue({ stall: 'before-headers' });
    const controller = new AbortController();
    const pending = post(server, { model: 'm', stream: true, messages }, { signal: controller.signal });
    while (server.stats.requests < 1) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('stalls after k events until the client aborts', async () => {
    server.enqueue({ text: 'abcdefghijkl', stall: { afterChunks: 3 } });
    const controller = new AbortController();
    const res = await post(server, { model: 'm', stream: true, messages }, { signal: controller.signal });
    res.body.setEncoding('utf8');
    let text = '';
    for await (const part of res.body) {
      text += part;
      if (events(text).length === 3) break; // breaking out destroys the body, i.e. aborts
    }
    controller.abort();
    await server.waitForRequestClose(1);
    expect(events(text)).toHaveLength(3);
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('never finishes a script with finishReason null', async () => {
    server.enqueue({ text: 'abcd', finishReason: null });
    const controller = new AbortController();
    const res = await post(server, { model: 'm', stream: true, messages }, { signal: controller.signal });
    res.body.setEncoding('utf8');
    let text = '';
    for await (const part of res.body) {
      text += part;
      if (events(text).length === 2) break;
    }
    await server.waitForRequestClose(1);
    expect(events(text).map((p) => JSON.parse(p).choices[0].finish_reason)).toEqual([null, null]);
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('sends a malformed event after k events and goes on', async () => {
    server.enqueue({ text: 'abcdefgh', malformedAfterChunks: 1 });
    const payloads = events(await (await post(server, { model: 'm', stream: true, messages })).body.text());
    expect(payloads[1]).toBe('{not json');
    expect(contentOf(payloads)).toBe('abcdefgh');
    expect(payloads[payloads.length - 1]).toBe('[DONE]');
  });

  it('sends an in-band error event and ends without [DONE]', async () => {
    const error = { message: 'overloaded', type: 'server_error', code: 'overloaded' };
    server.enqueue({ text: 'abcdefgh', inBandError: { afterChunks: 2, error } });
    const payloads = events(await (await post(server, { model: 'm', stream: true, messages })).body.text());
    expect(payloads).toHaveLength(3);
    expect(JSON.parse(payloads[2])).toEqual({ error });
  });

  it('finishes without [DONE] when omitDone is set', async () => {
    server.enqueue({ text: 'abc', omitDone: true });
    const payloads = events(await (await post(server, { model: 'm', stream: true, messages })).body.text());
    expect(payloads).not.toContain('[DONE]');
    expect(JSON.parse(payloads[payloads.length - 1]).choices[0].finish_reason).toBe('stop');
  });

  it('batches events per write without changing the bytes', async () => {
    const script = { text: 'x'.repeat(400), chunkSize: 3 };
    server.enqueue(script, { ...script, chunksPerWrite: 50 });
    const one = await (await post(server, { model: 'm', stream: true, messages })).body.text();
    const batched = await (await post(server, { model: 'm', stream: true, messages })).body.text();
    expect(batched.replace(/chatcmpl-mock-\d+/g, 'ID')).toBe(one.replace(/chatcmpl-mock-\d+/g, 'ID'));
  });

  it('replays rawSse byte-exact when split inside multi-byte characters and CRLF', async () => {
    const raw = Buffer.from('data: {"x":"世界👋"}\r\n\r\ndata: [DONE]\r\n\r\n', 'utf8');
    const at = raw.indexOf(Buffer.from('👋')) + 2;
    server.enqueue({ rawSse: raw, splitAt: [1, 15, at, raw.indexOf('\r\n') + 1], writeDelayMs: 2 });
    server.enqueue({ rawSse: raw, randomSplits: { seed: 7, pieces: 9 } });
    const a = Buffer.from(
      await (await post(server, { model: 'm', stream: true, messages })).body.arrayBuffer(),
    );
    const b = Buffer.from(await (await post(server, { model: 'm', messages })).body.arrayBuffer());
    expect(a.equals(raw)).toBe(true);
    expect(b.equals(raw)).toBe(true);
  });

  it('keeps connections alive: 10 sequential requests use one TCP connection', async () => {
    const single = new Agent({ connections: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        await (
          await post(server, { model: 'm', stream: i % 2 === 0, messages }, { dispatcher: single })
        ).body.text();
      }
    } finally {
      await single.close();
    }
    expect(server.stats.requests).toBe(10);
    expect(server.stats.connections).toBe(1);
  });

  it('counts each concurrent connection', async () => {
    server.setDefault({ text: 'slow', latencyMs: 30 });
    await Promise.all(
      [1, 2, 3].map(async () =>
        (await post(server, { model: 'm', messages }, { dispatcher: agent })).body.text(),
      ),
    );
    expect(server.stats.connections).toBe(3);
    expect(server.stats.openConnections).toBe(3);
  });

  it('answers 404 for unknown routes and 400 for a body that is not JSON', async () => {
    const notFound = await request(`${server.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(notFound.statusCode).toBe(404);
    await notFound.body.text();
    const bad = await request(`${server.url}/chat/completions`, { method: 'POST', body: '{oops' });
    expect(bad.statusCode).toBe(400);
    await bad.body.text();
    expect(server.requests[1].body).toBe('{oops');
  });

  it('close() destroys keep-alive and stalled sockets, is idempotent, and does not count them as aborts', async () => {
    await (await post(server, { model: 'm', messages }, { dispatcher: agent })).body.text();
    server.enqueue({ stall: { afterChunks: 1 }, text: 'abc' });
    const res = await post(server, { model: 'm', stream: true, messages }, { dispatcher: agent });
    const reading = res.body.text();
    expect(server.stats.openConnections).toBeGreaterThanOrEqual(1);
    await Promise.all([server.close(), server.close()]);
    await expect(reading).rejects.toThrow();
    expect(server.stats.openConnections).toBe(0);
    expect(server.stats.abortedRequests).toBe(0);
    await server.close();
  });

  it('keeps requests from before reset() out of the new counters', async () => {
    server.enqueue({ stall: 'before-headers' });
    const controller = new AbortController();
    const pending = post(server, { model: 'm', stream: true, messages }, { signal: controller.signal });
    while (server.stats.requests < 1) await new Promise((r) => setImmediate(r));
    server.reset();
    controller.abort();
    await expect(pending).rejects.toThrow();
    while (server.stats.openConnections > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.stats.abortedRequests).toBe(0);
    let closed = false;
    const waiting = server.waitForRequestClose(1).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    await (await post(server, { model: 'm', messages })).body.text();
    await waiting;
    expect(closed).toBe(true);
  });

  it('reset() clears the queue, the requests and the counters', async () => {
    server.enqueue('queued');
    await (await post(server, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).body.text();
    server.enqueue('left over');
    server.reset();
    const body = (await (await post(server, { model: 'm', messages })).body.json()) as any;
    expect(body.choices[0].message.content).toBe('Mock reply to: Hello there');
    expect(server.requests).toHaveLength(1);
    expect(server.stats.requests).toBe(1);
  });
});
