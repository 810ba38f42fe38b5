/**
 * `rxllm batch in.jsonl`: the batch job from the command line, a thin shell over `batch()` and
 * `createRouter()`. Input lines are OpenAI batch-file lines (`custom_id` + `body`); results are
 * appended to `--out` as they finish (OpenAI batch-output shape plus `usage`, `cost`, `deployment`),
 * so re-running with the same `--out` skips what is done and writes nothing twice.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Observable, Subscription } from 'rxjs';
import { batch, type BatchProgress } from '../batch';
import type { ChatCompletion } from '../chunk';
import { complete } from '../client';
import { cost } from '../cost/cost';
import { errorClassName } from '../errorName';
import { ApiError } from '../errors';
import { redactSecrets } from '../redact';
import { validateRequest, type ChatRequest } from '../request';
import { createRouter, type Router } from '../router/router';
import type { RouterConfig } from '../router/config';
import { CLI_BROKEN_PIPE, flushed, integerFlag, isBrokenPipe, parseCliArgs, type CliIO } from './io';

/** Defaults of `rxllm batch`. */
export const CLI_BATCH_DEFAULTS = { concurrency: 20, retries: 3 } as const;

const HELP = `Usage: rxllm batch in.jsonl [--model provider/model | --router config.json] [--concurrency ${CLI_BATCH_DEFAULTS.concurrency}] [--retries ${CLI_BATCH_DEFAULTS.retries}] [--out out.jsonl] [--base-url URL]

One request per line, OpenAI batch-file style: {"custom_id": "t-1", "body": {"model": ..., "messages": [...]}}.
  --model, -m     send every line to this model (else each body's model)
  --router        a JSON router config (createRouter): body.model names a group
  --concurrency   requests in flight at once (default ${CLI_BATCH_DEFAULTS.concurrency})
  --retries       retries per request before the first byte (default ${CLI_BATCH_DEFAULTS.retries})
  --out, -o       append results here as they finish; re-run with the same file to resume (lines with a
                  result, failed ones included, are skipped) (default: stdout)
  --base-url, -u  base URL of an OpenAI-compatible server (with --model)
  --provider-batch  through the provider's own batch API at half price (rxllm batch --provider-batch --help)
Bad lines are reported on stderr with their line number and skipped. A progress bar is drawn on
stderr when it is a terminal. Exit code: 0 all succeeded, 1 some failed, 2 bad usage, 130 stopped by
Ctrl-C (re-run to resume), 141 stdout was closed early (| head: the run stops).`;

interface Job {
  line: number;
  customId: string;
  request: ChatRequest;
}

/** Reads the ids already in `out`; cuts a torn last line (a crash mid-write) so appends stay valid JSONL. */
function resumeFrom(out: string, err: CliIO['stderr']): Set<string> {
  const done = new Set<string>();
  if (!existsSync(out)) return done;
  const text = readFileSync(out, 'utf8');
  let valid = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const end = offset + Buffer.byteLength(line) + 1;
    if (line.trim() !== '') {
      try {
        const id = (JSON.parse(line) as { custom_id?: unknown }).custom_id;
        if (typeof id === 'string') done.add(id);
        valid = Math.min(end, Buffer.byteLength(text));
      } catch {
        if (end > Buffer.byteLength(text)) {
          err.write(`rxllm batch: the last line of ${out} was cut (a crash?); it is removed and redone.\n`);
          break;
        }
        throw new Error(`${out} is not a results file of rxllm batch (line not JSON). Use another --out.`);
      }
    } else valid = Math.min(end, Buffer.byteLength(text));
    offset = end;
  }
  if (valid < Buffer.byteLength(text)) {
    const fd = openSync(out, 'r+');
    ftruncateSync(fd, valid);
    closeSync(fd);
  }
  return done;
}

function parseLines(text: string, model: string | undefined, routed: boolean, err: CliIO['stderr']) {
  const jobs: Job[] = [];
  const seen = new Set<string>();
  let bad = 0;
  const report = (line: number, why: string) => {
    bad++;
    err.write(`rxllm batch: line ${line}: ${why}; skipped.\n`);
  };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let parsed: { custom_id?: unknown; body?: Record<string, unknown> };
    try {
      parsed = JSON.parse(raw);
    } catch {
      return report(line, 'not valid JSON');
    }
    if (typeof parsed?.custom_id !== 'string' || parsed.custom_id === '')
      return report(line, 'custom_id must be a non-empty string');
    if (seen.has(parsed.custom_id)) return report(line, `custom_id "${parsed.custom_id}" is repeated`);
    if (!parsed.body || typeof parsed.body !== 'object') return report(line, 'body must be an object');
    const body = { ...parsed.body, model: model ?? parsed.body.model };
    delete (body as { stream?: unknown }).stream;
    try {
      // A group name is not "provider/model": check the rest of the request with a stand-in model.
      validateRequest(routed && !model ? { ...body, model: 'router/group' } : body);
    } catch (error) {
      return report(line, (error as Error).message);
    }
    if (routed && typeof body.model !== 'string') return report(line, 'body.model must name a router group');
    seen.add(parsed.custom_id);
    jobs.push({ line, customId: parsed.custom_id, request: body as ChatRequest });
  });
  return { jobs, bad };
}

