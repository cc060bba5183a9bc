/**
 * Exclusive lock files shared by processes: a lock is a file created with O_CREAT|O_EXCL holding
 * `pid starttime token`. A lock whose pid is dead (or whose pid was reused: the start time in
 * /proc/PID/stat differs) is stale and is taken over. Takeover renames the stale file away first,
 * so two processes that both find it stale cannot both end up holding the lock.
 *
 * Used for ingest refs (content.ts, fail fast: "ref locked") and the refs file (refs.ts, waits).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { LockedError, errnoCode } from './errors.ts';

export interface LockOwner {
  pid: number;
  /** field 22 of /proc/PID/stat when it was readable, guarding against pid reuse */
  start: string | undefined;
  token: string;
}

/** An unparseable lock (its creator may be between open and write) counts as held for this long. */
const UNREADABLE_GRACE_MS = 10_000;

/** Start time of a process in clock ticks since boot, or undefined (no /proc, pid gone). */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `owner` still runs. */
export function ownerAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if (errnoCode(e) !== 'EPERM') return false; // ESRCH: gone
  }
  if (owner.start === undefined) return true;
  const now = processStart(owner.pid);
  return now === undefined || now === owner.start;
}

function parseOwner(text: string): LockOwner | undefined {
  const [pid, start, token] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !token) return undefined;
  return { pid: n, start: start === '-' ? undefined : start, token };
}

/** The owner written in lock file `path`; undefined if there is no such file; null if unreadable. */
export async function readLockOwner(path: string): Promise<LockOwner | null | undefined> {
  try {
    return parseOwner(await readFile(path, 'utf8')) ?? null;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether lock file `path` is held by a live process. */
export async function isLocked(path: string): Promise<{ locked: boolean; pid?: number }> {
  const owner = await readLockOwner(path);
  if (owner === undefined) return { locked: false };
  if (owner === null) return { locked: await unreadableIsFresh(path) };
  return ownerAlive(owner) ? { locked: true, pid: owner.pid } : { locked: false, pid: owner.pid };
}

async function unreadableIsFresh(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs < UNREADABLE_GRACE_MS;
  } catch {
    return false;
  }
}

/** A held lock. `release()` removes the file only if it is still ours. */
export class FileLock {
  #released = false;
  constructor(readonly path: string, readonly token: string) {}

  get released(): boolean {
    return this.#released;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const owner = await readLockOwner(this.path);
    if (owner && owner.token === this.token) {
      await unlink(this.path).catch((e) => {
        if (errnoCode(e) !== 'ENOENT') throw e;
      });
    }
  }
}

const ownStart = processStart(process.pid);

/**
 * Takes lock file `path` (its directory must exist) or throws LockedError naming `what` and the
 * holder's pid. A stale lock (dead holder) is taken over.
 */
export async function tryLock(path: string, what: string): Promise<FileLock> {
  const token = randomBytes(12).toString('hex');
  const content = `${process.pid} ${ownStart ?? '-'} ${token}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
      return new FileLock(path, token);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    const owner = await readLockOwner(path);
    if (owner === undefined) continue; // released meanwhile: try again
    if (owner === null) {
      if (await unreadableIsFresh(path)) throw new LockedError(what, path, undefined);
    } else if (ownerAlive(owner)) {
      throw new LockedError(what, path, owner.pid);
    }
    await takeOver(path, owner, what);
  }
  throw new LockedError(what, path, undefined);
}

/** Moves a stale lock out of the way; restores it if it turned out to be a fresh one. */
async function takeOver(path: string, stale: LockOwner | null, what: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return; // someone else moved it
    throw e;
  }
  const moved = await readLockOwner(aside);
  const same = stale === null ? moved === null : moved != null && moved.token === stale.token;
  if (!same && moved && ownerAlive(moved)) {
    // Between our read and our rename another process took the stale lock over: put theirs back.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    throw new LockedError(what, path, moved.pid);
  }
  await unlink(aside).catch(() => undefined);
}

/** Like tryLock, but waits (polling with backoff) up to `timeoutMs` for a live holder. */
export async function lock(path: string, what: string, timeoutMs = 10_000): Promise<FileLock> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      return await tryLock(path, what);
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
