/**
 * The results file is made safe to append to before a run resumes: a torn last line is cut (at the
 * byte, even inside a multi-byte character), a whole last line without its line break gets one, a
 * byte-order mark is skipped; a file with a bad line in its middle is refused and left as it was.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendResultLine,
  NotAResultsFileError,
  openResultsFile,
  readResultsFile,
} from '../../src/batchFile/resultsFile';
import { closeSync } from 'node:fs';
import { LINEAR_BOUND, ratio4x } from '../helpers/linear';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-results-'));
  file = join(dir, 'out.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ok = (id: string) => JSON.stringify({ custom_id: id, response: { status_code: 200 }, error: null });
const failed = (id: string) => JSON.stringify({ custom_id: id, response: null, error: { type: 'X' } });
/** Appends a record the way a run does, then reads every line back as JSON. */
function appendAndRead(id: string) {
  const fd = openResultsFile(file);
  appendResultLine(fd, { custom_id: id });
  closeSync(fd);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l.replace(/^\uFEFF/, '')).custom_id);
}

describe('readResultsFile', () => {
  it('finds nothing in a file that does not exist (and does not create it)', () => {
    expect(readResultsFile(file)).toEqual({ done: new Map() });
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
  });

  it('reads which ids are done and whether they succeeded', () => {
    writeFileSync(file, `${ok('a')}\n${failed('b')}\n\n`);
    expect(readResultsFile(file)).toEqual({
      done: new Map([
        ['a', true],
        ['b', false],
      ]),
    });
  });

  it('adds the missing line break after a whole last line, so the next result gets a line of its own', () => {
    writeFileSync(file, `${ok('a')}\n${ok('b')}`);
    const state = readResultsFile(file);
    expect(state.repaired).toBe('newline');
    expect([...state.done.keys()]).toEqual(['a', 'b']);
    expect(appendAndRead('c')).toEqual(['a', 'b', 'c']);
    // Read again: nothing left to repair.
    expect(readResultsFile(file).repaired).toBeUndefined();
  });

  it('cuts a torn last line at its first byte, also when torn inside a multi-byte character', () => {
    const whole = `${ok('a')}\n`;
    const torn = Buffer.from('{"custom_id":"b","response":{"body":"日本', 'utf8');
    writeFileSync(file, whole);
    appendFileSync(file, torn.subarray(0, torn.length - 1)); // the last character lost a byte
    const state = readResultsFile(file);
    expect(state).toEqual({ done: new Map([['a', true]]), repaired: 'cut' });
    expect(readFileSync(file, 'utf8')).toBe(whole);
    expect(appendAndRead('b')).toEqual(['a', 'b']);
  });

  it('keeps the byte offsets right after non-ASCII lines and a byte-order mark', () => {
    writeFileSync(
      file,
      `\uFEFF${JSON.stringify({ custom_id: 'ü', error: null, text: 'ß👋' })}\n{"custom_id":"x`,
    );
    const state = readResultsFile(file);
    expect(state.repaired).toBe('cut');
    expect([...state.done.keys()]).toEqual(['ü']);
    expect(appendAndRead('y')).toEqual(['ü', 'y']);
  });

  it('refuses a file with a line that is not JSON in its middle, naming the line, and changes nothing', () => {
    const text = `${ok('a')}\n${ok('b')}${ok('c')}\n${ok('d')}`;
    writeFileSync(file, text);
    expect(() => readResultsFile(file)).toThrow(NotAResultsFileError);
    expect(() => readResultsFile(file)).toThrow(/out\.jsonl: line 2 is not JSON.*Fix or delete that line/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('reads in time linear in the file size (each line is decoded once, not the whole file per line)', () => {
    const record = JSON.stringify({
      custom_id: 'x',
      response: { status_code: 200, body: { text: 'é'.repeat(50) } },
    });
    const files = new Map<number, string>();
    const fileOf = (n: number) => {
      if (!files.has(n)) {
        const path = join(dir, `big-${n}.jsonl`);
        writeFileSync(
          path,
          `${record.replace('"x"', '"%"')}\n`.repeat(n).replace(/%/g, () => String(Math.random())),
        );
        files.set(n, path);
      }
      return files.get(n)!;
    };
    expect(ratio4x((n) => readResultsFile(fileOf(n)), 2_000)).toBeLessThan(LINEAR_BOUND);
  });
});
