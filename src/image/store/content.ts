/**
 * berth's content store: blobs addressed by their sha256, as containerd's content store, split
 * into roles (Provider reads, Ingester writes, Manager lists and deletes, IngestManager tracks
 * writes in progress).
 *
 * Layout under the root directory:
 *   blobs/sha256/<hex>        committed blobs, read-only (0444)
 *   ingest/<sha256(ref)>/     one write in progress: `data` (the bytes so far), `meta` (JSON: ref,
 *                             expected size/digest, start time) and `lock` (see lock.ts)
 *
 * Lifecycle of a write: `writer(ref)` locks the ref (a second writer of the same ref gets
 * LockedError "ref locked"; a lock of a dead process is taken over) → `write()` appends and
 * hashes while streaming → `commit(size, expectedDigest)` checks size and digest, fsyncs and
 * renames `data` into blobs/ atomically. Content being written is invisible (no blob, not
 * listed) until commit succeeds. A failed commit (size or digest mismatch) removes the ingest:
 * nothing half-written stays. `close()` keeps the partial data so that a later writer of the
 * same ref resumes at `status(ref).offset` (a pull asks the registry for `Range: bytes=OFFSET-`);
 * the hash state is rebuilt from the partial file. Two writers of the same content under
 * different refs both commit; the blob is stored once.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, rename, rm, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Digester, digestFromHex, digestHex, isDigest, parseDigest, type Digest } from './digest.ts';
import {
  CorruptError, DigestMismatchError, LockedError, NotFoundError, SizeMismatchError, StoreError, errnoCode,
} from './errors.ts';
import { isLocked, tryLock, type FileLock } from './lock.ts';

/** What the store knows of a committed blob. */
export interface Info {
  digest: Digest;
  size: number;
  /** mtime of the blob file (the time its last byte was written) */
  updatedAt: Date;
}

/** A write in progress (or interrupted and resumable). */
export interface Status {
  ref: string;
  /** bytes already written: resume the download from here */
  offset: number;
  expectedSize: number | undefined;
  expectedDigest: Digest | undefined;
  startedAt: Date;
  updatedAt: Date;
  /** pid of the live process writing it; undefined if nobody is (resumable, or stale) */
  lockedBy: number | undefined;
}

export interface WriterOptions {
  /** total size; a write past it fails at once, a commit of another size fails */
  expectedSize?: number;
  /** digest the content must have at commit */
  expectedDigest?: Digest;
}

/** Reads committed blobs. */
export interface Provider {
  info(digest: Digest): Promise<Info>;
  has(digest: Digest): Promise<boolean>;
  /** A stream of the blob from byte `offset` (default 0). Not verified: see readAll. */
  reader(digest: Digest, opts?: { offset?: number }): Promise<Readable>;
  /** The whole blob, verified against its digest (for manifests and configs). */
  readAll(digest: Digest): Promise<Buffer>;
}

/** An open write of one ref. Calls are serialised in the order made. */
export interface ContentWriter {
  readonly ref: string;
  /** bytes written so far (including those of a resumed partial ingest) */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /** digest of the bytes written so far */
  digest(): Digest;
  /**
   * Verifies that exactly `size` bytes hashing to `expectedDigest` (and to the writer's
   * expectations) were written, then makes the blob visible atomically. On a mismatch the ingest
   * is removed and SizeMismatchError / DigestMismatchError thrown.
   */
  commit(size: number, expectedDigest?: Digest): Promise<Digest>;
  /** Removes the ingest and its data. */
  abort(): Promise<void>;
  /** Unlocks the ref and keeps the partial data for a later writer to resume. */
  close(): Promise<void>;
}

/** Opens writes. */
export interface Ingester {
  writer(ref: string, opts?: WriterOptions): Promise<ContentWriter>;
}

/** Lists and deletes committed blobs. */
export interface Manager {
  list(): Promise<Info[]>;
  walk(fn: (info: Info) => void | Promise<void>): Promise<void>;
  delete(digest: Digest): Promise<void>;
}

