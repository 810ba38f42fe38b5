// The gateway's chat page: plain JS, no build step. rxllm/browser comes from the gateway itself
// (/rxllm-browser.js), so SSE and WebSocket give the same Observable<Chunk> and one renderer.
// Every request carries the whole conversation (the user's turns and the answers shown), as the
// Chat Completions API is stateless. Model text is rendered by markdown.js, as DOM nodes only.
// Answers are resumable (resume.js): a reload mid-answer shows the conversation again and picks the
// answer up from the gateway, which went on generating it. Behind a gateway token, which the page
// never stores, the answer waits (pending, Send disabled) until the token is entered again.
/* global document, Option, location, window, requestAnimationFrame, cancelAnimationFrame */
import { bearerProtocol, fetchSse, fromWebSocket } from './rxllm-browser.js';
import { renderMarkdown } from './markdown.js';
import { forget, gone, needsToken, pending, remember, resumed, stopRemote } from './resume.js';

const $ = (id) => document.getElementById(id);
let subscription = null;
/** The messages sent with the next request: `{ role, content }`, oldest first. */
let conversation = [];
/** The answer being streamed: its bubble's parts and text so far. */
let turn = null;
/** The stream id of the answer in progress: Stop aborts it on the gateway too. */
let streamId = null;
/** The answer in progress (`turn`) was refused for want of the gateway token: the token resumes it. */
let waiting = false;

const NEEDS_TOKEN = 'The gateway token is needed to continue this answer: enter it above.';
const GONE = 'This answer is no longer available on the gateway.';
const TRY_AGAIN = 'The gateway could not continue this answer just now: reload the page to try again.';
const STOP_REFUSED =
  'Stopped on this page only: the gateway needs its token to stop the answer, which goes on there.';

const token = () => $('token').value.trim();
const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});
const oneLine = (error) =>
  `${error && error.name ? error.name : 'Error'}: ${String(error && error.message ? error.message : error).split('\n')[0]}`;

function setStatus(text) {
  $('status').textContent = text;
  // An answer waiting for the token is still in progress: no new question yet, but Stop gives it up.
  const busy = text === 'streaming' || text === 'needs token';
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

/** What the gateway serves besides SSE (`{ webSocket }`); the WebSocket option only when it has one. */
async function loadPageConfig() {
  try {
    const config = await (await fetch('./page.json')).json();
    if (config.webSocket && !$('transport').querySelector('option[value="ws"]')) {
      $('transport').append(new Option('WebSocket', 'ws'));
    }
    $('transport-label').hidden = !config.webSocket;
  } catch {
    // An older gateway without page.json: SSE only.
  }
}

async function loadModels() {
  $('error').textContent = '';
  try {
    const response = await fetch('./v1/models', { headers: authHeaders() });
    const json = await response.json();
    if (!response.ok)
      throw Object.assign(new Error(json.error ? json.error.message : response.statusText), {
        name: `HTTP ${response.status}`,
      });
    const chosen = $('model').value;
    $('model').replaceChildren(...json.data.map((m) => new Option(m.id, m.id)));
    if (json.data.some((m) => m.id === chosen)) $('model').value = chosen;
  } catch (error) {
    $('error').textContent = oneLine(error);
  }
}

function bubble(role) {
  const div = document.createElement('div');
  div.className = `message ${role}`;
  $('messages').append(div);
  return div;
}

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No Clipboard API (a page over plain http on another host is not a secure context).
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = 'Copied';
  window.setTimeout(() => (button.textContent = 'Copy'), 1500);
}

/** A new answer bubble. `#answer`, `#reasoning` and `#notice` always name the newest answer's parts. */
function answerBubble() {
  for (const id of ['answer', 'reasoning', 'notice']) $(id)?.removeAttribute('id');
  const div = bubble('assistant');
  const current = { div, text: '', reasoning: '', frame: 0 };
  current.reasoningEl = Object.assign(document.createElement('div'), {
    className: 'reasoning',
    id: 'reasoning',
  });
  current.content = Object.assign(document.createElement('div'), { className: 'content', id: 'answer' });
  current.notice = Object.assign(document.createElement('div'), { className: 'notice', id: 'notice' });
  const button = Object.assign(document.createElement('button'), { className: 'copy', type: 'button' });
  button.textContent = 'Copy';
  button.addEventListener('click', () => copy(current.text, button));
  const actions = Object.assign(document.createElement('div'), { className: 'actions' });
  actions.append(button);
  div.append(current.reasoningEl, current.content, current.notice, actions);
  return current;
}

/** Renders a turn's text now (markdown is re-rendered whole: a fence or `**` may close later). */
function paint(current) {
  cancelAnimationFrame(current.frame);
  current.frame = 0;
  const follow = nearBottom();
  current.reasoningEl.textContent = current.reasoning;
  current.content.replaceChildren(renderMarkdown(current.text, document));
  if (follow) window.scrollTo(0, document.body.scrollHeight);
}

/** At most one render per frame, however many chunks arrive in it. */
function schedule(current) {
  if (!current.frame) current.frame = requestAnimationFrame(() => paint(current));
}

/**
 * Ends the current turn: what was shown joins the conversation (a stopped answer too). `keep` leaves
 * the pending answer for the next reload (a failure that may pass).
 */
function finish(current, status, error, keep = false) {
  if (turn !== current) return;
  turn = null;
  subscription = null;
  streamId = null;
  waiting = false;
  if (status !== 'left' && !keep) forget();
  paint(current);
  if (current.text) conversation.push({ role: 'assistant', content: current.text });
  if (error) {
    current.div.classList.add('failed');
    $('error').textContent = oneLine(error);
  }
  setStatus(status);
}

