/**
 * Which compression a layer uses: from its first bytes (the magic numbers of RFC 1952 and
 * RFC 8878), else from what its media type declares.
 */

export type Compression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to recognise every magic below. */
export const SNIFF_BYTES = 4;

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The compression the first bytes show, or undefined when they show none (a tar, or too few bytes). */
export function sniffCompression(head: Uint8Array): Compression | undefined {
  if (GZIP_MAGIC.every((m, i) => head[i] === m)) return 'gzip';
  if (ZSTD_MAGIC.every((m, i) => head[i] === m)) return 'zstd';
  // A zstd skippable frame (magic 0x184D2A50..5F, little-endian) may precede the data frames.
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  return undefined;
}

/**
 * The compression a layer media type declares by its suffix: `…tar+gzip` / docker's
 * `…tar.gzip` → gzip, `…tar+zstd` / `…tar.zstd` → zstd, anything else → none.
 */
export function declaredCompression(mediaType: string | undefined): Compression {
  if (mediaType === undefined) return 'none';
  if (/[+.]gzip$/.test(mediaType)) return 'gzip';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  return 'none';
}
