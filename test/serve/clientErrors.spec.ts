/**
 * rxllm's browser clients (`fetchSse`, `fromWebSocket`) against answers that are not what they
 * asked for, and the gateway's own failures as they read them: the same classes as `stream()`,
 * messages a person can act on, no hang on an error the server could not tie to a request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { of } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import { retryBackoff } from '../../operators/retryBackoff';
import {
  AuthenticationError,
  ConnectionError,
  createClient,
  RequestValidationError,
  sendSse,
  serveChatSocket,
  startGateway,
  UnexpectedResponseError,
  type Chunk,
} from '../../src';
import { bearerProtocol, errorFrame, fetchSse, fromWebSocket, type WebSocketLike } from '../../src/browser';
import { createMockServer, scriptToChunks } from '../../src/testing';
import { collect } from '../helpers/collect';

const ctor = WebSocket as unknown as new (url: string, protocols?: string[]) => WebSocketLike;

/** A server answering every request with `status`, `type` and `body`; counts the requests. */
async function fixedServer(status: number, type: string, body: string) {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('fetchSse: a 2xx that is not an event stream', () => {
  it.each([
    ['a whole JSON completion', 'application/json', '{"id":"x","object":"chat.completion","choices":[]}'],
    ['an HTML page', 'text/html; charset=utf-8', '<html><body>Bad gateway</body></html>'],
  ])(
    '%s is a non-retryable UnexpectedResponseError, sent once even under retryBackoff',
    async (_, type, body) => {
      const server = await fixedServer(200, type, body);
      try {
        const result = await collect(
          fetchSse(server.url, { body: { q: 'Hi' } }).pipe(
            retryBackoff({ maxRetries: 2, initialDelayMs: 1 }),
          ),
        );
        expect(result.error).toBeInstanceOf(UnexpectedResponseError);
        expect((result.error as UnexpectedResponseError).retryable).toBe(false);
        expect(server.requests()).toBe(1);
      } finally {
        await server.close();
      }
    },
  );

  it('a JSON error object in a 200 is the in-band error’s class, as stream() makes it', async () => {
    const server = await fixedServer(200, 'application/json', '{"error":{"message":"No key","code":401}}');
    try {
      const result = await collect(fetchSse(server.url, { body: {} }));
      expect(result.error).toBeInstanceOf(AuthenticationError);
    } finally {
      await server.close();
    }
  });
});

describe('the gateway’s own refusals, as rxllm clients read them', () => {
  it('fetchSse: the 401 says what to do, with one period and no provider-key hint', async () => {
    const gateway = await startGateway({ port: 0, token: 'sk-test-client-token-0123456', log: () => {} });
    try {
      const result = await collect(
        fetchSse(`${gateway.url}/v1/chat/completions`, { body: { model: 'mock/echo', messages: [] } }),
      );
      expect(result.error).toBeInstanceOf(AuthenticationError);
      const message = (result.error as Error).message;
      expect(message).toBe('HTTP 401: Missing or wrong bearer token (Authorization: Bearer <token>).');
      // A WebSocket without the token: a real reason, not "The WebSocket failed."
      const ws = await collect(
        fromWebSocket(
          `${gateway.url.replace('http', 'ws')}/v1/chat/ws`,
          { model: 'mock/echo', messages: [] },
          {
            WebSocket: ctor,
          },
        ),
      );
      expect(ws.error).toBeInstanceOf(ConnectionError);
      expect((ws.error as Error).message).toContain('401');
    } finally {
      await gateway.close(0);
    }
  });

  it('fromWebSocket: the browser-side message (no reason given) names the likely causes', async () => {
    // A socket double that fails as browsers do: an 'error' event with no message, then close 1006.
    const listeners = new Map<string, ((e: any) => void)[]>();
    const socket: WebSocketLike = {
      readyState: 0,
      send: () => {},
      close: () => {},
      addEventListener: (t, l) => listeners.set(t, [...(listeners.get(t) ?? []), l]),
      removeEventListener: (t, l) =>
        listeners.set(
          t,
          (listeners.get(t) ?? []).filter((x) => x !== l),
        ),
    };
    const result = collect(fromWebSocket(socket, {}));
    for (const l of listeners.get('error') ?? []) l({ type: 'error' });
    const { error } = await result;
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(/could not connect.*token/);
  });
});

async function listeningWss(): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  return wss;
}

