/**
 * `rxllm batch … --queue redis://…`: the batch job on a fleet of workers (BullMQ). Three verbs:
 * `rxllm batch in.jsonl --queue URL` enqueues the file, `rxllm batch status --queue URL --batch ID`
 * prints where it stands, `rxllm batch collect --queue URL --batch ID [--out out.jsonl]` writes the
 * results as they are recorded, resumable like `rxllm batch --out`. A thin shell over rxllm/bullmq;
 * bullmq and ioredis are loaded only here.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redactSecrets } from '../redact';
import { type CliIO, interruptedExitCode, parseCommandArgs, usageError } from './io';

const QUEUE_NAME = 'rxllm-batch';
const POLL_MS = 500;

const HELP = `Usage: rxllm batch in.jsonl --queue redis://host:6379 [--batch ID] [--model provider/model | --routed] [--queue-name ${QUEUE_NAME}]
       rxllm batch status --queue redis://host:6379 --batch ID [--json]
       rxllm batch collect --queue redis://host:6379 --batch ID [--out out.jsonl] [--no-follow]

A batch on a fleet of workers (start them with: rxllm worker --queue redis://host:6379).
  in.jsonl --queue  enqueue one job per line (OpenAI batch-file lines); enqueuing the same lines again adds
                    nothing. --batch names the batch (default: the file's name and a hash of its content).
                    Lines are read as rxllm batch reads them: a bare model name is taken as openai/….
  --routed          body.model (or --model) names a group of the workers' router (rxllm worker --router),
                    taken as it is.
  status            done / failed / waiting / active, rate, ETA, cost so far, and the calls sent again
                    after a worker died (the provider call is at-least-once).
  collect           write the results (the rxllm batch output lines) as they are recorded, to --out or
                    stdout, until every request has one (--no-follow: only those recorded now). Re-run with
                    the same --out to resume: only the missing ones are appended.
Exit code: 0 done, 1 bad lines (enqueue), failed requests (collect) or Redis unreachable, 2 bad usage, 130 Ctrl-C, 143 SIGTERM.`;

type Fleet = typeof import('../bullmq/connect') &
  typeof import('../bullmq/enqueue') &
  typeof import('../bullmq/status');

/** The custom_ids already in `out`; a torn last line is cut, a last line without its newline gets one. */
function idsIn(out: string, io: CliIO): Set<string> {
  const ids = new Set<string>();
  if (!existsSync(out)) return ids;
  const bytes = readFileSync(out);
  const lines = bytes.toString('utf8').split('\n');
  const last = lines.pop() ?? '';
  for (const [i, l] of lines.entries()) {
    if (l.trim() === '') continue;
    try {
      ids.add(String((JSON.parse(l) as { custom_id: unknown }).custom_id));
    } catch {
      throw new Error(`${out} line ${i + 1} is not JSON: not a results file. Use another --out.`);
    }
  }
  if (last.trim() === '') return ids;
  let whole = true;
  try {
    ids.add(String((JSON.parse(last) as { custom_id: unknown }).custom_id));
  } catch {
    whole = false;
  }
  const fd = openSync(out, 'r+');
  try {
    if (whole) writeSync(fd, '\n', bytes.length);
    else {
      io.stderr.write(
        `rxllm batch: the last line of ${out} was cut (a crash?); it is removed and written again.\n`,
      );
      ftruncateSync(fd, bytes.length - Buffer.byteLength(last));
    }
  } finally {
    closeSync(fd);
  }
  return ids;
}

function statusLine(s: Awaited<ReturnType<Fleet['batchStatus']>>): string {
  const finished = s.done + s.failed;
  const eta = s.remaining === 0 ? 'done' : s.etaSeconds === undefined ? 'ETA ?' : `ETA ${s.etaSeconds}s`;
  const resent = s.resent
    ? `, ${s.resent} beyond recorded attempts (~$${s.resentCostEstimate.toFixed(6)})`
    : '';
  return `${s.batchId}: ${finished}/${s.total} | ${s.done} ok, ${s.failed} failed | queue: ${s.waiting} waiting, ${s.active} active | ${s.rate.toFixed(1)}/s | ${eta} | cost $${s.cost.toFixed(6)} | ${s.sent} calls sent${resent}`;
}

