import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, Observable, of, take, throwError, toArray } from 'rxjs';
import {
  ApiError,
  fetchSse,
  RateLimitError,
  sendSse,
  stream,
  StreamCutError,
  toSseEvents,
  type Chunk,
} from '../../src';
import { accumulateChunks } from '../../operators';
import { createMockServer, scriptToChunks, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';

let upstream: MockServer;
let app: http.Server;
let appUrl: string;
/** What the app streams for the next request. */
let source: () => Observable<Chunk>;

beforeAll(async () => {
  upstream = await createMockServer();
  app = http.createServer((req, res) => {
    req.resume();
    void sendSse(res, source(), { heartbeatMs: 0 });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/chat`;
});
afterAll(async () => {
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
  await upstream.close();
});
beforeEach(() => upstream.reset());

describe('sendSse + fetchSse', () => {
  it('relays a provider stream end to end, byte-for-byte in meaning', async () => {
    upstream.enqueue({ text: '床前明月光，疑是地上霜。', chunkSize: 2 });
    source = () => stream(REQUEST, { baseURL: upstream.url });
    const { values, completed } = await collect(fetchSse(appUrl, { body: { q: 'poem' } }));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('床前明月光，疑是地上霜。');
    expect(summarize(values).finish).toBe('stop');
  });

  it('is readable by rxllm itself as an OpenAI-compatible server', async () => {
    source = () => of(...scriptToChunks({ text: 'relayed', chunkSize: 3 }));
    const merged = await lastValueFrom(
      stream(REQUEST, { baseURL: appUrl.replace(/\/chat$/, '/v1') }).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.content).toBe('relayed');
  });

  it('sends a failure as a typed in-band error without secrets', async () => {
    const key = 'sk-relay-secret-0123456789';
    source = () =>
      new Observable<Chunk>((s) => {
        s.next(scriptToChunks({ text: 'partial' })[1]);
        s.error(new RateLimitError({ status: 429, message: `limited for ${key}` }));
      });
    const { values, error } = await collect(fetchSse(appUrl, { body: {} }));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as ApiError).message).not.toContain(key);
  });

  it('cancels the upstream provider request when the browser goes away', async () => {
    upstream.enqueue({ text: 'x'.repeat(400), chunkSize: 1, chunkDelayMs: 10 });
    source = () => stream(REQUEST, { baseURL: upstream.url });
    const { values } = await collect(fetchSse(appUrl, { body: {} }).pipe(take(5)));
    expect(values).toHaveLength(5);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
  });

  it('errors with StreamCutError when the server stream ends without [DONE]', async () => {
    const raw = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify(scriptToChunks('cut')[1])}\n\n`);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const { values, error } = await collect(fetchSse(url));
    raw.closeAllConnections();
    await new Promise((r) => raw.close(r));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(StreamCutError);
  });

  it('maps an HTTP error status of the backend to the typed error', async () => {
    const { error } = await collect(fetchSse(`${upstream.url}/nope`));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });
});

describe('toSseEvents', () => {
  it('wraps each chunk as a NestJS MessageEvent and passes errors on', async () => {
    const chunks = scriptToChunks('ab');
    const events = await lastValueFrom(of(...chunks).pipe(toSseEvents(), toArray()));
    expect(events.map((e) => e.data)).toEqual(chunks);
    const failed = await collect(throwError(() => new Error('boom')).pipe(toSseEvents()));
    expect((failed.error as Error).message).toBe('boom');
  });
});
