/**
 * Unpacking one OCI layer (a tar stream, already decompressed) into an empty directory of our own.
 *
 * Node writes files, dirs, symlinks and hardlinks, and sets ownership, modes (after chown, so
 * setuid/setgid survive) and mtimes (lutimes for symlinks; dirs' at the very end). Device nodes,
 * FIFOs, xattrs and the overlayfs form of OCI whiteouts (`.wh.NAME` → a 0:0 char device NAME,
 * `.wh..wh..opq` → trusted.overlay.opaque=y on its directory) are collected and run at the end as
 * one berth-init plan (native.ts).
 *
 * Never following a symlink out of `dest`: entry names are cleaned lexically (cleanEntryPath:
 * no absolute names, no '..' above the root), and before an entry is created each component of
 * its parent path must be a real directory. `dest` starts empty and is private to berth, so the
 * extractor knows every path in it — it made them all — and checks parents against that record
 * instead of the filesystem (no lstat per component). A symlink or a non-directory on the way is
 * refused. An existing non-dir at the final name is removed first (a later entry replaces an
 * earlier one); files are created with O_EXCL|O_NOFOLLOW, so a mistake in the record fails
 * instead of following anything.
 *
 * Speed: the calls are synchronous. A layer is thousands of small files; each async fs call is a
 * round trip through libuv's thread pool (~20–50 µs here), a sync call is the syscall alone.
 * Decompression (zlib streams) still runs in the thread pool, in parallel with the writes.
 */
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { join } from 'node:path';

import { cleanEntryPath, isAufsMeta, isOpaqueMarker, isWhiteout, readTar, whiteoutTarget } from '../tar/index.ts';
import type { TarEntry } from '../tar/index.ts';
import { UnpackError } from './errors.ts';
import { S_IFBLK, S_IFCHR, S_IFIFO, makedev, runNative, type NativeRecord } from './native.ts';

export interface ExtractStats {
  /** Tar entries read (incl. skipped AUFS metadata). */
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Char and block devices. */
  devices: number;
  fifos: number;
  whiteouts: number;
  opaques: number;
  /** xattrs set (the opaque markers' not counted). */
  xattrs: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Native records run by berth-init. */
  nativeRecords: number;
}

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

/** What the extractor has made at a path of the layer. */
type Kind = 'dir' | 'file' | 'symlink' | 'node';

class Extractor {
  readonly stats: ExtractStats = {
    entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0,
    whiteouts: 0, opaques: 0, xattrs: 0, bytes: 0, nativeRecords: 0,
  };
  private native: (NativeRecord | undefined)[] = [];
  /** how many live native records each path has (dropNative's fast path) */
  private nativeAt = new Map<string, number>();
  /** Dirs' mtimes, applied last (creating entries in a dir changes its mtime). */
  private dirTimes = new Map<string, number>();
  /** every path in dest, relative ('.' is dest itself): dest is empty at the start and ours */
  private kinds = new Map<string, Kind>([['.', 'dir']]);
  /** dirs with the setgid bit: what is created in them takes their group, not ours */
  private setgidDirs = new Set<string>();
  /** the process's umask, read once: modes it leaves alone can be given at creation */
  private readonly umask = process.umask();

  constructor(private readonly dest: string) {}

  private abs(rel: string): string {
    return rel === '.' ? this.dest : join(this.dest, rel);
  }

