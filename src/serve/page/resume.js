// Resumable answers on the chat page: the stream id of the answer in progress is kept in this tab's
// sessionStorage, so a reload (or a tab restored) picks the answer up from the gateway, which went
// on generating it: GET ./v1/chat/completions/{id}/stream from the start, so the page shows it all.
// Stop tells the gateway to abort the generation (POST .../stop), wherever it runs.
// The token is never kept (a secret in storage outlives the tab's need of it): after a reload, a
// gateway with a token refuses the resume (401) until the token is entered again; the answer stays
// pending meanwhile, as the gateway goes on generating it.
import { fetchSse } from './rxllm-browser.js';

const KEY = 'rxllm.pendingAnswer';
const base = (streamId) => `./v1/chat/completions/${encodeURIComponent(streamId)}`;

/** Remembers the answer in progress: its stream id and the conversation sent for it. */
export function remember(streamId, messages) {
  sessionStorage.setItem(KEY, JSON.stringify({ streamId, messages }));
}

/** The answer ended (or was stopped): nothing to resume after a reload. */
export function forget() {
  sessionStorage.removeItem(KEY);
}

/** `{ streamId, messages }` of an answer a reload interrupted, or null. */
export function pending() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return saved && typeof saved.streamId === 'string' && Array.isArray(saved.messages) ? saved : null;
  } catch {
    return null;
  }
}

/** The whole answer again, then the rest live; reconnects to the same URL with the last event id. */
export function resumed(streamId, headers) {
  return fetchSse(`${base(streamId)}/stream`, {
    headers,
    reconnect: { resumeUrl: (url) => url },
    stopOnUnsubscribe: false,
  });
}

/**
 * Asks the gateway to abort the generation; resolves whether the gateway refused the token (401), in
 * which case the generation goes on. A stream that is gone already, or no answer, is no error here.
 */
export function stopRemote(streamId, headers) {
  return fetch(`${base(streamId)}/stop`, { method: 'POST', headers }).then(
    (response) => needsToken(response),
    () => false,
  );
}

/** The gateway refused the token (none, or a wrong one): the gateway's bearer check answers 401. */
export function needsToken(failure) {
  return !!failure && failure.status === 401;
}

/** The gateway no longer has the stream: it expired, or never existed there (404 `stream_not_found`). */
export function gone(failure) {
  return !!failure && failure.status === 404;
}
