/**
 * The pool's sockets to one provider share one connector, as undici's own `Pool` does: a new socket
 * resumes the TLS session of one made before (no full handshake, no certificate sent and verified
 * again) instead of each socket having a connector and a session cache of its own.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { ReusePool } from '../../src/transport/pool';

const TLS_DIR = path.join(__dirname, '../fixtures/tls');
const cert = fs.readFileSync(path.join(TLS_DIR, 'localhost.crt'));
const key = fs.readFileSync(path.join(TLS_DIR, 'localhost.key'));

describe('ReusePool over TLS', () => {
  let server: https.Server;
  let url: string;
  /** `isSessionReused()` of each TLS connection the server accepted, in order. */
  let reused: boolean[];
  /** Answers held by the server until released. */
  let held: (() => void)[];

  beforeEach(async () => {
    reused = [];
    held = [];
    server = https.createServer({ key, cert }, (req, res) => {
      const answer = () => res.end('ok');
      if (req.url === '/hold') held.push(answer);
      else answer();
    });
    server.on('secureConnection', (socket: TLSSocket) => reused.push(socket.isSessionReused()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a second socket to the same origin resumes the first one’s TLS session', async () => {
    const pool = new ReusePool({ clientOptions: { connect: { ca: cert } } });
    try {
      const first = await request(`${url}/`, { dispatcher: pool });
      expect(await first.body.text()).toBe('ok');
      // The first socket is busy with a held answer: the next request opens a second socket.
      const busy = request(`${url}/hold`, { dispatcher: pool });
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      const second = await request(`${url}/`, { dispatcher: pool });
      expect(await second.body.text()).toBe('ok');
      held.forEach((answer) => answer());
      expect(await (await busy).body.text()).toBe('ok');
      expect(pool.clientCount).toBe(2);
      // Both handshakes trusted the test CA: the pool's connect options reached the shared connector.
      // Before, each socket's client built a connector with its own session cache: [false, false].
      expect(reused).toEqual([false, true]);
    } finally {
      await pool.close();
    }
  });
});
