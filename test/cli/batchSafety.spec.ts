/**
 * `rxllm batch` used as a new user would: a results file edited by hand (no final line break), two
 * runs on one --out (real processes: the second is refused, nothing is sent twice), a run killed
 * with SIGKILL (its lock is taken over), one stopped by SIGTERM or Ctrl-C (every result it received is
 * written, an answer arriving is finished, the re-run sends only the missing lines; a second signal
 * kills), exit codes that say what happened, a byte-order mark, and OpenAI's own batch files run as
 * they are.
 */
import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockResultsFile } from '../../src/batchFile/lock';
import {
  CLI_BAD_INPUT,
  CLI_INTERRUPTED,
  CLI_REQUESTS_FAILED,
  CLI_TERMINATED,
  CLI_USAGE_ERROR,
} from '../../src/cli/io';
import { runCli } from '../../src/cli/run';
import { createMockServer, type MockChatBody, type MockServer } from '../../src/testing';
import { cliIO } from '../helpers/cliIO';
import { completionBody, startCli, waitFor } from '../helpers/cliProcess';

const io = cliIO;

let server: MockServer;
let dir: string;
let input: string;
let out: string;
beforeAll(async () => {
  server = await createMockServer();
  process.env.OPENAI_API_KEY = 'sk-test-batch-safety'; // a fake key: every request goes to the mock server
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-batch-safety-'));
  input = join(dir, 'in.jsonl');
  out = join(dir, 'out.jsonl');
  server.reset();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => {
  delete process.env.OPENAI_API_KEY;
  return server.close();
});

const line = (id: string, content = id, model = 'openai/gpt-4o-mini') =>
  JSON.stringify({ custom_id: id, body: { model, messages: [{ role: 'user', content }] } });
const lines = (n: number) => Array.from({ length: n }, (_, i) => line(`t${i}`)).join('\n');
/** Every line of the results file as JSON (throws if one is not). */
const results = (): { custom_id: string; error: unknown }[] =>
  readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
const ids = () => results().map((r) => r.custom_id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rxllm batch: resuming a results file edited by hand', () => {
  it('adds the missing line break after a whole last line before appending', async () => {
    writeFileSync(input, lines(4));
    // A user deleted the failed lines in an editor that saves without a final line break.
    writeFileSync(out, [0, 1].map((i) => JSON.stringify({ custom_id: `t${i}`, error: null })).join('\n'));
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], t.io)).toBe(0);
    expect(t.err()).toContain('had no line break; one was added');
    expect(ids()).toEqual(['t0', 't1', expect.any(String), expect.any(String)]);
    expect(ids().sort()).toEqual(['t0', 't1', 't2', 't3']);
    expect(server.stats.requests).toBe(2);
    // Every later run reads the file and has nothing left to do.
    const again = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], again.io)).toBe(0);
    expect(again.err()).toMatch(/0 succeeded, 0 failed, 4 already done, 0 bad lines/);
  });

  it('refuses a results file with a bad line in its middle, naming it (exit 2, nothing sent)', async () => {
    writeFileSync(input, lines(3));
    const glued = `${JSON.stringify({ custom_id: 't0' })}${JSON.stringify({ custom_id: 't1' })}\n{"custom_id":"t2"}\n`;
    writeFileSync(out, glued);
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], t.io)).toBe(CLI_USAGE_ERROR);
    expect(t.err()).toContain('line 1 is not JSON');
    expect(readFileSync(out, 'utf8')).toBe(glued);
    expect(server.stats.requests).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false); // released on the way out
  });
});

describe('rxllm batch: exit codes', () => {
  it(`exits ${CLI_BAD_INPUT} when every line is bad, sending nothing`, async () => {
    writeFileSync(input, '{not json\n{"custom_id": "x"}\n');
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url], t.io)).toBe(CLI_BAD_INPUT);
    expect(t.err()).toMatch(/0 succeeded, 0 failed, 0 already done, 2 bad lines/);
    expect(server.stats.requests).toBe(0);
  });

  it(`exits ${CLI_BAD_INPUT} when lines were bad and others failed: the file needs fixing first`, async () => {
    writeFileSync(input, [line('ok'), line('no'), '{bad'].join('\n'));
    server.setDefault((req) =>
      (req.body as MockChatBody).messages[0].content === 'no' ? { status: 400 } : 'fine',
    );
    expect(await runCli(['batch', input, '-u', server.url, '--retries', '0'], io().io)).toBe(CLI_BAD_INPUT);
  });

  it(`exits ${CLI_REQUESTS_FAILED} on a re-run while the results file still holds a failure`, async () => {
    writeFileSync(input, [line('ok'), line('no')].join('\n'));
    server.setDefault((req) =>
      (req.body as MockChatBody).messages[0].content === 'no' ? { status: 400 } : 'fine',
    );
    const args = ['batch', input, '-u', server.url, '--retries', '0', '--out', out];
    expect(await runCli(args, io().io)).toBe(CLI_REQUESTS_FAILED);
    const again = io();
    expect(await runCli(args, again.io)).toBe(CLI_REQUESTS_FAILED);
    expect(again.err()).toMatch(/0 succeeded, 0 failed, 2 already done \(1 failed\)/);
    // Removing the failed line and re-running retries it.
    writeFileSync(
      out,
      results()
        .filter((r) => r.error === null)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    server.setDefault('fine');
    expect(await runCli(args, io().io)).toBe(0);
    expect(ids().sort()).toEqual(['no', 'ok']);
  });
});