/** Tracks writes in progress. */
export interface IngestManager {
  status(ref: string): Promise<Status | undefined>;
  listStatuses(): Promise<Status[]>;
  abortIngest(ref: string): Promise<void>;
  cleanupStaleIngests(opts?: CleanupOptions): Promise<CleanupResult>;
}

export interface CleanupOptions {
  /** interrupted ingests not written to for longer than this are removed; younger ones are kept to resume (default 24 h) */
  maxAgeMs?: number;
}

export interface CleanupResult {
  /** ingests a live process is writing: left alone */
  active: string[];
  /** interrupted ingests (stale lock released) kept for resume */
  recovered: string[];
  /** ingests removed (too old, or left without data/meta by a crash) */
  removed: string[];
  /** bytes of data the removed ingests held */
  freedBytes: number;
}

interface Meta {
  ref: string;
  expectedSize?: number;
  expectedDigest?: Digest;
  startedAt: string;
}

const MAX_REF_LENGTH = 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Validates an ingest ref: any printable text (refs are hashed for their directory name). */
export function validateRef(ref: unknown): string {
  if (typeof ref !== 'string' || ref.length === 0) throw new StoreError('ingest ref: must be a non-empty string');
  if (ref.length > MAX_REF_LENGTH) throw new StoreError(`ingest ref "${ref.slice(0, 60)}…": longer than ${MAX_REF_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(ref)) throw new StoreError(`ingest ref ${JSON.stringify(ref)}: contains control characters`);
  return ref;
}

function validateSize(n: unknown, where: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new StoreError(`${where}: size ${String(n)} is not a non-negative integer`);
  }
  return n;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

export class ContentStore implements Provider, Ingester, Manager, IngestManager {
  readonly blobsDir: string;
  readonly ingestDir: string;

  private constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  /** Opens (creating its directories if needed) the store rooted at `root`. */
  static async open(root: string): Promise<ContentStore> {
    const store = new ContentStore(root);
    await mkdir(store.blobsDir, { recursive: true, mode: 0o755 });
    await mkdir(store.ingestDir, { recursive: true, mode: 0o700 });
    return store;
  }

  /** Path of a blob's file (whether or not it exists). */
  blobPath(digest: Digest): string {
    return join(this.blobsDir, digestHex(parseDigest(digest)));
  }

  /** Directory of the ingest of `ref`: its name is the sha256 of the ref, so any ref is a safe name. */
  ingestPath(ref: string): string {
    return join(this.ingestDir, createHash('sha256').update(validateRef(ref)).digest('hex'));
  }

  // ---- Provider

  async info(digest: Digest): Promise<Info> {
    const st = await statOrUndefined(this.blobPath(digest));
    if (!st) throw new NotFoundError(`content ${digest}: not found in ${this.root}`);
    return { digest, size: st.size, updatedAt: st.mtime };
  }

  async has(digest: Digest): Promise<boolean> {
    return (await statOrUndefined(this.blobPath(digest))) !== undefined;
  }

  async reader(digest: Digest, opts: { offset?: number } = {}): Promise<Readable> {
    const path = this.blobPath(digest);
    const fh = await open(path, 'r').catch((e) => {
      if (errnoCode(e) === 'ENOENT') throw new NotFoundError(`content ${digest}: not found in ${this.root}`);
      throw e;
    });
    return createReadStream('', { fd: fh, start: opts.offset ?? 0, autoClose: true });
  }

  async readAll(digest: Digest): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.blobPath(digest));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new NotFoundError(`content ${digest}: not found in ${this.root}`);
      throw e;
    }
    const actual = new Digester().update(data).digest();
    if (actual !== digest) throw new DigestMismatchError(`content ${digest} (${this.blobPath(digest)}): corrupt on disk`, digest, actual);
    return data;
  }

  // ---- Manager

  async walk(fn: (info: Info) => void | Promise<void>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.blobsDir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    for (const name of names.sort()) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue; // not a blob (a stray temp file)
      const st = await statOrUndefined(join(this.blobsDir, name));
      if (!st || !st.isFile()) continue; // deleted while walking
      await fn({ digest: digestFromHex(name), size: st.size, updatedAt: st.mtime });
    }
  }

  async list(): Promise<Info[]> {
    const out: Info[] = [];
    await this.walk((i) => void out.push(i));
    return out;
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new NotFoundError(`content ${digest}: delete: not found in ${this.root}`);
      throw e;
    }
  }

  // ---- Ingester

  async writer(ref: string, opts: WriterOptions = {}): Promise<ContentWriter> {
    validateRef(ref);
    const where = `ingest ${JSON.stringify(ref)}`;
    const expectedDigest = opts.expectedDigest === undefined ? undefined : parseDigest(opts.expectedDigest, `${where}: expected digest`);
    const expectedSize = opts.expectedSize === undefined ? undefined : validateSize(opts.expectedSize, `${where}: expected size`);
    const dir = this.ingestPath(ref);
    const lock = await this.lockIngest(dir, ref);
    try {
      const dataPath = join(dir, 'data');
      const metaPath = join(dir, 'meta');
      let meta = await readMeta(metaPath);
      const differs = meta !== undefined && (meta.ref !== ref
        || (expectedDigest !== undefined && meta.expectedDigest !== undefined && meta.expectedDigest !== expectedDigest)
        || (expectedSize !== undefined && meta.expectedSize !== undefined && meta.expectedSize !== expectedSize));
      if (meta === undefined || differs) {
        // A fresh ingest, or a partial one of other content under this ref: start over.
        await rm(dataPath, { force: true });
        meta = { ref, startedAt: new Date().toISOString() };
      }
      meta = { ...meta, ...(expectedDigest && { expectedDigest }), ...(expectedSize !== undefined && { expectedSize }) };
      await writeFileAtomic(metaPath, JSON.stringify(meta));
      const fh = await open(dataPath, 'a', 0o644);
      try {
        // Resume: rebuild the hash state from the bytes already there.
        const size = (await fh.stat()).size;
        const digester = await new Digester().updateFromFile(dataPath, size);
        if (digester.size !== size) throw new StoreError(`${where}: partial data changed while being re-hashed`);
        return new Writer(this, ref, dir, fh, lock, digester, meta.expectedSize, meta.expectedDigest);
      } catch (e) {
        await fh.close();
        throw e;
      }
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Locks an ingest dir, creating it; retries if a committing writer removes it meanwhile. */
  private async lockIngest(dir: string, ref: string): Promise<FileLock> {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        return await tryLock(join(dir, 'lock'), `ingest ${JSON.stringify(ref)}: ref locked`);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT' || attempt >= 10) throw e;
      }
    }
  }

  // ---- IngestManager

  async status(ref: string): Promise<Status | undefined> {
    return this.statusOf(this.ingestPath(ref));
  }

  private async statusOf(dir: string): Promise<Status | undefined> {
    const meta = await readMeta(join(dir, 'meta')).catch(() => undefined);
    if (!meta) return undefined;
    const data = await statOrUndefined(join(dir, 'data'));
    const lock = await isLocked(join(dir, 'lock'));
    return {
      ref: meta.ref,
      offset: data?.size ?? 0,
      expectedSize: meta.expectedSize,
      expectedDigest: meta.expectedDigest,
      startedAt: new Date(meta.startedAt),
      updatedAt: data?.mtime ?? new Date(meta.startedAt),
      lockedBy: lock.locked ? lock.pid : undefined,
    };
  }

  async listStatuses(): Promise<Status[]> {
    const out: Status[] = [];
    for (const name of await this.ingestNames()) {
      const s = await this.statusOf(join(this.ingestDir, name));
      if (s) out.push(s);
    }
    return out;
  }

  /** Removes the ingest of `ref` (LockedError if a live writer holds it). */
  async abortIngest(ref: string): Promise<void> {
    const dir = this.ingestPath(ref);
    if (!(await statOrUndefined(dir))) throw new NotFoundError(`ingest ${JSON.stringify(ref)}: not found in ${this.root}`);
    const lock = await tryLock(join(dir, 'lock'), `ingest ${JSON.stringify(ref)}: ref locked`);
    await removeIngest(dir, lock);
  }

  /**
   * After a crash: ingests whose lock holder is dead are either kept for resume (their stale
   * lock released) or, if older than `maxAgeMs` or left without data by the crash, removed.
   * Ingests of live writers are not touched.
   */
  async cleanupStaleIngests(opts: CleanupOptions = {}): Promise<CleanupResult> {
    const maxAge = opts.maxAgeMs ?? DAY_MS;
    const result: CleanupResult = { active: [], recovered: [], removed: [], freedBytes: 0 };
    for (const name of await this.ingestNames()) {
      const dir = join(this.ingestDir, name);
      let lock: FileLock;
      try {
        lock = await tryLock(join(dir, 'lock'), `ingest ${name}`);
      } catch (e) {
        if (e instanceof LockedError) {
          result.active.push((await readMeta(join(dir, 'meta')).catch(() => undefined))?.ref ?? name);
          continue;
        }
        if (errnoCode(e) === 'ENOENT') continue; // removed meanwhile
        throw e;
      }
      await removeStrays(dir);
      const meta = await readMeta(join(dir, 'meta')).catch(() => undefined);
      const data = await statOrUndefined(join(dir, 'data'));
      const label = meta?.ref ?? name;
      if (!meta || !data || Date.now() - data.mtimeMs >= maxAge) {
        await removeIngest(dir, lock);
        result.removed.push(label);
        result.freedBytes += data?.size ?? 0;
      } else {
        await lock.release();
        result.recovered.push(label);
      }
    }
    return result;
  }

  private async ingestNames(): Promise<string[]> {
    try {
      return (await readdir(this.ingestDir)).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
  }

  /** Digests that live writers are ingesting (gc keeps them). */
  async ingestingDigests(): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    for (const s of await this.listStatuses()) {
      if (s.lockedBy !== undefined && s.expectedDigest) out.add(s.expectedDigest);
    }
    return out;
  }

  /** @internal: moves a verified ingest's data into blobs/ (or drops it if the blob exists). */
  async place(dataPath: string, digest: Digest): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(this.blobsDir, { recursive: true, mode: 0o755 });
    if (await statOrUndefined(target)) return; // same content committed before (another ref): stored once
    await chmod(dataPath, 0o444);
    await rename(dataPath, target);
    await fsyncDir(this.blobsDir);
  }
}

async function readMeta(path: string): Promise<Meta | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new CorruptError(`${path}: not JSON: ${(e as Error).message}`);
  }
  const o = m as Partial<Meta>;
  if (typeof o !== 'object' || o === null || typeof o.ref !== 'string' || typeof o.startedAt !== 'string'
    || (o.expectedDigest !== undefined && !isDigest(o.expectedDigest))
    || (o.expectedSize !== undefined && (typeof o.expectedSize !== 'number' || o.expectedSize < 0))) {
    throw new CorruptError(`${path}: not an ingest meta record`);
  }
  return o as Meta;
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/** Removes lock.stale-* and *.tmp-* leftovers of a crash inside an ingest dir. */
async function removeStrays(dir: string): Promise<void> {
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (n.startsWith('lock.stale-') || n.includes('.tmp-')) await rm(join(dir, n), { force: true });
  }
}

/** Removes an ingest's files while holding its lock, then the lock, then the directory. */
async function removeIngest(dir: string, lock: FileLock): Promise<void> {
  await rm(join(dir, 'data'), { force: true });
  await rm(join(dir, 'meta'), { force: true });
  await removeStrays(dir);
  await lock.release();
  await rmdir(dir).catch((e) => {
    // ENOTEMPTY: a new writer of the same ref has locked it meanwhile; it owns the dir now.
    if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'ENOTEMPTY') throw e;
  });
}

class Writer implements ContentWriter {
  #offset: number;
  #queue: Promise<unknown> = Promise.resolve();
  #done = false;
  readonly #where: string;

  constructor(
    private readonly store: ContentStore,
    readonly ref: string,
    private readonly dir: string,
    private readonly fh: FileHandle,
    private readonly lock: FileLock,
    private readonly digester: Digester,
    private readonly expectedSize: number | undefined,
    private readonly expectedDigest: Digest | undefined,
  ) {
    this.#offset = digester.size;
    this.#where = `ingest ${JSON.stringify(ref)}`;
  }

  get offset(): number {
    return this.#offset;
  }

  digest(): Digest {
    return this.digester.digest();
  }

  /** Runs `op` after every earlier call has finished. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(() => {
      if (this.#done) throw new StoreError(`${this.#where}: writer already committed, aborted or closed`);
      return op();
    });
    this.#queue = p.catch(() => undefined);
    return p;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      if (this.expectedSize !== undefined && this.#offset + chunk.byteLength > this.expectedSize) {
        const got = this.#offset + chunk.byteLength;
        await this.#discard();
        throw new SizeMismatchError(this.#where, this.expectedSize, got, ' or more (more data than expected)');
      }
      let written = 0;
      while (written < chunk.byteLength) {
        const { bytesWritten } = await this.fh.write(chunk, written, chunk.byteLength - written);
        written += bytesWritten;
      }
      this.digester.update(chunk);
      this.#offset += chunk.byteLength;
    });
  }

  commit(size: number, expectedDigest?: Digest): Promise<Digest> {
    return this.#serial(async () => {
      validateSize(size, `${this.#where}: commit`);
      const expect = expectedDigest === undefined ? undefined : parseDigest(expectedDigest, `${this.#where}: commit: expected digest`);
      if (size !== this.#offset) {
        await this.#discard();
        throw new SizeMismatchError(this.#where, size, this.#offset);
      }
      if (this.expectedSize !== undefined && this.expectedSize !== size) {
        await this.#discard();
        throw new SizeMismatchError(this.#where, this.expectedSize, size);
      }
      const actual = this.digester.digest();
      for (const want of [expect, this.expectedDigest]) {
        if (want !== undefined && want !== actual) {
          await this.#discard();
          throw new DigestMismatchError(this.#where, want, actual);
        }
      }
      try {
        await this.fh.sync();
      } finally {
        await this.fh.close().catch(() => undefined);
      }
      this.#done = true;
      try {
        await this.store.place(join(this.dir, 'data'), actual);
      } finally {
        await removeIngest(this.dir, this.lock);
      }
      return actual;
    });
  }

  abort(): Promise<void> {
    return this.#serial(() => this.#discard());
  }

  close(): Promise<void> {
    return this.#serial(async () => {
      this.#done = true;
      try {
        await this.fh.sync();
      } finally {
        await this.fh.close();
        await this.lock.release();
      }
    });
  }

  async #discard(): Promise<void> {
    this.#done = true;
    await this.fh.close().catch(() => undefined);
    await removeIngest(this.dir, this.lock);
  }
}

