import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI_USAGE_ERROR, runCli } from '../src/cli/run';
import { createMockServer, type MockChatBody, type MockServer } from '../src/testing';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

let server: MockServer;
beforeAll(async () => {
  server = await createMockServer();
});
afterAll(() => server.close());

describe('rxllm chat', () => {
  it('streams the built-in mock by default, with finish, usage and first-chunk time on stderr', async () => {
    const t = io();
    const code = await runCli(['chat', '写一首四句五言诗'], t.io);
    expect(code).toBe(0);
    expect(t.out()).toContain('写一首四句五言诗');
    expect(t.err()).toMatch(
      /finish: stop \| usage: \d+ prompt \+ \d+ completion = \d+ tokens \| first chunk: \d+ ms/,
    );
  });

  it('talks to an OpenAI-compatible server given --base-url, with a system prompt', async () => {
    server.enqueue({ text: 'from the server', chunkSize: 2 });
    const t = io();
    const code = await runCli(
      ['chat', '-m', 'compat/x', '-u', server.url, '-s', 'be brief', 'hi', 'there'],
      t.io,
    );
    expect(code).toBe(0);
    expect(t.out()).toBe('from the server\n');
    expect((server.requests.at(-1)?.body as MockChatBody).messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi there' },
    ]);
  });

  it('prints one line and exits 1 on an API error, without the key', async () => {
    const key = 'sk-cli-secret-0123456789';
    process.env.OPENAI_API_KEY = key;
    try {
      server.enqueue({ status: 401, errorBody: { error: { message: `bad key ${key}` } } });
      const t = io();
      const code = await runCli(['chat', '-m', 'openai/gpt-4o-mini', '-u', server.url, 'hi'], t.io);
      expect(code).toBe(1);
      const lines = t.err().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^rxllm: AuthenticationError: HTTP 401/);
      expect(t.err()).not.toContain(key);
    } finally {
      delete process.env.OPENAI_API_KEY;
    }
  });

  it('exits 2 with usage help on bad arguments', async () => {
    const t = io();
    expect(await runCli([], t.io)).toBe(2);
    expect(t.err()).toContain('Usage: rxllm chat');
    expect(t.out()).toBe('');
    const u = io();
    expect(await runCli(['chat'], u.io)).toBe(2);
    expect(u.err()).toContain('give a prompt');
    const v = io();
    expect(await runCli(['translate', 'x'], v.io)).toBe(2);
    expect(v.err()).toContain('unknown command');
  });

  it('prints help to stdout and exits 0 on --help', async () => {
    const t = io();
    expect(await runCli(['--help'], t.io)).toBe(0);
    expect(t.out()).toContain('Usage: rxllm chat');
  });

  it('refuses --base-url without --model (exit 2, nothing sent) instead of answering from the mock', async () => {
    const before = server.stats.requests;
    const t = io();
    expect(await runCli(['chat', '-u', server.url, 'hi'], t.io)).toBe(CLI_USAGE_ERROR);
    expect(t.err()).toContain('--base-url needs --model');
    expect(t.out()).toBe('');
    expect(server.stats.requests).toBe(before);
  });

  it.each([
    [['chat', '--max-tokens', 'lots', 'hi'], '--max-tokens must be a positive integer'],
    [['chat', '-m', 'gpt-4o-mini', 'hi'], '--model must be provider/model'],
    [['chat', '--nope', 'hi'], "Unknown option '--nope'"],
  ])('treats %p as a usage error (exit 2)', async (argv, message) => {
    const t = io();
    expect(await runCli(argv, t.io)).toBe(2);
    expect(t.err()).toContain(message);
    expect(t.out()).toBe('');
  });

  it('writes nothing to stdout when the call fails before any text (no blank line)', async () => {
    server.enqueue({ status: 500 });
    const t = io();
    expect(await runCli(['chat', '-m', 'compat/x', '-u', server.url, 'hi'], t.io)).toBe(1);
    expect(t.out()).toBe('');
    expect(t.err()).toMatch(/^rxllm: ServerError/);
  });

  it('ends a partial reply with one newline when the stream fails midway', async () => {
    server.enqueue({ text: 'partial answer', chunkSize: 4, cutAfterChunks: 2 });
    const t = io();
    expect(await runCli(['chat', '-m', 'compat/x', '-u', server.url, 'hi'], t.io)).toBe(1);
    expect(t.out()).toMatch(/^[^\n]+\n$/);
  });

  it('the rxllm binary exits with the documented codes', () => {
    const run = (args: string[]) =>
      spawnSync(
        process.execPath,
        [require.resolve('tsx/cli'), join(__dirname, '..', 'src', 'cli', 'main.ts'), ...args],
        {
          encoding: 'utf8',
          env: { ...process.env, OPENAI_API_KEY: '' },
        },
      );
    const usage = run(['chat']);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    const ok = run(['chat', 'hello']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('hello');
  });
});

describe('rxllm chat over every wire format', () => {
  it.each(['ollama', 'openai-responses', 'anthropic', 'gemini', 'azure'])(
    'streams %s/<model> from its own wire format',
    async (provider) => {
      const saved = { ...process.env };
      Object.assign(process.env, {
        OPENAI_API_KEY: 'sk-test-cli-0123456789',
        ANTHROPIC_API_KEY: 'sk-ant-test-cli-0123456789',
        GEMINI_API_KEY: 'gemini-test-cli-0123456789',
        AZURE_OPENAI_API_KEY: 'azure-test-cli-0123456789',
      });
      try {
        server.enqueue({ text: `hello from ${provider} 👋`, chunkSize: 3 });
        const t = io();
        const code = await runCli(['chat', '-m', `${provider}/x`, '-u', server.url, 'hi'], t.io);
        expect(t.err()).toMatch(/^finish: stop \| usage: \d+ prompt/);
        expect(code).toBe(0);
        expect(t.out()).toBe(`hello from ${provider} 👋\n`);
      } finally {
        for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'AZURE_OPENAI_API_KEY']) {
          if (saved[key] === undefined) delete process.env[key];
          else process.env[key] = saved[key];
        }
      }
    },
  );
});
