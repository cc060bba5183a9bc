/**
 * Errors of the image store. Each says what failed, where (digest, ref, path) and why, and has a
 * class callers can test with instanceof (a pull retries on DigestMismatchError, skips on
 * NotFoundError, reports LockedError to the user).
 */

/** Base class of every error thrown by src/image/store. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A string that should be a digest is not one (`sha256:` + 64 lowercase hex). */
export class InvalidDigestError extends StoreError {}

/** A blob, ingest or name that does not exist. */
export class NotFoundError extends StoreError {}

/** Committed bytes do not hash to the digest the caller expected. Nothing was stored. */
export class DigestMismatchError extends StoreError {
  constructor(where: string, readonly expected: string, readonly actual: string) {
    super(`${where}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Committed (or written) bytes are not the size the caller expected. Nothing was stored. */
export class SizeMismatchError extends StoreError {
  constructor(where: string, readonly expected: number, readonly actual: number, detail = '') {
    super(`${where}: size mismatch: expected ${expected} bytes, got ${actual}${detail}`);
  }
}

/** A lock (an ingest's ref, the refs file) is held by a live process. */
export class LockedError extends StoreError {
  constructor(what: string, readonly path: string, readonly pid: number | undefined) {
    super(`${what}: ${pid === undefined ? 'locked' : `locked by pid ${pid}`} (${path})`);
  }
}

/** A file of the store that cannot be parsed (refs.json, an ingest's meta). */
export class CorruptError extends StoreError {}

/** errno code of a Node fs error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}
