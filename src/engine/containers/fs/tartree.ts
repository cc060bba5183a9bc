/**
 * A tree of a container's filesystem (InRootFs) as tar entries, by berth's tar writer: for
 * `docker cp` out, `docker export` and the layer `docker commit` makes of the upper dir. Every
 * object is reached from its parent's fd (inroot.ts), so a container swapping paths while this
 * runs cannot make it read a host file. Ownership, modes, mtimes (whole seconds), symlinks,
 * devices, FIFOs and xattrs (not overlayfs' own) are kept; a file with several links comes once,
 * then as hardlinks to the first name; sockets are left out, as docker does.
 *
 * In `layer` mode (commit) the overlayfs forms become OCI ones: a 0:0 char device is a whiteout
 * `.wh.NAME`, a directory with trusted.overlay.opaque=y gets a `.wh..wh..opq` entry.
 */
import * as fs from 'node:fs';

import { OPAQUE_MARKER, type TarWriteEntry, type TarWriter, WHITEOUT_PREFIX, XattrReader } from '../../../image/index.ts';
import type { InRootFs, InRootNode } from './inroot.ts';

const OVERLAY_XATTR = 'trusted.overlay.';

export interface TarTreeOptions {
  /** the top entry's name; undefined: no entry for the top itself (the root of an export) */
  topName: string | undefined;
  /** what children's names start with: `etc/`, `./`, `` */
  childPrefix: string;
  /** overlayfs whiteouts and opaque dirs → OCI whiteouts (commit) */
  layer?: boolean;
  /** container paths left out with what is below them */
  skip?: ReadonlySet<string>;
  /** read xattrs (through perl, see xattrs.ts) */
  xattrs?: boolean;
}

export interface TarTreeStats {
  entries: number;
  bytes: number;
}

/** glibc's major()/minor() of a dev_t. */
const major = (dev: bigint): number => Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
const minor = (dev: bigint): number => Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));

/** Reads exactly `size` bytes of `fd` (a file that shrank meanwhile is padded with zeros, one that grew is cut). */
async function* fileBody(fd: number, size: number): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < size) {
    const want = Math.min(size - pos, 256 << 10);
    const buf = Buffer.allocUnsafe(want);
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, want, pos, (e, r) => (e ? reject(e) : resolve(r))));
    if (n === 0) {
      yield Buffer.alloc(size - pos);
      return;
    }
    pos += n;
    yield buf.subarray(0, n);
  }
}

export const isWhiteoutNode = (st: fs.BigIntStats): boolean => st.isCharacterDevice() && st.rdev === 0n;

export class TreeTar {
  readonly stats: TarTreeStats = { entries: 0, bytes: 0 };
  readonly #links = new Map<string, string>();
  readonly #xattrs: XattrReader | undefined;

  constructor(private readonly fsv: InRootFs, private readonly w: TarWriter, private readonly opts: TarTreeOptions) {
    if (opts.xattrs) this.#xattrs = new XattrReader();
  }

  async close(): Promise<void> {
    await this.#xattrs?.close();
  }

  async #xattrsOf(parent: InRootNode | undefined, name: string, n: InRootNode): Promise<Map<string, Buffer>> {
    if (!this.#xattrs) return new Map();
    // perl's lgetxattr reaches NAME under the directory fd we hold (its prefix is pinned; the name is not followed)
    const path = parent ? `/proc/${process.pid}/fd/${parent.fd}/${name}` : n.path === '/' ? this.fsv.root : undefined;
    if (path === undefined) return new Map();
    try {
      return await this.#xattrs.read(path);
    } catch {
      return new Map();
    }
  }

  /** Writes `n` (reached as `name` in `parent`; no parent for the top of the walk) and, if a directory, all below it. */
  async add(n: InRootNode, parent: InRootNode | undefined, name: string, entryName: string | undefined): Promise<void> {
    if (this.opts.skip?.has(n.path)) return;
    const st = n.st;
    if (st.isSocket()) return;
    const all = await this.#xattrsOf(parent, name, n);
    const opaque = all.get('trusted.overlay.opaque')?.toString() === 'y';
    const xa = new Map([...all].filter(([k]) => !k.startsWith(OVERLAY_XATTR)));
    if (entryName !== undefined) {
      const base: TarWriteEntry = {
        path: entryName, type: 'file', mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeNs / 1_000_000_000n),
        ...(xa.size > 0 && { xattrs: xa }),
      };
      this.stats.entries++;
      if (this.opts.layer && isWhiteoutNode(st)) {
        const slash = entryName.lastIndexOf('/');
        await this.w.add({ path: `${entryName.slice(0, slash + 1)}${WHITEOUT_PREFIX}${entryName.slice(slash + 1)}`, type: 'file', mode: 0, mtime: base.mtime ?? 0 }, Buffer.alloc(0));
        return;
      }
      if (st.isDirectory()) {
        await this.w.add({ ...base, type: 'dir' });
        if (this.opts.layer && opaque) await this.w.add({ path: `${entryName}/${OPAQUE_MARKER}`, type: 'file', mode: 0, mtime: base.mtime ?? 0 }, Buffer.alloc(0));
      } else if (st.isSymbolicLink()) {
        await this.w.add({ ...base, type: 'symlink', linkname: parent ? this.fsv.readlinkIn(parent, name) : '' });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? this.#links.get(key) : undefined;
        if (first !== undefined) {
          await this.w.add({ ...base, type: 'hardlink', linkname: first });
          return;
        }
        if (st.nlink > 1n) this.#links.set(key, entryName);
        const fd = this.fsv.openRead(n);
        const size = Number(st.size);
        try {
          await this.w.add({ ...base, size }, fileBody(fd, size));
        } finally {
          fs.closeSync(fd);
        }
        this.stats.bytes += size;
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await this.w.add({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major(st.rdev), devminor: minor(st.rdev) });
      } else if (st.isFIFO()) {
        await this.w.add({ ...base, type: 'fifo' });
      }
    }
    if (!st.isDirectory()) return;
    const prefix = entryName === undefined ? this.opts.childPrefix : `${entryName}/`;
    for (const c of this.fsv.list(n)) {
      const child = this.fsv.child(n, c);
      if (!child) continue; // removed meanwhile
      try {
        await this.add(child, n, c, `${prefix}${c}`);
      } finally {
        this.fsv.release(child);
      }
    }
  }
}
