/**
 * `rxllm batch`: results as they finish with custom_id, response or typed error, usage and cost;
 * bad lines reported with their line number and skipped; resumable with the same --out (nothing
 * written twice, a torn last line cut); --router; Ctrl-C keeps what was written; progress only on a TTY.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BAD_INPUT } from '../../src/cli/io';
import { runCli } from '../../src/cli/run';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';

function io(tty = false, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t), isTTY: tty },
      signal,
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

let server: MockServer;
let dir: string;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-batch-cli'; // a fake key: every request goes to the mock server
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-batch-'));
  server.reset();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => {
  delete process.env.OPENAI_API_KEY;
  return server.close();
});

const line = (id: string, content: string, extra: object = {}) =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }], ...extra },
  });
const readOut = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('rxllm batch', () => {
  it('writes one result per line with usage and cost, reports bad lines by number and skips them', async () => {
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    writeFileSync(
      input,
      [
        line('a', 'one'),
        '{not json',
        line('b', 'two'),
        JSON.stringify({ body: {} }),
        line('a', 'again'),
        '',
        line('c', 'three', { temperature: 9 }),
      ].join('\n'),
    );
    server.setDefault((req) => ({
      text: `re: ${(req.body as MockChatBody).messages[0].content}`,
      usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 },
    }));
    const t = io();
    const code = await runCli(['batch', input, '-u', server.url, '--out', out, '--concurrency', '2'], t.io);
    expect(code).toBe(CLI_BAD_INPUT); // the good lines ran, but the file needs fixing
    const results = readOut(out);
    expect(results.map((r) => r.custom_id).sort()).toEqual(['a', 'b']);
    const a = results.find((r) => r.custom_id === 'a');
    expect(a.response.status_code).toBe(200);
    expect(a.response.body.choices[0].message.content).toBe('re: one');
    expect(a.error).toBeNull();
    expect(a.usage).toEqual({ prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 });
    expect(a.cost).toBeCloseTo(1000 * 0.15e-6 + 100 * 0.6e-6, 12);
    expect(t.err()).toContain('line 2: not valid JSON; skipped.');
    expect(t.err()).toContain('line 4: custom_id must be a non-empty string; skipped.');
    expect(t.err()).toContain('line 5: custom_id "a" is repeated; skipped.');
    expect(t.err()).toMatch(/line 7: Invalid chat request: temperature/);
    expect(t.err()).toMatch(/2 succeeded, 0 failed, 0 already done, 4 bad lines .* cost \$0\.000420/);
    expect(t.err()).not.toContain('\r'); // no progress bar when stderr is not a terminal
  });

  it('writes a typed error for a request that still fails after its retries, and exits 1', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, [line('ok', 'fine'), line('bad', 'nope')].join('\n'));
    server.setDefault((req) =>
      (req.body as MockChatBody).messages[0].content === 'nope'
        ? { status: 400, errorBody: { error: { message: 'no such model' } } }
        : 'yes',
    );
    const t = io();
    const code = await runCli(['batch', input, '-u', server.url, '--retries', '0'], t.io);
    expect(code).toBe(1);
    const results = t
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const bad = results.find((r) => r.custom_id === 'bad');
    expect(bad).toMatchObject({
      response: null,
      error: { type: 'BadRequestError', status: 400 },
      usage: null,
      cost: null,
      attempts: 1,
    });
    expect(bad.error.message).toContain('no such model');
  });

  it('resumes with the same --out: skips what is done, cuts a torn last line, writes nothing twice', async () => {
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    writeFileSync(input, Array.from({ length: 6 }, (_, i) => line(`t${i}`, `q${i}`)).join('\n'));
    // A previous run finished t0 and t1, then crashed in the middle of writing t2.
    writeFileSync(
      out,
      JSON.stringify({ custom_id: 't0', response: { status_code: 200 } }) +
        '\n' +
        JSON.stringify({ custom_id: 't1', response: { status_code: 200 } }) +
        '\n',
    );
    appendFileSync(out, '{"custom_id":"t2","resp');
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], t.io)).toBe(0);
    const ids = readOut(out).map((r) => r.custom_id);
    expect(ids.slice(0, 2)).toEqual(['t0', 't1']);
    expect([...ids].sort()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    expect(server.stats.requests).toBe(4);
    expect(t.err()).toContain('was cut');
    // A third run has nothing left to do.
    const again = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], again.io)).toBe(0);
    expect(readOut(out)).toHaveLength(6);
    expect(again.err()).toMatch(/0 succeeded, 0 failed, 6 already done/);
  });

  it('routes through --router config.json, naming the deployment that served each line', async () => {
    const failing = await createMockServer({ defaultScript: { status: 500 } });
    try {
      const input = join(dir, 'in.jsonl');
      const config = join(dir, 'router.json');
      writeFileSync(
        config,
        JSON.stringify({
          groups: {
            classify: [{ model: 'openai/gpt-4o', options: { baseURL: failing.url, apiKey: 'sk-test' } }],
            backup: [{ model: 'openai/gpt-4o-mini', options: { baseURL: server.url, apiKey: 'sk-test' } }],
          },
          fallbacks: { classify: ['backup'] },
        }),
      );
      writeFileSync(
        input,
        [line('x', 'hello', { model: 'classify' }), line('y', 'world', { model: 'classify' })].join('\n'),
      );
      const t = io();
      expect(await runCli(['batch', input, '--router', config], t.io)).toBe(0);
      const results = t
        .out()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(results.map((r) => r.deployment)).toEqual(['openai/gpt-4o-mini', 'openai/gpt-4o-mini']);
      expect(results.every((r) => typeof r.cost === 'number' && r.cost > 0)).toBe(true);
      expect(results.every((r) => r.response.body.route === undefined)).toBe(true);
    } finally {
      await failing.close();
    }
  });

  it('draws a progress bar on a terminal and stops on Ctrl-C keeping what was written', async () => {
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    writeFileSync(input, Array.from({ length: 10 }, (_, i) => line(`t${i}`, `q${i}`)).join('\n'));
    server.setDefault((req) => ({
      text: 'ok',
      // The others outlast any stall of a busy machine: they are still in flight at Ctrl-C.
      latencyMs: (req.body as MockChatBody).messages[0].content === 'q0' ? 0 : 60_000,
    }));
    const stop = new AbortController();
    const t = io(true, stop.signal);
    const running = runCli(['batch', input, '-u', server.url, '--out', out, '--concurrency', '10'], t.io);
    while (!existsSync(out) || !readFileSync(out, 'utf8').includes('t0'))
      await new Promise((r) => setTimeout(r, 10));
    // All ten reached the server, so the nine aborts are all seen there.
    while (server.stats.requests < 10) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    expect(await running).toBe(130);
    expect(readOut(out).map((r) => r.custom_id)).toEqual(['t0']);
    expect(t.err()).toMatch(
      /\r\[#+-+\] 1\/10 \| 1 ok, 0 failed, 9 in flight \| [\d.]+\/s \| ETA \d+s \| \$0\.\d{4}/,
    );
    expect(t.err()).toContain('interrupted (re-run to resume)');
    for (let n = 2; n <= 10; n++) await server.waitForRequestClose(n);
    expect(server.stats.abortedRequests).toBe(9);
  });

  it('rejects bad usage with exit code 2', async () => {
    expect(await runCli(['batch'], io().io)).toBe(2);
    expect(await runCli(['batch', 'x.jsonl', '--model', 'a/b', '--router', 'r.json'], io().io)).toBe(2);
    expect(await runCli(['batch', 'x.jsonl', '--concurrency', '0'], io().io)).toBe(2);
    const t = io();
    expect(await runCli(['batch', join(dir, 'missing.jsonl')], t.io)).toBe(2);
    expect(t.err()).toContain('no such file');
  });
});
