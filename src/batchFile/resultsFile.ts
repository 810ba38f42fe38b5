/**
 * The output side of a batch file: one JSON line per result, appended as results finish, so a run
 * that stopped (Ctrl-C, a crash, `kill -9`) resumes from what the file holds. Reading it also makes
 * it safe to append to: whatever a crash or an editor left at its end is repaired first.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

/** What {@link readResultsFile} found. */
export interface ResultsFileState {
  /** `custom_id` -> whether its recorded result succeeded (`error` is `null`). */
  done: Map<string, boolean>;
  /**
   * What was repaired at the end of the file so appends stay one JSON object a line: `'cut'` a last
   * line torn in the middle of a write (it is redone), `'newline'` a whole last line without its line
   * break (a torn write that lost only the `\n`, or a file saved by an editor). @defaultValue undefined
   */
  repaired?: 'cut' | 'newline';
}

/** The file is not a results file (a line in its middle is not JSON): nothing was changed in it. */
export class NotAResultsFileError extends Error {
  override readonly name = 'NotAResultsFileError';
  constructor(
    readonly path: string,
    /** 1-based. */
    readonly line: number,
  ) {
    super(
      `${path}: line ${line} is not JSON, so it is not a results file of rxllm batch (or it was edited there). Fix or delete that line, or use another --out.`,
    );
  }
}

const NEWLINE = 0x0a;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Reads the ids already in a results file (none when it does not exist) and repairs its end (see
 * {@link ResultsFileState.repaired}). Works on bytes, not decoded text: a line torn inside a
 * multi-byte character decodes to U+FFFD, whose length is not the bytes' length, and the cut must
 * fall exactly at the start of the torn line. Call it with the file locked (`lockResultsFile`):
 * another writer's half-written line would look torn.
 */
export function readResultsFile(path: string): ResultsFileState {
  const done = new Map<string, boolean>();
  if (!existsSync(path)) return { done };
  const bytes = readFileSync(path);
  let start = bytes.subarray(0, 3).equals(BOM) ? 3 : 0;
  let lineNumber = 0;
  while (start < bytes.length) {
    lineNumber++;
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline === -1 ? bytes.length : newline;
    const text = bytes.toString('utf8', start, end);
    if (text.trim() !== '') {
      let record: { custom_id?: unknown; error?: unknown };
      try {
        record = JSON.parse(text);
      } catch {
        if (newline !== -1) throw new NotAResultsFileError(path, lineNumber);
        truncate(path, start);
        return { done, repaired: 'cut' };
      }
      if (typeof record?.custom_id === 'string') done.set(record.custom_id, record.error == null);
      if (newline === -1) {
        appendText(path, '\n');
        return { done, repaired: 'newline' };
      }
    }
    start = end + 1;
  }
  return { done };
}

/**
 * Opens a results file for appending one line per {@link appendResultLine}; read it first with
 * {@link readResultsFile} so it ends with a line break.
 */
export function openResultsFile(path: string): number {
  return openSync(path, 'a');
}

/**
 * Appends one JSON line with one write: a crash tears at most this line, which the next
 * {@link readResultsFile} cuts.
 */
export function appendResultLine(fd: number, record: object): void {
  writeSync(fd, JSON.stringify(record) + '\n');
}

function truncate(path: string, length: number): void {
  withFile(path, 'r+', (fd) => ftruncateSync(fd, length));
}

function appendText(path: string, text: string): void {
  withFile(path, 'a', (fd) => writeSync(fd, text));
}

function withFile(path: string, flags: string, use: (fd: number) => void): void {
  const fd = openSync(path, flags);
  try {
    use(fd);
  } finally {
    closeSync(fd);
  }
}
