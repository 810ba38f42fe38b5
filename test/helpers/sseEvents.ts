/** Raw SSE events of a response (ids included), read with fetch + eventsource-parser, for wire tests. */
import { createParser } from 'eventsource-parser';

export interface RawEvent {
  id?: string;
  data: string;
}

export interface RawSse {
  status: number;
  headers: Headers;
  events: RawEvent[];
  /** The response body when it was not a stream (an error JSON). */
  body?: unknown;
}

/**
 * Requests `url` and collects its events; with `stopAfter`, aborts (drops the connection) once that
 * many events arrived.
 */
export async function readSse(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; stopAfter?: number } = {},
): Promise<RawSse> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: controller.signal,
  });
  const events: RawEvent[] = [];
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return { status: response.status, headers: response.headers, events, body: await response.json() };
  }
  const parser = createParser({ onEvent: (e) => events.push({ id: e.id, data: e.data }) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (init.stopAfter !== undefined && events.length >= init.stopAfter) {
        controller.abort();
        events.length = init.stopAfter;
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return { status: response.status, headers: response.headers, events };
}
