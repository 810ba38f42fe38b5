/**
 * The results-file lock: one holder at a time; a lock whose process is gone (same host) is taken
 * over; one of another host or unreadable is never taken over; release removes only its own lock,
 * also when the process ends with process.exit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockResultsFile, ResultsFileLockedError } from '../../src/batchFile/lock';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-lock-'));
  file = join(dir, 'out.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const holder = (pid: number, host = hostname()) =>
  JSON.stringify({ pid, host, since: '2026-01-01T00:00:00.000Z' }) + '\n';

describe('lockResultsFile', () => {
  it('writes pid and host beside the file, refuses a second holder, and can be taken again once released', () => {
    const lock = lockResultsFile(file);
    expect(lock.lockPath).toBe(`${file}.lock`);
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    expect(() => lockResultsFile(file)).toThrow(ResultsFileLockedError);
    expect(() => lockResultsFile(file)).toThrow(
      new RegExp(`in use by another run \\(pid ${process.pid} on .*delete .*out\\.jsonl\\.lock`),
    );
    lock.release();
    lock.release(); // idempotent
    expect(existsSync(lock.lockPath)).toBe(false);
    lockResultsFile(file).release();
    // Only the lock files themselves were ever there: nothing left beside.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a process that is gone, on this host', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(`${file}.lock`, holder(gone));
    const lock = lockResultsFile(file);
    expect(lock.tookOver).toMatchObject({ pid: gone, host: hostname() });
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('never takes over a lock of another host or one it cannot read: it cannot tell if that run is alive', () => {
    writeFileSync(`${file}.lock`, holder(12345, 'another-host'));
    const isAlive = jest.fn(() => false);
    expect(() => lockResultsFile(file, isAlive)).toThrow(/pid 12345 on another-host/);
    expect(isAlive).not.toHaveBeenCalled();
    writeFileSync(`${file}.lock`, 'locked by hand');
    expect(() => lockResultsFile(file, isAlive)).toThrow(/in use by another run \(an unknown process\)/);
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe('locked by hand');
  });

  it('keeps a live holder of this host', () => {
    writeFileSync(`${file}.lock`, holder(4242));
    const isAlive = jest.fn(() => true);
    expect(() => lockResultsFile(file, isAlive)).toThrow(ResultsFileLockedError);
    expect(isAlive).toHaveBeenCalledWith(4242);
  });

  it('release leaves a lock that is no longer its own', () => {
    const lock = lockResultsFile(file);
    writeFileSync(lock.lockPath, holder(4242)); // someone removed ours by hand and locked again
    lock.release();
    expect(readFileSync(lock.lockPath, 'utf8')).toBe(holder(4242));
  });

  it('is released when the process ends with process.exit: twelve locks on one exit listener, no warning', () => {
    const script = join(dir, 'hold.ts');
    const lockModule = join(__dirname, '..', '..', 'src', 'batchFile', 'lock.ts');
    const files = Array.from({ length: 12 }, (_, i) => join(dir, `out${i}.jsonl`));
    writeFileSync(
      script,
      [
        `import { lockResultsFile } from ${JSON.stringify(lockModule)};`,
        `const before = process.listenerCount('exit');`,
        `const locks = ${JSON.stringify(files)}.map((f) => lockResultsFile(f));`,
        `locks[2].release();`,
        `console.log('locked', process.listenerCount('exit') - before);`,
        // Node emits 'warning' on a later tick: exit after it.
        `setTimeout(() => process.exit(3), 20);`,
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    // One listener (beside the loader's own) for the eleven held.
    expect(r.stdout).toBe('locked 1\n');
    expect(r.status).toBe(3);
    expect(r.stderr).not.toContain('MaxListenersExceededWarning');
    expect(files.filter((f) => existsSync(`${f}.lock`))).toEqual([]);
  });
});