describe('rxllm batch: input files from elsewhere', () => {
  it('skips a UTF-8 byte-order mark before line 1', async () => {
    writeFileSync(input, '\uFEFF' + lines(2));
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url], t.io)).toBe(0);
    expect(t.err()).toMatch(/2 succeeded, 0 failed, 0 already done, 0 bad lines/);
  });

  it("runs OpenAI's own batch file as it is: bare model names are openai/, method and url accepted", async () => {
    writeFileSync(
      input,
      [1, 2, 3]
        .map((i) =>
          JSON.stringify({
            custom_id: `request-${i}`,
            method: 'POST',
            url: '/v1/chat/completions',
            body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `q${i}` }], max_tokens: 1000 },
          }),
        )
        .join('\n'),
    );
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url], t.io)).toBe(0);
    expect(t.err()).toMatch(/3 succeeded, 0 failed, 0 already done, 0 bad lines/);
    expect(server.requests.map((r) => (r.body as { model: string }).model)).toEqual([
      'gpt-4o-mini',
      'gpt-4o-mini',
      'gpt-4o-mini',
    ]);
    // Priced as openai/gpt-4o-mini.
    const costs = t
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).cost);
    expect(costs.every((c) => typeof c === 'number' && c > 0)).toBe(true);
  });
});

/** The CLI as a real process, so the pid in the lock is its own. */
const start = (args: string[]) => startCli(args, { ...process.env, OPENAI_API_KEY: 'sk-test-batch-safety' });
const until = (ok: () => boolean) => waitFor(ok, 60_000);

