/** berth's tar reader/writer for OCI layers (parse/format only; nothing here touches the disk). */
export { TarError } from './errors.ts';
export { readTar } from './reader.ts';
export type { EntryType, ReadTarOptions, TarEntry } from './reader.ts';
export { TarWriter } from './writer.ts';
export type { TarBody, TarWriteEntry, TarWriterOptions } from './writer.ts';
export { cleanEntryPath, isAufsMeta, isOpaqueMarker, isWhiteout, whiteoutTarget, OPAQUE_MARKER, WHITEOUT_PREFIX } from './safepath.ts';
export type { SparseSegment } from './header.ts';
