/**
 * The wire side of resumable streams (docs/resume.md), beside `chatCompletionsHandler`:
 *
 * - `GET /v1/chat/completions/{streamId}/stream` with `Last-Event-ID: <streamId>:<seq>` (or
 *   `?last_event_id=`, which `EventSource` cannot set as a header on its first request) replays the
 *   events after it, then follows the generation live; without one it replays from the start.
 * - `POST /v1/chat/completions/{streamId}/stop` → 202: the generation is aborted wherever it runs.
 *
 * An unknown or expired id is a 404 in OpenAI's error shape, before any SSE header. An id not in the
 * store is asked again for up to `RESUME_DEFAULTS.newStreamWaitMs` (1 s) first: a client may use the id the moment
 * it has it (a Stop button), sent to another gateway instance before the store write of the one that
 * runs the answer has landed (a shared Redis under load).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { map } from 'rxjs';
import { whenStored } from '../resume/newStream';
import { defaultResumeStore, resumeEvents, stop } from '../resume/replay';
import { ResumableStreamError } from '../errors';
import { RESUME_DEFAULTS, seqOf, type ResumeStore } from '../resume/store';
import { logDetail, sendJsonError, type AccessLogEntry } from './chatCompletions';
import { STREAM_ID_HEADER, type ResumeServeOptions } from './resumeOptions';
import { sendSse, type SendSseConfig } from './sseServer';

const ROUTE = /^\/v1\/chat\/completions\/([A-Za-z0-9_-]{1,128})\/(stream|stop)$/;

/** `{ streamId, action }` when `path` is one of the resume routes. */
export function matchResumeRoute(path: string): { streamId: string; action: 'stream' | 'stop' } | undefined {
  const m = ROUTE.exec(path);
  return m ? { streamId: m[1], action: m[2] as 'stream' | 'stop' } : undefined;
}

/**
 * Whether the store has stream `streamId` (events after `after`), asked again for up to
 * `RESUME_DEFAULTS.newStreamWaitMs` while it has not; `gone()` ends the wait early (the client left).
 */
export function streamKnown(
  store: ResumeStore,
  streamId: string,
  after: number,
  gone: () => boolean = () => false,
): Promise<boolean> {
  return whenStored(
    async () => (await store.read(streamId, after, { waitMs: 1 })) !== undefined,
    RESUME_DEFAULTS.newStreamWaitMs,
    gone,
  );
}

/**
 * A `(req, res)` handler for the two resume routes; resolves `undefined` (and touches nothing) for
 * any other path, so it can sit in front of other routes.
 *
 * @example
 * import http from 'node:http';
 * import { chatCompletionsHandler, resumeHandler } from 'rxllm';
 * const chat = chatCompletionsHandler({ resolveModel: () => 'mock/echo' });
 * const resumed = resumeHandler();
 * const server = http.createServer(async (req, res) => {
 *   if (!(await resumed(req, res))) await chat(req, res);
 * });
 * server.listen(0, '127.0.0.1', () => server.close());
 */
export function resumeHandler(
  options: ResumeServeOptions & { sse?: SendSseConfig; onLog?: (entry: AccessLogEntry) => void } = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<AccessLogEntry | undefined> {
  return async (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const route = matchResumeRoute(path);
    if (!route) return undefined;
    const store = options.store ?? defaultResumeStore();
    const started = performance.now();
    const entry: AccessLogEntry = {
      method: req.method ?? '-',
      path,
      status: 200,
      totalMs: 0,
      outcome: 'complete',
    };
    const done = () => {
      entry.totalMs = performance.now() - started;
      options.onLog?.(entry);
      return entry;
    };
    const refuse = (status: number, message: string, code: string | null = null) => {
      entry.status = status;
      entry.outcome = 'refused';
      sendJsonError(res, status, 'invalid_request_error', message, code);
      return done();
    };
    const notFound = () =>
      refuse(404, `No resumable stream ${route.streamId}: it never existed or expired.`, 'stream_not_found');
    req.resume();
    const method = route.action === 'stop' ? 'POST' : 'GET';
    if (req.method !== method) return refuse(405, `Method ${req.method} is not allowed here (${method}).`);
    try {
      if (route.action === 'stop') {
        // `stop` waits for an id the store does not have yet, then rejects with `not-found`.
        const missing = await stop(store, route.streamId).then(
          () => false,
          (error: unknown) => {
            if (error instanceof ResumableStreamError && error.reason === 'not-found') return true;
            throw error;
          },
        );
        if (missing) return notFound();
        entry.status = 202;
        const body = JSON.stringify({ id: route.streamId, object: 'chat.completion.stop', stopping: true });
        res.writeHead(202, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(body.length),
        });
        res.end(body);
        return done();
      }
      const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
      const header = req.headers['last-event-id'];
      const lastId = (Array.isArray(header) ? header[0] : header) ?? query.get('last_event_id') ?? undefined;
      let after: number;
      try {
        after = seqOf(route.streamId, lastId);
      } catch (error) {
        return refuse(400, (error as Error).message);
      }
      // Known? Asked before any SSE header, so an unknown id is a plain 404.
      if (!(await streamKnown(store, route.streamId, after, () => res.destroyed))) return notFound();
      const events = resumeEvents(store, route.streamId, {
        fromEventId: after,
        waitMs: RESUME_DEFAULTS.waitMs,
      });
      const result = await sendSse(res, events.pipe(map((e) => e.chunk)), {
        ...options.sse,
        headers: { ...options.sse?.headers, [STREAM_ID_HEADER]: route.streamId },
        eventIds: { streamId: route.streamId, firstSeq: after + 1 },
      });
      entry.outcome =
        result.end === 'error' ? `error:${(result.error as Error)?.name ?? 'Error'}` : result.end;
      if (result.end === 'error') entry.error = logDetail(result.error);
      return done();
    } catch (error) {
      // The store failed (Redis down): nothing was sent yet.
      entry.error = logDetail(error);
      if (res.headersSent) {
        res.end();
        return done();
      }
      entry.status = 503;
      entry.outcome = `error:${(error as Error)?.name ?? 'Error'}`;
      sendJsonError(res, 503, 'server_error', 'The resume store is not available; retry shortly.');
      return done();
    }
  };
}
