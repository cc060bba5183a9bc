/**
 * The image side's one entry point: what the engine and the CLIs use of it (stores, references,
 * registries and credentials, pull and push, local images, snapshots, bundles, archives, tar, and
 * the unpack workers). Modules inside src/image import each other directly; nothing outside does.
 */
export { type BerthStores, DEFAULT_BERTH_ROOT, openStores } from './stores.ts';
export { type ImageReference, InvalidReferenceError, parseReference } from './reference.ts';
export { type Digest, Digester, digestHex, digestOf, parseDigest } from './store/digest.ts';
export { ingest, storeKnownBytes } from './store/content.ts';
export { type LayerProgress, pullAndUnpack, type PullAndUnpackResult } from './pull.ts';
export {
  type Credentials, RegistryClient, type RegistryClientOptions, RegistryError,
} from './registry/client.ts';
export {
  detectMediaType, ManifestError, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_LAYER_GZIP, parseManifest, parsePlatform,
  type Platform,
} from './registry/media.ts';
export { ImageNotLocalError, pushImage, type PushProgress, type PushResult } from './registry/push.ts';
export { DEFAULT_STALL_TIMEOUT_MS, parseDuration } from './registry/stall.ts';
export {
  convertToHostname, credentialsFor, DockerConfig, dockerConfigDir, eraseCredentials,
  getCredentials, helperGet, INDEX_SERVER, isDockerHub, registryKey, storeCredentials,
} from './auth/index.ts';
export {
  AmbiguousImageError, type BundleOwner, type DeleteItem, type HistoryItem, ImageConflictError,
  type ImageFilters, type ImageInspect, ImagesError, ImageService, type ImageSummary,
  InvalidTagError, NoSuchImageError, type PruneReport, shortId,
} from './images/index.ts';
export { chainIds, layerRefs } from './snapshot/index.ts';
export {
  type BundleRecord, createBundle, isMountPoint, readBundleRecord, removeBundle,
} from './bundle/create.ts';
export { unmountOverlay } from './bundle/overlay.ts';
export {
  applyChanges, ArchiveError, type ContainerConfig, exportBundle, type ImportResult, importRootfs,
  loadArchive, type LoadResult, resolveSaveArgs, saveImages,
} from './archive/index.ts';
export { readStoredImage } from './archive/image.ts';
export { XattrReader } from './archive/xattrs.ts';
export {
  cleanEntryPath, OPAQUE_MARKER, readTar, type TarEntry, TarError, type TarWriteEntry, TarWriter,
  WHITEOUT_PREFIX,
} from './tar/index.ts';
export { makedev, runNative, S_IFBLK, S_IFCHR, S_IFIFO } from './unpack/native.ts';
export { runWorkerIfAny, setUnpackWorkerEntry } from './unpack/worker.ts';
