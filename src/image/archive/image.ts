/**
 * An image as the content store holds it: the manifest a name points at, its config and its
 * layers, read and checked (the config's rootfs.diff_ids list one DiffID per layer).
 */
import type { ContentStore } from '../store/content.ts';
import { parseDigest, type Digest } from '../store/digest.ts';
import { MEDIA_TYPE_OCI_MANIFEST, detectMediaType, parseManifest, type ImageManifest } from '../registry/media.ts';
import { ArchiveError } from './errors.ts';
import { parseJsonObject } from './layout.ts';

export interface StoredImage {
  manifestDigest: Digest;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: Record<string, unknown>;
  diffIds: Digest[];
}

/** The DiffIDs of an image config ($.rootfs.diff_ids), one per layer of the manifest. */
export function diffIdsOf(config: Record<string, unknown>, layers: number, where: string): Digest[] {
  const ids = (config.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(ids)) throw new ArchiveError(`${where}: $.rootfs.diff_ids: missing`);
  if (ids.length !== layers) throw new ArchiveError(`${where}: $.rootfs.diff_ids lists ${ids.length} layers, the manifest ${layers}`);
  return ids.map((d, i) => {
    try {
      return parseDigest(d, `${where}: $.rootfs.diff_ids[${i}]`);
    } catch (e) {
      throw new ArchiveError((e as Error).message);
    }
  });
}

/** Reads the image whose manifest is `digest` (every blob verified by readAll or present). */
export async function readStoredImage(content: ContentStore, digest: Digest, name: string): Promise<StoredImage> {
  const where = `image ${name}`;
  if (!(await content.has(digest))) throw new ArchiveError(`${where}: manifest ${digest} is not in the content store`);
  const manifestBytes = await content.readAll(digest);
  // The mediaType field is optional in an OCI manifest (umoci 0.4 writes none): then it is one.
  const manifest = parseManifest(manifestBytes, detectMediaType(manifestBytes, undefined) || MEDIA_TYPE_OCI_MANIFEST, `${where}: manifest ${digest}`);
  if (!(await content.has(manifest.config.digest))) throw new ArchiveError(`${where}: config ${manifest.config.digest} is not in the content store`);
  const configBytes = await content.readAll(manifest.config.digest);
  const config = parseJsonObject(configBytes, `${where}: config ${manifest.config.digest}`);
  const diffIds = diffIdsOf(config, manifest.layers.length, `${where}: config ${manifest.config.digest}`);
  for (const [i, l] of manifest.layers.entries()) {
    if (!(await content.has(l.digest))) throw new ArchiveError(`${where}: layer ${i} ${l.digest} is not in the content store`);
  }
  return { manifestDigest: digest, manifestBytes, manifest, configBytes, config, diffIds };
}
