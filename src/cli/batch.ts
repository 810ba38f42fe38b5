/**
 * `rxllm batch in.jsonl`: the batch job from the command line, a thin shell over `batch()` and
 * `createRouter()`. Input lines are OpenAI batch-file lines (`src/batchFile/inputLines.ts`); results
 * are appended to `--out` as they finish (`src/batchFile/resultRecord.ts`), so re-running with the same
 * `--out` skips what is done and writes nothing twice; the file is locked while a run works on it
 * (`src/batchFile/lock.ts`) and repaired at its end before appending (`src/batchFile/resultsFile.ts`).
 */
import { closeSync, readFileSync } from 'node:fs';
import { Observable, Subscription } from 'rxjs';
import { batch, type BatchProgress } from '../batch';
import { claimResultsFile, pendingJobs, type ClaimedResultsFile } from '../batchFile/claim';
import { badLineNotice, parseBatchFile } from '../batchFile/inputLines';
import { resultRecord } from '../batchFile/resultRecord';
import { stoppable } from '../batchFile/stoppable';
import { appendResultLine, openResultsFile } from '../batchFile/resultsFile';
import type { ChatCompletion } from '../chunk';
import { complete } from '../client';
import { redactSecrets } from '../redact';
import { createRouter, type Router } from '../router/router';
import type { RouterConfig } from '../router/config';
import {
  batchExitCode,
  CLI_BATCH_EXIT_HELP,
  CLI_BROKEN_PIPE,
  CLI_INTERRUPTED,
  CLI_REQUESTS_FAILED,
  CLI_TERMINATED,
  CLI_USAGE_ERROR,
  type CliIO,
  flushed,
  integerFlag,
  interruptedExitCode,
  isBrokenPipe,
  parseCommandArgs,
  usageError,
} from './io';

/** Defaults of `rxllm batch`. */
export const CLI_BATCH_DEFAULTS = { concurrency: 20, retries: 3 } as const;

const HELP = `Usage: rxllm batch in.jsonl [--model provider/model | --router config.json] [--concurrency ${CLI_BATCH_DEFAULTS.concurrency}] [--retries ${CLI_BATCH_DEFAULTS.retries}] [--out out.jsonl] [--base-url URL]

One request per line, OpenAI batch-file style: {"custom_id": "t-1", "method": "POST", "url":
"/v1/chat/completions", "body": {"model": ..., "messages": [...]}} (method and url may be left out). A
model without a provider ("gpt-4o-mini", as in OpenAI's own files) is taken as openai/gpt-4o-mini.
  --model, -m     send every line to this model (else each body's model)
  --router        a JSON router config (createRouter): body.model names a group
  --concurrency   requests in flight at once (default ${CLI_BATCH_DEFAULTS.concurrency})
  --retries       retries per request before the first byte (default ${CLI_BATCH_DEFAULTS.retries})
  --out, -o       append results here as they finish; re-run with the same file to resume (lines with a
                  result, failed ones included, are skipped); one run at a time (out.jsonl.lock)
                  (default: stdout)
  --base-url, -u  base URL of an OpenAI-compatible server (with --model)
  --provider-batch  through the provider's own batch API at half price (rxllm batch --provider-batch --help)
  --queue URL     enqueue the file for a fleet of workers on Redis (BullMQ) instead of running it here;
                  follow it with rxllm batch status|collect --queue URL --batch ID
                  (rxllm batch --queue URL --help)
Bad lines are reported on stderr with their line number and skipped. A progress bar is drawn on
stderr when it is a terminal. Ctrl-C or SIGTERM stops: answers already arriving are written, requests
still waiting are aborted (a re-run sends them); a second one kills. ${CLI_BATCH_EXIT_HELP}`;

