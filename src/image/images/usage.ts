/**
 * Which bundles use an image. A bundle owns the snapshots of the image it was made from (owner =
 * its directory) and records the image in DIR/.berth/bundle.json; an owner of the image's top
 * snapshot whose record names the same image ID is a user. Owners whose bundle is gone (removed
 * by hand) are not users.
 */
import { readBundleRecord, BundleError } from '../bundle/record.ts';
import type { SnapshotStore } from '../snapshot/store.ts';
import type { LocalImage } from './load.ts';

/** Bundle directories made from `image` (same image ID), sorted. */
export async function bundlesUsing(snapshots: SnapshotStore, image: LocalImage): Promise<string[]> {
  const top = image.chainIds[image.chainIds.length - 1];
  if (top === undefined) return [];
  const users: string[] = [];
  for (const owner of await snapshots.owners(top)) {
    if (!owner.startsWith('/')) continue; // bundles own by absolute path; other owners are not bundles
    try {
      const rec = await readBundleRecord(owner);
      if (rec.configDigest === image.id || rec.manifestDigest === image.digest) users.push(owner);
    } catch (e) {
      if (!(e instanceof BundleError)) throw e; // not a bundle (any more): not a user
    }
  }
  return users.sort();
}
