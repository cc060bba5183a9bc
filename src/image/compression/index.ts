// Layer decompression (src/image/compression): gzip by zlib, zstd by libzstd's CLI, plain tar as is.
export { decompress, whenClosed, zstdReason, ZSTD_BIN } from './decompress.ts';
export type { DecompressOptions } from './decompress.ts';
export { declaredCompression, sniffCompression, SNIFF_BYTES } from './detect.ts';
export type { Compression } from './detect.ts';
export { DecompressError } from './errors.ts';