describe('rxllm batch: one run at a time per results file', () => {
  it('refuses a second run while one is going on (exit 2, nothing sent); a SIGKILLed run leaves a lock that is taken over', async () => {
    writeFileSync(input, lines(5));
    // The first run's requests last until it is killed.
    server.setDefault({ text: 'slow', latencyMs: 120_000 });
    const first = start(['batch', input, '-u', server.url, '--out', out]);
    await until(() => server.stats.requests === 5);
    const lock = JSON.parse(readFileSync(`${out}.lock`, 'utf8'));
    expect(lock).toMatchObject({ pid: first.pid, host: hostname() });

    const second = await start(['batch', input, '-u', server.url, '--out', out]).done;
    expect(second.code).toBe(CLI_USAGE_ERROR);
    expect(second.stderr).toContain(`is in use by another run (pid ${first.pid} on ${hostname()}`);
    expect(server.stats.requests).toBe(5); // the second run sent nothing

    first.kill('SIGKILL');
    await first.done;
    expect(existsSync(`${out}.lock`)).toBe(true); // nothing ran to remove it
    server.setDefault('fast');
    const t = io();
    expect(await runCli(['batch', input, '-u', server.url, '--out', out], t.io)).toBe(0);
    expect(t.err()).toContain(`took over the lock of pid ${first.pid}, which is no longer running`);
    expect(ids().sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 60_000);

  it('two runs started together on one --out send every request once and write every result once', async () => {
    writeFileSync(input, lines(20));
    server.setDefault({ text: 'ok', latencyMs: 500 });
    const runs = await Promise.all(
      [0, 1].map(() => start(['batch', input, '-u', server.url, '--out', out]).done),
    );
    expect(server.stats.requests).toBe(20);
    expect(ids().sort()).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
    // Either they overlapped (one refused) or one started after the other ended (nothing left to do).
    const codes = runs.map((r) => r.code).sort();
    if (codes[1] === CLI_USAGE_ERROR) {
      expect(codes).toEqual([0, CLI_USAGE_ERROR]);
      expect(runs.find((r) => r.code === CLI_USAGE_ERROR)!.stderr).toContain('in use by another run');
    } else {
      expect(codes).toEqual([0, 0]);
      expect(runs.map((r) => r.stderr).join('')).toContain('20 already done');
    }
  }, 60_000);

  it('refuses an --out locked by a live run of this process too, before reading or sending anything', async () => {
    writeFileSync(input, lines(2));
    const held = lockResultsFile(out);
    try {
      const t = io();
      expect(await runCli(['batch', input, '-u', server.url, '--out', out], t.io)).toBe(CLI_USAGE_ERROR);
      expect(t.err()).toContain(`(pid ${process.pid} on ${hostname()}`);
      expect(existsSync(out)).toBe(false);
      expect(server.stats.requests).toBe(0);
    } finally {
      held.release();
    }
  });
});

describe('rxllm batch: stopped by a signal', () => {
  const N = 12;
  const FAST = 5;
  const all = Array.from({ length: N }, (_, i) => `t${i}`);
  const startAll = () => start(['batch', input, '-u', server.url, '--out', out, '--concurrency', String(N)]);
  const idsSoFar = () => (existsSync(out) ? ids() : []);

  it.each([
    ['SIGTERM', CLI_TERMINATED],
    ['SIGINT', CLI_INTERRUPTED],
  ] as const)(
    '%s mid-run: every result received is written, exit %i, the lock released; the re-run sends only the missing lines',
    async (signal, code) => {
      writeFileSync(input, lines(N));
      // t0…t4 answer at once; the others outlast any stall of a busy machine, so they are in flight
      // (sent, unanswered) when the signal comes.
      server.setDefault((req) => {
        const id = (req.body as MockChatBody).messages[0].content as string;
        return { text: `answer ${id}`, latencyMs: Number(id.slice(1)) < FAST ? 0 : 120_000 };
      });
      const first = startAll();
      await until(() => idsSoFar().length === FAST && server.stats.requests === N);
      first.kill(signal);
      const stopped = await first.done;
      expect(stopped.code).toBe(code);
      expect(first.signalCode).toBeNull(); // it exited by itself, not killed by the signal
      expect(stopped.stderr).toContain(`${FAST} succeeded, 0 failed, 0 already done`);
      expect(stopped.stderr).toContain('interrupted (re-run to resume)');
      expect(existsSync(`${out}.lock`)).toBe(false);
      // Every upstream call has its line or was aborted before its answer: none was answered and lost.
      for (let n = 1; n <= N; n++) await server.waitForRequestClose(n);
      expect(server.stats.abortedRequests).toBe(N - FAST);
      expect(ids().length + server.stats.abortedRequests).toBe(server.stats.requests);
      expect(ids().sort()).toEqual(all.slice(0, FAST).sort());

      server.reset();
      server.setDefault('fast');
      const again = await startAll().done;
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`${N - FAST} succeeded, 0 failed, ${FAST} already done`);
      expect(again.stderr).not.toContain('took over the lock');
      expect(server.stats.requests).toBe(N - FAST); // only the missing lines were sent
      expect(ids().sort()).toEqual([...all].sort()); // each once
    },
    90_000,
  );

  it('an answer already arriving at the signal is finished and written (it is billed); the others are aborted', async () => {
    // A body of the mock's, served by hand: headers at once for "arriving", its body when the test
    // says; "fast" answered whole; "slow" never (aborted by the stop).
    const sample = await completionBody(server.url);
    let held: ServerResponse | undefined;
    const seen: string[] = [];
    const closedUnanswered: string[] = [];
    const upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const kind = (JSON.parse(body) as { messages: { content: string }[] }).messages[0].content;
        seen.push(kind);
        res.on('close', () => !res.writableFinished && closedUnanswered.push(kind));
        const head = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(sample) };
        if (kind === 'fast') res.writeHead(200, head).end(sample);
        if (kind === 'arriving') (held = res.writeHead(200, head)).flushHeaders();
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1`;
    try {
      const kinds = ['fast', 'fast', 'arriving', 'slow', 'slow', 'slow'];
      writeFileSync(input, kinds.map((kind, i) => line(`t${i}`, kind)).join('\n'));
      const run = start(['batch', input, '-u', url, '--out', out, '--concurrency', '6']);
      await until(() => idsSoFar().length === 2 && seen.length === 6 && held !== undefined);
      await sleep(1_000); // the headers of "arriving" have reached the CLI (it has nothing else to do)
      run.kill('SIGTERM');
      await sleep(300);
      expect(run.exitCode).toBeNull(); // still waiting for the arriving answer
      await until(() => closedUnanswered.length === 3); // the slow ones were aborted meanwhile
      held!.end(sample);
      const stopped = await run.done;
      expect(stopped.code).toBe(CLI_TERMINATED);
      expect(stopped.stderr).toContain('3 succeeded, 0 failed, 0 already done');
      expect(ids().sort()).toEqual(['t0', 't1', 't2']);
      expect(closedUnanswered.sort()).toEqual(['slow', 'slow', 'slow']);

      seen.length = 0;
      const again = await start(['batch', input, '-u', server.url, '--out', out]).done;
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('3 succeeded, 0 failed, 3 already done');
      expect(ids().sort()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    } finally {
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  }, 90_000);

  it('a second signal, either kind, kills at once (the first one only asked the command to stop)', async () => {
    // The first signal's handler removes both listeners; Node's default for a signal nobody listens to
    // ends the process. A command that never finishes stopping shows that the second one is not ignored.
    const io = JSON.stringify(join(__dirname, '..', '..', 'src', 'cli', 'io.ts'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { stopOnSignals } = require(${io});
         const stop = new AbortController();
         stopOnSignals(process, stop);
         stop.signal.addEventListener('abort', () => process.stdout.write('stopping on ' + stop.signal.reason + '\\n'));
         setInterval(() => {}, 1000);
         process.stdout.write('ready\\n');`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let said = '';
    child.stdout!.on('data', (d) => (said += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    await until(() => said === 'ready\n');
    child.kill('SIGTERM');
    await until(() => said.includes('stopping on SIGTERM'));
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
  }, 60_000);
});