/**
 * Streams `source` into the store under `ref` and commits it: the whole write lifecycle for a
 * caller that has the bytes as a stream (a registry response, a tar entry). If the ingest was
 * interrupted before, pass a source that starts at `status(ref).offset`. A failing source
 * closes the writer (keeping the partial data to resume); a mismatch removes it.
 */
export async function ingest(
  store: Ingester,
  ref: string,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  expected: { size: number; digest?: Digest },
): Promise<Digest> {
  const w = await store.writer(ref, { expectedSize: expected.size, ...(expected.digest && { expectedDigest: expected.digest }) });
  try {
    if (source instanceof Uint8Array) await w.write(source);
    else for await (const chunk of source) await w.write(chunk);
  } catch (e) {
    await w.close().catch(() => undefined);
    throw e;
  }
  return w.commit(expected.size, expected.digest);
}

/**
 * Stores `bytes` of known `digest` unless already present. Another writer of the same ref (a
 * second pull of the same image in this daemon, or another process) is waited for rather than
 * failed on: its commit stores the same bytes, and if it gives up the lock is free to retry.
 */
export async function storeKnownBytes(
  store: Ingester & Pick<Provider, 'has'>,
  ref: string,
  bytes: Uint8Array,
  digest: Digest,
  timeoutMs = 5 * 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await store.has(digest)) return;
    try {
      await ingest(store, ref, bytes, { size: bytes.length, digest });
      return;
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
