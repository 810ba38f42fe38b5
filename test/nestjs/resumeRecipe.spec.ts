/**
 * docs/resume.md's NestJS recipe, run as written: the block is taken from the page (as the docs test
 * takes it), transpiled and evaluated twice, giving two NestJS apps (two instances behind a load
 * balancer) on one real redis-server, each with its own Redis connections. The module's client calls a
 * mock upstream on 127.0.0.1 (OPENAI_BASE_URL), where a dropped or aborted request is counted.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, Type } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ioredis from 'ioredis';
import { lastValueFrom, take, tap, toArray } from 'rxjs';
import { fetchSse } from 'rxllm/browser';
import { ResumableStreamError, type Chunk } from 'rxllm';
import { createMockServer, type MockServer } from 'rxllm/testing';
import { collect } from '../helpers/collect';
import { markdownSnippets, ROOT, transpile, type Snippet } from '../helpers/docSnippets';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redisServer';
import { readSse, type RawEvent } from '../helpers/sseEvents';

const PAGE = 'docs/resume.md';
const HEADING = "## NestJS: resumption with the module's client and a Redis store";

/** The first ```ts block after the recipe's heading, as the docs test extracts it. */
function recipe(): Snippet {
  const lines = readFileSync(join(ROOT, PAGE), 'utf8').split('\n');
  const at = lines.indexOf(HEADING) + 1;
  expect(at).toBeGreaterThan(0);
  const block = markdownSnippets(PAGE).find((s) => Number(s.name.split(':')[1]) > at);
  expect(block?.code).toContain('RxllmModule.forRoot()');
  return block!;
}

/** Every ioredis connection the recipe opens (its client and the store's duplicates), to close after. */
const connections: ioredis.Redis[] = [];
function tracked(connection: ioredis.Redis): ioredis.Redis {
  connections.push(connection);
  const duplicate = connection.duplicate.bind(connection);
  connection.duplicate = () => tracked(duplicate());
  return connection;
}
/** What the recipe's `new Redis(url)` calls (a constructor may return another object). */
const TrackedRedis = function (url: string) {
  return tracked(new ioredis.Redis(url));
};
const load: (id: string) => unknown = require;

/** Evaluates the recipe as a module of its own (its own store and Redis client); returns its exports. */
function evaluate(code: string): { AppModule: Type<unknown> } {
  const recipeRequire = (id: string): unknown =>
    id === 'ioredis'
      ? // Not a spread: that would read every export, deprecated getters included.
        Object.create(ioredis, { Redis: { value: TrackedRedis }, default: { value: TrackedRedis } })
      : load(id);
  const mod = { exports: {} as { AppModule: Type<unknown> } };
  new Function('require', 'exports', 'module', code)(recipeRequire, mod.exports, mod);
  return mod.exports;
}

interface Instance {
  app: INestApplication;
  url: string;
  /** Requests this instance received (method and path), in order. */
  seen: string[];
  /** The socket of the latest `POST /chat`. */
  chatSocket?: Socket;
}

async function boot(AppModule: Type<unknown>): Promise<Instance> {
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const instance: Instance = {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: [],
  };
  server.on('request', (req: IncomingMessage) => {
    instance.seen.push(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url === '/chat') instance.chatSocket = req.socket;
  });
  return instance;
}

const answer = (events: RawEvent[]) =>
  events
    .filter((e) => e.data !== '[DONE]')
    .map((e) => (JSON.parse(e.data) as Chunk).choices[0]?.delta.content ?? '')
    .join('');
const ask = (content: string) => ({ model: 'fast', messages: [{ role: 'user', content }] });

const withRedis = redisAvailable() ? describe : describe.skip;

