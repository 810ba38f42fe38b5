import { Injectable } from '@angular/core';
import type { Observable } from 'rxjs';
import { fetchSse, type Chunk } from 'rxllm/browser';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Streams a chat from a backend that serves rxllm's SSE (`sendSse` / `toSseEvents`, or any
 * OpenAI-compatible `/chat/completions` with `stream: true`). The API key stays on the server.
 */
@Injectable({ providedIn: 'root' })
export class ChatService {
  /** Where the backend listens; `ng serve` proxies /api to 127.0.0.1:3000 (proxy.conf.json). */
  url = '/api/chat';

  /** A cold stream: each subscription is one request; unsubscribing aborts the fetch. */
  chat(messages: ChatTurn[]): Observable<Chunk> {
    return fetchSse(this.url, { body: { messages } });
  }
}
