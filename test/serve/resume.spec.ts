/**
 * Resumable answers on the wire (docs/resume.md): the gateway's stream id header and event ids, the
 * resume and stop routes, a generation that outlives its client, and `--no-resume`.
 */
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import { createClient, createMemoryResumeStore, startGateway, type Chunk, type Gateway } from '../../src';
import { fetchSse, fromWebSocket, type WebSocketLike } from '../../src/browser';
import { createMockServer, type MockServer } from '../../src/testing';
import { servedResumable } from '../../src/serve/resumeOptions';
import { runTsHelper } from '../helpers/runTs';
import { readSse } from '../helpers/sseEvents';

const MODEL = 'compat/test-model';
const body = (extra: object = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Recite.' }],
  stream: true,
  ...extra,
});

let upstream: MockServer;
let gateway: Gateway;
let completions: string;

beforeAll(async () => {
  upstream = await createMockServer();
  gateway = await startGateway({
    port: 0,
    model: MODEL,
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-resume-0123456789' }),
    log: () => undefined,
    resume: { store: createMemoryResumeStore(), ttlMs: 60_000 },
  });
  completions = `${gateway.url}/v1/chat/completions`;
});
afterAll(async () => {
  await gateway.close(0);
  await upstream.close();
});
beforeEach(() => upstream.reset());

/** A second gateway on the same upstream. */
const gatewayWith = (resume: false | { ttlMs: number; keepAliveMs?: number }) =>
  startGateway({
    port: 0,
    model: MODEL,
    client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-resume-0123456789' }),
    log: () => undefined,
    resume,
  });

const until = async (check: () => boolean, ms = 15_000) => {
  for (let t = 0; t < ms && !check(); t += 10) await new Promise((r) => setTimeout(r, 10));
};

