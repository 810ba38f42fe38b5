import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BROKEN_PIPE, CLI_USAGE_ERROR, runCli } from '../src/cli/run';
import { createMockServer, type MockChatBody, type MockServer } from '../src/testing';
import { cliIO } from './helpers/cliIO';

const io = cliIO;

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
    const usage = run(['chat']);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    const ok = run(['chat', 'hello']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('hello');
  });
});

/** The CLI as a real process (through tsx, on the sources). */
const CLI = [process.execPath, require.resolve('tsx/cli'), join(__dirname, '..', 'src', 'cli', 'main.ts')];
function run(args: string[]) {
  return spawnSync(CLI[0], [...CLI.slice(1), ...args], {
    encoding: 'utf8',
    env: { ...process.env, OPENAI_API_KEY: '' },
  });
}
/** `rxllm <args> | <reader>` through a real pipe (bash); the status is rxllm's, not the reader's. */
function pipedTo(args: string[], reader: string) {
  return spawnSync('bash', ['-c', `"$@" | ${reader}; exit "\${PIPESTATUS[0]}"`, 'bash', ...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OPENAI_API_KEY: '' },
  });
}

describe('rxllm as a Unix tool', () => {
  const version = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version;

  it.each(['--version', '-v'])('%s prints the package version and exits 0', (flag) => {
    const r = run([flag]);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: 0,
      stdout: `${version}\n`,
      stderr: '',
    });
  });

  it("help prints the usage to stdout and exits 0; help <command> is that command's --help", async () => {
    const r = run(['help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: rxllm chat');
    expect(r.stdout).toContain('rxllm --version');
    expect(r.stderr).toBe('');
    const batch = io();
    expect(await runCli(['help', 'batch'], batch.io)).toBe(0);
    expect(batch.out()).toContain('Usage: rxllm batch');
    const serve = io();
    expect(await runCli(['help', 'serve'], serve.io)).toBe(0);
    expect(serve.out()).toContain('Usage: rxllm serve');
    const nope = io();
    expect(await runCli(['help', 'translate'], nope.io)).toBe(CLI_USAGE_ERROR);
    expect(nope.err()).toContain('no help for "translate"');
    expect(nope.out()).toBe('');
  });

  // 100 000 characters echoed back: more than a pipe holds (64 KiB), so rxllm is still writing when
  // head has read its 20 bytes and left.
  it('`rxllm chat … | head -c 20` stops quietly with 141 (no EPIPE stack)', () => {
    const r = pipedTo(['chat', 'a'.repeat(100_000)], 'head -c 20');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: CLI_BROKEN_PIPE,
      stdout: 'Mock reply to: aaaaa',
      stderr: '',
    });
  });

  it('`rxllm batch … | head -n 1` stops quietly with 141 (no EPIPE stack, no summary)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxllm-cli-pipe-'));
    try {
      const input = join(dir, 'in.jsonl');
      const line = (i: number) =>
        JSON.stringify({
          custom_id: `t-${i}`,
          body: { model: 'mock/echo', messages: [{ role: 'user', content: `hello ${i}` }] },
        });
      writeFileSync(input, Array.from({ length: 500 }, (_, i) => line(i)).join('\n'));
      const r = pipedTo(['batch', input], 'head -n 1');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(CLI_BROKEN_PIPE);
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
      expect(JSON.parse(r.stdout).response.status_code).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // 5,000 bad-line reports (~240 KB) on stderr: more than a pipe holds, so rxllm is still reporting
  // when head has read its line and left.
  it('`rxllm batch … 2>&1 | head -n 1` (stderr closed early) stops quietly with 141 too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxllm-cli-pipe-'));
    try {
      const input = join(dir, 'in.jsonl');
      writeFileSync(input, '{bad\n'.repeat(5_000));
      const r = spawnSync(
        'bash',
        ['-c', `"$@" 2>&1 | head -n 1; exit "\${PIPESTATUS[0]}"`, 'bash', ...CLI, 'batch', input],
        {
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(CLI_BROKEN_PIPE);
      // An unhandled EPIPE would end it with 1 (its stack trace going into the closed pipe).
      expect(r.stdout).toBe('rxllm batch: line 1: not valid JSON; skipped.\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reader that takes everything leaves rxllm at exit 0 with its summary', () => {
    const r = pipedTo(['chat', 'hello'], 'cat');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('Mock reply to: hello\n');
    expect(r.stderr).toMatch(/^finish: stop/);
  });
});

// Every numeric flag of every command: a negative number is a value (not "argument is ambiguous"),
// and only decimal digits count (`''` is not 0, `1e3` is not 1000).
describe('numeric flags', () => {
  it.each([
    [['chat', '--max-tokens', '-5', 'hi'], '--max-tokens must be a positive integer, got "-5"'],
    [['chat', 'hi', '--max-tokens', '-5'], '--max-tokens must be a positive integer, got "-5"'],
    [['chat', '--max-tokens', '0', 'hi'], '--max-tokens must be a positive integer, got "0"'],
    [['chat', '--max-tokens', '1e3', 'hi'], '--max-tokens must be a positive integer, got "1e3"'],
    [['chat', '--max-tokens', '', 'hi'], '--max-tokens must be a positive integer, got ""'],
    [['chat', '--max-tokens', '2.5', 'hi'], '--max-tokens must be a positive integer, got "2.5"'],
    [['chat', '--max-tokens', '-0.5', 'hi'], '--max-tokens must be a positive integer, got "-0.5"'],
    [['batch', 'in.jsonl', '--concurrency', '-2'], '--concurrency must be an integer >= 1, got "-2"'],
    [['batch', 'in.jsonl', '--concurrency', '0x10'], '--concurrency must be an integer >= 1, got "0x10"'],
    [['batch', 'in.jsonl', '--retries', '-1'], '--retries must be an integer >= 0, got "-1"'],
    [['batch', 'in.jsonl', '--retries', ''], '--retries must be an integer >= 0, got ""'],
    [['serve', '--port', '-1'], '--port must be a port number (0-65535), got "-1"'],
    [['serve', '-p', '-1'], '--port must be a port number (0-65535), got "-1"'],
    [['serve', '--port', ''], '--port must be a port number (0-65535), got ""'],
    [['serve', '--port', '65536'], '--port must be a port number (0-65535), got "65536"'],
    [['serve', '--port', '8e3'], '--port must be a port number (0-65535), got "8e3"'],
  ])('%p is a usage error that names the rule (exit 2)', async (argv, message) => {
    const t = io();
    expect(await runCli(argv, t.io)).toBe(CLI_USAGE_ERROR);
    expect(t.err()).toContain(message);
    expect(t.err()).not.toContain('ambiguous');
    expect(t.out()).toBe('');
  });

  it('a value that is not a number after a numeric flag is still reported as a missing value', async () => {
    const t = io();
    expect(await runCli(['chat', '--max-tokens', '-m', 'mock/echo', 'hi'], t.io)).toBe(CLI_USAGE_ERROR);
    expect(t.err()).toContain("Option '--max-tokens' argument is ambiguous");
  });

  it('takes --max-tokens and sends it', async () => {
    server.enqueue({ text: 'ok' });
    const t = io();
    expect(await runCli(['chat', '-m', 'compat/x', '-u', server.url, '--max-tokens', '7', 'hi'], t.io)).toBe(
      0,
    );
    expect((server.requests.at(-1)?.body as MockChatBody & { max_tokens?: number }).max_tokens).toBe(7);
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