function formatProgress(p: BatchProgress, started: number, spent: number, total: number): string {
  const finished = p.done + p.failed;
  const secs = (performance.now() - started) / 1000;
  const rate = secs > 0 ? finished / secs : 0;
  const eta = rate > 0 ? Math.ceil((total - finished) / rate) : undefined;
  const width = 20;
  const filled = total ? Math.round((finished / total) * width) : width;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${finished}/${total} | ${p.done} ok, ${p.failed} failed, ${p.inFlight} in flight | ${rate.toFixed(1)}/s | ETA ${eta === undefined ? '?' : `${eta}s`} | $${spent.toFixed(4)}`;
}

/**
 * Runs `rxllm batch`; resolves to the exit code. `signal` (Ctrl-C, SIGTERM) stops it: answers already
 * arriving are written, the rest is left for a re-run.
 */
export async function runBatchCommand(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    'rxllm batch',
    HELP,
    io,
    {
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', short: 'm' },
        router: { type: 'string' },
        concurrency: { type: 'string' },
        retries: { type: 'string' },
        out: { type: 'string', short: 'o' },
        'base-url': { type: 'string', short: 'u' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    ['concurrency', 'retries'],
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const usage = (message: string) => usageError(io, 'rxllm batch', HELP, message);
  if (positionals.length !== 1) return usage('give one input file, e.g. rxllm batch in.jsonl');
  if (values.model && values.router) return usage('--model and --router exclude each other');
  const concurrency =
    values.concurrency === undefined ? CLI_BATCH_DEFAULTS.concurrency : integerFlag(values.concurrency, 1);
  const retries = values.retries === undefined ? CLI_BATCH_DEFAULTS.retries : integerFlag(values.retries, 0);
  if (concurrency === undefined)
    return usage(`--concurrency must be an integer >= 1, got "${values.concurrency}"`);
  if (retries === undefined) return usage(`--retries must be an integer >= 0, got "${values.retries}"`);

  let router: Router | undefined;
  let input: string;
  try {
    if (values.router) router = createRouter(JSON.parse(readFileSync(values.router, 'utf8')) as RouterConfig);
    input = readFileSync(positionals[0], 'utf8');
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return CLI_USAGE_ERROR;
  }
  let claimed: ClaimedResultsFile;
  try {
    // Locked before it is read: a second run would read the same ids and send the rest again.
    claimed = claimResultsFile(values.out);
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return CLI_USAGE_ERROR;
  }
  for (const notice of claimed.notices) io.stderr.write(`rxllm batch: ${notice}\n`);
  try {
    const settings = { model: values.model, baseURL: values['base-url'], concurrency, retries, router };
    return await run(input, claimed.done, values.out, settings, io, signal);
  } finally {
    claimed.lock?.release();
  }
}

interface RunSettings {
  model: string | undefined;
  baseURL: string | undefined;
  concurrency: number;
  retries: number;
  router: Router | undefined;
}

/** Runs the lines of `input` not `done` yet, appending to `out` (else stdout); resolves to the exit code. */
async function run(
  input: string,
  done: Map<string, boolean>,
  out: string | undefined,
  { model, baseURL, concurrency, retries, router }: RunSettings,
  io: CliIO,
  signal: AbortSignal | undefined,
): Promise<number> {
  const { jobs, bad } = parseBatchFile(input, { model, routed: router !== undefined });
  for (const b of bad) io.stderr.write(`rxllm batch: ${badLineNotice(b)}\n`);
  const { todo, skipped, failedBefore } = pendingJobs(jobs, done);
  const options = baseURL ? { baseURL } : {};
  const stops = stoppable(
    (request, opts) =>
      (router ? router.complete(request, opts) : complete(request, opts)) as Observable<ChatCompletion>,
  );

  const fd = out === undefined ? undefined : openResultsFile(out);
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const started = performance.now();
  let spent = 0;
  let unpriced = 0;
  let ok = 0;
  let failed = 0;
  let lastDraw = 0;
  let progress: BatchProgress | undefined;
  const draw = (force = false) => {
    if (!tty || !progress) return;
    const now = performance.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    io.stderr.write(`\r${formatProgress(progress, started, spent, todo.length)}\x1b[K`);
  };

  let code = await new Promise<number>((resolve) => {
    // stdout's reader left (`rxllm batch in.jsonl | head`): stop the run (the requests in flight are
    // aborted) and write nothing more. Results may come before `subscribe` returns: a Subscription
    // closed by then unsubscribes what is added to it at once.
    const sub = new Subscription();
    let stopped = false;
    sub.add(
      batch(
        todo.map((j) => j.request),
        {
          concurrency,
          retry: retries,
          options,
          call: stops.call,
          onProgress: (p) => {
            progress = p;
            draw();
          },
        },
      ).subscribe({
        next: (r) => {
          if (stopped) return;
          const record = resultRecord(todo[r.index].customId, r);
          if (r.ok) {
            ok++;
            if (record.cost === null) unpriced++;
            else spent += record.cost;
          } else {
            failed++;
            // A failure billed before it failed (a router's attempts, a streamed part) was spent too.
            spent += record.cost ?? 0;
          }
          // One write per result line: a crash tears at most the last line, which the next run cuts.
          if (fd !== undefined) return appendResultLine(fd, record);
          io.stdout.write(JSON.stringify(record) + '\n');
          if (isBrokenPipe(io.stdout)) {
            stopped = true;
            sub.unsubscribe();
            resolve(CLI_BROKEN_PIPE);
          }
        },
        error: (error: unknown) => {
          io.stderr.write(`\nrxllm batch: ${redactSecrets(String((error as Error)?.message ?? error))}\n`);
          resolve(CLI_REQUESTS_FAILED);
        },
        complete: () => resolve(batchExitCode(bad.length, failed + failedBefore)),
      }),
    );
    signal?.addEventListener(
      'abort',
      () =>
        stops.stop(() => {
          sub.unsubscribe(); // what was not sent or answered yet is redone on resume
          resolve(interruptedExitCode(signal));
        }),
      { once: true },
    );
  });
  if (fd !== undefined) closeSync(fd);
  // Results on stdout: a reader that left while the last ones were in the pipe counts too.
  if (fd === undefined && code !== CLI_BROKEN_PIPE && (await flushed(io.stdout))) code = CLI_BROKEN_PIPE;
  if (code === CLI_BROKEN_PIPE) return code; // quietly, as Unix tools do: no summary
  const interrupted = code === CLI_INTERRUPTED || code === CLI_TERMINATED;
  draw(true);
  if (tty) io.stderr.write('\n');
  const wall = ((performance.now() - started) / 1000).toFixed(2);
  io.stderr.write(
    `rxllm batch: ${ok} succeeded, ${failed} failed, ${skipped} already done${failedBefore ? ` (${failedBefore} failed)` : ''}, ${bad.length} bad lines${interrupted ? ', interrupted (re-run to resume)' : ''} | ${wall} s | cost $${spent.toFixed(6)}${unpriced ? ` (+${unpriced} without a known price)` : ''}\n`,
  );
  return code;
}
