/**
 * `rxllm batch in.jsonl --provider-batch`: the same job through the provider's own batch API
 * (`submitBatch`), at its batch price. Output lines are those of the synchronous mode; the batch ids
 * are recorded next to the results (`<out>.batch.json`, or `<in>.batch.json` without `--out`), so a
 * re-run resumes polling and never submits a request twice. Ctrl-C detaches: the batch keeps running.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { EMPTY, merge, type Observable, type Subscription } from 'rxjs';
import { batch } from '../batch';
import type { ChatCompletion } from '../chunk';
import { complete } from '../client';
import { cost } from '../cost/cost';
import { errorClassName } from '../errorName';
import { ApiError } from '../errors';
import {
  resumeBatch,
  submitBatch,
  type BatchEvent,
  type ProviderBatchRequest,
} from '../providerBatch/submit';
import { redactSecrets } from '../redact';
import { validateRequest, type ChatRequest } from '../request';
import { integerFlag, parseCliArgs, type CliIO } from './io';

/** Defaults of `rxllm batch --provider-batch`. */
export const CLI_PROVIDER_BATCH_DEFAULTS = { pollMs: 30_000 } as const;

const HELP = `Usage: rxllm batch in.jsonl --provider-batch [--model provider/model] [--out out.jsonl] [--poll-ms ${CLI_PROVIDER_BATCH_DEFAULTS.pollMs}] [--base-url URL] [--retry-failed]

Sends the lines through the provider's own batch API (OpenAI Batch, Anthropic Message Batches,
Gemini Batch Mode): half the price, answers within 24 hours. Lines as in the synchronous mode.
  --model, -m      every line to this model (else each body's model; one provider per run)
  --out, -o        results here as they arrive (default: stdout); the batch ids go to <out>.batch.json
                   (<in>.batch.json without --out): re-run the same command to resume, nothing is sent twice
  --poll-ms        between two status polls (default ${CLI_PROVIDER_BATCH_DEFAULTS.pollMs})
  --base-url, -u   the provider's base URL (else OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL)
  --retry-failed   re-run the requests that failed in the batch synchronously (at the synchronous price)
Ctrl-C detaches (the batch keeps running) and prints the command that resumes it. Exit code: 0 all
succeeded, 1 some failed, 2 bad usage, 130 detached by Ctrl-C.`;

interface Job {
  customId: string;
  request: ChatRequest;
}

/** What `<out>.batch.json` holds: the submitted batches and their ids. */
interface BatchRecord {
  provider: string;
  batches: { batchId: string; customIds: string[] }[];
}

function parseJobs(
  text: string,
  model: string | undefined,
  err: CliIO['stderr'],
): { jobs: Job[]; bad: number } {
  const jobs: Job[] = [];
  const seen = new Set<string>();
  let bad = 0;
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      if (raw.trim() === '') return;
      const skip = (why: string) => {
        bad++;
        err.write(`rxllm batch: line ${i + 1}: ${why}; skipped.\n`);
      };
      let line: { custom_id?: unknown; body?: Record<string, unknown> };
      try {
        line = JSON.parse(raw);
      } catch {
        return skip('not valid JSON');
      }
      const id = line?.custom_id;
      if (typeof id !== 'string' || id === '') return skip('custom_id must be a non-empty string');
      if (seen.has(id)) return skip(`custom_id "${id}" is repeated`);
      if (!line.body || typeof line.body !== 'object') return skip('body must be an object');
      let name = model ?? line.body.model;
      // A bare model name, as OpenAI batch files carry it, is an OpenAI model.
      if (typeof name === 'string' && !name.includes('/')) name = `openai/${name}`;
      const { stream: _stream, ...body } = { ...line.body, model: name } as Record<string, unknown>;
      try {
        jobs.push({ customId: id, request: validateRequest(body) });
        seen.add(id);
      } catch (error) {
        skip((error as Error).message);
      }
    });
  return { jobs, bad };
}

