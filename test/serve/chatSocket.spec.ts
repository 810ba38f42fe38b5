import { EventEmitter, getEventListeners } from 'node:events';
import net from 'node:net';
import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { defer, delay, NEVER, Observable, of } from 'rxjs';
import { retryBackoff } from '../../operators/retryBackoff';
import { ConfigurationError, serveChatSocket, type Chunk } from '../../src';
import { fromWebSocket, type WebSocketLike } from '../../src/browser';
import { scriptToChunks } from '../../src/testing';
import { collect } from '../helpers/collect';
import { runTsHelper } from '../helpers/runTs';

/** A socket double: records what the server sends; `receive` delivers a client message. */
class FakeSocket extends EventEmitter {
  sent: any[] = [];
  bufferedAmount = 0;
  /** A peer that stopped reading: everything sent stays queued. */
  stalled = false;
  closedWith: [number | undefined, string | undefined] | undefined;
  send(data: string) {
    this.sent.push(JSON.parse(data));
    if (this.stalled) this.bufferedAmount += data.length;
  }
  close(code?: number, reason?: string) {
    this.closedWith = [code, reason];
  }
  receive(message: unknown) {
    this.emit('message', Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)));
  }
}

describe('serveChatSocket', () => {
  it('answers bad messages with an error for that id (or id null) and keeps serving', () => {
    const socket = new FakeSocket();
    serveChatSocket(socket, { stream: () => of(...scriptToChunks('ok')) });
    socket.receive('{not json');
    socket.receive({ type: 'request', body: {} });
    socket.receive({ type: 'hello', id: 'h' });
    socket.receive({ type: 'request', id: 'a', body: {} });
    expect(socket.sent.slice(0, 3).map((m) => [m.type, m.id, m.error.type])).toEqual([
      ['error', null, 'RequestValidationError'],
      ['error', null, 'RequestValidationError'],
      ['error', 'h', 'RequestValidationError'],
    ]);
    expect(socket.sent.filter((m) => m.id === 'a').map((m) => m.type)).toEqual([
      ...scriptToChunks('ok').map(() => 'chunk'),
      'done',
    ]);
  });

  it('refuses a duplicate running id and more than maxConcurrent requests', () => {
    const socket = new FakeSocket();
    let subscribed = 0;
    const ended: string[] = [];
    serveChatSocket(socket, {
      stream: () => new Observable<Chunk>(() => void subscribed++),
      maxConcurrent: 2,
      onEnd: (id, end) => ended.push(`${id}:${end}`),
    });
    socket.receive({ type: 'request', id: 'a', body: {} });
    socket.receive({ type: 'request', id: 'a', body: {} });
    socket.receive({ type: 'request', id: 'b', body: {} });
    socket.receive({ type: 'request', id: 'c', body: {} });
    expect(subscribed).toBe(2);
    expect(socket.sent.map((m) => [m.id, m.error.message])).toEqual([
      ['a', 'Request id "a" is already running.'],
      ['c', 'At most 2 requests run at once on one socket.'],
    ]);
    socket.receive({ type: 'stop', id: 'a' });
    socket.emit('close');
    expect(ended).toEqual(['a:stopped', 'b:closed']);
  });

  it('drops a peer that stops reading past maxBufferedBytes: every request aborted, socket closed 1008', () => {
    const socket = new FakeSocket();
    let unsubscribed = 0;
    serveChatSocket(socket, {
      stream: () =>
        new Observable<Chunk>((s) => {
          s.next(scriptToChunks('x')[1]);
          return () => void unsubscribed++;
        }),
      maxBufferedBytes: 1000,
      maxConcurrent: 100,
    });
    socket.stalled = true;
    let requests = 0;
    while (!socket.closedWith && requests < 100) {
      socket.receive({ type: 'request', id: `r${requests}`, body: {} });
      requests++;
    }
    // Each chunk message is ~200 bytes: the limit is passed after a handful queued behind the first.
    expect(requests).toBeGreaterThan(3);
    expect(requests).toBeLessThan(20);
    expect(unsubscribed).toBe(requests);
    expect(socket.closedWith).toEqual([1008, 'client too slow']);
  });

  it('sends one message larger than maxBufferedBytes to a peer that reads', () => {
    const socket = new FakeSocket();
    const big = { ...scriptToChunks('x')[1] };
    big.choices = [{ index: 0, delta: { content: 'y'.repeat(5000) }, finish_reason: null }];
    serveChatSocket(socket, { stream: () => of(big, big), maxBufferedBytes: 1000 });
    // The peer reads: the first 5 KB message is still queued when the second is sent, then drains.
    socket.send = function (this: FakeSocket, data: string) {
      this.sent.push(JSON.parse(data));
      this.bufferedAmount = this.bufferedAmount === 0 ? data.length : 0;
    };
    socket.receive({ type: 'request', id: 'a', body: {} });
    expect(socket.sent.map((m) => m.type)).toEqual(['chunk', 'chunk', 'done']);
    expect(socket.closedWith).toBeUndefined();
  });

  it('refuses a message over maxMessageChars', () => {
    const socket = new FakeSocket();
    serveChatSocket(socket, { stream: () => NEVER, maxMessageChars: 50 });
    socket.receive({ type: 'request', id: 'a', body: { text: 'x'.repeat(100) } });
    expect(socket.sent[0].error.message).toBe('A message is over 50 characters.');
  });
});

