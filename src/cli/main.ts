#!/usr/bin/env node
import { exitOnBrokenPipe, stopOnSignals } from './io';
import { runCli } from './run';

const argv = process.argv.slice(2);
const stop = new AbortController();
// `rxllm batch`: the first Ctrl-C or SIGTERM (a container runtime, systemd, CI, `timeout`) stops cleanly
// (results received so far are written, the lock released; re-run to resume), a second one kills.
// Without a SIGTERM listener Node would die at once, leaving the lock and no summary.
// `rxllm worker`: Ctrl-C or SIGTERM (a deploy) finishes the jobs in flight, then exits; a second one kills.
if (argv[0] === 'batch' || argv[0] === 'worker') stopOnSignals(process, stop);
// `rxllm chat … | head`: the reader left. Exit 141 without a word, as Unix tools do (see CLI_BROKEN_PIPE).
exitOnBrokenPipe(process.stdout);
exitOnBrokenPipe(process.stderr);

runCli(argv, { stdout: process.stdout, stderr: process.stderr, signal: stop.signal }).then((code) => {
  process.exitCode = code;
});
