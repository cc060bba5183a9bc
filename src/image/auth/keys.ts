/**
 * The keys docker files registry credentials under, in `auths`, `credHelpers` and the helpers:
 * Docker Hub under `https://index.docker.io/v1/` (its legacy index address, kept by every docker
 * since v1), any other registry under its `host[:port]`. Entries written by older dockers or by
 * hand with a scheme or a path (`https://127.0.0.1:5000/v2/`) name the same registry.
 */

/** docker's `registry.IndexServer`: Docker Hub's key. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

/** The names Docker Hub goes by: docker.io in references, the index, the API host. */
const HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * docker's `credentials.ConvertToHostname`: the `host[:port]` of a server address given with or
 * without a scheme or a path: `https://127.0.0.1:5000/v2/` → `127.0.0.1:5000`.
 */
export function convertToHostname(server: string): string {
  let s = server.trim();
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(s);
  if (scheme) s = s.slice(scheme[0].length);
  const slash = s.indexOf('/');
  return slash >= 0 ? s.slice(0, slash) : s;
}

/** True when `server` (a domain, host or URL) names Docker Hub. */
export function isDockerHub(server: string): boolean {
  return server === INDEX_SERVER || HUB_HOSTS.has(convertToHostname(server).toLowerCase());
}

/**
 * The key credentials for `server` are filed under: a reference's domain (`docker.io`,
 * `127.0.0.1:5000`), a `berth login` argument, or an existing config key.
 */
export function registryKey(server: string): string {
  return isDockerHub(server) ? INDEX_SERVER : convertToHostname(server);
}

/** True when config key `entryKey` (as found in a file) names the registry of key `key`. */
export function sameRegistry(entryKey: string, key: string): boolean {
  return entryKey === key || registryKey(entryKey) === registryKey(key);
}
