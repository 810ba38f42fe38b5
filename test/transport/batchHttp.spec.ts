/**
 * The batch APIs' plain calls (`batchCall`): a long-lived signal (a batch's, polled for hours) keeps
 * no listener per call, and aborting it stops a call in flight with `RequestAbortedError`.
 */
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestAbortedError } from '../../src';
import { batchCall, batchJson } from '../../src/transport/batchHttp';

describe('batchCall', () => {
  let server: http.Server;
  let baseURL: string;
  /** Requests to /slow are held until the client leaves. */
  const held: http.ServerResponse[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/slow') return void held.push(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'batch_1', status: 'in_progress' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('leaves no abort listener on the caller signal after each call, and one while calls run', async () => {
    const batch = new AbortController();
    const endpoint = { baseURL, headers: {}, signal: batch.signal };
    for (let poll = 0; poll < 12; poll++) {
      expect(await batchJson(endpoint, { method: 'GET', path: '/batches/batch_1' })).toEqual({
        id: 'batch_1',
        status: 'in_progress',
      });
      expect(getEventListeners(batch.signal, 'abort')).toHaveLength(0);
    }
    const running = Array.from({ length: 12 }, () => batchCall(endpoint, { method: 'GET', path: '/slow' }));
    while (held.length < 12) await new Promise((r) => setTimeout(r, 5));
    expect(getEventListeners(batch.signal, 'abort')).toHaveLength(1);
    batch.abort(new Error('batch cancelled'));
    const outcomes = await Promise.allSettled(running);
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason instanceof RequestAbortedError)).toEqual(
      Array(12).fill(true),
    );
    expect(getEventListeners(batch.signal, 'abort')).toHaveLength(0);
    await expect(batchCall(endpoint, { method: 'GET', path: '/batches/batch_1' })).rejects.toBeInstanceOf(
      RequestAbortedError,
    );
  });
});
