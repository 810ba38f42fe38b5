/**
 * The demo's terminal output: colour only on a terminal, never when piped or when `NO_COLOR` is set
 * (https://no-color.org: any non-empty value), so a log file or a CI log gets plain text.
 */

/** Whether to colour what goes to `stream`. */
export function useColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

const color = useColor();
const paint =
  (open: number, close: number) =>
  (text: string): string =>
    color ? `\x1b[${open}m${text}\x1b[${close}m` : text;

export const bold = paint(1, 22);
export const dim = paint(2, 22);
export const green = paint(32, 39);
export const red = paint(31, 39);
export const cyan = paint(36, 39);

/** `3. A tool-calling loop   examples/sections/toolLoop.ts` */
export function heading(n: number, title: string, file: string): string {
  return `${bold(cyan(`${n}. ${title}`))}  ${dim(`examples/sections/${file}`)}`;
}

/** Text indented under a heading, line by line (a poem keeps its lines, no `\n` escapes). */
export function indent(text: string, by = '   '): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

/** `[██████░░░░░░░░]` for `done` of `total`. */
export function bar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${green('█'.repeat(filled))}${dim('░'.repeat(width - filled))}]`;
}

/** `npm run demo | head`: a reader that stops reading ends the demo quietly, not with an EPIPE stack. */
export function quietOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
}

/** Runs a section on its own (`npx tsx examples/sections/batch.ts`), exiting 1 on an error. */
export function runAlone(section: () => Promise<unknown>): void {
  quietOnClosedPipe();
  section().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
