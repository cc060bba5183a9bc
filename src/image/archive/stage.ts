/**
 * First pass of a load: the archive's tar stream, read once, into held ingests of the content
 * store. Each file's bytes go to an open ContentWriter (not committed: invisible, see
 * store/content.ts) while being hashed; small files (JSON documents) are also kept in memory to
 * be parsed. A `blobs/sha256/<hex>` entry whose content does not hash to its name fails at once.
 * Nothing is committed here: the loader commits what it uses once every check passed, and
 * `abort()` removes every ingest otherwise.
 */
import { randomBytes } from 'node:crypto';
import type { ContentStore, ContentWriter } from '../store/content.ts';
import { Digester, type Digest } from '../store/digest.ts';
import { TarError, readTar } from '../tar/index.ts';
import { DiffIdDigester, type DiffIdResult } from './diffid.ts';
import { ArchiveError } from './errors.ts';
import { archivePath, blobDigestOf, linkTarget } from './layout.ts';

/** Files up to this size are kept in memory too (manifests, configs, index.json)… */
export const KEEP_MAX = 4 << 20;
/** …as long as all kept files together stay under this. */
export const KEEP_BUDGET = 64 << 20;
const MAX_LINK_HOPS = 16;

export interface StagedFile {
  path: string;
  size: number;
  digest: Digest;
  /** the compression the bytes show and, for gzip/zstd, the DiffID of the tar inside */
  diff: DiffIdResult;
  /** the content, when kept in memory */
  bytes?: Buffer;
  /** the held ingest of a file not kept in memory */
  writer?: ContentWriter;
}

export class Staging {
  readonly files = new Map<string, StagedFile>();
  /** symlinks and hardlinks: archive path → archive path of the target */
  readonly links = new Map<string, string>();

  /** The file at `path`, following links inside the archive; undefined if there is none. */
  lookup(path: string): StagedFile | undefined {
    let p = path;
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const f = this.files.get(p);
      if (f) return f;
      const next = this.links.get(p);
      if (next === undefined) return undefined;
      p = next;
    }
    throw new ArchiveError(`entry ${JSON.stringify(path)}: more than ${MAX_LINK_HOPS} links deep (a loop?)`);
  }

  /** Removes every held ingest (their data is gone; nothing was committed). */
  async abort(): Promise<void> {
    for (const f of this.files.values()) {
      if (f.writer) await f.writer.abort().catch(() => undefined);
      f.writer = undefined;
    }
  }
}

/** Names of the archive's own JSON files: never layers, so no DiffID is computed for them. */
const isDocument = (p: string): boolean => /^(manifest\.json|index\.json|oci-layout|repositories|[^/]+\.json|[^/]+\/(json|VERSION))$/.test(p);

export async function stageArchive(content: ContentStore, tar: AsyncIterable<Buffer>): Promise<Staging> {
  const staging = new Staging();
  const loadId = `${process.pid}-${randomBytes(6).toString('hex')}`;
  let kept = 0;
  let n = 0;
  try {
    let entries = 0;
    for await (const e of readTar(tar)) {
      entries++;
      const path = archivePath(e.path);
      if (path === '' || e.type === 'dir') continue;
      if (staging.files.has(path) || staging.links.has(path)) throw new ArchiveError(`entry ${JSON.stringify(path)}: appears twice in the archive`);
      if (e.type === 'symlink' || e.type === 'hardlink') {
        staging.links.set(path, linkTarget(path, e.linkname, e.type));
        continue;
      }
      if (e.type !== 'file') throw new ArchiveError(`entry ${JSON.stringify(path)}: a ${e.type} has no place in an image archive`);
      const expected = blobDigestOf(path);
      const keep = e.size <= KEEP_MAX && kept + e.size <= KEEP_BUDGET;
      const digester = new Digester();
      const diff = isDocument(path) ? undefined : new DiffIdDigester(`archive entry ${JSON.stringify(path)}`);
      const parts: Buffer[] = [];
      let writer: ContentWriter | undefined;
      try {
        if (!keep) writer = await content.writer(`archive-load-${loadId}-${n++}`, { expectedSize: e.size });
        for await (const chunk of e.body()) {
          digester.update(chunk);
          if (writer) await writer.write(chunk);
          else parts.push(chunk);
          if (diff) await diff.update(chunk);
        }
        const digest = digester.digest();
        if (expected !== undefined && digest !== expected) {
          throw new ArchiveError(`entry ${JSON.stringify(path)}: content is ${digest}, not the digest its name says (corrupt or forged blob)`);
        }
        const file: StagedFile = { path, size: digester.size, digest, diff: diff ? await diff.finish() : { compression: 'none' } };
        if (writer) file.writer = writer;
        else {
          file.bytes = Buffer.concat(parts);
          kept += e.size;
        }
        staging.files.set(path, file);
      } catch (err) {
        diff?.abort();
        if (writer) await writer.abort().catch(() => undefined);
        throw err;
      }
    }
    if (entries === 0) throw new ArchiveError('the archive is empty (no tar entries)');
    return staging;
  } catch (e) {
    await staging.abort();
    if (e instanceof TarError) throw new ArchiveError(`not a valid tar archive: ${e.message}`, { cause: e });
    throw e;
  }
}