function defaultBatchId(file: string, text: string): string {
  const name =
    basename(file)
      .replace(/\.[^.]*$/, '')
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 60) || 'batch';
  return `${name}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

/** Runs `rxllm batch` with `--queue`, or `rxllm batch status|collect`; resolves to the exit code. */
export async function runBatchQueue(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    'rxllm batch',
    HELP,
    io,
    {
      args: argv,
      allowPositionals: true,
      options: {
        queue: { type: 'string' },
        'queue-name': { type: 'string' },
        batch: { type: 'string' },
        model: { type: 'string', short: 'm' },
        routed: { type: 'boolean' },
        out: { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        'no-follow': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    [],
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const usage = (message: string) => usageError(io, 'rxllm batch', HELP, message);
  const verb = positionals[0] === 'status' || positionals[0] === 'collect' ? positionals[0] : 'enqueue';
  if (positionals.length !== 1) return usage('give one input file, or status / collect');
  if (!values.queue) return usage(`${verb} needs --queue redis://host:6379`);
  if (verb !== 'enqueue' && !values.batch)
    return usage(`${verb} needs --batch ID (printed when it was enqueued)`);
  if (verb !== 'collect' && (values.out || values['no-follow']))
    return usage('--out and --no-follow are for collect');
  if (verb !== 'enqueue' && (values.model || values.routed))
    return usage('--model and --routed are for enqueuing');

  let fleet: Fleet;
  try {
    fleet = {
      ...(await import('../bullmq/connect')),
      ...(await import('../bullmq/enqueue')),
      ...(await import('../bullmq/status')),
    };
  } catch (error) {
    io.stderr.write(
      `rxllm batch: --queue needs the bullmq package (npm install bullmq): ${(error as Error).message}\n`,
    );
    return 2;
  }
  let opened: Awaited<ReturnType<Fleet['openQueue']>>;
  try {
    opened = await fleet.openQueue(values.queue, values['queue-name'] ?? QUEUE_NAME);
  } catch (error) {
    if (error instanceof TypeError) return usage(error.message);
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return 1;
  }
  const { queue } = opened;
  try {
    if (verb === 'enqueue') {
      const file = positionals[0];
      const text = readFileSync(file, 'utf8');
      const batchId = values.batch ?? defaultBatchId(file, text);
      const r = await fleet.enqueueBatch(queue, file, {
        batchId,
        model: values.model,
        routed: values.routed === true,
      });
      for (const b of r.bad) io.stderr.write(`rxllm batch: line ${b.line}: ${b.reason}; skipped.\n`);
      io.stdout.write(`${batchId}\n`);
      io.stderr.write(
        `rxllm batch: batch ${batchId}: ${r.added} jobs added, ${r.total} in the batch, ${r.bad.length} bad lines. ` +
          `Follow it: rxllm batch status --queue … --batch ${batchId}\n`,
      );
      return r.bad.length > 0 ? 1 : 0;
    }
    if (verb === 'status') {
      const s = await fleet.batchStatus(queue, values.batch!);
      io.stdout.write((values.json ? JSON.stringify(s) : statusLine(s)) + '\n');
      return 0;
    }
    return await collect(fleet, queue, values.batch!, values.out, !values['no-follow'], io, signal);
  } catch (error) {
    io.stderr.write(`rxllm batch: ${redactSecrets((error as Error).message)}\n`);
    return 1;
  } finally {
    await opened.close().catch(() => {});
  }
}

async function collect(
  fleet: Fleet,
  queue: Awaited<ReturnType<Fleet['openQueue']>>['queue'],
  batchId: string,
  out: string | undefined,
  follow: boolean,
  io: CliIO,
  signal?: AbortSignal,
): Promise<number> {
  const have = out ? idsIn(out, io) : new Set<string>();
  const fd = out ? openSync(out, 'a') : undefined;
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let written = 0;
  let after = '-';
  try {
    for (;;) {
      // Status first: results recorded after it are read by this round or the next, none is missed.
      const status = await fleet.batchStatus(queue, batchId);
      for (;;) {
        const { records, next } = await fleet.readBatchResults(queue, batchId, { after, count: 1000 });
        if (records.length === 0) break;
        after = next;
        const text = records
          .filter((r) => !have.has(r.custom_id))
          .map((r) => {
            have.add(r.custom_id);
            return JSON.stringify(r) + '\n';
          })
          .join('');
        // One write per page: a crash tears at most the last line, which the next run cuts.
        if (text && fd === undefined) io.stdout.write(text);
        else if (text) writeSync(fd!, text);
        written += text ? text.split('\n').length - 1 : 0;
      }
      if (tty) io.stderr.write(`\r${statusLine(status)}\x1b[K`);
      if (status.total === 0)
        throw new Error(`no batch "${batchId}" on this queue (check --batch and --queue-name).`);
      if (status.remaining === 0 || !follow) {
        if (tty) io.stderr.write('\n');
        io.stderr.write(`rxllm batch: ${written} results written; ${statusLine(status)}\n`);
        return status.remaining === 0 && status.failed > 0 ? 1 : 0;
      }
      // Node's abortable timer removes its abort listener when it fires: one poll, one listener.
      const stopped = await sleep(POLL_MS, false, { signal }).catch(() => true);
      if (stopped) {
        io.stderr.write(`\nrxllm batch: ${written} results written; stopped (re-run to resume)\n`);
        return interruptedExitCode(signal);
      }
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
