/**
 * Extracting an untrusted tar into a directory of an InRootFs view, never leaving the view's
 * root: every entry's parent is resolved in-root (a symlink on the way, made by the archive or
 * found there, is followed inside the root only, as openat2(RESOLVE_IN_ROOT) would), and the
 * final name is created under a directory fd we hold with O_EXCL|O_NOFOLLOW. Used for the PUT
 * of `docker cp` (the view is the container's root) and by `berth cp` on the host (the view is
 * the destination directory: a container's archive holding `etc -> /etc` then `etc/passwd`
 * writes DEST/etc/passwd, never the host's).
 */
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';

import { cleanEntryPath, makedev, readTar, runNative, S_IFBLK, S_IFCHR, S_IFIFO, type TarEntry } from '../../../image/index.ts';
import { InRootError, procFd, type InRootFs, type InRootNode } from './inroot.ts';

/** The archive cannot be extracted as asked (docker's messages); the caller decides the status. */
export class ExtractError extends Error {}

export interface TreeExtractOptions {
  /** docker's NoOverwriteDirNonDir: a directory is not replaced by a non-directory, nor the reverse */
  noOverwriteDirNonDir: boolean;
  /** who owns what entry `e` makes; undefined: whoever extracts (docker's NoLchown) */
  owner(e: TarEntry): { uid: number; gid: number } | undefined;
  /** throws when `dir` may not be written (read-only mounts) */
  checkWritable?(dir: InRootNode): void;
  /** an entry's name as extracted (docker's RebaseArchiveEntries), after cleaning; hardlink targets too */
  rename?(rel: string): string;
  /** what berth-init's records are run for (its error messages) */
  what: string;
}

/** Extracts the tar `body` into the directory `dest` (a resolved stack of `fsv`). */
export async function extractTree(fsv: InRootFs, dest: InRootNode[], body: Readable | AsyncIterable<Buffer>, o: TreeExtractOptions): Promise<void> {
  const top = dest[dest.length - 1]!;
  if (!top.st.isDirectory()) throw new ExtractError('extraction point is not a directory');
  const x = new Extraction(fsv, dest, o);
  o.checkWritable?.(top);
  for await (const e of readTar(body)) await x.entry(e);
  x.finish();
}

function clean(path: string, what: string): string {
  try {
    return cleanEntryPath(path);
  } catch (err) {
    throw new ExtractError(`the archive to extract: ${what}${(err as Error).message}`);
  }
}

class Extraction {
  /** directories whose mtime is set at the end (creating entries in them changes it) */
  readonly #dirTimes: { node: InRootNode; mtime: number }[] = [];

  constructor(private readonly fsv: InRootFs, private readonly dest: InRootNode[], private readonly o: TreeExtractOptions) {}

