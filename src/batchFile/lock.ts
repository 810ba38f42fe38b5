/**
 * An exclusive lock on a results file, so two runs on one file cannot both send every request
 * (each reads the same "done" ids, then both append). A lock file beside it (`out.jsonl.lock`) holds
 * the owner's pid and host; a lock whose process is gone (`kill -9`, a crash, a second Ctrl-C) is
 * taken over, on the same host, where that can be checked. Advisory, like every lock file: only
 * programs that take it are kept out.
 */
import { randomBytes } from 'node:crypto';
import {
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  closeSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';

/** Who holds a lock (the lock file's contents). */
export interface LockHolder {
  /** The holding process's id, on `host`. */
  pid: number;
  /** `os.hostname()` of the holder: a pid can only be checked on its own host. */
  host: string;
  /** ISO time the lock was taken. */
  since: string;
}

/** A held lock. */
export interface ResultsFileLock {
  /** The lock file (`<results file>.lock`). */
  readonly lockPath: string;
  /** The holder whose process was gone and whose lock was taken over, if any. @defaultValue undefined */
  readonly tookOver?: LockHolder;
  /** Removes the lock file if it is still this lock's. Idempotent; also runs when the process exits. */
  release(): void;
}

/** Another live run holds the lock (or one that cannot be checked: another host, an unreadable lock). */
export class ResultsFileLockedError extends Error {
  override readonly name = 'ResultsFileLockedError';
  constructor(
    /** The results file. */
    readonly path: string,
    /** Its lock file. */
    readonly lockPath: string,
    /** `undefined` when the lock file could not be read. */
    readonly holder: LockHolder | undefined,
  ) {
    const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'an unknown process';
    super(
      `${path} is in use by another run (${who}): two runs on one results file would send every request twice. Wait for it to end or use another --out; if no run is going on, delete ${lockPath}.`,
    );
  }
}

/** How many times a lock that changed hands under us is looked at again before giving up. */
const ATTEMPTS = 5;

/**
 * Takes the lock of `path` (creating `path + '.lock'`), or throws {@link ResultsFileLockedError}.
 * `isAlive` says whether a pid of this host still runs (injectable for tests).
 */
export function lockResultsFile(
  path: string,
  isAlive: (pid: number) => boolean = processIsAlive,
): ResultsFileLock {
  const lockPath = `${path}.lock`;
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const mine = JSON.stringify(me) + '\n';
  let tookOver: LockHolder | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (create(lockPath, mine)) return held(lockPath, mine, tookOver);
    const text = readOrUndefined(lockPath);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parseHolder(text);
    const stale = holder !== undefined && holder.host === me.host && !isAlive(holder.pid);
    if (!stale) throw new ResultsFileLockedError(path, lockPath, holder);
    if (removeIfUnchanged(lockPath, text)) tookOver = holder;
  }
  throw new ResultsFileLockedError(path, lockPath, parseHolder(readOrUndefined(lockPath) ?? ''));
}

/**
 * The locks this process holds, released at its exit (a run ended by process.exit, when stdout's
 * reader left, still frees its files): one 'exit' listener for them all, not one per lock, which
 * past 10 locks would print `MaxListenersExceededWarning`.
 */
const heldLocks = new Set<() => void>();
const releaseAll = () => {
  for (const release of [...heldLocks]) release();
};

function held(lockPath: string, mine: string, tookOver: LockHolder | undefined): ResultsFileLock {
  const release = () => {
    if (!heldLocks.delete(release)) return;
    if (heldLocks.size === 0) process.removeListener('exit', releaseAll);
    if (readOrUndefined(lockPath) === mine) unlinkQuietly(lockPath);
  };
  if (heldLocks.size === 0) process.once('exit', releaseAll);
  heldLocks.add(release);
  return { lockPath, ...(tookOver ? { tookOver } : {}), release };
}

/**
 * Creates the lock file with its whole contents at once: written aside, then hard-linked into place
 * (`link` fails if the name exists, atomically, even over NFS), so nobody reads a half-written lock.
 * Where hard links are not supported, an exclusive create.
 */
function create(lockPath: string, contents: string): boolean {
  const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(aside, contents, { flag: 'wx' });
    linkSync(aside, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    return createExclusive(lockPath, contents);
  } finally {
    unlinkQuietly(aside);
  }
}

function createExclusive(lockPath: string, contents: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, contents);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock only if it is still the one judged stale: it is renamed aside first (atomic),
 * then compared. Two runs that find the same stale lock cannot both take over: the second one's
 * rename moves the first one's new lock, sees it is not the stale one and links it back.
 */
function removeIfUnchanged(lockPath: string, staleText: string): boolean {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = readOrUndefined(aside);
  if (moved !== staleText) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // A third run created a lock in the meantime: it holds the file now.
    }
  }
  unlinkQuietly(aside);
  return moved === staleText;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isSafeInteger(value.pid) && typeof value.host === 'string')
      return { pid: value.pid as number, host: value.host, since: String(value.since ?? '?') };
  } catch {
    // Not ours, or written by hand: the holder is unknown, and such a lock is never taken over.
  }
  return undefined;
}

/** Signal 0 checks existence without signalling; EPERM means it exists under another user. */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
