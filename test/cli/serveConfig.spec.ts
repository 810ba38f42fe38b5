/** `rxllm serve --config`: usage errors, a bad file, and a gateway serving the file's groups. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Gateway } from '../../src';
import { runServe } from '../../src/cli/serve';

function io(env: Record<string, string | undefined> = {}) {
  const err: string[] = [];
  return {
    io: { stdout: { write: () => undefined }, stderr: { write: (t: string) => err.push(t) }, env },
    err: () => err.join(''),
  };
}

describe('rxllm serve --config', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'rxllm-serve-config-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('refuses flags that do not go together (exit 2)', async () => {
    const good = file(
      'ok.json',
      JSON.stringify({ model_list: [{ model_name: 'm', params: { model: 'mock/echo' } }] }),
    );
    const both = io();
    expect(await runServe(['--config', good, '--model', 'mock/echo'], both.io)).toBe(2);
    expect(both.err()).toContain('--config lists the models; leave out --model and --base-url');
    const metrics = io();
    expect(await runServe(['--metrics'], metrics.io)).toBe(2);
    expect(metrics.err()).toContain('--metrics goes with --config');
    // Without --config, --redis holds only the resumable answers: it cannot go with --no-resume.
    const redis = io();
    expect(await runServe(['--redis', 'redis://127.0.0.1:6379', '--no-resume'], redis.io)).toBe(2);
    expect(redis.err()).toContain('--no-resume cannot go with --redis (without --config)');
  });

  it('a bad file is exit 2, naming the file and the field', async () => {
    const bad = file(
      'bad.yaml',
      'model_list:\n  - model_name: m\n    params: { model: mock/echo, api_key: os.environ/MISSING_KEY }\n',
    );
    const t = io();
    expect(await runServe(['--config', bad, '--port', '0'], t.io)).toBe(2);
    expect(t.err()).toBe(
      `rxllm serve: GatewayConfigError: ${bad}: model_list[0].params.api_key: the environment variable MISSING_KEY is not set (or empty).\n`,
    );
  });

  it('serves the groups, with the master key from the file, and says the token is required', async () => {
    const cfg = file(
      'serve.yaml',
      'model_list:\n  - { model_name: chat, params: { model: mock/echo } }\ngeneral_settings: { master_key: os.environ/MASTER }\n',
    );
    // An empty RXLLM_TOKEN (an unset variable in `--token "$RXLLM_TOKEN"`) keeps the file's master key.
    const t = io({ MASTER: 'sk-master-cli', RXLLM_TOKEN: '' });
    const stop = new AbortController();
    let gateway: Gateway | undefined;
    const exit = runServe(['--config', cfg, '--port', '0', '--metrics-open'], t.io, {
      stop: stop.signal,
      onListening: (g) => (gateway = g),
    });
    while (!gateway) await new Promise((r) => setTimeout(r, 5));
    expect(t.err()).toMatch(/^rxllm serve: chat on http:\/\/127\.0\.0\.1:\d+ .*\(token required\)/);
    expect((await fetch(`${gateway.url}/v1/models`)).status).toBe(401);
    const empty = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer ' } });
    expect(empty.status).toBe(401);
    const models = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: 'Bearer sk-master-cli' },
    });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['chat']);
    // --metrics-open: scraped without the token.
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(200);
    stop.abort();
    expect(await exit).toBe(0);
  });
});
