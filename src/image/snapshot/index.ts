// Overlay snapshots: unpacked layers shared by chain ID (src/image/snapshot).
export { chainId, chainIds } from './chain.ts';
export { DiffIdMismatchError, SnapshotError, SnapshotNotFoundError, UnsupportedLayerError } from './errors.ts';
export { SnapshotStore } from './store.ts';
export { LayerListError, layerRefs } from './layers.ts';
export type { LayerRef, LayerSource, PrepareOptions, SnapshotInfo, SnapshotMeta } from './store.ts';
