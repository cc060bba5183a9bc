/** A layer that cannot be unpacked safely or correctly (hostile path, missing hardlink target, …). */
export class UnpackError extends Error {
  override name = 'UnpackError';
}