  /**
   * Each component of `dir` (relative to dest) must be a real directory. Missing ones are
   * created (0755, root-owned) when `create`, else refused.
   */
  private walkDir(dir: string, entry: string, create: boolean): void {
    if (this.kinds.get(dir) === 'dir') return;
    let cur = '';
    for (const part of dir.split('/')) {
      cur = cur === '' ? part : `${cur}/${part}`;
      const kind = this.kinds.get(cur);
      if (kind === 'dir') continue;
      if (kind === undefined) {
        if (!create) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} does not exist`);
        fs.mkdirSync(this.abs(cur), { mode: 0o755 });
        this.kinds.set(cur, 'dir');
        continue;
      }
      if (kind === 'symlink') throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} is a symlink; refusing to write through it`);
      throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} is not a directory`);
    }
  }

  /**
   * Whether an entry at `rel` can be created with its final mode and no chown: owned by 0:0 (what
   * root creates, unless the parent is setgid) and a mode the umask does not reduce. Saves two
   * syscalls per entry, most entries of most layers; otherwise chown then chmod, in that order
   * (chown clears setuid/setgid).
   */
  private createsFinal(rel: string, e: TarEntry, mode: number): boolean {
    return e.uid === 0 && e.gid === 0 && (mode & this.umask) === 0 && !this.setgidDirs.has(parentOf(rel));
  }

  private pushNative(r: NativeRecord): void {
    this.native.push(r);
    this.nativeAt.set(r.rel, (this.nativeAt.get(r.rel) ?? 0) + 1);
  }

  /** Pending native records at `rel` (and, when `tree`, below it) no longer apply. */
  private dropNative(rel: string, tree: boolean, onlyNodes = false): void {
    if (!tree && !this.nativeAt.has(rel)) return;
    if (this.nativeAt.size === 0) return;
    this.native = this.native.map((r) => {
      if (!r) return r;
      if (onlyNodes && r.op !== 'mknod_at') return r;
      const hit = r.rel === rel || (tree && (rel === '.' || r.rel.startsWith(`${rel}/`)));
      if (!hit) return r;
      const n = (this.nativeAt.get(r.rel) ?? 1) - 1;
      if (n > 0) this.nativeAt.set(r.rel, n);
      else this.nativeAt.delete(r.rel);
      return undefined;
    });
  }

  /**
   * Makes room for an entry at `rel`: its parents checked (and made), an existing non-dir removed;
   * an existing dir kept when the new entry is a dir too, else removed with its content.
   * Returns whether a directory is already there (to be reused).
   */
  private prepare(rel: string, entry: string, isDir: boolean): boolean {
    if (rel === '.') {
      if (!isDir) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: the layer root must be a directory`);
      return true;
    }
    this.walkDir(parentOf(rel), entry, true);
    const kind = this.kinds.get(rel);
    if (kind === undefined) return false;
    if (kind === 'dir') {
      if (isDir) {
        this.dropNative(rel, false, true);
        return true;
      }
      fs.rmSync(this.abs(rel), { recursive: true, force: true });
      this.dropNative(rel, true);
      const below = `${rel}/`;
      for (const k of [...this.kinds.keys()]) if (k.startsWith(below)) this.kinds.delete(k);
      for (const k of [...this.dirTimes.keys()]) if (k === rel || k.startsWith(below)) this.dirTimes.delete(k);
      this.kinds.delete(rel);
      return false;
    }
    // a node berth-init has not made yet is only a pending record: nothing on disk to remove
    if (kind !== 'node') fs.unlinkSync(this.abs(rel));
    this.kinds.delete(rel);
    this.dropNative(rel, false);
    return false;
  }

  private addXattrs(rel: string, e: TarEntry): void {
    for (const [name, value] of e.xattrs) {
      this.pushNative({ op: 'setxattr_at', rel, name, value });
      this.stats.xattrs++;
    }
  }

  async entry(e: TarEntry): Promise<void> {
    this.stats.entries++;
    const rel = cleanEntryPath(e.path);
    if (rel !== '.' && isAufsMeta(rel)) return;
    if (rel !== '.' && isOpaqueMarker(rel)) {
      const dir = parentOf(rel);
      this.walkDir(dir, e.path, true);
      this.pushNative({ op: 'setxattr_at', rel: dir, name: OPAQUE_XATTR, value: Buffer.from('y') });
      this.stats.opaques++;
      return;
    }
    if (rel !== '.' && isWhiteout(rel)) {
      const target = whiteoutTarget(rel);
      this.prepare(target, e.path, false);
      this.pushNative({ op: 'mknod_at', rel: target, mode: S_IFCHR, dev: 0n, uid: 0, gid: 0, mtime: e.mtime });
      this.kinds.set(target, 'node');
      this.stats.whiteouts++;
      return;
    }
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'dir': {
        const exists = this.prepare(rel, e.path, true);
        const final = !exists && this.createsFinal(rel, e, mode);
        if (!exists) {
          fs.mkdirSync(this.abs(rel), { mode: final ? mode : 0o700 });
          this.kinds.set(rel, 'dir');
        }
        if (!final) {
          fs.lchownSync(this.abs(rel), e.uid, e.gid);
          fs.chmodSync(this.abs(rel), mode);
        }
        if (mode & 0o2000) this.setgidDirs.add(rel);
        else this.setgidDirs.delete(rel);
        this.dirTimes.set(rel, e.mtime);
        this.addXattrs(rel, e);
        this.stats.dirs++;
        return;
      }
      case 'file': {
        this.prepare(rel, e.path, false);
        await this.writeFile(rel, e, mode);
        this.addXattrs(rel, e);
        this.stats.files++;
        return;
      }
      case 'symlink': {
        this.prepare(rel, e.path, false);
        fs.symlinkSync(e.linkname, this.abs(rel));
        this.kinds.set(rel, 'symlink');
        if (!this.createsFinal(rel, e, 0)) fs.lchownSync(this.abs(rel), e.uid, e.gid);
        fs.lutimesSync(this.abs(rel), e.mtime, e.mtime);
        this.addXattrs(rel, e);
        this.stats.symlinks++;
        return;
      }
      case 'hardlink': {
        let target: string;
        try {
          target = cleanEntryPath(e.linkname);
        } catch (err) {
          throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink target ${JSON.stringify(e.linkname)}: ${(err as Error).message}`);
        }
        if (target === '.') throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink to the layer root`);
        if (target === rel) throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink to itself`);
        this.walkDir(parentOf(target), e.path, false);
        const kind = this.kinds.get(target);
        if (kind === 'node') {
          // the target is a device or FIFO that berth-init makes at the end: make another one
          const pendingNode = this.native.find((r): r is Extract<NativeRecord, { op: 'mknod_at' }> => r?.op === 'mknod_at' && r.rel === target);
          this.prepare(rel, e.path, false);
          if (pendingNode) {
            this.pushNative({ ...pendingNode, rel });
            this.kinds.set(rel, 'node');
          }
        } else {
          if (kind === undefined) throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink target ${JSON.stringify(e.linkname)} does not exist in the layer`);
          if (kind === 'dir') throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink target ${JSON.stringify(e.linkname)} is a directory`);
          this.prepare(rel, e.path, false);
          fs.linkSync(this.abs(target), this.abs(rel));
          this.kinds.set(rel, kind);
        }
        this.stats.hardlinks++;
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        this.prepare(rel, e.path, false);
        const type = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        const dev = e.type === 'fifo' ? 0n : makedev(e.devmajor, e.devminor);
        this.pushNative({ op: 'mknod_at', rel, mode: type | mode, dev, uid: e.uid, gid: e.gid, mtime: e.mtime });
        this.kinds.set(rel, 'node');
        this.addXattrs(rel, e);
        if (e.type === 'fifo') this.stats.fifos++;
        else this.stats.devices++;
        return;
      }
      default:
        throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: unsupported type ${String(e.type)}`);
    }
  }

  private async writeFile(rel: string, e: TarEntry, mode: number): Promise<void> {
    const final = this.createsFinal(rel, e, mode);
    const fd = fs.openSync(this.abs(rel), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, final ? mode : 0o600);
    this.kinds.set(rel, 'file');
    try {
      if (e.sparse) {
        const segs = e.sparse;
        let si = 0;
        let inSeg = 0;
        for await (const chunk of e.body()) {
          let off = 0;
          while (off < chunk.length) {
            while (si < segs.length && inSeg >= (segs[si]?.length ?? 0)) {
              si++;
              inSeg = 0;
            }
            const seg = segs[si];
            if (!seg) throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: more data than its sparse map holds`);
            const n = Math.min(chunk.length - off, seg.length - inSeg);
            writeAll(fd, chunk, off, n, seg.offset + inSeg);
            off += n;
            inSeg += n;
            this.stats.bytes += n;
          }
        }
        fs.ftruncateSync(fd, e.size);
      } else {
        for await (const chunk of e.body()) {
          writeAll(fd, chunk, 0, chunk.length, null);
          this.stats.bytes += chunk.length;
        }
      }
      if (!final) {
        fs.fchownSync(fd, e.uid, e.gid);
        fs.fchmodSync(fd, mode);
      }
      fs.futimesSync(fd, e.mtime, e.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  async finish(what: string): Promise<void> {
    const records = this.native.filter((r): r is NativeRecord => r !== undefined);
    this.stats.nativeRecords = records.length;
    await runNative(this.dest, records, what);
    // nodes made by berth-init get their mtimes now (checked again: nothing followed)
    for (const r of records) {
      if (r.op !== 'mknod_at') continue;
      this.walkDir(parentOf(r.rel), r.rel, false);
      fs.lutimesSync(this.abs(r.rel), r.mtime, r.mtime);
    }
    for (const [rel, mtime] of this.dirTimes) {
      this.walkDir(parentOf(rel), rel, false);
      fs.utimesSync(this.abs(rel), mtime, mtime);
    }
  }
}

/** Writes `len` bytes of `buf` from `off`, at `pos` (null: the file position), looping on short writes. */
function writeAll(fd: number, buf: Buffer, off: number, len: number, pos: number | null): void {
  let done = 0;
  while (done < len) {
    done += fs.writeSync(fd, buf, off + done, len - done, pos === null ? null : pos + done);
  }
}

/**
 * Unpacks the layer tar `source` into `dest`, an existing empty directory private to berth.
 * Throws (UnpackError, TarError, or berth-init's error) on a hostile or broken layer; what was
 * written so far stays in `dest` for the caller to remove.
 */
export async function extractLayer(source: AsyncIterable<Buffer>, dest: string): Promise<ExtractStats> {
  const st = fs.lstatSync(dest);
  if (!st.isDirectory()) throw new UnpackError(`layer destination ${dest} is not a directory`);
  if (fs.readdirSync(dest).length > 0) throw new UnpackError(`layer destination ${dest} is not empty`);
  const x = new Extractor(dest);
  for await (const e of readTar(source)) await x.entry(e);
  await x.finish(`unpacking a layer into ${dest}`);
  return x.stats;
}
