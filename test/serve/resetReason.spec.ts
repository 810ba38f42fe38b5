/**
 * A router group with `after_first_chunk: restart` behind the gateway: the reset chunk a client gets
 * says why the answer restarted, as an error frame would, without the upstream's address (error
 * frames hide them) or a secret. Real mock servers on 127.0.0.1.
 */
import { parseGatewayConfig, startConfiguredGateway, type Gateway } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';

let first: MockServer;
let second: MockServer;
let gateway: Gateway;
beforeAll(async () => {
  [first, second] = [await createMockServer(), await createMockServer()];
  gateway = await startConfiguredGateway(
    parseGatewayConfig({
      model_list: [
        { model_name: 'main', params: { model: 'compat/first', api_base: first.url, api_key: 'sk-up-1' } },
        { model_name: 'spare', params: { model: 'compat/second', api_base: second.url, api_key: 'sk-up-2' } },
      ],
      router_settings: { fallbacks: [{ main: ['spare'] }], after_first_chunk: 'restart' },
    }),
    { port: 0, webSocket: false, log: () => undefined },
  );
});
afterAll(async () => {
  await gateway.close(0);
  await Promise.all([first.close(), second.close()]);
});

it('the reset chunk a client gets names the failure without upstream addresses or secrets', async () => {
  const inner = 'backend 10.1.2.3:8000';
  first.enqueue({
    text: 'One two three four',
    chunkSize: 4,
    inBandError: {
      afterChunks: 2,
      error: {
        message: `overloaded at ${inner} (Bearer sk-live-abcdefghijklmnop1234)`,
        type: 'server_error',
      },
    },
  });
  second.enqueue({ text: 'A fresh answer.' });
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
  });
  const body = await res.text();
  const chunks = body
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map(
      (l) =>
        JSON.parse(l.slice(6)) as { reset?: { reason: string }; choices: { delta: { content?: string } }[] },
    );
  const reset = chunks.find((c) => c.reset)?.reset;
  expect(reset?.reason).toContain('overloaded at backend [address hidden]');
  expect(body).not.toContain('10.1.2.3');
  expect(body).not.toContain('sk-live-abcdefghijklmnop1234');
  // After the reset, the spare deployment's answer, whole.
  const after = chunks.slice(chunks.findIndex((c) => c.reset) + 1);
  expect(after.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('A fresh answer.');
});
