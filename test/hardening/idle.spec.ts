/**
 * The transport's default idle limit: only stream values reset it, so a server that sends nothing
 * but keep-alive comments (or pings) cannot hold a bare stream() forever.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { complete, stream, TimeoutError, TRANSPORT_TIMEOUT_DEFAULTS } from '../../src';
import { anthropicProvider, registerProvider } from '../../src';
import { resolveLimits, undiciMs } from '../../src/transport/limits';
import { createMockServer, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

describe('transport idle limit', () => {
  it('is on by default (300 s), so a bare stream() has one', () => {
    expect(TRANSPORT_TIMEOUT_DEFAULTS.idle).toBe(300_000);
    expect(resolveLimits({}).idle).toBe(300_000);
  });

  it('ends a stream of keep-alive comments only in TimeoutError idle, keeping what arrived', async () => {
    server.enqueue({ text: 'abcdef', chunkSize: 1, keepAliveOnly: { afterChunks: 3, everyMs: 20 } });
    const started = performance.now();
    const { values, error } = await collect(
      stream(REQUEST, { baseURL: server.url, timeouts: { idle: 300 } }),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe('idle');
    expect((error as TimeoutError).ms).toBe(300);
    expect(summarize(values).text).toBe('ab');
    // undici's body timer never fired: comments kept the socket busy.
    expect(performance.now() - started).toBeLessThan(TRANSPORT_TIMEOUT_DEFAULTS.body);
    await server.waitForRequestClose(1);
    expect(server.stats.abortedRequests).toBe(1);
  });

  it('is reset by every real chunk: a slow but steady stream finishes', async () => {
    // 28 chunks 50 ms apart (1.4 s in all) under a 1 s idle limit: each gap is a twentieth of the
    // limit, so only a stall of nearly a second between two chunks could trip it.
    const text = 'slow and steady wins the race';
    server.enqueue({ text, chunkSize: 1, chunkDelayMs: 50 });
    const { values, completed } = await collect(
      stream(REQUEST, { baseURL: server.url, timeouts: { idle: 1000 } }),
    );
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe(text);
  });

  it('does not apply to complete(), whose only value comes at the end', async () => {
    const raw = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'slow' }, finish_reason: 'stop' }],
      });
      let i = 0;
      const tick = setInterval(() => {
        res.write(body.slice(i, i + 20));
        i += 20;
        if (i >= body.length) {
          clearInterval(tick);
          res.end();
        }
      }, 60);
      res.on('close', () => clearInterval(tick));
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const { values, error } = await collect(
      complete(REQUEST, {
        baseURL: `http://127.0.0.1:${(raw.address() as AddressInfo).port}/v1`,
        timeouts: { idle: 150 },
      }),
    );
    raw.close();
    expect(error).toBeUndefined();
    expect(values[0].choices[0].message.content).toBe('slow');
  });

  it('a limit past what a Node timer holds is off (no timer that would fire at once)', () => {
    expect(undiciMs(3_000_000_000)).toBe(0);
    expect(undiciMs(Infinity)).toBe(0);
    expect(undiciMs(5000)).toBe(5000);
  });

  it("Anthropic's ping events do not reset it", async () => {
    const events = [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":1,"output_tokens":0}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
    ];
    const raw = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events.join(''));
      const ping = setInterval(() => res.write('event: ping\ndata: {"type": "ping"}\n\n'), 25);
      res.on('close', () => clearInterval(ping));
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    registerProvider(
      anthropicProvider({
        name: 'anthropic-idle',
        baseURL: `http://127.0.0.1:${(raw.address() as AddressInfo).port}/v1`,
      }),
    );
    const { values, error } = await collect(
      stream(
        { model: 'anthropic-idle/claude', messages: [{ role: 'user', content: 'hi' }] },
        { apiKey: 'sk-ant-test-idle', timeouts: { idle: 300 } },
      ),
    );
    raw.close();
    raw.closeAllConnections();
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe('idle');
    expect(summarize(values).text).toBe('Hi');
  });
});
