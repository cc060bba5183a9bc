// Image archives (src/image/archive): docker's save, load, import and export.
export { ArchiveError } from './errors.ts';
export { resolveSaveArgs, saveImages } from './save.ts';
export type { SaveItem, SaveResult } from './save.ts';
export { loadArchive } from './load.ts';
export type { LoadOptions, LoadResult, LoadedImage } from './load.ts';
export { importRootfs } from './import.ts';
export type { ImportOptions, ImportResult } from './import.ts';
export { applyChanges } from './changes.ts';
export type { ContainerConfig } from './changes.ts';
export { exportBundle, exportTree } from './export.ts';
export type { ExportStats } from './export.ts';
