/**
 * Errors of local image management, worded as docker's daemon words them (the CLI prints them
 * as they are), each a class the API server will map to a status: NoSuchImageError → 404,
 * ImageConflictError → 409, AmbiguousImageError and InvalidTagError → 400.
 */
export class ImagesError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** `No such image: busybox:latest` */
export class NoSuchImageError extends ImagesError {
  constructor(readonly reference: string) {
    super(`No such image: ${reference}`);
  }
}

/** An ID prefix that names more than one image. */
export class AmbiguousImageError extends ImagesError {
  constructor(readonly prefix: string, readonly ids: string[]) {
    super(`ambiguous image ID prefix "${prefix}": matches ${ids.length} images (${ids.map(shortId).join(', ')}); give more of the ID`);
  }
}

/** docker's `conflict: unable to …` refusals of rmi. */
export class ImageConflictError extends ImagesError {}

/** A tag target docker would refuse. */
export class InvalidTagError extends ImagesError {}

/** An image whose manifest or config is missing from the store or unreadable. */
export class BrokenImageError extends ImagesError {}

/** docker's stringid.TruncateID: 12 hex characters, without the algorithm. */
export function shortId(id: string): string {
  const hex = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
  return hex.slice(0, 12);
}
