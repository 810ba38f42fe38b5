/**
 * `rxllm batch --provider-batch` reads, locks, repairs and writes like the synchronous mode: an
 * OpenAI batch file with a byte-order mark runs as it is, bad lines get the same reasons and exit 3,
 * one run per --out whichever the mode (real processes: the second is refused before anything is
 * submitted; a SIGKILLed run's lock is taken over), result lines of the same shape plus `batch_id`,
 * and stdout's reader leaving ends the run with 141.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockResultsFile } from '../../src/batchFile/lock';
import { CLI_BAD_INPUT, CLI_BROKEN_PIPE, CLI_USAGE_ERROR } from '../../src/cli/io';
import { runCli } from '../../src/cli/run';
import { createMockServer, type MockServer } from '../../src/testing';
import { cliIO as io } from '../helpers/cliIO';
import { startCli as start, waitFor } from '../helpers/cliProcess';

let server: MockServer;
let dir: string;
let input: string;
let out: string;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-pb-safety'; // a fake key: every request goes to the mock server
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-pb-safety-'));
  input = join(dir, 'in.jsonl');
  out = join(dir, 'out.jsonl');
  server.reset();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => {
  delete process.env.OPENAI_API_KEY;
  return server.close();
});

/** A line of OpenAI's own batch files: bare model name, method and url. */
const openAILine = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${id}` }] },
    ...extra,
  });
const pb = (...more: string[]) => [
  'batch',
  input,
  '--provider-batch',
  '--poll-ms',
  '5',
  '--base-url',
  server.url,
  ...more,
];
const records = () =>
  readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
/** The bad-line reports of a run's stderr. */
const badLines = (err: string) => err.split('\n').filter((l) => /^rxllm batch: line \d+: /.test(l));

describe('rxllm batch --provider-batch: input read as the synchronous mode reads it', () => {
  it("runs OpenAI's own batch file with a byte-order mark and \\r\\n; bad lines get the same reasons and exit 3", async () => {
    writeFileSync(
      input,
      '\uFEFF' +
        [
          openAILine('a'),
          openAILine('b', { url: '/v1/embeddings' }),
          openAILine('c', { method: 'GET' }),
          openAILine('a'),
          '{"custom_id": "d", "body":',
          openAILine('e'),
        ].join('\r\n') +
        '\r\n',
    );
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(CLI_BAD_INPUT);
    // The good lines went, as OpenAI models under their own names.
    expect(server.batches.submissions).toBe(1);
    const sent = server.batches.list()[0].requests;
    expect(sent.map((r) => r.customId)).toEqual(['a', 'e']);
    expect(sent.map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o-mini', 'gpt-4o-mini']);
    expect(records().map((r) => [r.custom_id, r.error])).toEqual([
      ['a', null],
      ['e', null],
    ]);
    expect(run.err()).toMatch(/2 succeeded, 0 failed, 0 already done, 4 bad lines/);

    // The synchronous mode reports the same lines with the same words.
    const sync = io();
    expect(await runCli(['batch', input, '-u', server.url], sync.io)).toBe(CLI_BAD_INPUT);
    expect(badLines(run.err())).toEqual(badLines(sync.err()));
    expect(badLines(run.err())).toEqual([
      expect.stringMatching(/^rxllm batch: line 2: url "\/v1\/embeddings" is not supported/),
      'rxllm batch: line 3: method must be "POST", got "GET"; skipped.',
      'rxllm batch: line 4: custom_id "a" is repeated; skipped.',
      'rxllm batch: line 5: not valid JSON; skipped.',
    ]);
  });

  it('exits 3 and submits nothing when every line is bad', async () => {
    writeFileSync(input, [openAILine('a', { url: '/v1/responses' }), 'nope'].join('\n'));
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(CLI_BAD_INPUT);
    expect(server.batches.submissions).toBe(0);
    expect(run.err()).toMatch(/0 succeeded, 0 failed, 0 already done, 2 bad lines/);
  });

  it('writes the synchronous mode’s record shape, plus batch_id', async () => {
    writeFileSync(input, openAILine('a') + '\n');
    expect(await runCli(pb('--out', out), io().io)).toBe(0);
    const [batched] = records();
    const syncOut = join(dir, 'sync.jsonl');
    expect(await runCli(['batch', input, '-u', server.url, '--out', syncOut], io().io)).toBe(0);
    const sync = JSON.parse(readFileSync(syncOut, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(batched).sort()).toEqual([...Object.keys(sync), 'batch_id'].sort());
    expect(batched).toMatchObject({ custom_id: 'a', error: null, attempts: 1 });
    expect(batched.batch_id).toBe(server.batches.list()[0].id);
  });

  it('repairs --out as the synchronous mode does: a whole last line without its line break gets one', async () => {
    writeFileSync(input, [openAILine('a'), openAILine('b')].join('\n'));
    writeFileSync(out, JSON.stringify({ custom_id: 'a', response: null, error: null }));
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(0);
    expect(run.err()).toContain('had no line break; one was added');
    expect(records().map((r) => r.custom_id)).toEqual(['a', 'b']);
  });

  it('refuses a results file with a bad line in its middle (exit 2, nothing submitted, unlocked)', async () => {
    writeFileSync(input, openAILine('a'));
    writeFileSync(out, 'not json\n{"custom_id":"x"}\n');
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(CLI_USAGE_ERROR);
    expect(run.err()).toContain('line 1 is not JSON');
    expect(server.batches.submissions).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it('refuses a batch record that is not one (exit 2, nothing submitted, unlocked)', async () => {
    writeFileSync(input, openAILine('a'));
    writeFileSync(`${out}.batch.json`, '{"provider":');
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(CLI_USAGE_ERROR);
    expect(run.err()).toContain('is not a batch record of rxllm');
    expect(server.batches.submissions).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it(`exits ${CLI_BROKEN_PIPE} quietly when stdout's reader leaves`, async () => {
    writeFileSync(input, [openAILine('a'), openAILine('b')].join('\n'));
    const err: string[] = [];
    const stdout = {
      destroyed: false,
      written: 0,
      write() {
        this.written++;
        this.destroyed = true; // `| head -1`: the reader left after the first line
        return true;
      },
    };
    const code = await runCli(pb(), { stdout, stderr: { write: (t: string) => err.push(t) } });
    expect(code).toBe(CLI_BROKEN_PIPE);
    expect(stdout.written).toBe(1);
    expect(err.join('')).not.toMatch(/succeeded/); // no summary
  });
});