  #own(at: string, owner: { uid: number; gid: number } | undefined): void {
    if (owner) fs.lchownSync(at, owner.uid, owner.gid);
  }

  /** The directory `parts` below the destination (in-root: symlinks on the way followed inside the root), missing ones made 0755. */
  #dirOf(parts: string[], owner: { uid: number; gid: number } | undefined): InRootNode {
    let stack = this.dest;
    for (const p of parts) {
      const top = stack[stack.length - 1]!;
      try {
        stack = this.fsv.resolveStack(p, { followFinal: true, from: stack });
      } catch (e) {
        if (!(e instanceof InRootError) || e.code !== 'ENOENT' || e.path !== posix.join(top.path, p)) throw e;
        this.o.checkWritable?.(top);
        fs.mkdirSync(procFd(top.fd, p), { mode: 0o755 });
        this.#own(procFd(top.fd, p), owner);
        stack = this.fsv.resolveStack(p, { followFinal: true, from: stack });
      }
      const now = stack[stack.length - 1]!;
      if (!now.st.isDirectory()) throw new ExtractError(`cannot extract into ${now.path}: not a directory`);
    }
    return stack[stack.length - 1]!;
  }

  async entry(e: TarEntry): Promise<void> {
    // docker's Untar joins every name to the destination: `/bin` (the archive of a container's `/`) is `bin`
    let rel = clean(e.path.replace(/^\/+(?=[^/])/, ''), '');
    if (this.o.rename) rel = clean(this.o.rename(rel), '');
    if (rel === '.') return;
    const owner = this.o.owner(e);
    const parts = rel.split('/');
    const name = parts.pop()!;
    const dir = this.#dirOf(parts, owner);
    this.o.checkWritable?.(dir);
    const at = procFd(dir.fd, name);
    const shown = posix.join(dir.path, name);
    const isDir = e.type === 'dir';
    const existing = this.fsv.child(dir, name);
    if (existing) {
      const wasDir = existing.st.isDirectory();
      if (this.o.noOverwriteDirNonDir && wasDir && !isDir) throw new ExtractError(`cannot overwrite directory "${shown}" with non-directory "${e.path}"`);
      if (this.o.noOverwriteDirNonDir && !wasDir && isDir) throw new ExtractError(`cannot overwrite non-directory "${shown}" with directory "${e.path}"`);
      if (!(wasDir && isDir)) {
        if (this.fsv.mountAt(existing.path)) throw new ExtractError(`cannot replace ${shown}: a mount point`);
        this.fsv.release(existing);
        this.fsv.removeTree(dir, name);
      } else {
        this.fsv.release(existing);
      }
    }
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'dir': {
        if (!existing) fs.mkdirSync(at, { mode: 0o700 });
        const n = this.fsv.child(dir, name);
        if (!n || !n.st.isDirectory()) throw new ExtractError(`${shown}: replaced while extracting`);
        const fd = this.fsv.openDir(n);
        try {
          if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
          fs.fchmodSync(fd, mode);
        } finally {
          fs.closeSync(fd);
        }
        this.#dirTimes.push({ node: n, mtime: e.mtime });
        return;
      }
      case 'file': {
        const fd = fs.openSync(at, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of e.body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          }
          if (e.sparse) fs.ftruncateSync(fd, e.size);
          if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
          fs.fchmodSync(fd, mode);
          fs.futimesSync(fd, e.mtime, e.mtime);
        } finally {
          fs.closeSync(fd);
        }
        return;
      }
      case 'symlink':
        fs.symlinkSync(e.linkname, at);
        this.#own(at, owner);
        fs.lutimesSync(at, e.mtime, e.mtime);
        return;
      case 'hardlink': {
        let target = clean(e.linkname, `hardlink ${JSON.stringify(e.path)}: `);
        if (this.o.rename && target !== '.') target = clean(this.o.rename(target), `hardlink ${JSON.stringify(e.path)}: `);
        const tparts = target.split('/');
        const tname = tparts.pop()!;
        if (target === '.' || tname === '') throw new ExtractError(`the archive to extract: hardlink ${JSON.stringify(e.path)} to the extraction root`);
        const tdir = this.#dirOf(tparts, owner);
        // link(2) does not follow a symlink at the old name: at worst the link is to that symlink, inside the root
        fs.linkSync(procFd(tdir.fd, tname), at);
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const type = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        const dev = e.type === 'fifo' ? 0n : makedev(e.devmajor, e.devminor);
        const own = owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
        // berth-init makes it under the directory we hold (its root is our fd, resolved in-root)
        await runNative(`/proc/${process.pid}/fd/${dir.fd}`, [{ op: 'mknod_at', rel: name, mode: type | mode, dev, uid: own.uid, gid: own.gid, mtime: e.mtime }], `${this.o.what}: ${shown}`);
        return;
      }
      default:
        throw new ExtractError(`the archive to extract: ${JSON.stringify(e.path)}: unsupported entry type`);
    }
  }

  finish(): void {
    for (const { node, mtime } of this.#dirTimes.reverse()) {
      const fd = this.fsv.openDir(node);
      try {
        fs.futimesSync(fd, mtime, mtime);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}
