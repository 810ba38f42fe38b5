/**
 * Type tests (tsd-style): each `@ts-expect-error` line must be an error, or `npm run typecheck`
 * (run by CI, see .ci/run) fails with "Unused '@ts-expect-error' directive". The lines without it
 * must compile. Not a jest file: nothing here runs.
 */
import { fetchSse as browserFetchSse } from 'rxllm/browser';
import { complete, createClient, fetchSse, stream, type ChatRequest, type ModelName } from 'rxllm';
import type { MockChatBody, MockRequest } from 'rxllm/testing';
import type { PartialObjectUpdate } from 'rxllm/operators';

const messages: ChatRequest['messages'] = [{ role: 'user', content: 'hi' }];

// `model` is `provider/model`.
// @ts-expect-error a model without its provider prefix
stream({ model: 'gpt-4o-mini', messages });
// @ts-expect-error the same through complete()
complete({ model: 'gpt-4o-mini', messages });
// @ts-expect-error and through a client
createClient().stream({ model: 'llama3', messages });
stream({ model: 'openai/gpt-4o-mini', messages });
const fromConfig: string = 'openai/gpt-4o-mini';
// @ts-expect-error a plain string must be checked (or cast) first
stream({ model: fromConfig, messages });
stream({ model: fromConfig as ModelName, messages });

// `mock_response` is a MockScript or a string.
stream({
  model: 'mock/x',
  messages,
  // @ts-expect-error `txt` is not a MockScript field
  mock_response: { txt: 'hi' },
});
stream({
  model: 'mock/x',
  messages,
  // @ts-expect-error a number is not a script
  mock_response: 42,
});
// @ts-expect-error mock_delay_ms is a number
stream({ model: 'mock/x', messages, mock_delay_ms: '10' });
stream({
  model: 'mock/x',
  messages,
  mock_response: { text: 'hi', finishReason: 'length' },
  mock_delay_ms: 5,
});
stream({ model: 'mock/x', messages, mock_response: 'hi' });

// `MockRequest.body` is unknown until the test says what was sent.
declare const req: MockRequest;
// @ts-expect-error no property access on unknown
void req.body.messages;
void (req.body as MockChatBody).messages[0].role;

// `fetchSse` sends JSON: functions, symbols and bigints do not compile.
// @ts-expect-error a function is not a JSON body
fetchSse('/api/chat', { body: () => 1 });
// @ts-expect-error the same from rxllm/browser
browserFetchSse('/api/chat', { body: Symbol('x') });
fetchSse('/api/chat', { body: { q: 'hi', history: [1, 2, 3] } });
browserFetchSse('/api/chat');

// partialObject's partials are frozen and typed read-only all the way down; the final value is not.
declare const update: PartialObjectUpdate<{ user: { name: string; tags: string[] }; n: number }>;
if (!update.done) {
  // @ts-expect-error a partial's property is read-only
  update.value.n = 1;
  // @ts-expect-error nested objects too
  update.value.user!.name = 'x';
  // @ts-expect-error nested arrays have no push
  update.value.user?.tags?.push('x');
  // @ts-expect-error nor an index to write
  update.value.user!.tags![0] = 'x';
  // Reading is fine.
  void update.value.user?.tags?.[0]?.toUpperCase();
} else {
  update.value.user.tags.push('x');
  update.value.n = 2;
}
