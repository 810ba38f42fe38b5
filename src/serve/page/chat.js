// The gateway's chat page: plain JS, no build step. rxllm/browser comes from the gateway itself
// (/rxllm-browser.js), so SSE and WebSocket give the same Observable<Chunk> and one renderer.
/* global document, Option, location, window */
import { bearerProtocol, fetchSse, fromWebSocket } from './rxllm-browser.js';
import { forget, pending, remember, resumed, stopRemote } from './resume.js';

const $ = (id) => document.getElementById(id);
let subscription = null;
/** The stream id of the answer in progress: Stop aborts it on the gateway too. */
let streamId = null;

const token = () => $('token').value.trim();
const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});
const oneLine = (error) =>
  `${error && error.name ? error.name : 'Error'}: ${String(error && error.message ? error.message : error).split('\n')[0]}`;

function setStatus(text) {
  $('status').textContent = text;
  $('send').disabled = text === 'streaming';
  $('stop').disabled = text !== 'streaming';
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
    $('model').replaceChildren(...json.data.map((m) => new Option(m.id, m.id)));
  } catch (error) {
    $('error').textContent = oneLine(error);
  }
}

function clear() {
  for (const id of ['reasoning', 'answer', 'error']) $(id).textContent = '';
  for (const id of ['finish', 'usage', 'ttft']) $(id).textContent = '-';
}

function send() {
  stop('idle');
  clear();
  const body = {
    model: $('model').value,
    messages: [{ role: 'user', content: $('prompt').value }],
    stream: true,
    stream_options: { include_usage: true },
  };
  const started = performance.now();
  const chunks =
    $('transport').value === 'ws'
      ? fromWebSocket(new URL('./v1/chat/ws', location.href.replace(/^http/, 'ws')).href, body, {
          protocols: token() ? bearerProtocol(token()) : undefined,
          onStreamId: (id) => remember((streamId = id), body.messages[0].content),
        })
      : fetchSse('./v1/chat/completions', {
          body,
          headers: authHeaders(),
          onStreamId: (id) => remember((streamId = id), body.messages[0].content),
        });
  show(chunks, started);
}

function show(chunks, started) {
  let first = true;
  setStatus('streaming');
  subscription = chunks.subscribe({
    next(chunk) {
      if (first) {
        first = false;
        $('ttft').textContent = `${Math.round(performance.now() - started)} ms`;
      }
      if (chunk.reset) {
        $('reasoning').textContent = '';
        $('answer').textContent = '';
      }
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        if (choice.delta.reasoning) $('reasoning').textContent += choice.delta.reasoning;
        if (choice.delta.content) $('answer').textContent += choice.delta.content;
        if (choice.delta.refusal) $('answer').textContent += choice.delta.refusal;
        if (choice.finish_reason) $('finish').textContent = choice.finish_reason;
      }
      if (chunk.usage) {
        const u = chunk.usage;
        $('usage').textContent =
          `${u.prompt_tokens} prompt + ${u.completion_tokens} completion = ${u.total_tokens} tokens`;
      }
    },
    error(error) {
      $('error').textContent = oneLine(error);
      subscription = null;
      forget();
      setStatus('failed');
    },
    complete() {
      subscription = null;
      forget();
      setStatus('done');
    },
  });
}

function stop(status = 'stopped') {
  // Stop, or Send again: that answer is given up, so the gateway stops generating it.
  if (status !== 'left' && subscription && streamId) {
    void stopRemote(streamId, authHeaders());
    forget();
  }
  streamId = null;
  if (subscription) {
    // Unsubscribing drops the connection; a resumable answer goes on on the gateway (for a reload),
    // which is why Stop asked the gateway to stop it above.
    subscription.unsubscribe();
    subscription = null;
  }
  setStatus(status);
}

$('send').addEventListener('click', send);
$('stop').addEventListener('click', () => stop());
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
});
$('token').addEventListener('change', loadModels);
// Leaving (or reloading) is not Stop: the gateway goes on with a resumable answer for the reload.
window.addEventListener('pagehide', () => stop('left'));
loadModels();
const interrupted = pending();
if (interrupted) {
  $('prompt').value = interrupted.prompt;
  streamId = interrupted.streamId;
  show(resumed(interrupted.streamId, authHeaders()), performance.now());
}
