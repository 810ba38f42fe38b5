/**
 * `rxllm batch in.jsonl --provider-batch`: the same job through the provider's own batch API
 * (`submitBatch`), at its batch price. It reads the input, takes and repairs the results file, and
 * writes its lines with the synchronous mode's modules (`src/batchFile/`): the same bad-line reasons,
 * the same lock (one run per `--out`, whichever mode), the same records plus `batch_id`, the same exit
 * codes. The batch ids are recorded next to the results (`<out>.batch.json`, or `<in>.batch.json`
 * without `--out`), so a re-run resumes polling and never submits a request twice. Ctrl-C or SIGTERM detaches:
 * the batch keeps running.
 */
import { closeSync, readFileSync } from 'node:fs';
import { concat, defer, EMPTY, ignoreElements, map, merge, Subscription, tap, type Observable } from 'rxjs';
import { batch } from '../batch';
import { readBatchIds, resumePlan, saveBatchIds, type BatchIdsRecord } from '../batchFile/batchIds';
import { claimResultsFile, pendingJobs, type ClaimedResultsFile } from '../batchFile/claim';
import { badLineNotice, parseBatchFile, type BatchFileJob } from '../batchFile/inputLines';
import { providerBatchRecord, resultRecord, type BatchResultRecord } from '../batchFile/resultRecord';
import { appendResultLine, openResultsFile } from '../batchFile/resultsFile';
import { stoppable } from '../batchFile/stoppable';
import type { ChatCompletion } from '../chunk';
import { complete } from '../client';
import {
  resumeBatch,
  submitBatch,
  type BatchEvent,
  type ProviderBatchRequest,
} from '../providerBatch/submit';
import { redactSecrets } from '../redact';
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

/** Defaults of `rxllm batch --provider-batch`. */
export const CLI_PROVIDER_BATCH_DEFAULTS = { pollMs: 30_000 } as const;

const HELP = `Usage: rxllm batch in.jsonl --provider-batch [--model provider/model] [--out out.jsonl] [--poll-ms ${CLI_PROVIDER_BATCH_DEFAULTS.pollMs}] [--base-url URL] [--retry-failed]

Sends the lines through the provider's own batch API (OpenAI Batch, Anthropic Message Batches,
Gemini Batch Mode): half the price, answers within 24 hours. Lines as in the synchronous mode.
  --model, -m      every line to this model (else each body's model; one provider per run)
  --out, -o        results here as they arrive (default: stdout); the batch ids go to <out>.batch.json
                   (<in>.batch.json without --out): re-run the same command to resume, nothing is sent twice;
                   one run at a time, of either mode (out.jsonl.lock)
  --poll-ms        between two status polls (default ${CLI_PROVIDER_BATCH_DEFAULTS.pollMs})
  --base-url, -u   the provider's base URL (else OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL)
  --retry-failed   re-run the requests that failed in the batch synchronously (at the synchronous price)
Bad lines are reported on stderr with their line number and skipped. Ctrl-C or SIGTERM detaches (the
batch keeps running) and prints the command that resumes it. ${CLI_BATCH_EXIT_HELP}`;

/** The providers with a batch API in `src/providerBatch/registry.ts`. */
const BATCH_PROVIDERS = ['openai', 'anthropic', 'gemini'];

