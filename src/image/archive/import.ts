/**
 * `docker import` (Engine API `POST /images/create?fromSrc=-`): a root filesystem tarball
 * (plain, gzip or zstd) → a one-layer image. The tar streams through once: it is checked to be
 * a tar (berth's reader walks its headers), hashed for the DiffID, gzip-compressed and ingested
 * as the layer blob; then the config (the --change instructions applied, the message in its
 * history as docker writes it) and an OCI manifest are stored and the name, if any, tagged.
 * The image ID printed, as docker's, is the config's digest.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { parseReference } from '../reference.ts';
import type { BerthStores } from '../stores.ts';
import { decompress, DecompressError } from '../compression/index.ts';
import { storeKnownBytes } from '../store/content.ts';
import { Digester, digestOf, type Digest } from '../store/digest.ts';
import { TarError, readTar } from '../tar/index.ts';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, hostPlatform, type Platform,
} from '../registry/media.ts';
import { applyChanges } from './changes.ts';
import { ArchiveError } from './errors.ts';

export interface ImportOptions {
  /** Dockerfile instructions (`--change`) */
  changes?: string[];
  /** the history comment (`--message`); default `Imported from SOURCE` */
  message?: string;
  /** what the tarball was, for the default message: a file name or `-` */
  sourceName?: string;
  /** default: this machine's */
  platform?: Platform;
  /** REPOSITORY[:TAG] to tag */
  reference?: string;
  /** the creation time (default now) */
  created?: Date;
}

export interface ImportResult {
  /** docker's image ID */
  configDigest: Digest;
  manifestDigest: Digest;
  layerDigest: Digest;
  diffId: Digest;
  name?: string;
}

/** The source's bytes, hashed into `diff` and written to `gz`, without ending it early (see below). */
async function* tee(source: AsyncIterable<Buffer>, diff: Digester, gz: NodeJS.WritableStream, failed: Promise<unknown>): AsyncGenerator<Buffer> {
  for await (const c of source) {
    diff.update(c);
    if (!gz.write(c)) await Promise.race([new Promise((r) => gz.once('drain', r)), failed]);
    yield c;
  }
}

export async function importRootfs(stores: BerthStores, source: Readable, opts: ImportOptions = {}): Promise<ImportResult> {
  // Everything that can be refused is checked before a byte is read.
  const config = applyChanges({}, opts.changes ?? []);
  const ref = opts.reference === undefined ? undefined : parseReference(opts.reference);
  if (ref?.digest !== undefined) throw new ArchiveError(`import: ${opts.reference}: a name to tag cannot have a digest`);
  const platform = opts.platform ?? hostPlatform();

  let tar: Readable;
  try {
    tar = await decompress(source, { what: 'import: the tarball' });
  } catch (e) {
    throw e instanceof DecompressError ? new ArchiveError(e.message, { cause: e }) : e;
  }
  const diff = new Digester();
  const gz = createGzip();
  const writer = await stores.content.writer(`archive-import-${process.pid}-${randomBytes(6).toString('hex')}`);
  const compressed = (async () => {
    for await (const c of gz) await writer.write(c as Buffer);
  })();
  compressed.catch(() => undefined);
  const it = tee(tar, diff, gz, compressed)[Symbol.asyncIterator]();
  // readTar stops at the end-of-archive blocks; what follows (padding) is part of the DiffID
  // too, so the iterator it gets does not end the stream, and the rest is read after.
  const keepOpen: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => it.next(), return: async () => ({ done: true, value: undefined }) }) };
  let layerDigest: Digest;
  try {
    let entries = 0;
    for await (const e of readTar(keepOpen)) {
      void e;
      entries++;
    }
    if (entries === 0) throw new ArchiveError('import: the tarball is empty (no tar entries)');
    for (;;) if ((await it.next()).done) break;
    gz.end();
    await compressed;
    layerDigest = await writer.commit(writer.offset);
  } catch (e) {
    await it.return?.(undefined).catch(() => undefined);
    tar.destroy();
    gz.destroy();
    await compressed.catch(() => undefined);
    await writer.abort().catch(() => undefined);
    if (e instanceof TarError) throw new ArchiveError(`import: not a valid tar archive: ${e.message}`, { cause: e });
    if (e instanceof DecompressError) throw new ArchiveError(e.message, { cause: e });
    throw e;
  }
  const layerSize = (await stores.content.info(layerDigest)).size;
  const diffId = diff.digest();

  const created = (opts.created ?? new Date()).toISOString();
  const comment = opts.message ?? `Imported from ${opts.sourceName ?? '-'}`;
  const configBytes = Buffer.from(JSON.stringify({
    architecture: platform.architecture,
    ...(platform.variant !== undefined && { variant: platform.variant }),
    os: platform.os,
    created,
    ...(opts.message !== undefined && { comment: opts.message }),
    config,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, comment }],
  }));
  const configDigest = digestOf(configBytes);
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: layerDigest, size: layerSize }],
  }));
  const manifestDigest = digestOf(manifestBytes);
  for (const [kind, bytes, digest] of [['config', configBytes, configDigest], ['manifest', manifestBytes, manifestDigest]] as const) {
    await storeKnownBytes(stores.content, `archive-import-${kind}-${digest}`, bytes, digest);
  }
  const result: ImportResult = { configDigest, manifestDigest, layerDigest, diffId };
  if (ref) {
    result.name = ref.toString();
    await stores.refs.tag(result.name, manifestDigest);
  }
  return result;
}
