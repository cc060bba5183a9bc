/**
 * One compressed layer blob → an unpacked directory and the DiffID of its tar: decompressed
 * (gzip, zstd or plain, see src/image/compression), hashed and extracted in one pass. The caller
 * compares the DiffID with the image config's before it uses the directory.
 */
import type { Readable } from 'node:stream';

import { decompress, whenClosed } from '../compression/index.ts';
import { Digester, type Digest } from '../store/digest.ts';
import { extractLayer, type ExtractStats } from './extract.ts';

export interface AppliedLayer {
  /** sha256 of the uncompressed tar, every byte of it (padding after the end marker too) */
  diffId: Digest;
  stats: ExtractStats;
}

export interface ApplyOptions {
  /** names the blob in errors: `layer sha256:…` */
  what: string;
  /** the manifest's media type (the first bytes decide when they tell) */
  mediaType?: string;
}

/** Unpacks the compressed layer `raw` into `dest` (an empty directory of berth's own). */
export async function applyLayer(raw: Readable, dest: string, opts: ApplyOptions): Promise<AppliedLayer> {
  const tar = await decompress(raw, { what: opts.what, ...(opts.mediaType !== undefined && { mediaType: opts.mediaType }) }).catch((e: unknown) => {
    raw.destroy();
    throw e;
  });
  const it = tar[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const digester = new Digester();
  // extractLayer stops reading at the tar's end-of-archive marker; the bytes after it (padding)
  // are part of the DiffID too, so the iterator handed to it does not end the stream on return.
  const hashing: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await it.next();
        if (!r.done) digester.update(r.value);
        return r;
      },
      return: async () => ({ done: true, value: undefined }),
    }),
  };
  let stats: ExtractStats;
  try {
    stats = await extractLayer(hashing, dest);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      digester.update(r.value);
    }
  } catch (e) {
    await it.return?.().catch(() => undefined);
    tar.destroy();
    await whenClosed(tar); // zstd has exited: no process outlives a failed unpack
    throw e;
  }
  return { diffId: digester.digest(), stats };
}
