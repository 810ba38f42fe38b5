/**
 * A raw replay server on 127.0.0.1: answers every request, whatever the path (each provider has its
 * own), with queued bytes written in separate packets, and records what it received. The mock server
 * from rxllm/testing routes only the OpenAI paths.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitBytes, type SplitOptions } from '../../src/testing';

export interface ReplayResponse {
  /** @defaultValue 200 */
  status?: number;
  /** @defaultValue `{ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }` */
  headers?: Record<string, string>;
  /** The body, written piece by piece. */
  pieces: Buffer[];
  /** Leave the response open after the pieces (for unsubscribe tests). */
  hang?: boolean;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Raw body text. */
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  body: any;
}

export class ReplayServer {
  private readonly queue: ReplayResponse[] = [];
  private server!: Server;
  /** `http://127.0.0.1:<port>` + the base path */
  url = '';
  readonly requests: ReceivedRequest[] = [];
  /** Responses whose connection closed before the server ended them (the client went away). */
  aborted = 0;

  /** @param basePath the path `url` ends with (each provider versions its API its own way). */
  constructor(private readonly basePath = '/v1') {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', async () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        this.requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          text,
          body,
        });
        const response = this.queue.shift() ?? { pieces: [] };
        res.on('close', () => {
          if (!res.writableEnded) this.aborted++;
        });
        res.writeHead(
          response.status ?? 200,
          response.headers ?? { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
        );
        for (const piece of response.pieces) {
          if (res.destroyed) return;
          res.write(piece);
          // Let each piece leave as its own packet.
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (!response.hang) res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.basePath}`;
  }

  /** Queues a 200 SSE answer: `bytes` split at seeded-random (or given) offsets. */
  enqueue(bytes: Buffer | string, split: SplitOptions['randomSplits'] | SplitOptions = {}): void {
    const options: SplitOptions = split && 'seed' in split ? { randomSplits: split } : (split ?? {});
    this.queue.push({ pieces: splitBytes(bytes, options) });
  }

  /** Queues any answer (an error status, a JSON body). */
  enqueueResponse(response: ReplayResponse): void {
    this.queue.push(response);
  }

  /** Forgets queued answers and received requests. */
  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
    this.aborted = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
