/**
 * An image's layers as the snapshot store takes them: the manifest's descriptors (digest, media
 * type) paired with the config's rootfs.diff_ids, one per layer. Pull and bundle create both
 * start from these.
 */
import { parseDigest } from '../store/digest.ts';
import { SnapshotError } from './errors.ts';
import type { LayerRef } from './store.ts';

/** A config that does not name one valid DiffID per layer of its manifest. */
export class LayerListError extends SnapshotError {}

/** Pairs `layers` (manifest order) with the DiffIDs of the image config `configBytes`. */
export function layerRefs(layers: readonly { digest: string; mediaType: string }[], configBytes: Uint8Array, where: string): LayerRef[] {
  let diffIds: unknown;
  try {
    diffIds = (JSON.parse(Buffer.from(configBytes).toString('utf8')) as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  } catch (e) {
    throw new LayerListError(`${where}: the image config is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
    const n = Array.isArray(diffIds) ? diffIds.length : 'no';
    throw new LayerListError(`${where}: the image config has ${n} rootfs.diff_ids for ${layers.length} layer(s) in the manifest`);
  }
  return layers.map((d, i) => {
    try {
      return { digest: d.digest, mediaType: d.mediaType, diffId: parseDigest(diffIds[i], `${where}: $.rootfs.diff_ids[${i}]`) };
    } catch (e) {
      throw new LayerListError((e as Error).message);
    }
  });
}
