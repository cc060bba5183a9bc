/**
 * Unpacked layers kept once, as overlay lower directories shared by every image (and container)
 * that uses them, keyed by chain ID.
 *
 * Layout under `root`:
 *   snapshots/<chainid-hex>/fs            the unpacked layer (an overlay lowerdir)
 *   snapshots/<chainid-hex>/meta.json     { chainId, diffId, parent, digest, mediaType, createdAt }
 *   snapshots/<chainid-hex>/owners/<b64>  one empty file per owner referencing the snapshot
 *   tmp/<pid>-<start>-<random>/           unpacks in progress and removals (renamed out first)
 *   locks/<chainid-hex>.lock              per-chain lock (src/image/store/lock.ts)
 *
 * One DiffID is unpacked once: a snapshot of a layer already unpacked at another chain position
 * (a manifest listing one blob several times) is a hard-linked copy of that tree (clone.ts), and
 * an unpack waits for one of the same DiffID in flight in this process to link from it.
 *
 * Crash safety: a layer is unpacked into tmp/… and renamed to snapshots/<hex> only once complete
 * and verified (DiffID), so a snapshot under its final name is always whole. gc renames a
 * snapshot into tmp/ before deleting it. Whatever a crash leaves in tmp/ is removed by cleanup()
 * (entries of live processes are left alone).
 *
 * Concurrency: unpacking, ref() and gc's removal of one chain run under that chain's lock file,
 * shared by processes (O_EXCL + pid, stale holders taken over), so two prepares of the same layer
 * unpack it once and a snapshot being referenced is never collected. Pass `owner` to prepare() to
 * reference the snapshots atomically with preparing them (otherwise a concurrent gc() may remove
 * them between prepare() and ref()).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isLayerType } from '../registry/media.ts';
import { digestFromHex, digestHex, parseDigest, type Digest } from '../store/digest.ts';
import { errnoCode } from '../store/errors.ts';
import { lock, ownerAlive, processStart } from '../store/lock.ts';
import { applyLayerAnywhere } from '../unpack/worker.ts';
import type { ExtractStats } from '../unpack/index.ts';
import { chainIds } from './chain.ts';
import { linkTree } from './clone.ts';
import { DiffIdMismatchError, SnapshotError, SnapshotNotFoundError, UnsupportedLayerError } from './errors.ts';

/** A layer of an image, as the manifest (digest, mediaType) and config (rootfs.diff_ids) give it. */
export interface LayerRef {
  /** digest of the blob in the content store (compressed, as pulled) */
  digest: string;
  mediaType: string;
  /** sha256 of the uncompressed layer tar */
  diffId: string;
}

/** Where the blobs come from: a ContentStore (only reader() is used). */
export interface LayerSource {
  reader(digest: Digest): Promise<Readable>;
}

export interface PrepareOptions {
  /** reference every snapshot of the image for `owner` (atomically with its preparation) */
  owner?: string;
  /** layers unpacked at once (default 4) */
  concurrency?: number;
  /** how long to wait for another process unpacking the same layer (default 30 min) */
  lockTimeoutMs?: number;
}

export interface SnapshotMeta {
  chainId: Digest;
  diffId: Digest;
  /** chain ID of the snapshot below, or null for a bottom layer */
  parent: Digest | null;
  /** blob it was unpacked from */
  digest: Digest;
  mediaType: string;
  createdAt: string;
  /** bytes of file content unpacked (docker's layer size); absent in snapshots made before it was recorded */
  size?: number;
}

export interface SnapshotInfo extends SnapshotMeta {
  /** the lower directory */
  dir: string;
  owners: string[];
}

const ownStart = processStart(process.pid) ?? '-';

