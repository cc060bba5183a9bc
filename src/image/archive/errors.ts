/**
 * Errors of image archives (save, load, import, export). The message says what (the archive,
 * the image), where (the entry, the JSON field) and why: `load: entry "blobs/sha256/ab12…":
 * content is sha256:cd34…, not the digest its name says`.
 */
export class ArchiveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArchiveError';
  }
}
