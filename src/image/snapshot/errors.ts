/** Errors of the snapshot store (src/image/snapshot). */
export class SnapshotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A layer whose uncompressed bytes do not hash to its DiffID. Nothing was kept. */
export class DiffIdMismatchError extends SnapshotError {
  constructor(readonly layer: string, readonly expected: string, readonly actual: string) {
    super(`layer ${layer}: DiffID mismatch: expected ${expected}, got ${actual} (uncompressed content)`);
  }
}

/** A layer compression or media type berth cannot unpack (zstd for now). */
export class UnsupportedLayerError extends SnapshotError {}

/** A snapshot that does not exist. */
export class SnapshotNotFoundError extends SnapshotError {}
