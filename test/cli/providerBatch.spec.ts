/**
 * `rxllm batch --provider-batch`: the seed's 100 tickets through each provider's batch API on the
 * mock server, at exactly half the synchronous run's cost; the batch id recorded next to --out so a
 * killed run resumes without a second submission; Ctrl-C detaches; --retry-failed; exit codes.
 */
import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/run';
import { createMockServer, type MockServer } from '../../src/testing';
import { completionBody, waitFor } from '../helpers/cliProcess';
import { classify, ticketRequests, TICKET_COUNT } from '../helpers/tickets';
import { cliIO as io } from '../helpers/cliIO';

const MODELS = {
  openai: 'openai/gpt-4o-mini',
  anthropic: 'anthropic/claude-haiku-4-5',
  gemini: 'gemini/gemini-2.5-flash',
} as const;
type Provider = keyof typeof MODELS;

let server: MockServer;
let dir: string;
const KEYS = {
  OPENAI_API_KEY: 'sk-test-cli-pb',
  ANTHROPIC_API_KEY: 'sk-ant-cli-pb',
  GEMINI_API_KEY: 'gm-cli-pb',
};
beforeAll(async () => {
  server = await createMockServer();
  Object.assign(process.env, KEYS);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-pbatch-'));
  server.reset();
  server.setDefault((req) => classify(req.body));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(async () => {
  for (const key of Object.keys(KEYS)) delete process.env[key];
  await server.close();
});

/** The tickets as an OpenAI batch file (custom_id, method, url, body). */
function ticketsFile(provider: Provider, count = TICKET_COUNT): string {
  const file = join(dir, `${provider}.jsonl`);
  const lines = ticketRequests(MODELS[provider], count).map(({ custom_id, ...body }) =>
    JSON.stringify({ custom_id, method: 'POST', url: '/v1/chat/completions', body }),
  );
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}
const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { custom_id: string; cost: number | null; error: unknown; response: any });
const byId = <T extends { custom_id: string }>(lines: T[]) =>
  [...lines].sort((a, b) => a.custom_id.localeCompare(b.custom_id));

describe.each(Object.keys(MODELS) as Provider[])('rxllm batch --provider-batch (%s)', (provider) => {
  it('answers the 100 tickets by id at exactly half the synchronous run’s cost', async () => {
    const input = ticketsFile(provider);
    const out = join(dir, 'out.jsonl');
    const run = io();
    const code = await runCli(
      ['batch', input, '--provider-batch', '--out', out, '--poll-ms', '5', '--base-url', server.url],
      run.io,
    );
    expect(run.err()).toMatch(/100 succeeded, 0 failed/);
    expect(code).toBe(0);
    expect(server.batches.submissions).toBe(1);
    const lines = byId(readLines(out));
    expect(lines.map((l) => l.custom_id)).toEqual(
      byId(ticketRequests(MODELS[provider])).map((t) => t.custom_id),
    );
    for (const l of lines) {
      const i = Number(l.custom_id.split('-')[1]);
      expect(l.response.body.choices[0].message.content).toBe(i % 3 === 0 ? 'billing' : 'technical');
    }

    const syncOut = join(dir, 'sync.jsonl');
    expect(await runCli(['batch', input, '--out', syncOut, '--base-url', server.url], io().io)).toBe(0);
    const sync = byId(readLines(syncOut));
    lines.forEach((l, i) => expect(l.cost! * 2).toBe(sync[i].cost));
    const total = (ls: { cost: number | null }[]) => ls.reduce((s, l) => s + l.cost!, 0);
    expect(total(sync)).toBeGreaterThan(0);
    expect(total(lines) * 2).toBe(total(sync));
    expect(run.err()).toContain(`(synchronous: $${total(sync).toFixed(6)})`);
  });
});

describe('rxllm batch --provider-batch: resume, detach, failures', () => {
  it('a run killed (SIGKILL) while polling is resumed by the same command without a second submission', async () => {
    const input = ticketsFile('openai');
    const out = join(dir, 'out.jsonl');
    server.batches.faults = { validatingPolls: 1_000_000 };
    // `node --import tsx`, not the tsx CLI: that one runs the script in a child process, which a
    // SIGKILL of the parent would leave running.
    const cli = ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli', 'main.ts')];
    const child = spawn(
      process.execPath,
      [...cli, 'batch', input, '--provider-batch', '--out', out, '--poll-ms', '20'],
      {
        env: { ...process.env, OPENAI_BASE_URL: server.url },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await waitFor(
      () => existsSync(`${out}.batch.json`) && server.requests.filter((r) => r.method === 'GET').length >= 2,
    );
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(server.batches.submissions).toBe(1);

    server.batches.faults = {};
    const run = io();
    const code = await runCli(
      ['batch', input, '--provider-batch', '--out', out, '--poll-ms', '5', '--base-url', server.url],
      run.io,
    );
    expect(run.err()).toMatch(/resuming batch_mock/);
    expect(code).toBe(0);
    expect(server.batches.submissions).toBe(1);
    expect(new Set(readLines(out).map((l) => l.custom_id)).size).toBe(TICKET_COUNT);
    expect(readLines(out)).toHaveLength(TICKET_COUNT);
  }, 60_000);

  it.each([
    { name: 'Ctrl-C', reason: undefined, code: 130 },
    { name: 'SIGTERM', reason: 'SIGTERM', code: 143 },
  ])(
    '$name detaches (no cancel, exit $code) and prints the resume command; re-running resumes',
    async ({ reason, code }) => {
      const input = ticketsFile('anthropic', 5);
      const out = join(dir, 'out.jsonl');
      server.batches.faults = { runningPolls: 1_000_000 };
      const stop = new AbortController();
      const run = io(stop.signal);
      const args = [
        'batch',
        input,
        '--provider-batch',
        '--out',
        out,
        '--poll-ms',
        '5',
        '--base-url',
        server.url,
      ];
      const pending = runCli(args, run.io);
      await waitFor(() => server.batches.submissions === 1 && /in_progress/.test(run.err()));
      stop.abort(reason); // main.ts aborts with the signal's name
      expect(await pending).toBe(code);
      expect(run.err()).toContain(`Resume with: rxllm batch ${input} --provider-batch --out ${out}`);
      expect(server.batches.cancelled).toEqual([]);

      server.batches.faults = {};
      expect(await runCli(args, io().io)).toBe(0);
      expect(readLines(out)).toHaveLength(5);
      expect(server.batches.submissions).toBe(1);
    },
  );

  it('failed requests make exit code 1 with a typed error line; --retry-failed re-runs them synchronously', async () => {
    const input = ticketsFile('gemini', 4);
    const out = join(dir, 'out.jsonl');
    server.batches.faults = { failIds: ['ticket-1'], dropIds: ['ticket-2'] };
    const run = io();
    expect(
      await runCli(
        ['batch', input, '--provider-batch', '--out', out, '--poll-ms', '5', '--base-url', server.url],
        run.io,
      ),
    ).toBe(1);
    const failed = byId(readLines(out)).filter((l) => l.error);
    expect(
      failed.map((l) => [
        l.custom_id,
        (l.error as { type: string; reason: string }).type,
        (l.error as { reason: string }).reason,
      ]),
    ).toEqual([
      ['ticket-1', 'BatchResultError', 'errored'],
      ['ticket-2', 'BatchResultError', 'missing'],
    ]);

    const out2 = join(dir, 'out2.jsonl');
    server.batches.faults = { failIds: ['ticket-1'] };
    const retried = io();
    const code = await runCli(
      [
        'batch',
        input,
        '--provider-batch',
        '--retry-failed',
        '--out',
        out2,
        '--poll-ms',
        '5',
        '--base-url',
        server.url,
      ],
      retried.io,
    );
    expect(code).toBe(0);
    const lines = byId(readLines(out2));
    expect(lines.map((l) => l.error)).toEqual([null, null, null, null]);
    expect(retried.err()).toMatch(/re-running 1 failed requests synchronously/);
  });

  it('a stop while --retry-failed runs lets an answer already arriving finish and writes it; the others are aborted', async () => {
    const input = ticketsFile('openai', 4);
    const out = join(dir, 'out.jsonl');
    server.batches.faults = { failIds: ['ticket-1', 'ticket-2'] };
    const sample = await completionBody(server.url);
    // The batch API is the mock's; the synchronous retries are served by hand: the first one's headers
    // at once and its body when the test says, the second never (the stop aborts it).
    let held: ServerResponse | undefined;
    const closedUnanswered: string[] = [];
    const front = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.url === '/chat/completions') {
          res.on('close', () => !res.writableFinished && closedUnanswered.push(req.url!));
          const head = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(sample) };
          if (!held) (held = res.writeHead(200, head)).flushHeaders();
          return;
        }
        const { host: _host, connection: _c, 'content-length': _l, ...headers } = req.headers;
        void fetch(`${server.url}${req.url}`, {
          method: req.method,
          headers: headers as Record<string, string>,
          body: req.method === 'GET' ? undefined : body,
        }).then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        });
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const stop = new AbortController();
      const run = io();
      const args = ['batch', input, '--provider-batch', '--retry-failed', '--out', out, '--poll-ms', '5'];
      const done = runCli([...args, '--base-url', url], { ...run.io, signal: stop.signal });
      let settled = false;
      void done.then(() => (settled = true));
      await waitFor(() => held !== undefined && run.err().includes('re-running 2 failed requests'));
      await new Promise((r) => setTimeout(r, 1_000)); // the held answer's headers have reached the CLI
      stop.abort();
      await waitFor(() => closedUnanswered.length === 1); // the unanswered retry was aborted
      expect(settled).toBe(false); // still waiting for the arriving answer
      held!.end(sample);
      expect(await done).toBe(130);
      const lines = byId(readLines(out));
      expect(lines.map((l) => [l.custom_id, l.error === null])).toEqual([
        ['ticket-0', true],
        [expect.stringMatching(/^ticket-[12]$/), true],
        ['ticket-3', true],
      ]);
    } finally {
      front.closeAllConnections();
      await new Promise((r) => front.close(r));
    }
  });

  it('skips what --out already holds (a failure there still exits 1) and cuts a last line torn by a crash', async () => {
    const input = ticketsFile('openai', 3);
    const out = join(dir, 'out.jsonl');
    writeFileSync(
      out,
      '{"custom_id":"ticket-0","response":null,"error":{"type":"X"}}\n{"custom_id":"ticket-1","resp',
    );
    const run = io();
    expect(
      await runCli(
        ['batch', input, '--provider-batch', '--out', out, '--poll-ms', '5', '--base-url', server.url],
        run.io,
      ),
    ).toBe(1); // as in the synchronous mode: ticket-0's failure is still this job's
    expect(run.err()).toMatch(/was cut/);
    expect(run.err()).toMatch(/2 succeeded, 0 failed, 1 already done \(1 failed\), 0 bad lines/);
    expect(readLines(out).map((l) => l.custom_id)).toEqual(['ticket-0', 'ticket-1', 'ticket-2']);
    expect(server.batches.list()[0].requests.map((r) => r.customId)).toEqual(['ticket-1', 'ticket-2']);
  });

  it('honours GEMINI_BASE_URL and writes to stdout without --out, recording the batch next to the input', async () => {
    const input = ticketsFile('gemini', 3);
    process.env.GEMINI_BASE_URL = server.url;
    try {
      const run = io();
      expect(await runCli(['batch', input, '--provider-batch', '--poll-ms', '5'], run.io)).toBe(0);
      expect(run.out().trim().split('\n')).toHaveLength(3);
      expect(JSON.parse(readFileSync(`${input}.batch.json`, 'utf8')).batches[0].batchId).toMatch(
        /^batches\//,
      );
    } finally {
      delete process.env.GEMINI_BASE_URL;
    }
  });
});