function send() {
  const text = $('prompt').value;
  if (subscription || waiting || !text.trim()) return;
  $('error').textContent = '';
  for (const id of ['finish', 'usage', 'ttft']) $(id).textContent = '-';
  conversation.push({ role: 'user', content: text });
  bubble('user').textContent = text;
  $('prompt').value = '';
  const current = answerBubble();
  turn = current;
  window.scrollTo(0, document.body.scrollHeight);
  const body = {
    model: $('model').value,
    messages: conversation.slice(),
    stream: true,
    stream_options: { include_usage: true },
  };
  // The conversation this answer belongs to, kept with its stream id for a reload.
  const onStreamId = (id) => remember((streamId = id), body.messages);
  const chunks =
    $('transport').value === 'ws'
      ? fromWebSocket(new URL('./v1/chat/ws', location.href.replace(/^http/, 'ws')).href, body, {
          protocols: token() ? bearerProtocol(token()) : undefined,
          onStreamId,
          // Leaving or reloading keeps the answer going for the reload; Stop stops it (stopRemote).
          stopOnUnsubscribe: false,
        })
      : fetchSse('./v1/chat/completions', {
          body,
          headers: authHeaders(),
          onStreamId,
          stopOnUnsubscribe: false,
        });
  show(chunks, current, performance.now());
}

/** Streams an answer into its bubble (a new request's, or one resumed after a reload). */
function show(chunks, current, started, failed = (error) => finish(current, 'failed', error)) {
  let first = true;
  setStatus('streaming');
  const sub = chunks.subscribe({
    next(chunk) {
      if (first) {
        first = false;
        $('ttft').textContent = `${Math.round(performance.now() - started)} ms`;
      }
      if (chunk.reset) {
        current.text = '';
        current.reasoning = '';
      }
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        if (choice.delta.reasoning) current.reasoning += choice.delta.reasoning;
        if (choice.delta.content) current.text += choice.delta.content;
        if (choice.delta.refusal) current.text += choice.delta.refusal;
        if (choice.finish_reason) $('finish').textContent = choice.finish_reason;
      }
      if (chunk.usage) {
        const u = chunk.usage;
        $('usage').textContent =
          `${u.prompt_tokens} prompt + ${u.completion_tokens} completion = ${u.total_tokens} tokens`;
      }
      schedule(current);
    },
    error: failed,
    complete: () => finish(current, 'done'),
  });
  if (turn === current) subscription = sub;
}

/** The answer a reload interrupted, from its start, then live; with the token as entered now. */
function resume(current) {
  waiting = false;
  current.text = '';
  current.reasoning = '';
  current.notice.textContent = '';
  show(resumed(streamId, authHeaders()), current, performance.now(), (error) => {
    if (turn !== current) return;
    if (!needsToken(error)) {
      if (gone(error)) current.notice.textContent = GONE;
      // A failure that may pass (the gateway's store unreachable, a 502/503, the network): the
      // gateway may still have the answer, so the next reload tries again.
      else if (error?.retryable) {
        current.notice.textContent = TRY_AGAIN;
        return finish(current, 'failed', error, true);
      }
      return finish(current, 'failed', error);
    }
    // No token (a reload empties the field) or a wrong one: the answer stays pending, the gateway
    // goes on with it, and entering the token resumes it (the field's change event).
    subscription = null;
    waiting = true;
    paint(current);
    current.notice.textContent = NEEDS_TOKEN;
    setStatus('needs token');
  });
}

function stop(status = 'stopped') {
  // Leaving or reloading is not Stop: the gateway goes on with the answer, for the reload (an answer
  // waiting for the token included).
  if (!subscription && !(waiting && status !== 'left')) return;
  const current = turn;
  // Stop: that answer is given up, so the gateway stops generating it (wherever it runs). Without the
  // right token it cannot be told to: the answer is given up here all the same, and the bubble says so.
  if (status !== 'left' && streamId)
    void stopRemote(streamId, authHeaders()).then((refused) => {
      if (!refused) return;
      // "New chat" cleared the bubble away: say it where it is still seen.
      if (current.div.isConnected) current.notice.textContent = STOP_REFUSED;
      else $('error').textContent = STOP_REFUSED;
    });
  // Unsubscribing drops the connection (or stops the WebSocket request).
  subscription?.unsubscribe();
  finish(current, status);
}

function newChat() {
  stop();
  conversation = [];
  $('messages').replaceChildren();
  $('error').textContent = '';
  setStatus('idle');
}

$('send').addEventListener('click', send);
$('stop').addEventListener('click', () => stop());
$('new').addEventListener('click', newChat);
$('prompt').addEventListener('keydown', (e) => {
  // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is not a send.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
$('token').addEventListener('change', () => {
  void loadModels();
  if (waiting) resume(turn);
});
window.addEventListener('pagehide', () => stop('left'));
loadPageConfig().then(loadModels);
const interrupted = pending();
if (interrupted) {
  // The conversation as it was sent, then the answer from the gateway, replayed from its start.
  conversation = interrupted.messages.slice();
  for (const m of conversation) {
    if (m.role === 'user') bubble('user').textContent = m.content;
    else {
      const done = answerBubble();
      done.text = m.content;
      paint(done);
    }
  }
  const current = answerBubble();
  turn = current;
  streamId = interrupted.streamId;
  resume(current);
}
