/**
 * `rxllm serve`: flags, the token from --token or RXLLM_TOKEN, the access log, and Ctrl-C (a real
 * SIGINT to a real process) letting an in-flight stream finish and exiting 0.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';
import { runCli } from '../src/cli/run';
import type { Gateway } from '../src';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) }, env },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('rxllm serve', () => {
  it('serves the mock model with no flags but a port, with the token from RXLLM_TOKEN, and logs each request', async () => {
    const t = io({ RXLLM_TOKEN: 'sk-test-cli-token-123456' });
    const stop = new AbortController();
    let gateway: Gateway | undefined;
    const { runServe } = await import('../src/cli/serve');
    const exit = runServe(['--port', '0'], t.io, { stop: stop.signal, onListening: (g) => (gateway = g) });
    while (!gateway) await new Promise((r) => setTimeout(r, 5));
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const sdk = new OpenAI({
      apiKey: 'sk-test-cli-token-123456',
      baseURL: `${gateway.url}/v1`,
      maxRetries: 0,
    });
    expect((await sdk.models.list()).data.map((m) => m.id)).toEqual(['mock/echo']);
    const completion = await sdk.chat.completions.create({
      model: 'mock/echo',
      messages: [{ role: 'user', content: '你好' }],
    });
    expect(completion.choices[0].message.content).toBe('Mock reply to: 你好');
    const anonymous = new OpenAI({ apiKey: 'wrong', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    await expect(anonymous.models.list()).rejects.toMatchObject({ status: 401 });
    stop.abort();
    expect(await exit).toBe(0);
    const log = t.err();
    expect(log).toContain('(token required)');
    expect(log).toMatch(
      /POST \/v1\/chat\/completions 200 model=mock\/echo ttfc=[\d.]+ms total=[\d.]+ms tokens=\d+\+\d+ cost=- complete/,
    );
    expect(log).toMatch(/GET \/v1\/models 401 /);
    expect(log).not.toContain('sk-test-cli-token');
    expect(log).not.toContain('你好');
    expect(log).toContain('rxllm serve: stopped');
  });

  it('rejects bad flags with exit code 2 and prints help', async () => {
    const bad = io();
    expect(await runCli(['serve', '--port', 'abc'], bad.io)).toBe(2);
    expect(bad.err()).toContain('--port must be a port number');
    const unknown = io();
    expect(await runCli(['serve', '--nope'], unknown.io)).toBe(2);
    // As rxllm chat: nothing starts for a model that is not provider/model, or a URL without a model.
    const model = io();
    expect(await runCli(['serve', '--port', '0', '--model', 'gpt-4o'], model.io)).toBe(2);
    expect(model.err()).toContain('--model must be provider/model, got "gpt-4o"');
    const url = io();
    expect(await runCli(['serve', '--port', '0', '-u', 'http://127.0.0.1:9/v1'], url.io)).toBe(2);
    expect(url.err()).toContain('--base-url needs --model');
    const help = io();
    expect(await runCli(['serve', '--help'], help.io)).toBe(0);
    expect(help.out()).toContain('POST /v1/chat/completions');
  });

  it('on SIGINT stops accepting, lets an in-flight stream finish, and exits 0', async () => {
    const root = path.resolve(__dirname, '..');
    const child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'src/cli/main.ts', 'serve', '--port', '0'],
      {
        cwd: root,
        env: { ...process.env, RXLLM_TOKEN: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    while (!/on (http:\/\/\S+) /.test(stderr)) {
      if (child.exitCode !== null) throw new Error(stderr);
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = /on (http:\/\/\S+) /.exec(stderr)![1];
    // A slow mock answer: 20 chunks, 40 ms apart.
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'mock/echo',
        messages: [{ role: 'user', content: 'x' }],
        mock_response: { text: 'a'.repeat(20), chunkSize: 1 },
        mock_delay_ms: 40,
        stream: true,
      }),
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    child.kill('SIGINT');
    let body = new TextDecoder().decode(first.value);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopping \(1 in flight\)/);
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  }, 30_000);
});
