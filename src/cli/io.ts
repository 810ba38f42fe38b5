/**
 * What the command files of the CLI share: their streams, the exit codes, flag parsing that knows
 * numbers, and the broken-pipe rule. Command files import this, never each other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { packageRoot } from '../serve/moduleLocation';

export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: Record<string, string | undefined>;
  /** Stops a long command (`rxllm batch`) as Ctrl-C does; its reason `'SIGTERM'` for SIGTERM's exit code. */
  signal?: AbortSignal;
}

/** Exit code of a usage error (bad arguments), as POSIX utilities and most CLIs use; 1 is a failed call. */
export const CLI_USAGE_ERROR = 2;

/** Exit code of `rxllm batch` when some requests failed after their retries (their lines hold the error). */
export const CLI_REQUESTS_FAILED = 1;

/**
 * Exit code of `rxllm batch` when some input lines were bad (reported on stderr by number, skipped);
 * it wins over {@link CLI_REQUESTS_FAILED}: the file needs fixing whatever else happened.
 */
export const CLI_BAD_INPUT = 3;

/** Exit code of a command stopped by Ctrl-C: 128 + SIGINT (2), as shells report it. */
export const CLI_INTERRUPTED = 130;

/**
 * Exit code of `rxllm batch` stopped by SIGTERM (a container runtime, systemd, CI, `timeout`): 128 +
 * SIGTERM (15), the status a shell reports for a process SIGTERM killed, so a caller that checks for
 * 143 sees the same code whether the run stopped cleanly or not. `rxllm worker` exits 0 on either
 * signal instead: it finished every job it had taken, while a stopped batch left lines undone.
 */
export const CLI_TERMINATED = 143;

/** The signals that stop a long command cleanly, and the exit code of each (128 + its number). */
const STOP_SIGNALS = { SIGINT: CLI_INTERRUPTED, SIGTERM: CLI_TERMINATED } as const;

/**
 * The exit code of a command stopped by `signal`: {@link CLI_TERMINATED} when {@link stopOnSignals}
 * aborted it on SIGTERM, else {@link CLI_INTERRUPTED} (Ctrl-C, or a caller's own abort).
 */
export function interruptedExitCode(signal: AbortSignal | undefined): number {
  return signal?.reason === 'SIGTERM' ? CLI_TERMINATED : CLI_INTERRUPTED;
}

/**
 * Aborts `stop` (its reason the signal's name) on the first SIGINT or SIGTERM of `target`, and stops
 * listening to both then: Node's default for a signal without a listener ends the process, so a second
 * one, either kind, kills at once (a run stuck while stopping can still be ended).
 */
export function stopOnSignals(target: NodeJS.EventEmitter, stop: AbortController): void {
  const names = Object.keys(STOP_SIGNALS) as (keyof typeof STOP_SIGNALS)[];
  const handlers = names.map((name) => {
    const handler = () => {
      names.forEach((n, i) => target.off(n, handlers[i]));
      stop.abort(name);
    };
    target.on(name, handler);
    return handler;
  });
}

/**
 * Exit code when the reader of stdout went away (`rxllm chat … | head -c 20`): 128 + SIGPIPE (13),
 * the status a shell reports for a Unix tool killed by SIGPIPE (`yes | head`), so `set -o pipefail`
 * scripts see rxllm as they see `cat`. Not 0: the output was not all delivered (for `rxllm batch`, 0
 * means every line succeeded and was written). Node ignores SIGPIPE, so the CLI exits with it itself,
 * quietly (no message, no stack).
 */
export const CLI_BROKEN_PIPE = 141;

/**
 * The exit code of an `rxllm batch` run (either mode) that ran to its end: {@link CLI_BAD_INPUT} when
 * input lines were bad, else {@link CLI_REQUESTS_FAILED} when requests failed (in this run or, for a
 * resumed one, before), else 0.
 */
export function batchExitCode(badLines: number, failedRequests: number): number {
  if (badLines > 0) return CLI_BAD_INPUT;
  return failedRequests > 0 ? CLI_REQUESTS_FAILED : 0;
}

/** The exit codes of `rxllm batch`, both modes, as its help says them (docs/cli.md has the table). */
export const CLI_BATCH_EXIT_HELP = `Exit code: 0 every line succeeded; ${CLI_REQUESTS_FAILED} some requests failed (their lines hold the
error); ${CLI_USAGE_ERROR} bad usage, an unreadable file, or --out in use by another run (nothing sent); ${CLI_BAD_INPUT} some input lines
were bad (the rest ran); ${CLI_INTERRUPTED} stopped by Ctrl-C, ${CLI_TERMINATED} by SIGTERM (re-run to resume; a second
Ctrl-C or SIGTERM kills); ${CLI_BROKEN_PIPE} stdout was closed early (| head: the run stops).`;