withRedis('docs/resume.md: the NestJS recipe, two app instances on one redis-server', () => {
  let redis: RedisProcess;
  let upstream: MockServer;
  let a: Instance;
  let b: Instance;
  const saved = { ...process.env };

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await createMockServer();
    // What the recipe reads: the Redis URL, and the module's default client's OpenAI settings.
    process.env.REDIS_URL = `redis://127.0.0.1:${redis.port}`;
    process.env.OPENAI_BASE_URL = upstream.url;
    process.env.OPENAI_API_KEY = 'sk-test-nest-resume';
    const code = transpile(recipe());
    a = await boot(evaluate(code).AppModule);
    b = await boot(evaluate(code).AppModule);
  });
  afterAll(async () => {
    await a?.app.close();
    await b?.app.close();
    for (const c of connections) c.disconnect();
    await upstream?.close();
    await redis?.destroy();
    for (const key of ['REDIS_URL', 'OPENAI_BASE_URL', 'OPENAI_API_KEY'])
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
  });
  beforeEach(() => upstream.reset());

  it('evaluates to two instances, each with its own Redis connections', () => {
    expect(a.url).not.toBe(b.url);
    // One client per evaluation (the stores duplicate theirs later, for blocking reads and stops).
    expect(connections).toHaveLength(2);
  });

  it('an answer started on A and cut mid-answer resumes on B from the last event id: the rest once, in order', async () => {
    const text = 'Ünïcode ✓ resumed answer. '.repeat(8);
    upstream.enqueue({ text, chunkSize: 2, chunkDelayMs: 5 }); // ~0.5 s
    const first = await readSse(`${a.url}/chat`, { body: ask('long'), stopAfter: 7 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Cut mid-answer: seven chunk events, no [DONE].
    expect(first.events.map((e) => e.data)).not.toContain('[DONE]');
    expect(first.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `${id}:${n}`));

    const rest = await readSse(`${b.url}/chat/${id}/stream`, { headers: { 'last-event-id': `${id}:7` } });
    expect(rest.status).toBe(200);
    expect(rest.events.at(-1)?.data).toBe('[DONE]');
    const all = [...first.events, ...rest.events].filter((e) => e.data !== '[DONE]');
    expect(all.map((e) => e.id)).toEqual(all.map((_, n) => `${id}:${n + 1}`));
    expect(answer(all)).toBe(text);

    // The uncut answer, replayed whole from A: the same events, byte for byte.
    const uncut = await readSse(`${a.url}/chat/${id}/stream`);
    expect(uncut.events.filter((e) => e.data !== '[DONE]')).toEqual(all);
    // One upstream call, never aborted, for the model the recipe's resolveModel picked.
    expect(upstream.stats.requests).toBe(1);
    expect(upstream.stats.abortedRequests).toBe(0);
    expect((upstream.requests[0].body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('the stop route of B aborts the upstream call running on A', async () => {
    upstream.enqueue({ text: 'w'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the stop
    const first = await readSse(`${a.url}/chat`, { body: ask('endless'), stopAfter: 3 });
    const id = first.headers.get('x-rxllm-stream-id')!;
    // The client left, the generation did not: 30 more chunks come, live, through B.
    const more = await readSse(`${b.url}/chat/${id}/stream`, {
      headers: { 'last-event-id': `${id}:3` },
      stopAfter: 30,
    });
    expect(more.events.map((e) => e.id)).toEqual(more.events.map((_, n) => `${id}:${n + 4}`));
    expect(upstream.stats.abortedRequests).toBe(0);

    const stopped = await fetch(`${b.url}/chat/${id}/stop`, { method: 'POST' });
    expect(stopped.status).toBe(202);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.requests).toBe(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    // Kept as stopped: a reader gets what was generated, then RequestAbortedError.
    const replay = await readSse(`${b.url}/chat/${id}/stream`);
    const last = JSON.parse(replay.events.at(-1)!.data) as { error: { type: string } };
    expect(last.error.type).toBe('RequestAbortedError');
    expect(replay.events.length).toBeGreaterThan(33);
  });

  it("fetchSse('/chat') reconnects to /chat/{id}/stream by itself when its connection drops", async () => {
    const text = 'reconnected by fetchSse, every chunk once. '.repeat(5);
    upstream.enqueue({ text, chunkSize: 3, chunkDelayMs: 10 }); // ~0.7 s: still running at the 5th
    let streamId = '';
    let received = 0;
    const chunks = await lastValueFrom(
      fetchSse(`${a.url}/chat`, {
        body: ask('drop me'),
        reconnect: { initialDelayMs: 5, maxDelayMs: 50 },
        onStreamId: (id) => (streamId = id),
      }).pipe(
        // The server drops the connection after the fifth chunk (the connection, not the generation).
        tap(() => ++received === 5 && a.chatSocket?.destroy()),
        toArray(),
      ),
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(text);
    expect(a.seen).toContain(`GET /chat/${streamId}/stream`);
    // Every chunk once: what the subscriber saw is the stored stream, byte for byte.
    const stored = await readSse(`${b.url}/chat/${streamId}/stream`);
    expect(chunks.map((c) => JSON.stringify(c))).toEqual(
      stored.events.filter((e) => e.data !== '[DONE]').map((e) => e.data),
    );
    expect(upstream.stats.requests).toBe(1);
  });

  it('an unsubscribed fetchSse stops the generation through the stop route', async () => {
    upstream.enqueue({ text: 'z'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 });
    let streamId = '';
    const got = await lastValueFrom(
      fetchSse(`${a.url}/chat`, { body: ask('stop me'), onStreamId: (id) => (streamId = id) }).pipe(
        take(3),
        toArray(),
      ),
    );
    expect(got).toHaveLength(3);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    expect(a.seen).toContain(`POST /chat/${streamId}/stop`);
  });

  it('an unknown id in the resume route ends as an error event, rebuilt by fetchSse as ResumableStreamError', async () => {
    const reply = await readSse(`${b.url}/chat/no-such-stream/stream`);
    expect(reply.status).toBe(200);
    const frame = JSON.parse(reply.events.at(-1)!.data) as { error: { type: string } };
    expect(frame.error.type).toBe('ResumableStreamError');
    const read = await collect(fetchSse(`${b.url}/chat/no-such-stream/stream`));
    expect(read.values).toEqual([]);
    expect(read.error).toBeInstanceOf(ResumableStreamError);
    expect((read.error as ResumableStreamError).reason).toBe('not-found');
    expect(upstream.stats.requests).toBe(0);
  });

  it('a malformed Last-Event-ID is a 400, not a 500', async () => {
    for (const last of ['abc', 'x:-1', 'x:1.5']) {
      const reply = await fetch(`${a.url}/chat/some-stream/stream`, { headers: { 'last-event-id': last } });
      expect(reply.status).toBe(400);
    }
    expect(upstream.stats.requests).toBe(0);
  });

  it('the stop route answers 404 for an unknown id', async () => {
    const reply = await fetch(`${a.url}/chat/no-such-stream/stop`, { method: 'POST' });
    expect(reply.status).toBe(404);
    expect(((await reply.json()) as { message: string }).message).toMatch(/no-such-stream/);
  });
});
