/** Builds small SSE streams by hand for the quirk tests (our own bytes, not recordings). */
export function chunkJson(delta: object, finish: string | null = null, extra: object = {}): string {
  return JSON.stringify({
    id: 'chatcmpl-own',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'own-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...extra,
  });
}

export function sse(events: string[], eol = '\n'): string {
  return events.map((e) => `data: ${e}${eol}${eol}`).join('');
}

export const USAGE_EVENT = JSON.stringify({
  id: 'chatcmpl-own',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'own-model',
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
});
