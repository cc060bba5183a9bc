/**
 * `docker save` (Engine API `GET /images/get`): images → one tar stream in docker 25's format,
 * which is an OCI image layout and a docker-archive at once:
 *
 *   blobs/sha256/<hex>   every manifest, config and layer, once, as stored (layers stay compressed)
 *   index.json           one descriptor per name, annotated with io.containerd.image.name (the
 *                        full name) and org.opencontainers.image.ref.name (the tag)
 *   manifest.json        [{Config, RepoTags, Layers}] with paths into blobs/
 *   oci-layout           {"imageLayoutVersion": "1.0.0"}
 *   repositories         {REPO: {TAG: <hex of the top layer>}}
 *
 * The manifests are the stored bytes, so a save → load round trip keeps every digest. Blobs
 * stream from the store to the sink (hashed on the way: a blob corrupt on disk fails the save
 * instead of going out). Entries have mtime 0, so saving the same images twice gives the same
 * bytes.
 */
import type { Writable } from 'node:stream';
import { parseReference, type ImageReference } from '../reference.ts';
import type { BerthStores } from '../stores.ts';
import { Digester, isDigest, type Digest } from '../store/digest.ts';
import { TarWriter } from '../tar/index.ts';
import { ArchiveError } from './errors.ts';
import { readStoredImage, type StoredImage } from './image.ts';
import {
  ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, INDEX_FILE, MANIFEST_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION, REPOSITORIES_FILE,
  blobPath, type DockerManifestEntry,
} from './layout.ts';
import { MEDIA_TYPE_OCI_INDEX } from '../registry/media.ts';
import { ImageService } from '../images/service.ts';
import { NoSuchImageError } from '../images/errors.ts';

/** One image to save and the names it goes out under (none for an image given by digest). */
export interface SaveItem {
  image: StoredImage;
  refs: ImageReference[];
}

export interface SaveResult {
  images: { manifestDigest: Digest; names: string[] }[];
  bytes: number;
}

/** A full image ID (`sha256:<64 hex>`, or the 64 hex alone) or a prefix of one's hex. */
const ID_LIKE = /^(?:sha256:[0-9a-f]{64}|[0-9a-f]{1,64})$/;

/**
 * What `docker save ARGS...` means: a name with a tag is that name; a repository without a tag
 * is every tag of it (docker's rule); an image ID (`sha256:<id>`, the bare hex, or a unique
 * prefix that is not a name) is that image, saved without a name, as is `NAME@sha256:…` and
 * (berth's own) `sha256:<manifest digest>`.
 */
