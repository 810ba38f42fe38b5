/**
 * The `rxllm` command: answers `--version` and `help`, and hands everything else to one file per
 * command (`chat`, the default; `batch`, with `--queue` on a fleet or `--provider-batch`; `worker`;
 * `serve`), which parses its own flags. Exit codes: 0 done, 1 the call failed, 2 a usage error, 141
 * stdout's reader left (`CLI_BROKEN_PIPE`); `rxllm batch` adds 3 (bad input lines), 130 (Ctrl-C) and 143
 * (SIGTERM).
 */
import { runChat } from './chat';
import { CLI_USAGE_ERROR, cliVersion, type CliIO } from './io';

export { CLI_BROKEN_PIPE, CLI_USAGE_ERROR, type CliIO } from './io';
export { CLI_DEFAULT_MODEL, CLI_HELP } from './chat';

const COMMANDS = ['chat', 'batch', 'serve', 'worker'] as const;

/** `rxllm batch status|collect …` and `rxllm batch in.jsonl --queue …` go to the fleet's command file. */
const onQueue = (args: string[]) =>
  args[0] === 'status' ||
  args[0] === 'collect' ||
  args.some((a) => a === '--queue' || a.startsWith('--queue='));

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'batch' && rest.includes('--provider-batch'))
    return (await import('./providerBatch')).runProviderBatch(rest, io, io.signal);
  if (first === 'batch' && onQueue(rest))
    return (await import('./batchQueue')).runBatchQueue(rest, io, io.signal);
  if (first === 'batch') return (await import('./batch')).runBatchCommand(rest, io, io.signal);
  if (first === 'worker') return (await import('./worker')).runWorker(rest, io, io.signal);
  if (first === 'serve') return (await import('./serve')).runServe(rest, io);
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${cliVersion()}\n`);
    return 0;
  }
  if (first === 'help') {
    // `rxllm help batch` is `rxllm batch --help`, as git and npm do.
    const [command, ...extra] = rest;
    if (command === undefined || command === 'chat') return runChat(['--help'], io);
    if (extra.length > 0 || !(COMMANDS as readonly string[]).includes(command)) {
      io.stderr.write(
        `rxllm: no help for "${rest.join(' ').slice(0, 100)}"; commands: ${COMMANDS.join(', ')}. Try: rxllm help\n`,
      );
      return CLI_USAGE_ERROR;
    }
    return runCli([command, '--help'], io);
  }
  // chat is the default command and takes its flags before or after its name: `rxllm -m M chat "hi"`.
  return runChat(argv, io);
}
