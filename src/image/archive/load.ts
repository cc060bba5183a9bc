/**
 * `docker load` (Engine API `POST /images/load`): a tar stream, plain or gzip/zstd-compressed,
 * holding images in any of the formats docker reads or writes:
 *   - docker 25 (an OCI layout that is also a docker-archive) and plain OCI image layouts: read
 *     through index.json, names from its annotations (io.containerd.image.name, else an
 *     org.opencontainers.image.ref.name that is a full reference); a nested index resolves to
 *     the manifest of the wanted platform, as a pull does;
 *   - old docker-archives (`<id>/layer.tar`, `<hex>.json`, manifest.json, layers shared through
 *     symlinks): read through manifest.json; berth writes an OCI manifest for each image.
 *
 * Order, so that a bad archive leaves nothing behind: (1) stage every file into held, invisible
 * ingests while hashing it (stage.ts; a blob not matching its name fails here); (2) plan the
 * images and check them: every blob present, sizes as the descriptors say, the config's
 * diff_ids equal to the layers' DiffIDs; (3) commit the blobs used, layers and configs before
 * manifests; (4) tag the names. A failure before (3) aborts every ingest; one during (3) also
 * deletes the blobs this load added. Nothing is tagged unless everything is stored.
 */
import type { Readable } from 'node:stream';
import { parseReference, type ImageReference } from '../reference.ts';
import type { BerthStores } from '../stores.ts';
import { decompress, DecompressError } from '../compression/index.ts';
import { ingest, type ContentStore } from '../store/content.ts';
import { Digester, digestOf, type Digest } from '../store/digest.ts';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER_ZSTD, MEDIA_TYPE_OCI_MANIFEST,
  ManifestError, hostPlatform, isIndexType, isManifestType, parseIndex, parseManifest, selectPlatform, type Descriptor, type Platform,
} from '../registry/media.ts';
import { ArchiveError } from './errors.ts';
import { diffIdsOf } from './image.ts';
import {
  ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, INDEX_FILE, MANIFEST_FILE, OCI_LAYOUT_FILE, archivePath, blobPath, checkOciLayout,
  parseDockerManifest, parseJsonObject,
} from './layout.ts';
import { stageArchive, type StagedFile, type Staging } from './stage.ts';

export interface LoadOptions {
  /** the manifest taken from a multi-platform index (default: this machine's) */
  platform?: Platform;
  /** progress and notes (skipped entries), one line each */
  log?: (line: string) => void;
}

export interface LoadedImage {
  manifestDigest: Digest;
  /** docker's image ID */
  configDigest: Digest;
  /** normalised names tagged */
  names: string[];
}

export interface LoadResult {
  images: LoadedImage[];
  /** docker's output: `Loaded image: busybox:latest`, or `Loaded image ID: sha256:…` for an image without a name */
  lines: string[];
}

/** A blob the load stores: staged from the archive, made by the loader, or already in the store. */
type BlobSource = { kind: 'staged'; file: StagedFile } | { kind: 'made'; bytes: Buffer } | { kind: 'stored' };

interface PlannedImage {
  manifestDigest: Digest;
  configDigest: Digest;
  names: ImageReference[];
  where: string;
}

class Plan {
  readonly images = new Map<Digest, PlannedImage>();
  /** in commit order: children before the documents naming them */
  readonly blobs = new Map<Digest, BlobSource>();

  constructor(readonly staging: Staging, readonly content: ContentStore) {}

  /** The blob `digest` as the archive has it (or the store already does). */
  async blob(digest: Digest, size: number | undefined, what: string): Promise<BlobSource> {
    const file = this.staging.files.get(blobPath(digest));
    if (file) {
      if (size !== undefined && file.size !== size) throw new ArchiveError(`${what}: ${blobPath(digest)} has ${file.size} bytes, its descriptor says ${size}`);
      return { kind: 'staged', file };
    }
    if (await this.content.has(digest)) {
      const info = await this.content.info(digest);
      if (size !== undefined && info.size !== size) throw new ArchiveError(`${what}: ${digest} has ${info.size} bytes in the store, its descriptor says ${size}`);
      return { kind: 'stored' };
    }
    throw new ArchiveError(`${what}: ${digest} is neither in the archive (${blobPath(digest)}) nor in the store`);
  }