describe('fromWebSocket and errors the server could not tie to a request', () => {
  it('an oversized request gets its id back, so the call errors instead of hanging', async () => {
    const wss = await listeningWss();
    wss.on('connection', (s) =>
      serveChatSocket(s, { stream: () => of(...scriptToChunks('ok')), maxMessageChars: 500 }),
    );
    try {
      const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
      const result = await collect(
        fromWebSocket(url, { messages: [{ role: 'user', content: 'x'.repeat(2000) }] }, { WebSocket: ctor }),
      );
      expect(result.error).toBeInstanceOf(RequestValidationError);
      expect((result.error as Error).message).toContain('over 500 characters');
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });

  it('an error with id null is fatal on a socket of the call’s own, and for calls still waiting on a shared one', async () => {
    // A server that reads nothing it is sent: every message gets an id-less error.
    const wss = await listeningWss();
    const refusal = JSON.stringify({
      type: 'error',
      id: null,
      ...errorFrame(new RequestValidationError('Unreadable.')),
    });
    wss.on('connection', (s) => s.on('message', () => s.send(refusal)));
    try {
      const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
      const own = await collect(fromWebSocket(url, {}, { WebSocket: ctor }));
      expect(own.error).toBeInstanceOf(RequestValidationError);
      const shared = new WebSocket(url) as unknown as WebSocketLike;
      const onShared = await collect(fromWebSocket(shared, {}));
      expect(onShared.error).toBeInstanceOf(RequestValidationError);
      shared.close();
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});

/** A gateway serving `model` from a fresh mock upstream. */
async function gatewayOnMock(model: string, heartbeatMs?: number) {
  const upstream = await createMockServer();
  const gateway = await startGateway({
    port: 0,
    model,
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-upstream-key-000000000000' }),
    heartbeatMs,
    log: () => {},
  });
  return { upstream, gateway };
}

describe('keepalive and large events', () => {
  it('pings a WebSocket while its request waits for the upstream, as SSE sends ": ping"', async () => {
    const { upstream, gateway } = await gatewayOnMock('compat/slow', 50);
    try {
      upstream.enqueue({ text: 'late', latencyMs: 600 });
      const ws = new WebSocket(
        `${gateway.url.replace('http', 'ws')}/v1/chat/ws`,
        bearerProtocol('x').slice(0, 1),
      );
      let pings = 0;
      ws.on('ping', () => pings++);
      const result = await collect(
        fromWebSocket(ws as unknown as WebSocketLike, {
          model: 'compat/slow',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      );
      expect(result.completed).toBe(true);
      expect(pings).toBeGreaterThan(0);
      ws.close();
    } finally {
      await gateway.close(0);
      await upstream.close();
    }
  });

  it('the gateway sends one 5 MB chunk whole over SSE and over a WebSocket to clients that read', async () => {
    const { upstream, gateway } = await gatewayOnMock('compat/big');
    const size = 5 * 1024 * 1024;
    const body = { model: 'compat/big', messages: [{ role: 'user', content: 'Hi' }], stream: true };
    try {
      for (const transport of ['sse', 'ws'] as const) {
        upstream.enqueue({ text: 'y'.repeat(size), chunkSize: size });
        const chunks =
          transport === 'sse'
            ? fetchSse(`${gateway.url}/v1/chat/completions`, { body })
            : fromWebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, body, { WebSocket: ctor });
        const result = await collect(chunks);
        expect(result.completed).toBe(true);
        const text = result.values.map((c) => c.choices[0]?.delta.content ?? '').join('');
        expect(text.length).toBe(size);
      }
    } finally {
      await gateway.close(0);
      await upstream.close();
    }
  });

  it('sendSse: one 5 MB event to a client that reads passes, over a real socket', async () => {
    const big: Chunk = { ...scriptToChunks('x')[1] };
    big.choices = [{ index: 0, delta: { content: 'y'.repeat(5 * 1024 * 1024) }, finish_reason: null }];
    let end: string | undefined;
    const server = http.createServer((req, res) => {
      void sendSse(res, of(big, scriptToChunks('x').at(-1)!)).then((r) => (end = r.end));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const result = await collect(fetchSse(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      expect(result.completed).toBe(true);
      expect(result.values[0].choices[0].delta.content?.length).toBe(5 * 1024 * 1024);
      expect(end).toBe('complete');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
