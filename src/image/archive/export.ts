/**
 * `docker export` (Engine API `GET /containers/{id}/export`), for now of a bundle made by
 * `berth bundle create`: a tar of its root filesystem as the container sees it, read through
 * the overlay mount (DIR/rootfs). Reading the merged view is what makes it right: a file an
 * upper layer deleted is simply absent, and no whiteout (`.wh.*`, 0:0 char devices, opaque
 * xattrs) can appear. Ownership, modes, mtimes (whole seconds), symlinks, devices, FIFOs and
 * xattrs (but overlayfs' own trusted.overlay.*) are kept; files with several links come once,
 * then as hardlinks to the first path. Sockets are left out, as docker does. Mounts below the
 * rootfs are not descended into.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { isMountPoint } from '../bundle/create.ts';
import { readBundleRecord } from '../bundle/record.ts';
import { TarWriter, type TarWriteEntry } from '../tar/index.ts';
import { ArchiveError } from './errors.ts';
import { XattrReader } from './xattrs.ts';

export interface ExportStats {
  entries: number;
  bytes: number;
}

/** glibc's major()/minor() of a dev_t. */
const major = (dev: number): number => Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
const minor = (dev: number): number => Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));

/** Writes the tar of the tree under `root` to `sink` (not ended). */
export async function exportTree(root: string, sink: Writable): Promise<ExportStats> {
  const rootDev = (await stat(root)).dev;
  const w = new TarWriter(sink);
  const xattrs = new XattrReader();
  const links = new Map<string, string>();
  const stats: ExportStats = { entries: 0, bytes: 0 };
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      if (st.isSocket()) continue;
      const xa = new Map([...(await xattrs.read(abs))].filter(([k]) => !k.startsWith('trusted.overlay.')));
      const base: TarWriteEntry = {
        path, type: 'file', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000),
        ...(xa.size > 0 && { xattrs: xa }),
      };
      stats.entries++;
      if (st.isDirectory()) {
        await w.add({ ...base, type: 'dir' });
        if (st.dev === rootDev) await walk(abs, path); // another filesystem mounted here: not ours
      } else if (st.isSymbolicLink()) {
        await w.add({ ...base, type: 'symlink', linkname: await readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await w.add({ ...base, type: 'hardlink', linkname: first });
          continue;
        }
        if (st.nlink > 1) links.set(key, path);
        const body = createReadStream(abs);
        try {
          await w.add({ ...base, size: st.size }, body);
        } finally {
          body.destroy();
        }
        stats.bytes += st.size;
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await w.add({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major(st.rdev), devminor: minor(st.rdev) });
      } else if (st.isFIFO()) {
        await w.add({ ...base, type: 'fifo' });
      }
    }
  };
  try {
    await walk(root, '');
    await w.finish();
  } finally {
    await xattrs.close();
  }
  return stats;
}

/** The tar of bundle DIR's root filesystem, as its container sees it. */
export async function exportBundle(dirArg: string, sink: Writable): Promise<ExportStats> {
  await readBundleRecord(dirArg); // a berth bundle, or a clear error
  const rootfs = join(resolve(dirArg), 'rootfs');
  if (!isMountPoint(rootfs)) throw new ArchiveError(`export: bundle ${resolve(dirArg)}: ${rootfs} is not mounted (its overlay is what the container sees)`);
  return exportTree(rootfs, sink);
}
