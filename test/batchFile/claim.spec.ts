/**
 * Claiming a results file for a run: locked before it is read, notices for what was taken over or
 * repaired, nothing held when it cannot be used; what is left of a batch file given its results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimResultsFile, pendingJobs } from '../../src/batchFile/claim';
import { lockResultsFile, ResultsFileLockedError } from '../../src/batchFile/lock';
import { NotAResultsFileError } from '../../src/batchFile/resultsFile';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-claim-'));
  file = join(dir, 'out.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (id: string, error: unknown = null) => JSON.stringify({ custom_id: id, error });

describe('claimResultsFile', () => {
  it('locks the file, then reads which ids are done and whether they succeeded', () => {
    writeFileSync(file, `${line('a')}\n${line('b', { type: 'X' })}\n`);
    const claimed = claimResultsFile(file);
    try {
      expect(existsSync(`${file}.lock`)).toBe(true);
      expect([...claimed.done]).toEqual([
        ['a', true],
        ['b', false],
      ]);
      expect(claimed.notices).toEqual([]);
    } finally {
      claimed.lock?.release();
    }
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('says what it took over and repaired, one sentence each', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: gone, host: hostname(), since: 'then' }));
    writeFileSync(file, `${line('a')}\n{"custom_id":"b","err`);
    const claimed = claimResultsFile(file);
    claimed.lock?.release();
    expect(claimed.notices).toEqual([
      `took over the lock of pid ${gone}, which is no longer running.`,
      `the last line of ${file} was cut (a crash?); it is removed and redone.`,
    ]);
    expect(readFileSync(file, 'utf8')).toBe(`${line('a')}\n`);

    writeFileSync(file, line('a'));
    const again = claimResultsFile(file);
    again.lock?.release();
    expect(again.notices).toEqual([`the last line of ${file} had no line break; one was added.`]);
  });

  it('throws with nothing held: a file in use, or one that is not a results file (its lock released)', () => {
    const held = lockResultsFile(file);
    expect(() => claimResultsFile(file)).toThrow(ResultsFileLockedError);
    held.release();

    writeFileSync(file, `not json\n${line('a')}\n`);
    expect(() => claimResultsFile(file)).toThrow(NotAResultsFileError);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('locks another path when told (a run without a results file), reading nothing', () => {
    const record = join(dir, 'in.jsonl.batch.json');
    const claimed = claimResultsFile(undefined, record);
    expect(claimed.lock?.lockPath).toBe(`${record}.lock`);
    expect(claimed.done.size).toBe(0);
    claimed.lock?.release();
    expect(claimResultsFile(undefined).lock).toBeUndefined();
  });
});

describe('pendingJobs', () => {
  it('keeps the jobs without a result in file order, counting those done and those that failed', () => {
    const jobs = ['a', 'b', 'c', 'd'].map((customId) => ({ customId }));
    const done = new Map([
      ['b', true],
      ['d', false],
      ['zz', false], // not in this file: not counted
    ]);
    expect(pendingJobs(jobs, done)).toEqual({
      todo: [{ customId: 'a' }, { customId: 'c' }],
      skipped: 2,
      failedBefore: 1,
    });
  });
});
