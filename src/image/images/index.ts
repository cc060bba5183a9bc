// Local image management (src/image/images): list, inspect, history, tag, remove, prune and
// garbage collection over a berth root's stores, in the Docker Engine API's shapes.
export { ImageService, globMatch } from './service.ts';
export type { BundleOwner, ImageFilters, ListOptions, Resolved } from './service.ts';
export { collect } from './collect.ts';
export type { CollectResult } from './collect.ts';
export { loadImage, loadImages } from './load.ts';
export type { ImageConfigDoc, HistoryEntry, LocalImage } from './load.ts';
export { bundlesUsing } from './usage.ts';
export {
  AmbiguousImageError, BrokenImageError, ImageConflictError, ImagesError, InvalidTagError, NoSuchImageError, shortId,
} from './errors.ts';
export type * from './types.ts';
