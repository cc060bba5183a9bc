/** berth's registry client: pull of images over the OCI distribution / Docker Registry v2 API. */
export { RegistryClient, RegistryError, parseChallenges, registryHost } from './client.ts';
export type { Credentials, FetchedManifest, RegistryClientOptions } from './client.ts';
export * from './media.ts';
export { pullImage } from './pull.ts';
export type { PullOptions, PullResult } from './pull.ts';
