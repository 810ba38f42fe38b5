/**
 * sendSse writes the frames of one event-loop turn in one socket write: the chunks parsed from one
 * upstream read arrive in one turn, and a write per frame (a syscall each) was most of the
 * gateway's CPU per stream beyond a raw pass-through proxy (bench/gateway.js, BENCHMARKS.md).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { of, Subject } from 'rxjs';
import { sendSse, type Chunk } from '../../src';
import { scriptToChunks } from '../../src/testing';

/** A response that records what sendSse does to it, in order. */
function recordingResponse() {
  const ops: string[] = [];
  let corks = 0;
  const res = {
    writableLength: 0,
    writeHead: () => ops.push('head'),
    write: (text: string) => {
      ops.push(corks > 0 ? `write(corked) ${text.slice(0, 12)}` : `write ${text.slice(0, 12)}`);
      return true;
    },
    end: () => ops.push('end'),
    on: () => undefined,
    cork: () => {
      corks++;
      ops.push('cork');
    },
    uncork: () => {
      corks--;
      ops.push('uncork');
    },
  };
  return { res, ops, corked: () => corks };
}

const tick = () => new Promise((r) => process.nextTick(r));

describe('sendSse corks the frames of one turn', () => {
  it('sends chunks that arrive in one turn in one corked write, and ends before it uncorks', async () => {
    const { res, ops, corked } = recordingResponse();
    const chunks = scriptToChunks({ text: 'one two three', chunkSize: 4 });
    expect(chunks.length).toBeGreaterThan(2);
    const result = await sendSse(res, of(...chunks), { heartbeatMs: 0 });
    expect(result).toEqual({ end: 'complete', chunks: chunks.length });
    expect(ops[0]).toBe('head');
    expect(ops[1]).toBe('cork');
    expect(ops.slice(2, 2 + chunks.length + 1).every((op) => op.startsWith('write(corked) data: '))).toBe(
      true,
    );
    // Ended while corked: Node's `end` flushes the frames and the response's last chunk in one write.
    expect(ops.slice(-2)).toEqual(['end', 'uncork']);
    await tick();
    expect(corked()).toBe(0);
    expect(ops.filter((op) => op === 'cork')).toHaveLength(1);
  });

  it('uncorks after each turn, so a chunk is sent before the next one is awaited', async () => {
    const { res, ops, corked } = recordingResponse();
    const source = new Subject<Chunk>();
    const [a, b, c] = scriptToChunks({ text: 'aaaa bbbb cccc', chunkSize: 5 });
    const done = sendSse(res, source, { heartbeatMs: 0 });
    source.next(a);
    source.next(b);
    expect(corked()).toBe(1);
    await tick();
    expect(corked()).toBe(0);
    source.next(c);
    await tick();
    expect(corked()).toBe(0);
    source.complete();
    await done;
    expect(ops.filter((op) => op === 'cork')).toHaveLength(2);
    // a and b in the first corked turn, c in the second, [DONE] outside any cork.
    expect(ops.slice(1)).toEqual([
      'cork',
      expect.stringMatching(/^write\(corked\) data: /),
      expect.stringMatching(/^write\(corked\) data: /),
      'uncork',
      'cork',
      expect.stringMatching(/^write\(corked\) data: /),
      'uncork',
      'write data: [DONE]',
      'end',
    ]);
  });

  it('over real HTTP, the frames of one turn, [DONE] and the end of the response leave in one socket write', async () => {
    const chunks = scriptToChunks({ text: 'one two three four', chunkSize: 4 });
    const writes: number[] = [];
    const server = http.createServer((_req, res) => {
      // Every socket write (a syscall) goes through one of these two.
      const socket = res.socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
      for (const name of ['_write', '_writev'] as const) {
        const original = socket[name].bind(socket);
        socket[name] = (...args: unknown[]) => {
          writes.push(name === '_writev' ? (args[0] as unknown[]).length : 1);
          return original(...args);
        };
      }
      void sendSse(res, of(...chunks), { heartbeatMs: 0 });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const text = await new Promise<string>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
      expect(text.split('\n\n').filter(Boolean)).toHaveLength(chunks.length + 1);
      // The head (sent at once), then everything else together. Uncorking before the end sent the
      // response's terminating chunk in a write of its own (Node corks a lone write itself, but not
      // while the response is corked already).
      expect(writes).toHaveLength(2);
      expect(writes[1]).toBeGreaterThan(chunks.length);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('over real HTTP, every frame arrives and the socket is left uncorked for the next request', async () => {
    const chunks = scriptToChunks({ text: 'Hello, 世界! '.repeat(20), chunkSize: 3 });
    const server = http.createServer((_req, res) => void sendSse(res, of(...chunks), { heartbeatMs: 0 }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = () =>
        new Promise<string>((resolve, reject) => {
          http
            .get({ port, host: '127.0.0.1', agent }, (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (text += d));
              res.on('end', () => resolve(text));
            })
            .on('error', reject);
        });
      // Two requests on one keep-alive socket: the second would hang on a socket left corked.
      for (let i = 0; i < 2; i++) {
        const text = await get();
        const frames = text.split('\n\n').filter(Boolean);
        expect(frames).toHaveLength(chunks.length + 1);
        expect(frames.at(-1)).toBe('data: [DONE]');
        expect(frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)))).toEqual(
          JSON.parse(JSON.stringify(chunks)),
        );
      }
    } finally {
      agent.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