/**
 * Whether `stream` can no longer be written: its reader left. Node destroys a pipe's stream at once
 * when a write fails with EPIPE (and emits the error a tick later), so a command checks this after
 * writing and stops instead of working for nobody.
 */
export function isBrokenPipe(stream: unknown): boolean {
  return (stream as { destroyed?: unknown } | null)?.destroyed === true;
}

/**
 * Resolves once what was written to `stream` so far is flushed, to whether its reader left
 * meanwhile. A pipe's EPIPE comes back a loop turn after the write, so a fast stream (the built-in
 * mock) can finish before it is known: a command waits for this before its summary on stderr. A
 * stream without write callbacks (tests pass plain objects) counts as flushed at once.
 */
export function flushed(stream: CliIO['stdout']): Promise<boolean> {
  const writable = stream as {
    write(text: string, callback: (error?: Error | null) => void): unknown;
    writableLength?: unknown;
  };
  if (typeof writable.writableLength !== 'number') return Promise.resolve(isBrokenPipe(stream));
  return new Promise((resolve) => writable.write('', (error) => resolve(!!error || isBrokenPipe(stream))));
}

/**
 * Exits with {@link CLI_BROKEN_PIPE}, quietly, when `stream` fails with EPIPE; any other error of
 * the stream is thrown as before. Without a listener, Node ends the process on the EPIPE with an
 * "Unhandled 'error' event" and a stack trace (exit 1).
 */
export function exitOnBrokenPipe(
  stream: NodeJS.EventEmitter,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    exit(CLI_BROKEN_PIPE);
  });
}

/**
 * `util.parseArgs`, where a numeric option may take a negative value: `--max-tokens -5` is passed as
 * `--max-tokens=-5`, so the command says "must be a positive integer" instead of parseArgs' "argument
 * is ambiguous". Only values that look like numbers are joined; `--port -m` stays ambiguous.
 */
export function parseCliArgs<
  T extends ParseArgsConfig & { options: NonNullable<ParseArgsConfig['options']> },
>(config: T, numeric: readonly (keyof T['options'] & string)[]): ReturnType<typeof parseArgs<T>> {
  const flags = new Map<string, string>();
  for (const name of numeric) {
    flags.set(`--${name}`, name);
    const short = config.options[name]?.short;
    if (short) flags.set(`-${short}`, name);
  }
  const args = [...(config.args ?? [])];
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '--') break;
    const name = flags.get(args[i]);
    if (name !== undefined && /^-[\d.]/.test(args[i + 1])) args.splice(i, 2, `--${name}=${args[i + 1]}`);
  }
  return parseArgs({ ...config, args }) as ReturnType<typeof parseArgs<T>>;
}

/**
 * A command's flags (see {@link parseCliArgs}), or its exit code once `--help` (0, the help on stdout)
 * or a flag error (`CLI_USAGE_ERROR`, `command: message` on stderr) was answered: the same for every
 * command.
 */
export function parseCommandArgs<
  T extends ParseArgsConfig & { options: NonNullable<ParseArgsConfig['options']> },
>(
  command: string,
  help: string,
  io: CliIO,
  config: T,
  numeric: readonly (keyof T['options'] & string)[] = [],
): ReturnType<typeof parseArgs<T>> | number {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseCliArgs(config, numeric);
  } catch (error) {
    io.stderr.write(`${command}: ${(error as Error).message}\n`);
    return CLI_USAGE_ERROR;
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(help + '\n');
    return 0;
  }
  return parsed;
}

/** Writes `command: message` and the command's help to stderr; resolves to `CLI_USAGE_ERROR`. */
export function usageError(io: CliIO, command: string, help: string, message: string): number {
  io.stderr.write(`${command}: ${message}\n${help}\n`);
  return CLI_USAGE_ERROR;
}

/**
 * A whole number flag, strictly: decimal digits only, within `[min, max]`; `undefined` when it is not.
 * `Number()` alone would take `''` as 0 (`--port ''` would bind a random port), `1e3`, `0x10`, `5.0`.
 */
export function integerFlag(
  raw: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

/** rxllm's version, from its package.json (`rxllm --version`). */
export function cliVersion(): string {
  const root = packageRoot();
  if (!root) return 'unknown';
  return String(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
}
