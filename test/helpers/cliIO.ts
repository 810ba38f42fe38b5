/**
 * A `CliIO` that collects what a command writes, for tests that call `runCli` in-process; `signal`
 * (Ctrl-C) is handed to the command when given.
 */
export function cliIO(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      signal,
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}
