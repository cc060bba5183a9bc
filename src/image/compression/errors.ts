/** Errors of layer decompression (src/image/compression). */
import type { Compression } from './detect.ts';

/**
 * A compressed stream that could not be decompressed: corrupt or truncated data, or the
 * decompressor could not run. The message says what stream, which compression and why:
 * `layer sha256:ab12…: zstd: Decoding error (36): Corrupted block detected`.
 */
export class DecompressError extends Error {
  constructor(message: string, readonly compression: Compression, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecompressError';
  }
}
