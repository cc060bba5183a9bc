/**
 * An image of the store as one value: its entry in refs.json (names, record) with the manifest
 * and config read from the content store, its chain IDs (the snapshots it unpacks to) and its
 * size. Everything the service answers is derived from these.
 */
import type { ContentStore } from '../store/content.ts';
import { isDigest, type Digest } from '../store/digest.ts';
import type { ImageEntry, ImageRecord, ImageRefs } from '../store/refs.ts';
import { detectMediaType, parseManifest, type ImageManifest } from '../registry/media.ts';
import { chainIds } from '../snapshot/chain.ts';
import type { SnapshotStore } from '../snapshot/store.ts';
import { BrokenImageError } from './errors.ts';
import type { ImageContainerConfig } from './types.ts';

/** One entry of the config's `history` (OCI image spec). */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image config (OCI image spec config.md), as far as berth reads it. */
export interface ImageConfigDoc {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  'os.version'?: string;
  comment?: string;
  docker_version?: string;
  config?: ImageContainerConfig;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: HistoryEntry[];
}

export interface LocalImage {
  /** manifest digest: the key of the image in refs.json */
  digest: Digest;
  /** image ID: the config digest */
  id: Digest;
  manifest: ImageManifest;
  manifestSize: number;
  config: ImageConfigDoc;
  /** normalised names pointing at it, sorted (empty: dangling) */
  names: string[];
  record: ImageRecord;
  /** chain IDs of its layers, bottom first */
  chainIds: Digest[];
  /**
   * docker's SIZE: the layers' unpacked bytes when every layer is unpacked here, else (an image
   * only fetched, or snapshots from before sizes were recorded) manifest + config + compressed layers
   */
  size: number;
  /** each layer's size, bottom first: unpacked where known, else compressed */
  layerSizes: number[];
  /** config.created in seconds since the epoch, 0 if absent */
  created: number;
}

export interface ImageSources {
  content: ContentStore;
  refs: ImageRefs;
  /** where unpacked layer sizes come from (optional) */
  snapshots?: Pick<SnapshotStore, 'unpackedSize'>;
}

/** Reads `entry`'s manifest and config. Throws BrokenImageError saying which blob and why. */
export async function loadImage(content: ContentStore, entry: ImageEntry, snapshots?: ImageSources['snapshots']): Promise<LocalImage> {
  const where = `image ${entry.names[0] ?? entry.digest}`;
  let manifestBytes: Buffer;
  try {
    manifestBytes = await content.readAll(entry.digest);
  } catch (e) {
    throw new BrokenImageError(`${where}: manifest ${entry.digest}: ${(e as Error).message}`, { cause: e });
  }
  let manifest: ImageManifest;
  try {
    manifest = parseManifest(manifestBytes, detectMediaType(manifestBytes, undefined), `${where}: manifest ${entry.digest}`);
  } catch (e) {
    throw new BrokenImageError((e as Error).message, { cause: e });
  }
  let config: ImageConfigDoc;
  try {
    const v: unknown = JSON.parse((await content.readAll(manifest.config.digest)).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    config = v as ImageConfigDoc;
  } catch (e) {
    throw new BrokenImageError(`${where}: config ${manifest.config.digest}: ${(e as Error).message}`, { cause: e });
  }
  const diffIds = config.rootfs?.diff_ids;
  const ids = Array.isArray(diffIds) && diffIds.length === manifest.layers.length && diffIds.every(isDigest) ? chainIds(diffIds) : [];
  const createdMs = typeof config.created === 'string' ? Date.parse(config.created) : NaN;
  const unpacked = snapshots && ids.length > 0 ? await Promise.all(ids.map((id) => snapshots.unpackedSize(id))) : [];
  const allUnpacked = unpacked.length === manifest.layers.length && unpacked.every((n) => n !== undefined);
  const layerSizes = manifest.layers.map((l, i) => unpacked[i] ?? l.size);
  return {
    digest: entry.digest,
    id: manifest.config.digest,
    manifest,
    manifestSize: manifestBytes.length,
    config,
    names: entry.names,
    record: entry.record,
    chainIds: ids,
    size: allUnpacked ? layerSizes.reduce((n, s) => n + s, 0) : manifestBytes.length + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    layerSizes,
    created: Number.isNaN(createdMs) ? 0 : Math.floor(createdMs / 1000),
  };
}

/** Every image of the store; the broken ones are passed to `onBroken` and left out. */
export async function loadImages(src: ImageSources, onBroken?: (e: BrokenImageError) => void): Promise<LocalImage[]> {
  const out: LocalImage[] = [];
  for (const entry of await src.refs.images()) {
    try {
      out.push(await loadImage(src.content, entry, src.snapshots));
    } catch (e) {
      if (!(e instanceof BrokenImageError)) throw e;
      onBroken?.(e);
    }
  }
  return out;
}
