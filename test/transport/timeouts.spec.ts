import { ConnectionError, StreamCutError, stream, TimeoutError } from '../../src';
import type { Dispatcher } from 'undici';
import { mapTransportError, TRANSPORT_TIMEOUT_DEFAULTS } from '../../src/transport/http';
import { createMockServer, type MockServer } from '../../src/testing';
import { collect, REQUEST, summarize } from '../helpers/collect';

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

// undici checks these limits on a coarse clock (about 1 s), so a 150 ms limit fires within ~1 s.
describe('transport timeouts', () => {
  it('fires the headers timeout when the server sends nothing, and aborts the request', async () => {
    server.enqueue({ stall: 'before-headers' });
    const { error } = await collect(stream(REQUEST, { baseURL: server.url, timeouts: { headers: 150 } }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe('headers');
    expect((error as TimeoutError).ms).toBe(150);
    await server.waitForRequestClose(1);
  });

  it('fires the body timeout when the stream goes silent mid-way, keeping what arrived', async () => {
    server.enqueue({ text: 'abcdef', chunkSize: 1, stall: { afterChunks: 3 } });
    const { values, error } = await collect(
      stream(REQUEST, { baseURL: server.url, timeouts: { body: 150 } }),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe('body');
    expect(summarize(values).text).toBe('ab');
    await server.waitForRequestClose(1);
  });
});

describe('mapTransportError', () => {
  it('names the connect timeout with its configured value', () => {
    const err = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    const mapped = mapTransportError(err, false, undefined, { connect: 2500 });
    expect(mapped).toBeInstanceOf(TimeoutError);
    expect((mapped as TimeoutError).timeout).toBe('connect');
    expect((mapped as TimeoutError).ms).toBe(2500);
  });

  it('turns socket errors before a response into retryable ConnectionErrors', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const mapped = mapTransportError(err, false, undefined);
    expect(mapped).toBeInstanceOf(ConnectionError);
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toMatch(/before a response arrived \(ECONNREFUSED\)/);
  });

  it('turns any socket error after a 2xx started into one class, a retryable StreamCutError', () => {
    for (const code of ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', '']) {
      const err = Object.assign(new Error('other side closed'), { code });
      const mapped = mapTransportError(err, true, undefined);
      expect(mapped).toBeInstanceOf(StreamCutError);
      expect(mapped.retryable).toBe(true);
      expect((mapped.cause as { code?: string }).code).toBe(code);
    }
  });
});

describe('transport limits reach undici', () => {
  function capture(timeouts?: { headers?: number; body?: number }) {
    let seen: { headersTimeout?: number | null; bodyTimeout?: number | null } | undefined;
    const dispatcher = {
      dispatch(opts: { headersTimeout?: number | null; bodyTimeout?: number | null }) {
        seen = opts;
        return true;
      },
    } as unknown as Dispatcher;
    const sub = stream(REQUEST, { baseURL: 'http://127.0.0.1:9/v1', dispatcher, timeouts }).subscribe();
    sub.unsubscribe();
    return seen;
  }

  it("sends the call's limits, so undici's own 300 s defaults never fire first", () => {
    expect(capture({ headers: 900_000, body: 700_000 })).toMatchObject({
      headersTimeout: 900_000,
      bodyTimeout: 700_000,
    });
  });

  it('defaults to limits that suit reasoning models (10 min to headers, 5 min of body silence)', () => {
    expect(capture()).toMatchObject({
      headersTimeout: TRANSPORT_TIMEOUT_DEFAULTS.headers,
      bodyTimeout: TRANSPORT_TIMEOUT_DEFAULTS.body,
    });
    expect(TRANSPORT_TIMEOUT_DEFAULTS.headers).toBeGreaterThanOrEqual(600_000);
  });
});