function ownerFile(owner: string): string {
  if (typeof owner !== 'string' || owner.length === 0) throw new SnapshotError('snapshot owner must be a non-empty string');
  const name = Buffer.from(owner, 'utf8').toString('base64url');
  if (name.length > 240) throw new SnapshotError(`snapshot owner too long (${owner.length} chars)`);
  return name;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

export class SnapshotStore {
  readonly snapshotsDir: string;
  readonly tmpDir: string;
  readonly locksDir: string;
  /** layers this instance has unpacked (for tests and progress reporting) */
  unpacked = 0;
  /** tmp entries this process is using (cleanup() leaves them alone) */
  readonly #busy = new Set<string>();
  /** unpacks in flight in this process, by DiffID: another chain position of it waits, then links */
  readonly #unpacking = new Map<Digest, Promise<void>>();

  private constructor(readonly root: string) {
    this.snapshotsDir = join(root, 'snapshots');
    this.tmpDir = join(root, 'tmp');
    this.locksDir = join(root, 'locks');
  }

  /** Opens (creating its directories if needed) the snapshot store rooted at `root`. */
  static async open(root: string): Promise<SnapshotStore> {
    const s = new SnapshotStore(root);
    // The snapshots are the images' files, setuid-root programs included: private (see
    // openStores), also when made by a berth that created them with wider modes.
    for (const d of [root, s.snapshotsDir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
      const { mode } = await stat(d);
      if ((mode & 0o077) !== 0) await chmod(d, mode & 0o7700);
    }
    await mkdir(s.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(s.locksDir, { recursive: true, mode: 0o700 });
    return s;
  }

  /** Directory of snapshot `chainId` (whether or not it exists). */
  snapshotPath(chainId: string): string {
    return join(this.snapshotsDir, digestHex(parseDigest(chainId, 'chain ID')));
  }

  /** The overlay lower directory of snapshot `chainId` (whether or not it exists). */
  lowerDir(chainId: string): string {
    return join(this.snapshotPath(chainId), 'fs');
  }

  async has(chainId: string): Promise<boolean> {
    return exists(join(this.snapshotPath(chainId), 'meta.json'));
  }

  /**
   * Makes sure every layer of an image is unpacked and returns their lower directories, bottom
   * layer first (overlay's `lowerdir=` option wants them top first: reverse). Only missing
   * snapshots are unpacked; each layer's uncompressed bytes are checked against its DiffID.
   */
  async prepare(layers: readonly LayerRef[], content: LayerSource, opts: PrepareOptions = {}): Promise<string[]> {
    if (layers.length === 0) throw new SnapshotError('an image needs at least one layer');
    for (const [i, l] of layers.entries()) {
      parseDigest(l.digest, `layer ${i} digest`);
      if (!isLayerType(l.mediaType)) throw new UnsupportedLayerError(`layer ${i} (${l.digest}): unsupported media type ${JSON.stringify(l.mediaType)}`);
    }
    if (opts.owner !== undefined) ownerFile(opts.owner);
    const ids = chainIds(layers.map((l) => l.diffId));
    const concurrency = Math.max(1, opts.concurrency ?? 4);
    const errors: unknown[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < layers.length) {
        const i = next++;
        try {
          await this.#ensure(layers[i] as LayerRef, ids[i] as Digest, i === 0 ? null : (ids[i - 1] as Digest), content, opts);
        } catch (e) {
          errors.push(e);
          next = layers.length; // start no more layers
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, layers.length) }, worker));
    if (errors.length > 0) throw errors[0];
    return ids.map((id) => this.lowerDir(id));
  }

  /**
   * Makes sure layer `index` of an image is unpacked (its chain ID computed from every layer
   * below it); returns whether this call unpacked it. A pull unpacks each layer as it arrives,
   * in any order: a snapshot does not need its parent on disk, only the parent's chain ID.
   */
  async prepareLayer(layers: readonly LayerRef[], index: number, content: LayerSource, opts: PrepareOptions = {}): Promise<boolean> {
    const layer = layers[index];
    if (layer === undefined) throw new SnapshotError(`layer ${index}: the image has ${layers.length} layer(s)`);
    parseDigest(layer.digest, `layer ${index} digest`);
    if (!isLayerType(layer.mediaType)) throw new UnsupportedLayerError(`layer ${index} (${layer.digest}): unsupported media type ${JSON.stringify(layer.mediaType)}`);
    const ids = chainIds(layers.slice(0, index + 1).map((l) => l.diffId));
    const before = this.unpacked;
    await this.#ensure(layer, ids[index] as Digest, index === 0 ? null : (ids[index - 1] as Digest), content, opts);
    return this.unpacked > before;
  }

  /** The chain ID of layer `index` of an image with these layers. */
  chainIdOf(layers: readonly LayerRef[], index: number): Digest {
    return chainIds(layers.slice(0, index + 1).map((l) => l.diffId))[index] as Digest;
  }

  async #ensure(layer: LayerRef, id: Digest, parent: Digest | null, content: LayerSource, opts: PrepareOptions): Promise<void> {
    if (opts.owner === undefined && (await this.has(id))) return;
    await this.#withLock(id, opts.lockTimeoutMs ?? 30 * 60_000, async () => {
      if (!(await this.has(id))) await this.#unpack(layer, id, parent, content);
      if (opts.owner !== undefined) await this.#addOwner(id, opts.owner);
    });
  }

  async #withLock<T>(id: Digest, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const l = await lock(join(this.locksDir, `${digestHex(id)}.lock`), `snapshot ${id}`, timeoutMs);
    try {
      return await fn();
    } finally {
      await l.release();
    }
  }

  #tmpName(): string {
    return `${process.pid}-${ownStart}-${randomBytes(8).toString('hex')}`;
  }

  async #unpack(layer: LayerRef, id: Digest, parent: Digest | null, content: LayerSource): Promise<void> {
    const diffId = parseDigest(layer.diffId);
    // The same layer at another chain position (a manifest that lists it twice) is unpacked once:
    // wait for that unpack, then link its tree (see clone.ts).
    for (let running = this.#unpacking.get(diffId); running; running = this.#unpacking.get(diffId)) {
      await running.catch(() => undefined);
    }
    const done = this.#unpackOrLink(layer, id, parent, content);
    const settled = done.then(() => undefined, () => undefined);
    this.#unpacking.set(diffId, settled);
    try {
      await done;
    } finally {
      if (this.#unpacking.get(diffId) === settled) this.#unpacking.delete(diffId);
    }
  }

  async #unpackOrLink(layer: LayerRef, id: Digest, parent: Digest | null, content: LayerSource): Promise<void> {
    const name = this.#tmpName();
    const tmp = join(this.tmpDir, name);
    this.#busy.add(name);
    try {
      await mkdir(tmp, { mode: 0o755 });
      const size = (await this.#linkFromTwin(layer, id, join(tmp, 'fs'))) ?? (await this.#extractInto(layer, content, join(tmp, 'fs')));
      const meta: SnapshotMeta = {
        size,
        chainId: id,
        diffId: parseDigest(layer.diffId),
        parent,
        digest: parseDigest(layer.digest),
        mediaType: layer.mediaType,
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
      await mkdir(join(tmp, 'owners'), { mode: 0o700 });
      // A directory without meta.json under the final name is not a snapshot (has() is false): replace it.
      if (await exists(this.snapshotPath(id))) await this.#removeDir(this.snapshotPath(id));
      await rename(tmp, this.snapshotPath(id));
      this.unpacked++;
    } finally {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      this.#busy.delete(name);
    }
  }

  async #extractInto(layer: LayerRef, content: LayerSource, dest: string): Promise<number> {
    await mkdir(dest, { mode: 0o755 });
    return (await this.#extractVerified(layer, content, dest)).bytes;
  }

  /**
   * Links `dest` from a complete snapshot of the same DiffID (another chain), held under its
   * lock so that no collection removes it meanwhile; returns its size, or undefined when there is
   * none (or linking failed, e.g. a link count at its limit: the caller extracts instead).
   */
  async #linkFromTwin(layer: LayerRef, id: Digest, dest: string): Promise<number | undefined> {
    for (const twin of await this.#withDiffId(parseDigest(layer.diffId))) {
      if (twin === id) continue;
      const size = await this.#withLock(twin, 60_000, async () => {
        let meta: SnapshotMeta;
        try {
          meta = JSON.parse(await readFile(join(this.snapshotPath(twin), 'meta.json'), 'utf8')) as SnapshotMeta;
        } catch {
          return undefined; // removed meanwhile
        }
        if (meta.diffId !== layer.diffId) return undefined;
        try {
          await linkTree(this.lowerDir(twin), dest);
        } catch {
          await rm(dest, { recursive: true, force: true });
          return undefined;
        }
        return typeof meta.size === 'number' ? meta.size : 0;
      }).catch(() => undefined);
      if (size !== undefined) return size;
    }
    return undefined;
  }

  /** Chain IDs of the complete snapshots unpacked from `diffId`. */
  async #withDiffId(diffId: Digest): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const id of await this.ids()) {
      const meta = await readFile(join(this.snapshotPath(id), 'meta.json'), 'utf8').then((t) => JSON.parse(t) as SnapshotMeta, () => undefined);
      if (meta?.diffId === diffId) out.push(id);
    }
    return out;
  }

  /** Decompresses blob `layer.digest` into `dest`, hashing the tar it yields against the DiffID. */
  async #extractVerified(layer: LayerRef, content: LayerSource, dest: string): Promise<ExtractStats> {
    const raw = await content.reader(layer.digest as Digest);
    // gzip, zstd or plain tar, from the first bytes or the media type; in a worker thread when
    // the program registered one (src/image/unpack/worker.ts)
    let applied: Awaited<ReturnType<typeof applyLayerAnywhere>>;
    try {
      applied = await applyLayerAnywhere(raw, dest, { what: `layer ${layer.digest}`, mediaType: layer.mediaType });
    } catch (e) {
      // every error names the layer, whoever asked for it (a pull, a bundle): same class, labelled
      if (e instanceof Error && !e.message.includes(layer.digest)) e.message = `layer ${layer.digest}: ${e.message}`;
      throw e;
    }
    const { diffId, stats } = applied;
    if (diffId !== layer.diffId) throw new DiffIdMismatchError(layer.digest, layer.diffId, diffId);
    return stats;
  }

  async #addOwner(id: Digest, owner: string): Promise<void> {
    const dir = join(this.snapshotPath(id), 'owners');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, ownerFile(owner)), '');
  }

  /** References snapshot `chainId` for `owner` (idempotent). Throws SnapshotNotFoundError if it does not exist. */
  async ref(chainId: string, owner: string, timeoutMs = 30 * 60_000): Promise<void> {
    const id = parseDigest(chainId, 'chain ID');
    ownerFile(owner);
    await this.#withLock(id, timeoutMs, async () => {
      if (!(await this.has(id))) throw new SnapshotNotFoundError(`snapshot ${id} not found`);
      await this.#addOwner(id, owner);
    });
  }

  /** Drops `owner`'s reference to `chainId` (no error if it had none or the snapshot is gone). */
  async unref(chainId: string, owner: string): Promise<void> {
    const id = parseDigest(chainId, 'chain ID');
    await unlink(join(this.snapshotPath(id), 'owners', ownerFile(owner))).catch((e) => {
      if (errnoCode(e) !== 'ENOENT') throw e;
    });
  }

  /** Owners referencing `chainId` ([] if none, or no such snapshot). */
  async owners(chainId: string): Promise<string[]> {
    const names = await readdir(join(this.snapshotPath(chainId), 'owners')).catch((e) => {
      if (errnoCode(e) === 'ENOENT') return [] as string[];
      throw e;
    });
    return names.map((n) => Buffer.from(n, 'base64url').toString('utf8')).sort();
  }

  /** Chain IDs of the complete snapshots. */
  async ids(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const n of (await readdir(this.snapshotsDir)).sort()) {
      if (/^[0-9a-f]{64}$/.test(n) && (await exists(join(this.snapshotsDir, n, 'meta.json')))) out.push(digestFromHex(n));
    }
    return out;
  }

  /** Bytes unpacked in snapshot `chainId`, if it exists and recorded them. */
  async unpackedSize(chainId: string): Promise<number | undefined> {
    try {
      const meta = JSON.parse(await readFile(join(this.snapshotPath(chainId), 'meta.json'), 'utf8')) as SnapshotMeta;
      return typeof meta.size === 'number' ? meta.size : undefined;
    } catch {
      return undefined;
    }
  }

  async info(chainId: string): Promise<SnapshotInfo> {
    const id = parseDigest(chainId, 'chain ID');
    let meta: SnapshotMeta;
    try {
      meta = JSON.parse(await readFile(join(this.snapshotPath(id), 'meta.json'), 'utf8')) as SnapshotMeta;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new SnapshotNotFoundError(`snapshot ${id} not found`);
      throw e;
    }
    return { ...meta, dir: this.lowerDir(id), owners: await this.owners(id) };
  }

  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const id of await this.ids()) {
      try {
        out.push(await this.info(id));
      } catch (e) {
        if (!(e instanceof SnapshotNotFoundError)) throw e; // removed meanwhile
      }
    }
    return out;
  }

  /**
   * Removes every snapshot no owner references and `keep` does not name (the image collector
   * keeps the chains of the images present), each under its chain lock (renamed into tmp/ first,
   * so it disappears atomically). Returns the chain IDs removed.
   */
  async gc(timeoutMs = 30 * 60_000, keep: ReadonlySet<string> = new Set()): Promise<Digest[]> {
    const removed: Digest[] = [];
    for (const id of await this.ids()) {
      if (keep.has(id)) continue;
      const gone = await this.#withLock(id, timeoutMs, async () => {
        if (!(await this.has(id)) || (await this.owners(id)).length > 0) return false;
        await this.#removeDir(this.snapshotPath(id));
        return true;
      });
      if (gone) removed.push(id);
    }
    return removed;
  }

  async #removeDir(path: string): Promise<void> {
    const name = this.#tmpName();
    const aside = join(this.tmpDir, name);
    this.#busy.add(name);
    try {
      await rename(path, aside);
      await rm(aside, { recursive: true, force: true });
    } finally {
      this.#busy.delete(name);
    }
  }

  /**
   * Removes what interrupted unpacks and removals left in tmp/ (entries of live processes are
   * kept). Returns the names removed; `beforeRemove` sees each one's path first (to measure it).
   */
  async cleanup(beforeRemove?: (path: string) => Promise<void>): Promise<string[]> {
    const removed: string[] = [];
    for (const n of await readdir(this.tmpDir)) {
      if (this.#busy.has(n)) continue;
      const m = /^(\d+)-(\d+|-)-[0-9a-f]+$/.exec(n);
      if (m && Number(m[1]) !== process.pid && ownerAlive({ pid: Number(m[1]), start: m[2] === '-' ? undefined : m[2], token: '' })) continue;
      if (m && Number(m[1]) === process.pid && m[2] === ownStart) continue; // ours: another instance in this process may be using it
      await beforeRemove?.(join(this.tmpDir, n));
      await rm(join(this.tmpDir, n), { recursive: true, force: true });
      removed.push(n);
    }
    return removed;
  }
}