  /** The bytes of a JSON document among the blobs. */
  async bytes(src: BlobSource, digest: Digest, what: string): Promise<Buffer> {
    if (src.kind === 'made') return src.bytes;
    if (src.kind === 'stored') return this.content.readAll(digest);
    if (!src.file.bytes) throw new ArchiveError(`${what}: ${src.file.path} is too large (${src.file.size} bytes) for a JSON document`);
    return src.file.bytes;
  }

  use(digest: Digest, src: BlobSource): void {
    if (!this.blobs.has(digest)) this.blobs.set(digest, src);
  }

  addImage(img: PlannedImage): void {
    const prev = this.images.get(img.manifestDigest);
    if (!prev) this.images.set(img.manifestDigest, img);
    else for (const n of img.names) if (!prev.names.some((p) => p.toString() === n.toString())) prev.names.push(n);
  }
}

const asArchiveError = (e: unknown, where: string): never => {
  if (e instanceof ArchiveError) throw e;
  if (e instanceof ManifestError) throw new ArchiveError(`${where}: ${e.message}`, { cause: e });
  throw e;
};

/**
 * A name to tag a loaded image with. One with a digest is refused as docker refuses it ("invalid
 * tag"): a digest names content, and recording it against the archive's image would make that
 * digest resolve to whatever the archive holds.
 */
function parseName(raw: string, where: string): ImageReference {
  let ref: ImageReference;
  try {
    ref = parseReference(raw);
  } catch (e) {
    throw new ArchiveError(`${where}: invalid image name ${JSON.stringify(raw)}: ${(e as Error).message}`);
  }
  if (ref.digest !== undefined) {
    throw new ArchiveError(`${where}: invalid tag ${JSON.stringify(raw)}: an image is loaded under a tag, not a digest reference (REPOSITORY[:TAG])`);
  }
  return ref;
}

/** The DiffID of a layer: computed while staging, or from the store for a layer the archive left out. */
async function diffIdOf(src: BlobSource, digest: Digest, content: ContentStore, what: string): Promise<Digest> {
  if (src.kind === 'staged') {
    const d = src.file.diff;
    if (d.compression === 'none') return src.file.digest;
    if ('error' in d) throw new ArchiveError(`${what}: ${src.file.path}: ${d.error.message}`);
    return d.diffId;
  }
  const stream = await decompress(await content.reader(digest), { what });
  const dg = new Digester();
  for await (const c of stream) dg.update(c as Buffer);
  return dg.digest();
}

/** Checks the image of manifest `manifestDigest` and adds it (and its blobs) to the plan. */
async function planImage(plan: Plan, manifestSrc: BlobSource, manifestDigest: Digest, names: ImageReference[], where: string): Promise<void> {
  const bytes = await plan.bytes(manifestSrc, manifestDigest, where);
  let manifest;
  try {
    manifest = parseManifest(bytes, MEDIA_TYPE_OCI_MANIFEST, `${where}: manifest ${manifestDigest}`);
  } catch (e) {
    return asArchiveError(e, where);
  }
  const configSrc = await plan.blob(manifest.config.digest, manifest.config.size, `${where}: config`);
  const config = parseJsonObject(await plan.bytes(configSrc, manifest.config.digest, `${where}: config`), `${where}: config ${manifest.config.digest}`);
  const diffIds = diffIdsOf(config, manifest.layers.length, `${where}: config ${manifest.config.digest}`);
  if (manifest.layers.length === 0) throw new ArchiveError(`${where}: the manifest has no layers`);
  for (const [i, l] of manifest.layers.entries()) {
    const what = `${where}: layer ${i} (${l.digest})`;
    const src = await plan.blob(l.digest, l.size, what);
    const actual = await diffIdOf(src, l.digest, plan.content, what);
    if (actual !== diffIds[i]) {
      throw new ArchiveError(`${what}: its tar is ${actual}, but the config's rootfs.diff_ids[${i}] says ${diffIds[i]}`);
    }
    plan.use(l.digest, src);
  }
  plan.use(manifest.config.digest, configSrc);
  plan.use(manifestDigest, manifestSrc);
  plan.addImage({ manifestDigest, configDigest: manifest.config.digest, names, where });
}

