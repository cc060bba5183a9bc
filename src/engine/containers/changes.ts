/**
 * `docker diff` (GET /containers/{id}/changes): what the container's writable layer (the
 * overlay's upper dir) changed against the image's layers, as docker's overlay2 driver reports
 * it (pkg/archive changes() with overlayDeletedFile): walking the upper dir in name order, a 0:0
 * char device (whiteout) or an opaque directory is a deletion, a path present in a lower layer a
 * modification, anything else an addition; the parent of an addition or deletion is listed as
 * modified before it.
 *
 * Where berth differs from docker on purpose: docker keeps /etc/hostname, /etc/hosts,
 * /etc/resolv.conf and the runtime's mount points in an "init" layer below the container's, so
 * they never show; berth's runtime makes them in the upper dir, so the container's spec mount
 * destinations are left out, and a directory that exists below is listed as modified when its
 * mode or owner changed or something in it did (not for its mtime alone, which a mount point
 * made in it changes too).
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

import { readBundleRecord, XattrReader } from '../../image/index.ts';
import type { ContainerContext } from './context.ts';
import { openContainerFs } from './archive.ts';
import { InRootError, InRootFs, type InRootNode } from './fs/inroot.ts';
import { isWhiteoutNode } from './fs/tartree.ts';
import type { Loaded } from './store.ts';

export const CHANGE_MODIFY = 0;
export const CHANGE_ADD = 1;
export const CHANGE_DELETE = 2;

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** Where the container's own layer and the image's layers are, and what berth's runtime put in the upper dir. */
export async function containerLayers(ctx: ContainerContext, l: Loaded): Promise<{ upper: string; lowers: string[]; mountPoints: Set<string>; manifestDigest: string }> {
  const bundle = ctx.bundleDir(l.rec.id);
  const rec = await readBundleRecord(bundle);
  const mountPoints = new Set<string>();
  try {
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { mounts?: { destination?: string }[] };
    for (const m of spec.mounts ?? []) if (typeof m.destination === 'string') mountPoints.add(posix.normalize(m.destination));
  } catch { /* no spec: nothing to leave out */ }
  return {
    upper: join(bundle, '.berth', 'upper'),
    // top first, as a lookup through the overlay goes
    lowers: rec.chainIds.map((id) => ctx.stores.snapshots.lowerDir(id)).reverse(),
    mountPoints,
    manifestDigest: rec.manifestDigest,
  };
}

/** What `path` is in the first lower layer that has it (its last component not followed). */
function inLowers(lowers: InRootFs[], path: string): InRootNode | undefined {
  for (const lo of lowers) {
    try {
      return lo.resolve(path, { followFinal: false });
    } catch (e) {
      if (e instanceof InRootError) continue;
      throw e;
    }
  }
  return undefined;
}

export async function containerChanges(ctx: ContainerContext, l: Loaded): Promise<Change[] | null> {
  // the merged view must be there: the layers are read while the container exists
  openContainerFs(ctx, l, { mounts: false }).close();
  const { upper, lowers, mountPoints } = await containerLayers(ctx, l);
  const up = new InRootFs(upper);
  const lows = lowers.map((d) => new InRootFs(d));
  const xattrs = new XattrReader();
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const walk = async (dir: InRootNode): Promise<void> => {
    for (const name of up.list(dir)) {
      const n = up.child(dir, name);
      if (!n) continue;
      try {
        if (mountPoints.has(n.path)) continue;
        const isDir = n.st.isDirectory();
        let opaque = false;
        if (isDir) {
          const xa = await xattrs.read(`/proc/${process.pid}/fd/${dir.fd}/${name}`).catch(() => new Map<string, Buffer>());
          opaque = xa.get('trusted.overlay.opaque')?.toString() === 'y';
        }
        let kind: Change['Kind'] | undefined;
        if (isWhiteoutNode(n.st) || opaque) kind = CHANGE_DELETE;
        else {
          const lo = inLowers(lows, n.path);
          if (!lo) kind = CHANGE_ADD;
          else if (isDir && lo.st.isDirectory() && lo.st.mode === n.st.mode && lo.st.uid === n.st.uid && lo.st.gid === n.st.gid) kind = undefined;
          else kind = CHANGE_MODIFY;
        }
        if (kind !== undefined) {
          if (isDir) changedDirs.add(n.path);
          if (kind !== CHANGE_MODIFY) {
            const parent = posix.dirname(n.path);
            if (parent !== '/' && !changedDirs.has(parent)) {
              changes.push({ Path: parent, Kind: CHANGE_MODIFY });
              changedDirs.add(parent);
            }
          }
          changes.push({ Path: n.path, Kind: kind });
        }
        if (isDir) await walk(n);
      } finally {
        up.release(n);
      }
    }
  };
  try {
    await walk(up.rootNode());
  } finally {
    await xattrs.close();
    up.close();
    for (const lo of lows) lo.close();
  }
  return changes.length === 0 ? null : changes;
}
