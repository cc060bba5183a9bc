/**
 * Leases: what an operation in flight (a pull, an unpack) has written or relies on but not yet
 * tagged or owned, so that garbage collection keeps it. containerd's leases, as files:
 *
 *   <dir>/<id>.json   {"pid","start","label","createdAt","content":[digest…],"snapshots":[chainId…]}
 *   <gcLock>          held by a collection for its whole mark and sweep (lock.ts)
 *
 * A lease belongs to a process: its pid and start time (field 22 of /proc/PID/stat) are in the
 * file, and a lease whose process is gone (or whose pid was reused) is ignored and removed by the
 * next collection, so a crashed pull protects nothing forever.
 *
 * The ordering that makes it safe: `add()` writes the digests while holding the gc lock, so an
 * addition either happens before a collection (which then reads it: the digests are roots) or
 * after one finished (whatever it deleted is gone, and the caller, which checks for the blob only
 * after `add()` returned, fetches it again). A pull therefore leases each digest before it asks
 * the store whether the blob is already there, and releases the lease only after tagging.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from './digest.ts';
import { StoreError, errnoCode } from './errors.ts';
import { lock, ownerAlive, processStart } from './lock.ts';

/** What a lease protects. */
export interface LeaseResources {
  /** blobs of the content store */
  content?: Iterable<Digest>;
  /** snapshots (unpacked layers) by chain ID */
  snapshots?: Iterable<Digest>;
}

/** A lease as stored. */
export interface LeaseInfo {
  id: string;
  pid: number;
  /** start time of `pid` (clock ticks since boot), or undefined where /proc was unreadable */
  start: string | undefined;
  label: string;
  createdAt: string;
  content: Digest[];
  snapshots: Digest[];
}

/** Leases that live processes hold, merged. */
export interface ActiveLeases {
  leases: LeaseInfo[];
  content: Set<Digest>;
  snapshots: Set<Digest>;
  /** ids of leases of dead processes found (and removed, when asked to) */
  stale: string[];
}

const ownStart = processStart(process.pid);
/** A collection may take long (removing unpacked layers): an addition waits for it this long. */
const GC_WAIT_MS = 30 * 60_000;

export class Leases {
  /** `dir` holds the lease files; `gcLockPath` is the lock collections hold. */
  constructor(readonly dir: string, readonly gcLockPath: string, readonly gcWaitMs = GC_WAIT_MS) {}

  /** The leases of a content store: `<root>/leases/` and `<root>/gc.lock`, whoever opens the store. */
  static forContent(store: { root: string }): Leases {
    return new Leases(join(store.root, 'leases'), join(store.root, 'gc.lock'));
  }

  /** Starts a lease (protecting nothing yet) for the operation `label`. */
  async acquire(label: string): Promise<Lease> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const info: LeaseInfo = {
      id: `${process.pid}-${randomBytes(8).toString('hex')}`,
      pid: process.pid,
      start: ownStart,
      label,
      createdAt: new Date().toISOString(),
      content: [],
      snapshots: [],
    };
    await writeLease(this.#path(info.id), info);
    return new Lease(this, info);
  }

  /**
   * Runs `fn` holding the gc lock: no lease changes, and no other collection runs, meanwhile.
   * Waits for a running collection up to `gcWaitMs`.
   */
  async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const held = await lock(this.gcLockPath, what, this.gcWaitMs);
    try {
      return await fn();
    } finally {
      await held.release();
    }
  }

  /**
   * The leases of live processes. Leases of dead ones are skipped and, with `removeStale`, deleted
   * (call that only under `exclusive`, as a collection does).
   */
  async active(opts: { removeStale?: boolean } = {}): Promise<ActiveLeases> {
    const out: ActiveLeases = { leases: [], content: new Set(), snapshots: new Set(), stale: [] };
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return out;
      throw e;
    }
    for (const n of names.sort()) {
      if (!n.endsWith('.json')) continue;
      const path = join(this.dir, n);
      let info: LeaseInfo | undefined;
      try {
        info = parseLease(await readFile(path, 'utf8'), n.slice(0, -'.json'.length));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // released meanwhile
        throw e;
      }
      if (info === undefined) {
        // Unparseable: a writer renames whole files in, so this is damage, not a write in progress.
        throw new StoreError(`lease ${path}: not a lease record (remove the file if no berth process is running)`);
      }
      if (!ownerAlive({ pid: info.pid, start: info.start, token: '' })) {
        out.stale.push(info.id);
        if (opts.removeStale) await rm(path, { force: true });
        continue;
      }
      out.leases.push(info);
      for (const d of info.content) out.content.add(d);
      for (const d of info.snapshots) out.snapshots.add(d);
    }
    return out;
  }

  #path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** @internal */
  async write(info: LeaseInfo): Promise<void> {
    await writeLease(this.#path(info.id), info);
  }

  /** @internal */
  async remove(id: string): Promise<void> {
    await rm(this.#path(id), { force: true });
  }
}

/** One operation's lease. */
export class Lease {
  #released = false;
  constructor(private readonly leases: Leases, readonly info: LeaseInfo) {}

  get id(): string {
    return this.info.id;
  }

  /**
   * Protects more blobs / snapshots. Once this returns, no collection deletes them (one that was
   * running has finished: check for the blob after this, not before).
   */
  async add(res: LeaseResources): Promise<void> {
    if (this.#released) throw new StoreError(`lease ${this.id} (${this.info.label}): already released`);
    const content = new Set(this.info.content);
    const snapshots = new Set(this.info.snapshots);
    for (const d of res.content ?? []) content.add(d);
    for (const d of res.snapshots ?? []) snapshots.add(d);
    if (content.size === this.info.content.length && snapshots.size === this.info.snapshots.length) return;
    await this.leases.exclusive(`lease ${this.id} (${this.info.label}): waiting for garbage collection`, async () => {
      this.info.content = [...content];
      this.info.snapshots = [...snapshots];
      await this.leases.write(this.info);
    });
  }

  /** Ends the lease: what it protected is collectable again unless something else references it. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.leases.remove(this.id);
  }
}

function parseLease(text: string, id: string): LeaseInfo | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || !Number.isInteger(o.pid) || (o.pid as number) <= 0) return undefined;
  if (!Array.isArray(o.content) || !o.content.every(isDigest)) return undefined;
  if (!Array.isArray(o.snapshots) || !o.snapshots.every(isDigest)) return undefined;
  return {
    id,
    pid: o.pid as number,
    start: typeof o.start === 'string' ? o.start : undefined,
    label: typeof o.label === 'string' ? o.label : '',
    createdAt: typeof o.createdAt === 'string' ? o.createdAt : '',
    content: o.content as Digest[],
    snapshots: o.snapshots as Digest[],
  };
}

async function writeLease(path: string, info: LeaseInfo): Promise<void> {
  const { id: _id, ...rest } = info;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(rest)}\n`);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new StoreError(`lease ${path}: write: ${(e as Error).message}`, { cause: e });
  }
}
