/** The engine's volumes: the local driver's service, copy-up, and what container create/rm call. */
export { VolumeService, VOLUME_NAME, checkVolumeName } from './service.ts';
export type { PreparedMounts, Volume, VolumeCreateRequest, VolumeMount, VolumePruneReport, VolumeServiceOptions } from './service.ts';
export { copyUp } from './copyup.ts';
export type { VolumeMeta, VolumeUser } from './meta.ts';