/** Runs `rxllm batch … --provider-batch`; resolves to the exit code. */
export async function runProviderBatch(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    'rxllm batch',
    HELP,
    io,
    {
      args: argv,
      allowPositionals: true,
      options: {
        'provider-batch': { type: 'boolean' },
        model: { type: 'string', short: 'm' },
        out: { type: 'string', short: 'o' },
        'poll-ms': { type: 'string' },
        'base-url': { type: 'string', short: 'u' },
        'retry-failed': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    ['poll-ms'],
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const usage = (message: string) => usageError(io, 'rxllm batch', HELP, message);
  if (positionals.length !== 1)
    return usage('give one input file, e.g. rxllm batch in.jsonl --provider-batch');
  const pollMs =
    values['poll-ms'] === undefined ? CLI_PROVIDER_BATCH_DEFAULTS.pollMs : integerFlag(values['poll-ms'], 1);
  if (pollMs === undefined) return usage(`--poll-ms must be an integer >= 1, got "${values['poll-ms']}"`);
  const inFile = positionals[0];
  let input: string;
  try {
    input = readFileSync(inFile, 'utf8');
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return CLI_USAGE_ERROR;
  }
  const { jobs, bad } = parseBatchFile(input, { model: values.model });
  for (const b of bad) io.stderr.write(`rxllm batch: ${badLineNotice(b)}\n`);
  const providers = new Set(jobs.map((j) => j.request.model.split('/')[0]));
  if (providers.size > 1)
    return usage(`one provider per provider batch; the lines name ${[...providers].join(', ')}`);
  const provider = [...providers][0] ?? 'openai';
  if (!BATCH_PROVIDERS.includes(provider))
    return usage(`provider "${provider}" has no batch API here (${BATCH_PROVIDERS.join(', ')})`);

  const out = values.out;
  const recordPath = `${out ?? inFile}.batch.json`;
  let claimed: ClaimedResultsFile | undefined;
  let record: BatchIdsRecord;
  try {
    // Locked before the results and the batch ids are read: a second run would read the same ids and
    // submit the same requests again. Without --out, the batch ids are what two runs would share.
    claimed = claimResultsFile(out, out ?? recordPath);
    record = readBatchIds(recordPath, provider);
  } catch (error) {
    claimed?.lock?.release();
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return CLI_USAGE_ERROR;
  }
  for (const notice of claimed.notices) io.stderr.write(`rxllm batch: ${notice}\n`);
  const run: Run = {
    jobs,
    badLines: bad.length,
    done: claimed.done,
    provider,
    record,
    recordPath,
    out,
    resume: ['rxllm batch', inFile, '--provider-batch', ...(values.model ? ['--model', values.model] : [])],
    baseURL: values['base-url'],
    pollMs,
    retryFailed: values['retry-failed'] === true,
  };
  try {
    return await runBatches(run, io, signal);
  } finally {
    claimed.lock?.release();
  }
}

interface Run {
  jobs: BatchFileJob[];
  badLines: number;
  /** What the results file already holds (`custom_id` -> succeeded). */
  done: Map<string, boolean>;
  provider: string;
  record: BatchIdsRecord;
  recordPath: string;
  out: string | undefined;
  /** The command that resumes this run, without `--out`. */
  resume: string[];
  baseURL: string | undefined;
  pollMs: number;
  retryFailed: boolean;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/** Submits what is not submitted yet, polls what is, writes each answer; resolves to the exit code. */
async function runBatches(run: Run, io: CliIO, signal: AbortSignal | undefined): Promise<number> {
  const { provider, record, out } = run;
  const pending = pendingJobs(run.jobs, run.done);
  const { skipped, failedBefore } = pending;
  const todo = new Map(pending.todo.map((j) => [j.customId, j]));
  const { toResume, toSubmit } = resumePlan(record, pending.todo);
  const target = { baseURL: run.baseURL, pollMs: run.pollMs, cancelOnUnsubscribe: false };
  const models = Object.fromEntries(run.jobs.map((j) => [j.customId, j.request.model]));

  const fd = out === undefined ? undefined : openResultsFile(out);
  let finish: (code: number) => void = () => undefined;
  /** One line per result; without --out on stdout: once its reader left, the run stops, quietly. */
  const write = (line: BatchResultRecord) => {
    if (fd !== undefined) return appendResultLine(fd, line);
    if (isBrokenPipe(io.stdout)) return;
    io.stdout.write(JSON.stringify(line) + '\n');
    if (isBrokenPipe(io.stdout)) finish(CLI_BROKEN_PIPE);
  };
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const started = performance.now();
  const statuses = new Map<string, string>();
  let ok = 0;
  let failed = 0;
  let spent = 0;
  let syncSpent = 0;
  const retry: BatchFileJob[] = [];
  /** Counts a result line (`syncCost`: what it would cost through the synchronous API) and writes it. */
  const tally = (line: BatchResultRecord, syncCost: number | null) => {
    if (line.error) failed++;
    else {
      ok++;
      spent += line.cost ?? 0;
      syncSpent += syncCost ?? 0;
    }
    write(line);
  };

  const events: Observable<BatchEvent> = merge(
    ...toResume.map((b) => resumeBatch(b.batchId, { provider, ...target, customIds: b.customIds, models })),
    toSubmit.length > 0
      ? submitBatch(
          toSubmit.map((j) => ({ ...j.request, custom_id: j.customId }) as ProviderBatchRequest),
          { provider, ...target },
        )
      : EMPTY,
  );
  if (toResume.length > 0)
    io.stderr.write(
      `rxllm batch: resuming ${toResume.map((b) => b.batchId).join(', ')} (nothing is submitted again)\n`,
    );

  const onEvent = (e: BatchEvent) => {
    if (e.type === 'submitted') {
      record.batches.push({ batchId: e.batchId, customIds: e.customIds });
      saveBatchIds(run.recordPath, record);
      io.stderr.write(
        `rxllm batch: submitted ${provider} batch ${e.batchId} (${e.customIds.length} requests)\n`,
      );
    } else if (e.type === 'status') {
      const { succeeded, failed: bad, total } = e.counts;
      const finished = succeeded + bad;
      const eta =
        finished > 0 && total > finished
          ? ` | ETA ${seconds((e.elapsedMs / finished) * (total - finished))}`
          : '';
      const line = `${e.batchId}: ${e.rawState} | ${finished}/${total} done, ${bad} failed | ${seconds(performance.now() - started)} elapsed${eta}`;
      const key = `${e.rawState} ${finished} ${bad}`;
      if (tty) io.stderr.write(`\r${line}\x1b[K`);
      else if (statuses.get(e.batchId) !== key) io.stderr.write(`rxllm batch: ${line}\n`);
      statuses.set(e.batchId, key);
    } else if (!todo.has(e.custom_id)) {
      if (!run.done.has(e.custom_id))
        io.stderr.write(
          `rxllm batch: ${e.type === 'error' ? e.error.message : `an answer for unknown id "${e.custom_id}"`}\n`,
        );
    } else if (e.type === 'error' && run.retryFailed) {
      retry.push(todo.get(e.custom_id)!);
      todo.delete(e.custom_id);
    } else {
      todo.delete(e.custom_id);
      tally(providerBatchRecord(e), e.type === 'result' ? e.syncCost : null);
    }
  };

  // With --retry-failed, what the batches failed runs next through the synchronous API (its price).
  // A stop while they run lets the answers already arriving finish (billed at the synchronous price),
  // as the synchronous mode does; a stop before detaches at once (the provider batches keep running).
  const stops = stoppable((r, o) => complete(r, o) as Observable<ChatCompletion>);
  let retrying = false;
  const retried = defer(() => {
    if (retry.length === 0) return EMPTY;
    retrying = true;
    io.stderr.write(
      `${tty ? '\n' : ''}rxllm batch: re-running ${retry.length} failed requests synchronously\n`,
    );
    const options = run.baseURL ? { baseURL: run.baseURL } : {};
    return batch(
      retry.map((j) => j.request),
      { options, call: stops.call },
    ).pipe(map((r) => resultRecord(retry[r.index].customId, r)));
  });

  const sub = new Subscription();
  let code = await new Promise<number>((resolve) => {
    finish = resolve;
    sub.add(
      concat(events.pipe(tap(onEvent), ignoreElements()), retried).subscribe({
        next: (line) => tally(line, line.cost), // a synchronous answer: at the synchronous price
        error: (error: unknown) => {
          io.stderr.write(`\nrxllm batch: ${redactSecrets(String((error as Error)?.message ?? error))}\n`);
          resolve(CLI_REQUESTS_FAILED);
        },
        complete: () => resolve(0),
      }),
    );
    signal?.addEventListener(
      'abort',
      () => {
        const code = interruptedExitCode(signal);
        if (retrying) stops.stop(() => resolve(code));
        else resolve(code);
      },
      { once: true },
    );
  });
  // Detaches: cancelOnUnsubscribe is off, the provider batch keeps running (retries not answered yet
  // are aborted; the arriving ones were let finish above).
  sub.unsubscribe();
  const interrupted = code === CLI_INTERRUPTED || code === CLI_TERMINATED;
  const detached = interrupted && !retrying;
  if (tty && !retrying) io.stderr.write('\n');
  if (fd !== undefined) closeSync(fd);
  // Results on stdout: a reader that left while the last ones were in the pipe counts too.
  if (fd === undefined && code !== CLI_BROKEN_PIPE && (await flushed(io.stdout))) code = CLI_BROKEN_PIPE;
  if (code === CLI_BROKEN_PIPE) return code; // quietly, as Unix tools do: no summary
  if (code === 0) code = batchExitCode(run.badLines, failed + failedBefore);
  const ids = record.batches.map((b) => b.batchId).join(', ') || 'none';
  io.stderr.write(
    `rxllm batch: ${ok} succeeded, ${failed} failed, ${skipped} already done${failedBefore ? ` (${failedBefore} failed)` : ''}, ${run.badLines} bad lines | ${provider} batches ${ids} | ${seconds(performance.now() - started)} | cost $${spent.toFixed(6)} at the batch price (synchronous: $${syncSpent.toFixed(6)})\n`,
  );
  if (interrupted) {
    const resume = [...run.resume, ...(out ? ['--out', out] : [])].join(' ');
    io.stderr.write(
      detached
        ? `rxllm batch: detached; the provider batch keeps running. Resume with: ${resume}\n`
        : `rxllm batch: interrupted; re-run to resume: ${resume}\n`,
    );
  }
  return code;
}
