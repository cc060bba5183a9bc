/** Registry credentials as docker keeps them: config.json, credential helpers, key normalisation. */
export { CONFIG_FILE_NAME, DockerConfig, DockerConfigError, dockerConfigDir } from './config.ts';
export type { AuthEntry } from './config.ts';
export {
  CredentialHelperError, HELPER_PREFIX, NOT_FOUND_MESSAGE, TOKEN_USERNAME, helperErase, helperGet, helperList, helperStore,
} from './helper.ts';
export type { HelperCredentials } from './helper.ts';
export { INDEX_SERVER, convertToHostname, isDockerHub, registryKey, sameRegistry } from './keys.ts';
export { credentialsFor, dockerCredentials } from './resolve.ts';
export type { CredentialsOptions } from './resolve.ts';
export { eraseCredentials, getCredentials, storeCredentials } from './store.ts';
export type { StoredCredentials } from './store.ts';