function errorRecord(error: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = {
    type: error instanceof Error ? errorClassName(error.constructor) : 'Error',
    message: redactSecrets(error instanceof Error ? error.message : String(error)),
  };
  if (error instanceof ApiError) record.status = error.status;
  return record;
}

function formatProgress(p: BatchProgress, started: number, spent: number, total: number): string {
  const finished = p.done + p.failed;
  const secs = (performance.now() - started) / 1000;
  const rate = secs > 0 ? finished / secs : 0;
  const eta = rate > 0 ? Math.ceil((total - finished) / rate) : undefined;
  const width = 20;
  const filled = total ? Math.round((finished / total) * width) : width;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${finished}/${total} | ${p.done} ok, ${p.failed} failed, ${p.inFlight} in flight | ${rate.toFixed(1)}/s | ETA ${eta === undefined ? '?' : `${eta}s`} | $${spent.toFixed(4)}`;
}

/** Runs `rxllm batch`; resolves to the exit code. `signal` (Ctrl-C) stops it, keeping what was written. */
export async function runBatchCommand(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseCliArgs(
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
  let done: Set<string>;
  try {
    if (values.router) router = createRouter(JSON.parse(readFileSync(values.router, 'utf8')) as RouterConfig);
    input = readFileSync(positionals[0], 'utf8');
    done = values.out ? resumeFrom(values.out, io.stderr) : new Set();
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return 2;
  }
  const { jobs, bad } = parseLines(input, values.model, router !== undefined, io.stderr);
  const todo = jobs.filter((j) => !done.has(j.customId));
  const skipped = jobs.length - todo.length;
  const options = values['base-url'] ? { baseURL: values['base-url'] } : {};
  const call = (request: ChatRequest, _i: number, opts: typeof options) =>
    (router ? router.complete(request, opts) : complete(request, opts)) as Observable<ChatCompletion>;

  const fd = values.out ? openSync(values.out, 'a') : undefined;
  // One write per result line: a crash tears at most the last line, which resumeFrom cuts.
  const write = (line: string) => (fd === undefined ? io.stdout.write(line) : writeSync(fd, line));
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
          call,
          onProgress: (p) => {
            progress = p;
            draw();
          },
        },
      ).subscribe({
        next: (r) => {
          if (stopped) return;
          const job = todo[r.index];
          const record: Record<string, unknown> = { custom_id: job.customId };
          if (r.ok) {
            ok++;
            const routed = (r.value as { route?: { deployment: string; model: string } }).route;
            const model = routed?.model ?? job.request.model;
            const price = cost(r.value.usage, model);
            if (price) spent += price.total;
            else unpriced++;
            const { route: _route, ...body } = r.value as ChatCompletion & { route?: unknown };
            record.response = { status_code: 200, body };
            record.error = null;
            record.usage = r.value.usage;
            record.cost = price ? price.total : null;
            if (routed) record.deployment = routed.deployment;
          } else {
            failed++;
            record.response = null;
            record.error = errorRecord(r.error);
            record.usage = null;
            record.cost = null;
          }
          record.attempts = r.attempts;
          write(JSON.stringify(record) + '\n');
          if (fd === undefined && isBrokenPipe(io.stdout)) {
            stopped = true;
            sub.unsubscribe();
            resolve(CLI_BROKEN_PIPE);
          }
        },
        error: (error: unknown) => {
          io.stderr.write(`\nrxllm batch: ${redactSecrets(String((error as Error)?.message ?? error))}\n`);
          resolve(1);
        },
        complete: () => resolve(failed > 0 ? 1 : 0),
      }),
    );
    signal?.addEventListener(
      'abort',
      () => {
        sub.unsubscribe(); // aborts the requests in flight; they are redone on resume
        resolve(130);
      },
      { once: true },
    );
  });
  if (fd !== undefined) closeSync(fd);
  // Results on stdout: a reader that left while the last ones were in the pipe counts too.
  if (fd === undefined && code !== CLI_BROKEN_PIPE && (await flushed(io.stdout))) code = CLI_BROKEN_PIPE;
  if (code === CLI_BROKEN_PIPE) return code; // quietly, as Unix tools do: no summary
  draw(true);
  if (tty) io.stderr.write('\n');
  const wall = ((performance.now() - started) / 1000).toFixed(2);
  io.stderr.write(
    `rxllm batch: ${ok} succeeded, ${failed} failed, ${skipped} already done, ${bad} bad lines${code === 130 ? ', interrupted (re-run to resume)' : ''} | ${wall} s | cost $${spent.toFixed(6)}${unpriced ? ` (+${unpriced} without a known price)` : ''}\n`,
  );
  return code;
}