/** The name an index.json entry gives its image, if any. */
function nameOf(desc: Descriptor, where: string, log: (l: string) => void): ImageReference | undefined {
  const full = desc.annotations?.[ANNOTATION_IMAGE_NAME];
  if (typeof full === 'string' && full !== '') return parseName(full, where);
  const ref = desc.annotations?.[ANNOTATION_REF_NAME];
  if (typeof ref !== 'string' || ref === '') return undefined;
  // The image spec allows a bare tag here ("latest", as umoci and skopeo write): it names no repository.
  if (!/[/:@]/.test(ref)) {
    log(`${where}: ${ANNOTATION_REF_NAME} ${JSON.stringify(ref)} is a tag without a repository: the image is loaded without a name`);
    return undefined;
  }
  return parseName(ref, where);
}

/** Docker 25 archives and OCI layouts: through index.json. */
async function planOci(plan: Plan, opts: LoadOptions): Promise<void> {
  const log = opts.log ?? (() => undefined);
  const layout = plan.staging.lookup(OCI_LAYOUT_FILE);
  if (layout?.bytes) checkOciLayout(layout.bytes);
  const indexFile = plan.staging.lookup(INDEX_FILE)!;
  if (!indexFile.bytes) throw new ArchiveError(`${INDEX_FILE}: too large (${indexFile.size} bytes)`);
  let index;
  try {
    index = parseIndex(indexFile.bytes, MEDIA_TYPE_OCI_INDEX, INDEX_FILE);
  } catch (e) {
    return asArchiveError(e, 'load');
  }
  for (const [i, desc] of index.manifests.entries()) {
    const where = `${INDEX_FILE} manifests[${i}]`;
    const name = nameOf(desc, where, log);
    const names = name ? [name] : [];
    if (isManifestType(desc.mediaType)) {
      await planImage(plan, await plan.blob(desc.digest, desc.size, `${where}: manifest`), desc.digest, names, `${where} (${name?.toString() ?? desc.digest})`);
    } else if (isIndexType(desc.mediaType)) {
      const src = await plan.blob(desc.digest, desc.size, `${where}: index`);
      let nested;
      let chosen;
      try {
        nested = parseIndex(await plan.bytes(src, desc.digest, where), desc.mediaType, `${where}: index ${desc.digest}`);
        chosen = selectPlatform(nested, opts.platform ?? hostPlatform());
      } catch (e) {
        return asArchiveError(e, where);
      }
      await planImage(plan, await plan.blob(chosen.digest, chosen.size, `${where}: manifest`), chosen.digest, names, `${where} (${name?.toString() ?? desc.digest})`);
      plan.use(desc.digest, src); // after the manifest it names
    } else {
      log(`${where}: skipped: media type ${JSON.stringify(desc.mediaType)} is not an image`);
    }
  }
}

function layerMediaType(file: StagedFile): string {
  return { none: MEDIA_TYPE_OCI_LAYER, gzip: MEDIA_TYPE_OCI_LAYER_GZIP, zstd: MEDIA_TYPE_OCI_LAYER_ZSTD }[file.diff.compression];
}