describe('resumable answers on the wire', () => {
  it('a store that is full (every place held by a running answer) still answers, unstored and logged, from one upstream call each', async () => {
    const lines: string[] = [];
    const full = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-resume-0123456789' }),
      log: (line) => lines.push(line),
      resume: { store: createMemoryResumeStore({ maxStreams: 1 }), ttlMs: 60_000 },
    });
    try {
      const url = `${full.url}/v1/chat/completions`;
      upstream.enqueue({ text: 'x'.repeat(500), chunkSize: 1, chunkDelayMs: 10 }); // 5 s
      upstream.enqueue({ text: 'second answer', chunkSize: 3 });
      // Still running when the second comes (its client left; it goes on): the store's one place.
      await readSse(url, { body: body(), stopAfter: 2 });
      const second = await readSse(url, { body: body() });
      expect(second.status).toBe(200);
      const text = second.events
        .filter((e) => e.data !== '[DONE]')
        .map((e) => (JSON.parse(e.data) as Chunk).choices[0]?.delta.content ?? '')
        .join('');
      expect(text).toBe('second answer');
      expect(second.events.at(-1)?.data).toBe('[DONE]');
      expect(upstream.stats.requests).toBe(2);
      expect(upstream.stats.abortedRequests).toBe(0);
      const id = second.headers.get('x-rxllm-stream-id')!;
      expect(lines.filter((l) => l.includes('goes on unstored'))).toEqual([
        expect.stringContaining(`rxllm serve: answer ${id} goes on unstored (it cannot be resumed): `),
      ]);
    } finally {
      await full.close(0);
    }
  });

  it('sends x-rxllm-stream-id and numbers every chunk event <streamId>:<seq> from 1', async () => {
    upstream.enqueue({ text: 'one two three four', chunkSize: 4 });
    const first = await readSse(completions, { body: body() });
    const id = first.headers.get('x-rxllm-stream-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const chunks = first.events.filter((e) => e.data !== '[DONE]');
    expect(chunks.map((e) => e.id)).toEqual(chunks.map((_, i) => `${id}:${i + 1}`));
    expect(first.events.at(-1)?.data).toBe('[DONE]');

    // Replays after an event (header or query), or from the start, with the same ids and bytes.
    const after3 = await readSse(`${completions}/${id}/stream`, { headers: { 'last-event-id': `${id}:3` } });
    expect(after3.events).toEqual(first.events.slice(3));
    expect(after3.headers.get('x-rxllm-stream-id')).toBe(id);
    const viaQuery = await readSse(`${completions}/${id}/stream?last_event_id=${id}:2`);
    expect(viaQuery.events).toEqual(first.events.slice(2));
    expect((await readSse(`${completions}/${id}/stream`)).events).toEqual(first.events);
    expect(upstream.stats.requests).toBe(1);
  });

  it('numbers the error event too, and replays the same error', async () => {
    upstream.enqueue({
      text: 'partial answer',
      chunkSize: 4,
      inBandError: { afterChunks: 3, error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    const first = await readSse(completions, { body: body() });
    const id = first.headers.get('x-rxllm-stream-id')!;
    const last = first.events.at(-1)!;
    expect(JSON.parse(last.data).error.message).toContain('Overloaded');
    expect(last.id).toBe(`${id}:${first.events.length}`);
    const replay = await readSse(`${completions}/${id}/stream`, { headers: { 'last-event-id': `${id}:1` } });
    expect(replay.events).toEqual(first.events.slice(1));
  });

  it('answers an unknown stream id with a 404 in OpenAI error shape (stream and stop), a bad event id with 400', async () => {
    const unknown = await readSse(`${completions}/nope/stream`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: {
        message: expect.stringContaining('nope'),
        type: 'invalid_request_error',
        param: null,
        code: 'stream_not_found',
      },
    });
    const stop = await fetch(`${completions}/nope/stop`, { method: 'POST' });
    expect(stop.status).toBe(404);
    expect(((await stop.json()) as { error: { code: string } }).error.code).toBe('stream_not_found');
    upstream.enqueue({ text: 'abc' });
    const id = (await readSse(completions, { body: body() })).headers.get('x-rxllm-stream-id')!;
    const bad = await readSse(`${completions}/${id}/stream`, { headers: { 'last-event-id': 'other:1' } });
    expect(bad.status).toBe(400);
    expect((await fetch(`${completions}/${id}/stream`, { method: 'POST' })).status).toBe(405);
  });

  it('goes on generating when the client drops; a later resume gets the rest, the upstream called once', async () => {
    upstream.enqueue({ text: 'z'.repeat(60), chunkSize: 1, chunkDelayMs: 5 });
    const first = await readSse(completions, { body: body(), stopAfter: 5 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(0);
    const rest = await readSse(`${completions}/${id}/stream`, {
      headers: { 'last-event-id': first.events[4].id! },
    });
    const text = [...first.events, ...rest.events]
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data).choices[0]?.delta.content ?? '')
      .join('');
    expect(text).toBe('z'.repeat(60));
    expect(rest.events.at(-1)?.data).toBe('[DONE]');
    expect(upstream.stats.requests).toBe(1);
  });

  it('POST .../stop answers 202 and aborts the upstream; readers get a RequestAbortedError event', async () => {
    upstream.enqueue({ text: 'y'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the stop
    const first = await readSse(completions, { body: body(), stopAfter: 3 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    const follower = readSse(`${completions}/${id}/stream`);
    const stop = await fetch(`${completions}/${id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(202);
    expect(await stop.json()).toEqual({ id, object: 'chat.completion.stop', stopping: true });
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    const last = (await follower).events.at(-1)!;
    expect(JSON.parse(last.data).error.type).toBe('RequestAbortedError');
  });

  /**
   * A gateway whose store learns of a stream 300 ms after its answer began (a shared store under
   * load, as seen from another instance): `created()` counts the streams it has.
   */
  const lateStoreGateway = async () => {
    const memory = createMemoryResumeStore();
    let created = 0;
    const slow = {
      ...memory,
      async create(id: string, ttlMs: number) {
        await new Promise((r) => setTimeout(r, 300));
        await memory.create(id, ttlMs);
        created++;
      },
    };
    const late = await startGateway({
      port: 0,
      model: MODEL,
      client: createClient({ baseURL: upstream.url, apiKey: 'sk-test-resume-0123456789' }),
      log: () => undefined,
      resume: { store: slow, ttlMs: 60_000 },
    });
    return { late, created: () => created };
  };

  /** A raw WebSocket to `gateway`'s chat route, its messages parsed as they come. */
  const rawSocket = async (gateway: Gateway) => {
    const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`);
    const messages: { type: string; id?: string; streamId?: string; chunk?: Chunk; error?: unknown }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return { socket, messages, send: (m: object) => socket.send(JSON.stringify(m)) };
  };

  it('an id used the moment it came, before the store had it (a slow shared store): stop and resume still find it', async () => {
    const { late, created } = await lateStoreGateway();
    try {
      upstream.enqueue({ text: 'q'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the stop
      const url = `${late.url}/v1/chat/completions`;
      const first = await readSse(url, { body: body(), stopAfter: 1 });
      const id = first.headers.get('x-rxllm-stream-id')!;
      expect(created()).toBe(0);
      const [replay, stop] = await Promise.all([
        readSse(`${url}/${id}/stream`),
        fetch(`${url}/${id}/stop`, { method: 'POST' }),
      ]);
      expect(stop.status).toBe(202);
      expect(replay.status).toBe(200);
      expect(JSON.parse(replay.events.at(-1)!.data).error.type).toBe('RequestAbortedError');
      await upstream.waitForRequestClose(1);
      expect(upstream.stats.abortedRequests).toBe(1);
    } finally {
      await late.close(0);
    }
  });

  it('WebSocket: a stop sent the moment the stream id came stops the generation, though the store did not have it yet', async () => {
    const { late, created } = await lateStoreGateway();
    const { socket, messages, send } = await rawSocket(late);
    try {
      upstream.enqueue({ text: 's'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the stop
      send({ type: 'request', id: 'r1', body: body() });
      await until(() => messages.some((m) => m.type === 'stream'));
      send({ type: 'stop', id: 'r1' });
      expect(created()).toBe(0);
      // Stopped, not left running for its 60 s keep-alive.
      await until(() => upstream.stats.abortedRequests === 1, 5_000);
      expect(upstream.stats.abortedRequests).toBe(1);
      expect(messages.filter((m) => m.type === 'error')).toEqual([]);
    } finally {
      socket.close();
      await late.close(0);
    }
  });

  it('WebSocket: a resume sent the moment the stream id came, on another socket, finds the stream', async () => {
    const { late, created } = await lateStoreGateway();
    const first = await rawSocket(late);
    const second = await rawSocket(late);
    try {
      upstream.enqueue({ text: 'abcdefghij', chunkSize: 1, chunkDelayMs: 20 });
      first.send({ type: 'request', id: 'r1', body: body() });
      await until(() => first.messages.some((m) => m.type === 'stream'));
      const { streamId } = first.messages.find((m) => m.type === 'stream')!;
      second.send({ type: 'resume', id: 'again', streamId, after: 0 });
      expect(created()).toBe(0);
      await until(() => second.messages.some((m) => m.type === 'done' || m.type === 'error'));
      expect(second.messages.filter((m) => m.type === 'error')).toEqual([]);
      const text = second.messages.map((m) => m.chunk?.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('abcdefghij');
    } finally {
      first.socket.close();
      second.socket.close();
      await late.close(0);
    }
  });

  it('holds 12 streams at once without a MaxListenersExceededWarning (one stop listener per stream)', async () => {
    const run = runTsHelper('concurrentStreams.ts', ['12']);
    expect(run.stdout.trim().split('\n')).toEqual(['done 12']);
    expect(run.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('with resume off (--no-resume), sends no stream id and no event ids, and a client that leaves aborts', async () => {
    const plain = await gatewayWith(false);
    try {
      upstream.enqueue({ text: 'abc' }, { text: 'x'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
      const answer = await readSse(`${plain.url}/v1/chat/completions`, { body: body() });
      expect(answer.headers.get('x-rxllm-stream-id')).toBeNull();
      expect(answer.events.every((e) => e.id === undefined)).toBe(true);
      expect((await readSse(`${plain.url}/v1/chat/completions/x/stream`)).status).toBe(404);
      await readSse(`${plain.url}/v1/chat/completions`, { body: body(), stopAfter: 3 });
      await upstream.waitForRequestClose(2);
      expect(upstream.stats.abortedRequests).toBe(1);
    } finally {
      await plain.close(0);
    }
  });

  it('closing the gateway stops the generations its clients left', async () => {
    const closing = await gatewayWith({ ttlMs: 60_000 });
    upstream.enqueue({ text: 'x'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s
    await readSse(`${closing.url}/v1/chat/completions`, { body: body(), stopAfter: 3 });
    await closing.close(0);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
  });

  it('a served generation left by its client goes on for at least 60 s, and at least ttlMs', () => {
    expect(servedResumable({}).keepAliveMs).toBe(600_000);
    expect(servedResumable({ ttlMs: 5_000 })).toMatchObject({ ttlMs: 5_000, keepAliveMs: 60_000 });
    expect(servedResumable({ ttlMs: 5_000, keepAliveMs: 100 }).keepAliveMs).toBe(100);
  });

  it('stops a generation nobody came back to after keepAliveMs', async () => {
    const short = await gatewayWith({ ttlMs: 300, keepAliveMs: 300 });
    try {
      upstream.enqueue({ text: 'x'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
      await readSse(`${short.url}/v1/chat/completions`, { body: body(), stopAfter: 3 });
      await until(() => upstream.stats.abortedRequests === 1);
      expect(upstream.stats.abortedRequests).toBe(1);
    } finally {
      await short.close(0);
    }
  });

  it.each(['fetchSse', 'fromWebSocket'])(
    '%s: unsubscribing stops the resumable answer on the gateway (the upstream is aborted); stopOnUnsubscribe: false leaves it running',
    async (client) => {
      const open = (stopOnUnsubscribe?: boolean) =>
        client === 'fetchSse'
          ? fetchSse(completions, { body: body(), stopOnUnsubscribe })
          : fromWebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, body(), {
              WebSocket: WebSocket as never,
              stopOnUnsubscribe,
            });
      upstream.enqueue(
        { text: 'q'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }, // 30 s: only a stop ends it soon
        { text: 'r'.repeat(60), chunkSize: 1, chunkDelayMs: 5 },
      );
      await firstValueFrom(open().pipe(take(2)));
      await upstream.waitForRequestClose(1);
      expect(upstream.stats.abortedRequests).toBe(1);
      await firstValueFrom(open(false).pipe(take(2)));
      await upstream.waitForRequestClose(2);
      // Left to run: it ended by itself, not aborted.
      expect(upstream.stats.abortedRequests).toBe(1);
      expect(upstream.stats.requests).toBe(2);
    },
  );

  it('fromWebSocket: a socket cut mid-answer is replaced by one that resumes; one stream, one upstream call', async () => {
    const text = 'Wëbsocket ✓ '.repeat(20);
    upstream.enqueue({ text, chunkSize: 3, chunkDelayMs: 2 });
    let opened = 0;
    const sent: string[] = [];
    /** `ws`'s WebSocket whose first connection is killed (TCP reset, no close frame) after 5 messages. */
    class CuttingSocket extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        const n = ++opened;
        let messages = 0;
        this.on('message', () => {
          if (n === 1 && ++messages === 5) this.terminate();
        });
        const send = this.send.bind(this);
        this.send = ((data: string) => {
          sent.push(data);
          send(data);
        }) as typeof this.send;
      }
    }
    let streamId = '';
    const chunks = await lastValueFrom(
      fromWebSocket(`${gateway.url.replace('http', 'ws')}/v1/chat/ws`, body(), {
        WebSocket: CuttingSocket as unknown as new (url: string, protocols?: string[]) => WebSocketLike,
        reconnect: { initialDelayMs: 5 },
        onStreamId: (id) => (streamId = id),
      }).pipe(toArray()),
    );
    expect(opened).toBe(2);
    // Cut after the 'stream' message and a few chunks (those already read off the socket are kept):
    // the new socket resumes after the last one received, and the whole answer is each chunk once.
    const resumed = JSON.parse(sent[1]) as { type: string; streamId: string; after: number };
    expect(resumed).toMatchObject({ type: 'resume', streamId });
    expect(resumed.after).toBeGreaterThanOrEqual(4);
    expect(resumed.after).toBeLessThan(20);
    expect(chunks.map((c: Chunk) => c.choices[0]?.delta.content ?? '').join('')).toBe(text);
    const stored = await readSse(`${completions}/${streamId}/stream`);
    expect(chunks.map((c) => JSON.stringify(c))).toEqual(
      stored.events.filter((e) => e.data !== '[DONE]').map((e) => e.data),
    );
    expect(upstream.stats.requests).toBe(1);
    expect(upstream.stats.abortedRequests).toBe(0);
  });
});
