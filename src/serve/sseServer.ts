/**
 * SSE out: a chunk stream written to a Node `http` / Express response, or shaped for NestJS `@Sse()`.
 *
 * The wire format is OpenAI's (`data: {chunk}` … `data: [DONE]`), so any OpenAI-compatible client —
 * `fetchSse` below, the official SDKs, rxllm itself with `compat/…` — can read it. A failure is sent
 * as an in-band `data: {"error": {...}}` event (message already scrubbed of secrets). A client that
 * disconnects unsubscribes the upstream, which aborts the provider request.
 */
import { map, Observable, Subscription } from 'rxjs';
import type { Chunk } from '../chunk';
import { ApiError, LlmError } from '../errors';
import { redactSecrets } from '../redact';

/** The minimal response surface used (Node `ServerResponse`, Express `Response`). */
export interface SseResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  on(event: 'close', listener: () => void): unknown;
  off?(event: 'close', listener: () => void): unknown;
  readonly writableEnded?: boolean;
  flushHeaders?(): void;
}

export interface SendSseConfig {
  /** Milliseconds between `: ping` comments that keep proxies from closing an idle stream; 0 = none. @defaultValue 15_000 */
  heartbeatMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** Defaults of {@link sendSse}. */
export const SEND_SSE_DEFAULTS = { heartbeatMs: 15_000 } as const satisfies SendSseConfig;

/** The JSON body of the in-band error event sent for `error`: OpenAI's error shape, no stack, no secrets. */
export function errorEvent(error: unknown): {
  error: { message: string; type: string; code: string | null };
} {
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  const type = error instanceof LlmError ? error.name : 'Error';
  const code = error instanceof ApiError ? String(error.status) : null;
  return { error: { message, type, code } };
}

/**
 * Streams `chunks` to `res` as SSE and resolves when the response ended (completed, failed, or the
 * client went away — then the upstream is unsubscribed, which aborts the provider request).
 *
 * @example
 * // doc-test: typecheck-only
 * import http from 'node:http';
 * import { stream, sendSse } from 'rxllm';
 * http.createServer((req, res) => {
 *   void sendSse(res, stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }));
 * }).listen(3000);
 */
export function sendSse(
  res: SseResponseLike,
  chunks: Observable<Chunk>,
  config: SendSseConfig = {},
): Promise<void> {
  const { heartbeatMs, headers } = { ...SEND_SSE_DEFAULTS, ...config };
  if (!(heartbeatMs >= 0)) throw new TypeError('sendSse: heartbeatMs must be >= 0');
  return new Promise<void>((resolve) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders?.();
    // A container, so a source that ends synchronously inside subscribe() is still torn down.
    const subscription = new Subscription();
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (heartbeat) clearInterval(heartbeat);
      res.off?.('close', onClose);
      subscription.unsubscribe();
      if (!res.writableEnded) res.end();
      resolve();
    };
    const onClose = () => finish();
    res.on('close', onClose);
    if (heartbeatMs > 0) heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
    subscription.add(
      chunks.subscribe({
        next: (chunk) => {
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        },
        error: (error: unknown) => {
          res.write(`data: ${JSON.stringify(errorEvent(error))}\n\n`);
          finish();
        },
        complete: () => {
          res.write('data: [DONE]\n\n');
          finish();
        },
      }),
    );
  });
}

/** What NestJS `@Sse()` handlers return (its `MessageEvent`). */
export interface SseMessageEvent {
  data: string | object;
  type?: string;
  id?: string;
  retry?: number;
}

/**
 * Shapes a chunk stream for NestJS `@Sse()`: each chunk becomes `{ data: chunk }`. NestJS
 * unsubscribes when the client disconnects, which aborts the provider request. Errors still error
 * the observable (NestJS sends them as an `error` event); end-of-stream is the connection closing.
 *
 * ```
 * source: --a--b--|
 * result: --A--B--|     A = { data: a }
 * ```
 *
 * @example
 * import { Controller, Sse, Query } from '@nestjs/common';
 * import { stream, toSseEvents } from 'rxllm';
 * @Controller('chat')
 * export class ChatController {
 *   @Sse('stream')
 *   chat(@Query('q') q: string) {
 *     return stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: q }] }).pipe(toSseEvents());
 *   }
 * }
 */
export function toSseEvents(): (source: Observable<Chunk>) => Observable<SseMessageEvent> {
  return (source) => source.pipe(map((chunk): SseMessageEvent => ({ data: chunk })));
}
