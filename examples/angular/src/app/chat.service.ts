import { Injectable } from '@angular/core';
import { map, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { fetchSse, type Chunk } from 'rxllm/browser';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * The OpenAI-compatible API of the rxllm gateway (`npx rxllm serve`, or `chatCompletionsHandler` in
 * your own server): `GET /v1/models` for the picker, `POST /v1/chat/completions` with `stream: true`
 * for the answer. `ng serve` proxies /v1 to it (proxy.conf.mjs); the provider keys stay there.
 */
@Injectable({ providedIn: 'root' })
export class ChatService {
  /** Where the API is, as the page sees it. */
  baseUrl = '/v1';

  /** The ids the gateway serves. Cold: each subscription is one request, unsubscribing aborts it. */
  models(): Observable<string[]> {
    return fromFetch(`${this.baseUrl}/models`, {
      selector: async (res) => {
        if (!res.ok) throw new Error(`GET ${this.baseUrl}/models answered ${res.status}`);
        return (await res.json()) as { data: { id: string }[] };
      },
    }).pipe(map((list) => list.data.map((m) => m.id)));
  }

  /** A cold stream: each subscription is one request; unsubscribing aborts the fetch. */
  chat(model: string, messages: ChatTurn[]): Observable<Chunk> {
    return fetchSse(`${this.baseUrl}/chat/completions`, { body: { model, messages, stream: true } });
  }
}
