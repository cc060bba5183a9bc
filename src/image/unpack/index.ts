/** Unpacking image layers onto disk in overlayfs form. */
export { extractLayer, OPAQUE_XATTR } from './extract.ts';
export type { ExtractStats } from './extract.ts';
export { UnpackError } from './errors.ts';
export { makedev } from './native.ts';
