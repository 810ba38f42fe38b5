import { runCli } from '../src/cli/run';
import { createMockServer, type MockServer } from '../src/testing';

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
    expect(server.requests.at(-1)?.body.messages).toEqual([
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
    expect(t.out()).toContain('Usage: rxllm chat');
    const u = io();
    expect(await runCli(['chat'], u.io)).toBe(2);
    expect(u.err()).toContain('give a prompt');
    const v = io();
    expect(await runCli(['translate', 'x'], v.io)).toBe(2);
    expect(v.err()).toContain('unknown command');
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