export async function resolveSaveArgs(stores: BerthStores, args: readonly string[]): Promise<SaveItem[]> {
  if (args.length === 0) throw new ArchiveError('save: no image given');
  const names = await stores.refs.list();
  const byDigest = new Map<Digest, SaveItem>();
  const add = async (digest: Digest, label: string, ref?: ImageReference): Promise<void> => {
    let item = byDigest.get(digest);
    if (!item) byDigest.set(digest, (item = { image: await readStoredImage(stores.content, digest, label), refs: [] }));
    if (ref && !item.refs.some((r) => r.toString() === ref.toString())) item.refs.push(ref);
  };
  /** Adds the image whose ID `arg` is (or is a unique prefix of); false if there is none. */
  const addById = async (arg: string): Promise<boolean> => {
    let r;
    try {
      r = await new ImageService(stores).resolve(arg.startsWith('sha256:') ? arg : `sha256:${arg}`);
    } catch (e) {
      if (e instanceof NoSuchImageError) return false;
      throw new ArchiveError(`save: ${(e as Error).message}`, { cause: e });
    }
    if (r.by !== 'id') return false;
    await add(r.images[0]!.digest, arg);
    return true;
  };
  for (const arg of args) {
    if (isDigest(arg)) {
      if (await addById(arg)) continue;
      if (!(await stores.content.has(arg))) throw new ArchiveError(`save: no such image: ${arg}`);
      await add(arg, arg);
      continue;
    }
    let ref: ImageReference;
    try {
      ref = parseReference(arg);
    } catch (e) {
      if (ID_LIKE.test(arg) && (await addById(arg))) continue;
      throw e;
    }
    if (ref.digest !== undefined) {
      if (!isDigest(ref.digest) || !(await stores.content.has(ref.digest))) throw new ArchiveError(`save: no such image: ${arg}`);
      await add(ref.digest, arg);
      continue;
    }
    const matches = ref.tagDefaulted
      ? names.filter((n) => n.name.startsWith(`${ref.repository()}:`) && !n.name.includes('@'))
      : names.filter((n) => n.name === ref.toString());
    if (matches.length === 0) {
      // docker tries a name first, then an ID prefix
      if (ID_LIKE.test(arg) && (await addById(arg))) continue;
      throw new ArchiveError(`save: no such image: ${arg}${ref.tagDefaulted ? ` (no tag of ${ref.repository()} in ${stores.refs.file})` : ''}`);
    }
    for (const m of matches) await add(m.digest, m.name, parseReference(m.name));
  }
  return [...byDigest.values()];
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** Writes the archive of `items` to `sink` (not ended: the caller owns it). */
export async function saveImages(stores: BerthStores, items: readonly SaveItem[], sink: Writable): Promise<SaveResult> {
  const w = new TarWriter(sink);
  let bytes = 0;
  const written = new Set<Digest>();
  const dir = async (path: string): Promise<void> => w.add({ path, type: 'dir', mode: 0o755 });
  const file = async (path: string, data: Buffer): Promise<void> => {
    bytes += data.length;
    await w.add({ path, type: 'file', mode: 0o644, size: data.length }, data);
  };
  const blob = async (digest: Digest, size: number): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    const info = await stores.content.info(digest);
    if (info.size !== size) throw new ArchiveError(`save: blob ${digest}: ${info.size} bytes in the store, its descriptor says ${size}`);
    const d = new Digester();
    const reader = await stores.content.reader(digest);
    async function* verified(): AsyncGenerator<Buffer> {
      for await (const c of reader) {
        d.update(c as Buffer);
        yield c as Buffer;
      }
      if (d.digest() !== digest) throw new ArchiveError(`save: blob ${digest} is corrupt in the store (its content is ${d.digest()})`);
    }
    try {
      await w.add({ path: blobPath(digest), type: 'file', mode: 0o644, size }, verified());
    } finally {
      reader.destroy();
    }
    bytes += size;
  };

  await dir('blobs/');
  await dir('blobs/sha256/');
  for (const { image } of items) {
    for (const l of image.manifest.layers) await blob(l.digest, l.size);
    await blob(image.manifest.config.digest, image.manifest.config.size);
    await blob(image.manifestDigest, image.manifestBytes.length);
  }

  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_INDEX,
    manifests: items.flatMap(({ image, refs }) => {
      const desc = { mediaType: image.manifest.mediaType, digest: image.manifestDigest, size: image.manifestBytes.length };
      if (refs.length === 0) return [desc];
      return refs.map((r) => ({
        ...desc,
        annotations: { [ANNOTATION_IMAGE_NAME]: r.toString(), ...(r.tag !== undefined && { [ANNOTATION_REF_NAME]: r.tag }) },
      }));
    }),
  };
  const manifest: DockerManifestEntry[] = items.map(({ image, refs }) => ({
    Config: blobPath(image.manifest.config.digest),
    RepoTags: refs.length === 0 ? null : refs.map((r) => r.familiar()),
    Layers: image.manifest.layers.map((l) => blobPath(l.digest)),
  }));
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, refs } of items) {
    const top = image.manifest.layers.at(-1);
    if (!top) continue;
    for (const r of refs) {
      if (r.tag === undefined) continue;
      (repositories[r.familiarName()] ??= {})[r.tag] = top.digest.slice('sha256:'.length);
    }
  }
  await file(INDEX_FILE, json(index));
  await file(MANIFEST_FILE, json(manifest));
  await file(OCI_LAYOUT_FILE, json({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
  await file(REPOSITORIES_FILE, json(repositories));
  await w.finish();
  return {
    images: items.map(({ image, refs }) => ({ manifestDigest: image.manifestDigest, names: refs.map((r) => r.toString()) })),
    bytes,
  };
}
