#!/usr/bin/env node
import { exitOnBrokenPipe } from './io';
import { runCli } from './run';

const argv = process.argv.slice(2);
const stop = new AbortController();
// `rxllm batch`: the first Ctrl-C stops cleanly (results written so far stay; re-run to resume), a second one kills.
if (argv[0] === 'batch') process.once('SIGINT', () => stop.abort());
// `rxllm worker`: Ctrl-C or SIGTERM (a deploy) finishes the jobs in flight, then exits; a second Ctrl-C kills.
if (argv[0] === 'worker') {
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
}
// `rxllm chat … | head`: the reader left. Exit 141 without a word, as Unix tools do (see CLI_BROKEN_PIPE).
exitOnBrokenPipe(process.stdout);
exitOnBrokenPipe(process.stderr);

runCli(argv, { stdout: process.stdout, stderr: process.stderr, signal: stop.signal }).then((code) => {
  process.exitCode = code;
});
