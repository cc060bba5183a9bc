/**
 * `pullImage`: resolve a reference to a manifest (a manifest list / OCI index → the manifest of
 * the wanted platform), fetch the config and the layers into the content store (layers at most
 * three at once, each verified while streaming), store the manifest (and the index) and tag the
 * name in the image index. The name is tagged last, so an interrupted pull leaves no name
 * pointing at missing content; blobs already in the store are not fetched again.
 */
import { parseReference, type ImageReference } from '../reference.ts';
import { storeKnownBytes, type ContentStore } from '../store/content.ts';
import type { Digest } from '../store/digest.ts';
import { Leases, type Lease } from '../store/lease.ts';
import type { ImageRefs } from '../store/refs.ts';
import { RegistryClient, type BlobTap, type RegistryClientOptions } from './client.ts';
import {
  ACCEPT_ALL, type Descriptor, ManifestError, hostPlatform, isIndexType, isManifestType, parseIndex, parseManifest, selectPlatform, type Platform,
} from './media.ts';
import { mapLimit } from './limit.ts';

export interface PullOptions {
  /** default: this machine's */
  platform?: Platform;
  /** a client to use (default: one for the reference's domain with `clientOptions`) */
  client?: RegistryClient;
  clientOptions?: RegistryClientOptions;
  /** layers fetched at once (default 3) */
  concurrency?: number;
  /** called as each blob is stored */
  onBlob?: (kind: 'index' | 'manifest' | 'config' | 'layer', digest: Digest, size: number) => void;
  /**
   * Called as each layer's fetch starts (after the config is stored): a tap that sees its bytes,
   * or undefined. `fetched` is false when the blob was already in the store (no bytes will come).
   */
  onLayer?: (layer: LayerStart) => Promise<BlobTap | undefined> | BlobTap | undefined;
  /** Awaited after every blob is stored and before the name is tagged (e.g. unpacking). */
  beforeTag?: () => Promise<void>;
}

export interface LayerStart {
  index: number;
  descriptor: Descriptor;
  /** every layer of the manifest, bottom first */
  layers: readonly Descriptor[];
  /** the image config's bytes (digest-verified) */
  config: Buffer;
  fetched: boolean;
  /** the pull's lease (until the tag): what the layer's consumer makes (snapshots) goes on it */
  lease: Lease;
}

export interface PullResult {
  /** the normalised name tagged: `docker.io/library/busybox:latest` */
  name: string;
  /** the platform manifest's digest: what `name` resolves to in the refs */
  manifestDigest: Digest;
  /** the index's digest when the reference named a manifest list / index (docker's RepoDigest) */
  indexDigest?: Digest;
  mediaType: string;
  configDigest: Digest;
  layers: Digest[];
}


export async function pullImage(
  reference: ImageReference | string,
  store: ContentStore,
  refs: ImageRefs,
  opts: PullOptions = {},
): Promise<PullResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const client = opts.client ?? RegistryClient.forReference(ref, opts.clientOptions);
  const platform = opts.platform ?? hostPlatform();
  // Every blob is leased before the store is asked whether it has it, and the lease ends only
  // after the tag: a garbage collection meanwhile keeps them (see store/lease.ts).
  const lease = await Leases.forContent(store).acquire(`pull ${ref.toString()}`);
  try {
    return await pullLeased(ref, client, store, refs, platform, lease, opts);
  } finally {
    await lease.release();
  }
}

async function pullLeased(
  ref: ImageReference, client: RegistryClient, store: ContentStore, refs: ImageRefs, platform: Platform, lease: Lease, opts: PullOptions,
): Promise<PullResult> {
  const repo = ref.path;
  let fetched = await client.getManifest(repo, ref.digest ?? ref.tag ?? 'latest', ACCEPT_ALL);
  let indexDigest: Digest | undefined;
  if (isIndexType(fetched.mediaType)) {
    const index = parseIndex(fetched.bytes, fetched.mediaType, `index ${ref.toString()}`);
    const desc = selectPlatform(index, platform);
    await lease.add({ content: [fetched.digest] });
    await storeBytes(store, fetched.bytes, fetched.digest);
    opts.onBlob?.('index', fetched.digest, fetched.bytes.length);
    indexDigest = fetched.digest;
    fetched = await client.getManifest(repo, desc.digest, [desc.mediaType, ...ACCEPT_ALL.filter((t) => t !== desc.mediaType)]);
    if (fetched.bytes.length !== desc.size) {
      throw new ManifestError(`manifest ${desc.digest}: size mismatch: the index says ${desc.size} bytes, got ${fetched.bytes.length}`);
    }
  }
  if (!isManifestType(fetched.mediaType)) {
    throw new ManifestError(`${ref.toString()}: unsupported manifest media type ${JSON.stringify(fetched.mediaType)}`);
  }
  const manifest = parseManifest(fetched.bytes, fetched.mediaType, `manifest ${ref.repository()}@${fetched.digest}`);
  await lease.add({ content: [fetched.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)] });

  await client.fetchBlob(repo, manifest.config.digest, store, manifest.config.size);
  opts.onBlob?.('config', manifest.config.digest, manifest.config.size);
  const config = opts.onLayer ? await store.readAll(manifest.config.digest) : Buffer.alloc(0);
  await mapLimit(manifest.layers.map((l, index) => ({ l, index })), opts.concurrency ?? 3, async ({ l, index }) => {
    const tap = await opts.onLayer?.({ index, descriptor: l, layers: manifest.layers, config, fetched: !(await store.has(l.digest)), lease });
    await client.fetchBlob(repo, l.digest, store, l.size, tap);
    opts.onBlob?.('layer', l.digest, l.size);
  });
  await opts.beforeTag?.();
  // The manifest after its content: a stored manifest's children are all present.
  await storeBytes(store, fetched.bytes, fetched.digest);
  opts.onBlob?.('manifest', fetched.digest, fetched.bytes.length);

  const name = ref.toString();
  await refs.tag(name, fetched.digest, indexDigest !== undefined ? { indexDigest } : {});
  return {
    name,
    manifestDigest: fetched.digest,
    ...(indexDigest !== undefined && { indexDigest }),
    mediaType: fetched.mediaType,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => l.digest),
  };
}

async function storeBytes(store: ContentStore, bytes: Buffer, digest: Digest): Promise<void> {
  await storeKnownBytes(store, `registry-manifest-${digest}`, bytes, digest);
}
