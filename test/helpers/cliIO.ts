/** A `CliIO` that collects what a command writes, for tests that call `runCli` in-process. */
export function cliIO() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}