describe('rxllm batch --provider-batch: one run at a time per results file, whichever the mode', () => {
  it('refuses a second --provider-batch run and a synchronous run on the same --out (exit 2, nothing sent); a SIGKILLed run’s lock is taken over', async () => {
    writeFileSync(input, [openAILine('a'), openAILine('b')].join('\n'));
    server.batches.faults = { validatingPolls: 1_000_000 }; // the first run polls until it is killed
    const first = start(pb('--out', out));
    await waitFor(() => existsSync(`${out}.batch.json`));
    expect(JSON.parse(readFileSync(`${out}.lock`, 'utf8'))).toMatchObject({
      pid: first.pid,
      host: hostname(),
    });

    const [second, sync] = await Promise.all([
      start(pb('--out', out)).done,
      start(['batch', input, '-u', server.url, '--out', out]).done,
    ]);
    for (const refused of [second, sync]) {
      expect(refused.code).toBe(CLI_USAGE_ERROR);
      expect(refused.stderr).toContain(`is in use by another run (pid ${first.pid} on ${hostname()}`);
    }
    expect(server.batches.submissions).toBe(1);
    expect(server.requests.filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);

    first.kill('SIGKILL');
    await first.done;
    server.batches.faults = {};
    const run = io();
    expect(await runCli(pb('--out', out), run.io)).toBe(0);
    expect(run.err()).toContain(`took over the lock of pid ${first.pid}, which is no longer running`);
    expect(run.err()).toMatch(/resuming batch_mock/);
    expect(server.batches.submissions).toBe(1);
    expect(
      records()
        .map((r) => r.custom_id)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 60_000);

  it('without --out, locks the batch record next to the input: a live holder refuses the run', async () => {
    writeFileSync(input, openAILine('a'));
    const held = lockResultsFile(`${input}.batch.json`);
    try {
      const run = io();
      expect(await runCli(pb(), run.io)).toBe(CLI_USAGE_ERROR);
      expect(run.err()).toContain(`(pid ${process.pid} on ${hostname()}`);
      expect(server.batches.submissions).toBe(0);
    } finally {
      held.release();
    }
    expect(await runCli(pb(), io().io)).toBe(0);
    expect(existsSync(`${input}.batch.json.lock`)).toBe(false);
  });
});
