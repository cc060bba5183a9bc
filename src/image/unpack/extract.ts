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
 * its parent path is lstat'ed: a symlink or a non-directory there is refused. The layer dir is
 * private to berth, so nothing changes between that check and the write. An existing non-dir at
 * the final name is removed first (a later entry replaces an earlier one); files are created
 * with O_EXCL|O_NOFOLLOW.
 */
import { constants as C } from 'node:fs';
import * as fsp from 'node:fs/promises';
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

async function lstatOrNull(path: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fsp.lstat(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

class Extractor {
  readonly stats: ExtractStats = {
    entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0,
    whiteouts: 0, opaques: 0, xattrs: 0, bytes: 0, nativeRecords: 0,
  };
  private native: (NativeRecord | undefined)[] = [];
  /** Dirs' mtimes, applied last (creating entries in a dir changes its mtime). */
  private dirTimes = new Map<string, number>();

  constructor(private readonly dest: string) {}

  private abs(rel: string): string {
    return rel === '.' ? this.dest : join(this.dest, rel);
  }

  /**
   * Checks each component of `dir` (relative to dest) with lstat: it must be a real directory.
   * Missing ones are created (0755, root-owned) when `create`, else refused.
   */
  private async walkDir(dir: string, entry: string, create: boolean): Promise<void> {
    if (dir === '.') return;
    let cur = '';
    for (const part of dir.split('/')) {
      cur = cur === '' ? part : `${cur}/${part}`;
      const st = await lstatOrNull(this.abs(cur));
      if (st === null) {
        if (!create) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} does not exist`);
        await fsp.mkdir(this.abs(cur), { mode: 0o755 });
        continue;
      }
      if (st.isSymbolicLink()) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} is a symlink; refusing to write through it`);
      if (!st.isDirectory()) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: ${JSON.stringify(cur)} is not a directory`);
    }
  }

  /** Pending native records at `rel` (and, when `tree`, below it) no longer apply. */
  private dropNative(rel: string, tree: boolean, onlyNodes = false): void {
    this.native = this.native.map((r) => {
      if (!r) return r;
      if (onlyNodes && r.op !== 'mknod_at') return r;
      const hit = r.rel === rel || (tree && (rel === '.' || r.rel.startsWith(`${rel}/`)));
      return hit ? undefined : r;
    });
  }

  /**
   * Makes room for an entry at `rel`: its parents checked (and made), an existing non-dir removed;
   * an existing dir kept when the new entry is a dir too, else removed with its content.
   * Returns whether a directory is already there (to be reused).
   */
  private async prepare(rel: string, entry: string, isDir: boolean): Promise<boolean> {
    if (rel === '.') {
      if (!isDir) throw new UnpackError(`layer entry ${JSON.stringify(entry)}: the layer root must be a directory`);
      return true;
    }
    await this.walkDir(parentOf(rel), entry, true);
    const st = await lstatOrNull(this.abs(rel));
    if (st?.isDirectory()) {
      if (isDir) {
        this.dropNative(rel, false, true);
        return true;
      }
      await fsp.rm(this.abs(rel), { recursive: true, force: true });
      this.dropNative(rel, true);
      for (const k of [...this.dirTimes.keys()]) if (k === rel || k.startsWith(`${rel}/`)) this.dirTimes.delete(k);
      return false;
    }
    if (st) await fsp.unlink(this.abs(rel));
    this.dropNative(rel, false);
    return false;
  }

  private addXattrs(rel: string, e: TarEntry): void {
    for (const [name, value] of e.xattrs) {
      this.native.push({ op: 'setxattr_at', rel, name, value });
      this.stats.xattrs++;
    }
  }

  async entry(e: TarEntry): Promise<void> {
    this.stats.entries++;
    const rel = cleanEntryPath(e.path);
    if (rel !== '.' && isAufsMeta(rel)) return;
    if (rel !== '.' && isOpaqueMarker(rel)) {
      const dir = parentOf(rel);
      await this.walkDir(dir, e.path, true);
      this.native.push({ op: 'setxattr_at', rel: dir, name: OPAQUE_XATTR, value: Buffer.from('y') });
      this.stats.opaques++;
      return;
    }
    if (rel !== '.' && isWhiteout(rel)) {
      const target = whiteoutTarget(rel);
      await this.prepare(target, e.path, false);
      this.native.push({ op: 'mknod_at', rel: target, mode: S_IFCHR, dev: 0n, uid: 0, gid: 0, mtime: e.mtime });
      this.stats.whiteouts++;
      return;
    }
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'dir': {
        const exists = await this.prepare(rel, e.path, true);
        if (!exists) await fsp.mkdir(this.abs(rel), { mode: 0o700 });
        await fsp.lchown(this.abs(rel), e.uid, e.gid);
        await fsp.chmod(this.abs(rel), mode);
        this.dirTimes.set(rel, e.mtime);
        this.addXattrs(rel, e);
        this.stats.dirs++;
        return;
      }
      case 'file': {
        await this.prepare(rel, e.path, false);
        await this.writeFile(rel, e, mode);
        this.addXattrs(rel, e);
        this.stats.files++;
        return;
      }
      case 'symlink': {
        await this.prepare(rel, e.path, false);
        await fsp.symlink(e.linkname, this.abs(rel));
        await fsp.lchown(this.abs(rel), e.uid, e.gid);
        await fsp.lutimes(this.abs(rel), e.mtime, e.mtime);
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
        const pendingNode = this.native.find((r): r is Extract<NativeRecord, { op: 'mknod_at' }> => r?.op === 'mknod_at' && r.rel === target);
        await this.walkDir(parentOf(target), e.path, false);
        if (pendingNode) {
          // the target is a device or FIFO that berth-init makes at the end: make another one
          await this.prepare(rel, e.path, false);
          this.native.push({ ...pendingNode, rel });
        } else {
          const st = await lstatOrNull(this.abs(target));
          if (!st) throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink target ${JSON.stringify(e.linkname)} does not exist in the layer`);
          if (st.isDirectory()) throw new UnpackError(`layer entry ${JSON.stringify(e.path)}: hardlink target ${JSON.stringify(e.linkname)} is a directory`);
          await this.prepare(rel, e.path, false);
          await fsp.link(this.abs(target), this.abs(rel));
        }
        this.stats.hardlinks++;
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        await this.prepare(rel, e.path, false);
        const type = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        const dev = e.type === 'fifo' ? 0n : makedev(e.devmajor, e.devminor);
        this.native.push({ op: 'mknod_at', rel, mode: type | mode, dev, uid: e.uid, gid: e.gid, mtime: e.mtime });
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
    const fh = await fsp.open(this.abs(rel), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
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
            await fh.write(chunk, off, n, seg.offset + inSeg);
            off += n;
            inSeg += n;
            this.stats.bytes += n;
          }
        }
        await fh.truncate(e.size);
      } else {
        for await (const chunk of e.body()) {
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
            off += bytesWritten;
          }
          this.stats.bytes += chunk.length;
        }
      }
      await fh.chown(e.uid, e.gid);
      await fh.chmod(mode);
      await fh.utimes(e.mtime, e.mtime);
    } finally {
      await fh.close();
    }
  }

  async finish(what: string): Promise<void> {
    const records = this.native.filter((r): r is NativeRecord => r !== undefined);
    this.stats.nativeRecords = records.length;
    await runNative(this.dest, records, what);
    // nodes made by berth-init get their mtimes now (checked again: nothing followed)
    for (const r of records) {
      if (r.op !== 'mknod_at') continue;
      await this.walkDir(parentOf(r.rel), r.rel, false);
      await fsp.lutimes(this.abs(r.rel), r.mtime, r.mtime);
    }
    for (const [rel, mtime] of this.dirTimes) {
      await this.walkDir(parentOf(rel), rel, false);
      await fsp.utimes(this.abs(rel), mtime, mtime);
    }
  }
}

/**
 * Unpacks the layer tar `source` into `dest`, an existing empty directory private to berth.
 * Throws (UnpackError, TarError, or berth-init's error) on a hostile or broken layer; what was
 * written so far stays in `dest` for the caller to remove.
 */
export async function extractLayer(source: AsyncIterable<Buffer>, dest: string): Promise<ExtractStats> {
  const st = await fsp.lstat(dest);
  if (!st.isDirectory()) throw new UnpackError(`layer destination ${dest} is not a directory`);
  const x = new Extractor(dest);
  for await (const e of readTar(source)) await x.entry(e);
  await x.finish(`unpacking a layer into ${dest}`);
  return x.stats;
}