/** Old docker-archives: through manifest.json; berth writes each image's manifest. */
async function planDocker(plan: Plan): Promise<void> {
  const mf = plan.staging.lookup(MANIFEST_FILE)!;
  if (!mf.bytes) throw new ArchiveError(`${MANIFEST_FILE}: too large (${mf.size} bytes)`);
  for (const [i, e] of parseDockerManifest(mf.bytes).entries()) {
    const where = `${MANIFEST_FILE}[${i}]`;
    const file = (raw: string, field: string): StagedFile => {
      const path = archivePath(raw, `${where}.${field}`);
      const f = plan.staging.lookup(path);
      if (!f) throw new ArchiveError(`${where}.${field}: ${JSON.stringify(raw)} is not a file of the archive`);
      return f;
    };
    const config = file(e.Config, 'Config');
    const layers = e.Layers.map((l, j) => file(l, `Layers[${j}]`));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: layerMediaType(l), digest: l.digest, size: l.size })),
    }));
    // The generated manifest names each file by its content digest: stage them under those names.
    for (const f of [config, ...layers]) plan.staging.files.set(blobPath(f.digest), f);
    const names = (e.RepoTags ?? []).map((t, j) => parseName(t, `${where}.RepoTags[${j}]`));
    await planImage(plan, { kind: 'made', bytes: manifest }, digestOf(manifest), names, `${where} (${names[0]?.toString() ?? config.digest})`);
  }
}

/** Stores the planned blobs; on failure deletes those this load added and rethrows. */
async function commit(plan: Plan, loadId: string): Promise<void> {
  const added: Digest[] = [];
  try {
    let n = 0;
    for (const [digest, src] of plan.blobs) {
      if (src.kind === 'stored') continue;
      const had = await plan.content.has(digest);
      if (src.kind === 'staged' && src.file.writer) {
        const w = src.file.writer;
        src.file.writer = undefined;
        await w.commit(src.file.size, digest);
      } else if (!had) {
        const bytes = src.kind === 'made' ? src.bytes : src.file.bytes!;
        await ingest(plan.content, `archive-load-${loadId}-doc-${n++}`, bytes, { size: bytes.length, digest });
      }
      if (!had) added.push(digest);
    }
  } catch (e) {
    for (const d of added.reverse()) await plan.content.delete(d).catch(() => undefined);
    throw e;
  }
}

/** Loads the archive `source` into the stores and tags its images. */
export async function loadArchive(stores: BerthStores, source: Readable, opts: LoadOptions = {}): Promise<LoadResult> {
  let tar: Readable;
  try {
    tar = await decompress(source, { what: 'archive' });
  } catch (e) {
    if (e instanceof DecompressError) throw new ArchiveError(`load: ${e.message}`, { cause: e });
    throw e;
  }
  let staging: Staging;
  try {
    staging = await stageArchive(stores.content, tar);
  } catch (e) {
    tar.destroy();
    if (e instanceof ArchiveError || e instanceof DecompressError) throw new ArchiveError(`load: ${e.message}`, { cause: e });
    throw e;
  }
  const plan = new Plan(staging, stores.content);
  try {
    if (staging.lookup(INDEX_FILE)) await planOci(plan, opts);
    else if (staging.lookup(MANIFEST_FILE)) await planDocker(plan);
    else {
      const some = [...staging.files.keys()].slice(0, 5).map((p) => JSON.stringify(p)).join(', ');
      throw new ArchiveError(`not an image archive: neither ${INDEX_FILE} nor ${MANIFEST_FILE} in it (it has ${some || 'no files'})`);
    }
    if (plan.images.size === 0) throw new ArchiveError('the archive holds no image');
    await commit(plan, `${process.pid}-${Date.now()}`);
  } catch (e) {
    await staging.abort();
    throw e instanceof ArchiveError ? new ArchiveError(`load: ${e.message}`, { cause: e }) : e;
  }
  await staging.abort(); // files the images did not use

  const images: LoadedImage[] = [];
  const lines: string[] = [];
  for (const img of plan.images.values()) {
    for (const n of img.names) {
      await stores.refs.tag(n.toString(), img.manifestDigest);
      lines.push(`Loaded image: ${n.familiar()}`);
    }
    if (img.names.length === 0) lines.push(`Loaded image ID: ${img.configDigest}`);
    images.push({ manifestDigest: img.manifestDigest, configDigest: img.configDigest, names: img.names.map((n) => n.toString()) });
  }
  return { images, lines };
}