/**
 * The ids already answered in `out` (any line with a custom_id). A last line torn by a crash is cut,
 * so what is appended next starts on a line of its own; its request is answered again.
 */
function doneIds(out: string | undefined, err: CliIO['stderr']): Set<string> {
  const done = new Set<string>();
  if (!out || !existsSync(out)) return done;
  const text = readFileSync(out, 'utf8');
  const whole = text.endsWith('\n') || text === '' ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  if (whole.length < text.length) {
    err.write(`rxllm batch: the last line of ${out} was cut (a crash?); it is removed and redone.\n`);
    truncateSync(out, Buffer.byteLength(whole));
  }
  for (const line of whole.split('\n')) {
    if (line.trim() === '') continue;
    let id: unknown;
    try {
      id = (JSON.parse(line) as { custom_id?: unknown }).custom_id;
    } catch {
      throw new Error(`${out} is not a results file of rxllm batch (line not JSON). Use another --out.`);
    }
    if (typeof id === 'string') done.add(id);
  }
  return done;
}

function errorRecord(error: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = {
    type: error instanceof Error ? errorClassName(error.constructor) : 'Error',
    message: redactSecrets(error instanceof Error ? error.message : String(error)),
  };
  const cause = (error as { cause?: unknown })?.cause;
  if (error instanceof ApiError) record.status = error.status;
  else if (cause instanceof ApiError) record.status = cause.status;
  const reason = (error as { reason?: unknown })?.reason;
  if (typeof reason === 'string') record.reason = reason;
  return record;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/** Runs `rxllm batch … --provider-batch`; resolves to the exit code. */
export async function runProviderBatch(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseCliArgs(
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
    ));
  } catch (error) {
    io.stderr.write(`rxllm batch: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(HELP + '\n');
    return 0;
  }
  const usage = (message: string) => {
    io.stderr.write(`rxllm batch: ${message}\n${HELP}\n`);
    return 2;
  };
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
    return 2;
  }
  const { jobs, bad } = parseJobs(input, values.model, io.stderr);
  const providers = new Set(jobs.map((j) => j.request.model.split('/')[0]));
  if (providers.size > 1)
    return usage(`one provider per provider batch; the lines name ${[...providers].join(', ')}`);
  const provider = [...providers][0] ?? 'openai';
  if (!['openai', 'anthropic', 'gemini'].includes(provider))
    return usage(`provider "${provider}" has no batch API here (openai, anthropic, gemini)`);

  const out = values.out;
  const recordPath = `${out ?? inFile}.batch.json`;
  let record: BatchRecord = { provider, batches: [] };
  try {
    if (existsSync(recordPath)) record = JSON.parse(readFileSync(recordPath, 'utf8')) as BatchRecord;
  } catch {
    return usage(`${recordPath} is not a batch record of rxllm; move it away to submit anew`);
  }
  const saveRecord = () => {
    writeFileSync(`${recordPath}.tmp`, JSON.stringify(record, null, 2) + '\n');
    renameSync(`${recordPath}.tmp`, recordPath); // whole or not at all, even if killed mid-write
  };

  let done: Set<string>;
  try {
    done = doneIds(out, io.stderr);
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return 2;
  }
  const todo = new Map(jobs.filter((j) => !done.has(j.customId)).map((j) => [j.customId, j]));
  const submitted = new Set(record.batches.flatMap((b) => b.customIds));
  const toResume = record.batches.filter((b) => b.customIds.some((id) => todo.has(id)));
  const toSubmit = [...todo.values()].filter((j) => !submitted.has(j.customId));
  const target = { baseURL: values['base-url'], pollMs, cancelOnUnsubscribe: false };
  const models = Object.fromEntries(jobs.map((j) => [j.customId, j.request.model]));

  const fd = out ? openSync(out, 'a') : undefined;
  const write = (line: string) => (fd === undefined ? io.stdout.write(line) : writeSync(fd, line));
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const started = performance.now();
  const statuses = new Map<string, string>();
  let ok = 0;
  let failed = 0;
  let spent = 0;
  let syncSpent = 0;
  const retry: Job[] = [];

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
      saveRecord();
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
      if (!done.has(e.custom_id))
        io.stderr.write(
          `rxllm batch: ${e.type === 'error' ? e.error.message : `an answer for unknown id "${e.custom_id}"`}\n`,
        );
    } else if (e.type === 'result') {
      todo.delete(e.custom_id);
      ok++;
      spent += e.cost ?? 0;
      syncSpent += e.syncCost ?? 0;
      const line = {
        custom_id: e.custom_id,
        response: { status_code: 200, body: e.completion },
        error: null,
        usage: e.usage,
        cost: e.cost,
        batch_id: e.batchId,
      };
      write(JSON.stringify(line) + '\n');
    } else if (values['retry-failed']) {
      retry.push(todo.get(e.custom_id)!);
      todo.delete(e.custom_id);
    } else {
      todo.delete(e.custom_id);
      failed++;
      const line = {
        custom_id: e.custom_id,
        response: null,
        error: errorRecord(e.error),
        usage: null,
        cost: null,
        batch_id: e.batchId,
      };
      write(JSON.stringify(line) + '\n');
    }
  };

  let sub: Subscription | undefined;
  let code = await new Promise<number>((resolve) => {
    sub = events.subscribe({
      next: onEvent,
      error: (error: unknown) => {
        io.stderr.write(`\nrxllm batch: ${redactSecrets(String((error as Error)?.message ?? error))}\n`);
        resolve(1);
      },
      complete: () => resolve(0),
    });
    signal?.addEventListener('abort', () => resolve(130), { once: true });
  });
  sub?.unsubscribe(); // detaches: cancelOnUnsubscribe is off, the provider batch keeps running
  if (tty) io.stderr.write('\n');

  if (code !== 130 && retry.length > 0) {
    io.stderr.write(`rxllm batch: re-running ${retry.length} failed requests synchronously\n`);
    const options = values['base-url'] ? { baseURL: values['base-url'] } : {};
    await new Promise<void>((resolve) => {
      batch(
        retry.map((j) => j.request),
        { options, call: (r, _i, o) => complete(r, o) as Observable<ChatCompletion> },
      ).subscribe({
        next: (r) => {
          const job = retry[r.index];
          const price = r.ok ? (cost(r.value.usage, job.request.model)?.total ?? null) : null;
          if (r.ok) {
            ok++;
            spent += price ?? 0;
            syncSpent += price ?? 0;
          } else failed++;
          const line = r.ok
            ? {
                custom_id: job.customId,
                response: { status_code: 200, body: r.value },
                error: null,
                usage: r.value.usage,
                cost: price,
                attempts: r.attempts,
              }
            : {
                custom_id: job.customId,
                response: null,
                error: errorRecord(r.error),
                usage: null,
                cost: null,
                attempts: r.attempts,
              };
          write(JSON.stringify(line) + '\n');
        },
        complete: resolve,
        error: () => resolve(),
      });
    });
  }
  if (fd !== undefined) closeSync(fd);
  if (code === 0 && failed > 0) code = 1;
  const ids = record.batches.map((b) => b.batchId).join(', ') || 'none';
  io.stderr.write(
    `rxllm batch: ${ok} succeeded, ${failed} failed, ${done.size} already done, ${bad} bad lines | ${provider} batches ${ids} | ${seconds(performance.now() - started)} | cost $${spent.toFixed(6)} at the batch price (synchronous: $${syncSpent.toFixed(6)})\n`,
  );
  if (code === 130) {
    const resume = [
      'rxllm batch',
      inFile,
      '--provider-batch',
      ...(values.model ? ['--model', values.model] : []),
      ...(out ? ['--out', out] : []),
    ];
    io.stderr.write(
      `rxllm batch: detached; the provider batch keeps running. Resume with: ${resume.join(' ')}\n`,
    );
  }
  return code;
}