describe('fromWebSocket', () => {
  /** A client socket double wired to a serveChatSocket on the other side. */
  /** A client-side socket double (an `EventTarget`, as a browser's): records what it sends. */
  function clientSocket(readyState: number, onSend: (data: string) => void = () => undefined) {
    const client = new EventTarget() as EventTarget & WebSocketLike & { sentToServer: any[] };
    Object.assign(client, {
      readyState,
      sentToServer: [],
      send(data: string) {
        client.sentToServer.push(JSON.parse(data));
        onSend(data);
      },
      close() {},
    });
    return client;
  }

  function pair(stream: (body: unknown) => Observable<Chunk>) {
    const server = new FakeSocket();
    const client = clientSocket(1, (data) => server.receive(data));
    server.send = (data: string) => {
      client.dispatchEvent(Object.assign(new Event('message'), { data }));
    };
    serveChatSocket(server, { stream });
    return client;
  }

  it('an aborted signal stops the request with a stop message and errors with the reason', async () => {
    const client = pair(() => NEVER);
    const controller = new AbortController();
    const pending = collect(fromWebSocket(client, { q: 1 }, { signal: controller.signal, id: 'r1' }));
    controller.abort(new Error('user stop'));
    const { error } = await pending;
    expect((error as Error).message).toBe('user stop');
    expect(client.sentToServer).toEqual([
      { type: 'request', id: 'r1', body: { q: 1 } },
      { type: 'stop', id: 'r1' },
    ]);
  });

  it('twelve requests on one signal add one abort listener to it, and aborting it stops them all', async () => {
    // Listeners are counted, not warnings: jest's sandboxed `process` never sees Node's 'warning'
    // events (the warning itself is checked in a real process: sharedSocketCalls below).
    const client = pair(() => NEVER);
    const controller = new AbortController();
    const pending = Array.from({ length: 12 }, (_, i) =>
      collect(fromWebSocket(client, { i }, { signal: controller.signal, id: `r${i}` })),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('user stop'));
    const results = await Promise.all(pending);
    expect(results.map((r) => (r.error as Error).message)).toEqual(Array(12).fill('user stop'));
    expect(client.sentToServer.filter((m) => m.type === 'stop')).toHaveLength(12);
    // Requests that ended on their own leave nothing on a signal that lives on.
    const kept = new AbortController();
    const done = pair(() => of(...scriptToChunks('ok')));
    for (let i = 0; i < 12; i++)
      expect((await collect(fromWebSocket(done, {}, { signal: kept.signal, id: `d${i}` }))).completed).toBe(
        true,
      );
    expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0);
  });

  it('twelve requests on one shared socket give it one listener of each kind, removed with the last request', async () => {
    const client = pair((body) =>
      of(...scriptToChunks(`answer ${(body as { i: number }).i}`)).pipe(delay(5)),
    );
    const kinds = ['message', 'close', 'error', 'open'] as const;
    const counts = () => kinds.map((kind) => getEventListeners(client, kind).length);
    const pending = Array.from({ length: 12 }, (_, i) =>
      collect(fromWebSocket(client, { i }, { id: `r${i}` })),
    );
    expect(counts()).toEqual([1, 1, 1, 1]);
    const results = await Promise.all(pending);
    // Each request got its own answer, whole, from the one listener.
    expect(results.map((r) => r.values)).toEqual(
      Array.from({ length: 12 }, (_, i) => scriptToChunks(`answer ${i}`)),
    );
    expect(results.every((r) => r.completed)).toBe(true);
    expect(counts()).toEqual([0, 0, 0, 0]);
  });

  it('a message on a shared socket is parsed once, not once per request running on it', async () => {
    const client = pair(() => NEVER);
    const subscriptions = Array.from({ length: 12 }, (_, i) =>
      fromWebSocket(client, {}, { id: `r${i}` }).subscribe(),
    );
    const parse = jest.spyOn(JSON, 'parse');
    try {
      client.dispatchEvent(
        Object.assign(new Event('message'), { data: JSON.stringify({ type: 'chunk', id: 'r3', chunk: {} }) }),
      );
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
      subscriptions.forEach((s) => s.unsubscribe());
    }
  });

  it('on a shared socket still connecting, each request is sent once when it opens; a close errors all of them', async () => {
    const client = clientSocket(0);
    const pending = Array.from({ length: 3 }, (_, i) =>
      collect(fromWebSocket(client, { i }, { id: `r${i}` })),
    );
    expect(client.sentToServer).toEqual([]);
    Object.assign(client, { readyState: 1 });
    client.dispatchEvent(new Event('open'));
    client.dispatchEvent(new Event('open'));
    expect(client.sentToServer).toEqual(
      [0, 1, 2].map((i) => ({ type: 'request', id: `r${i}`, body: { i } })),
    );
    client.dispatchEvent(Object.assign(new Event('close'), { code: 1006 }));
    const results = await Promise.all(pending);
    expect(results.map((r) => (r.error as Error).message)).toEqual(
      Array(3).fill('The WebSocket closed before the answer ended (code 1006).'),
    );
    expect(getEventListeners(client, 'message')).toHaveLength(0);
  });

  it('many requests over one real `ws` socket print no MaxListenersExceededWarning', () => {
    const run = runTsHelper('sharedSocketCalls.ts', ['12']);
    expect(run.stdout.trim().split('\n')).toEqual(['done 12']);
    expect(run.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('ignores messages of other requests on a shared socket', async () => {
    const client = pair(() => of(...scriptToChunks('mine')));
    client.dispatchEvent(
      Object.assign(new Event('message'), { data: JSON.stringify({ type: 'done', id: 'other' }) }),
    );
    const { values, completed } = await collect(fromWebSocket(client, {}, { id: 'mine' }));
    expect(completed).toBe(true);
    expect(values).toEqual(scriptToChunks('mine'));
  });

  it('unsubscribing while its own `ws` socket is still connecting closes it without an unhandled error', async () => {
    // A server that accepts the TCP connection and never answers the upgrade: the socket stays CONNECTING.
    const held: net.Socket[] = [];
    const server = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const opened: WebSocket[] = [];
    class Recorded extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        opened.push(this);
      }
    }
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/ws`;
    const subscription = fromWebSocket(url, { q: 1 }, { WebSocket: Recorded }).subscribe();
    expect(opened[0].readyState).toBe(WebSocket.CONNECTING);
    subscription.unsubscribe();
    // `ws` reports the aborted handshake as an 'error' then 'close': with no error listener left,
    // the emit throws and kills the process (and 'close' never comes).
    expect(opened[0].listenerCount('error')).toBeGreaterThan(0);
    await new Promise((r) => opened[0].on('close', r));
    expect(opened[0].readyState).toBe(WebSocket.CLOSED);
    for (const s of held) s.destroy();
    await new Promise((r) => server.close(r));
  });

  describe('a socket that cannot be created is a ConfigurationError (not retried)', () => {
    it('no WebSocket implementation (Node 20 has no global WebSocket)', async () => {
      const g = globalThis as { WebSocket?: unknown };
      const saved = Object.getOwnPropertyDescriptor(g, 'WebSocket');
      delete g.WebSocket;
      try {
        let attempts = 0;
        const { error } = await collect(
          defer(() => {
            attempts++;
            return fromWebSocket('ws://127.0.0.1:9/v1/chat/ws', {});
          }).pipe(retryBackoff({ initialDelayMs: 0, jitter: 0 })),
        );
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as ConfigurationError).retryable).toBe(false);
        expect((error as Error).message).toContain('pass init.WebSocket');
        expect(attempts).toBe(1);
      } finally {
        if (saved) Object.defineProperty(g, 'WebSocket', saved);
      }
    });

    it('a URL the constructor refuses, its password kept out of the error and its cause', async () => {
      const { error } = await collect(
        fromWebSocket('ws://user:pa55w0rd-XYZ-123456@[::1/x', {}, { WebSocket }),
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).retryable).toBe(false);
      expect((error as Error).message).toMatch(/^Could not create the WebSocket: /);
      // A scrubbed copy of the constructor's error: its class name, not the object (which quotes the URL).
      expect(((error as Error).cause as Error).name).toBe('SyntaxError');
      expect(inspect(error, { depth: 10 })).not.toContain('pa55w0rd');
    });
  });
});
