/**
 * The stores of a berth data root: content/ (blobs), refs.json (names), snapshot/ (unpacked
 * layers). Every part of the image side that reads or writes images takes a BerthStores.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ContentStore } from './store/content.ts';
import { ImageRefs } from './store/refs.ts';
import { SnapshotStore } from './snapshot/index.ts';

export const DEFAULT_BERTH_ROOT = '/var/lib/berth';

/** The stores of a berth root. */
export interface BerthStores {
  root: string;
  content: ContentStore;
  refs: ImageRefs;
  snapshots: SnapshotStore;
}

/**
 * Creates `path` (and missing parents) 0700, and takes group and other access away from it if it
 * exists: what is under it must not be reachable by other users.
 */
export async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) await chmod(path, mode & 0o7700);
}

/**
 * Opens the stores of the data root `root`. The root is kept private (docker keeps its own 0710):
 * its snapshots hold the images' files as they are, setuid-root programs included, which any
 * local user could run as root through a host path if they could reach them.
 */
export async function openStores(root: string): Promise<BerthStores> {
  const r = resolve(root);
  await privateDir(r);
  return {
    root: r,
    content: await ContentStore.open(join(r, 'content')),
    refs: new ImageRefs(join(r, 'refs.json')),
    snapshots: await SnapshotStore.open(join(r, 'snapshot')),
  };
}
