/**
 * Registry credentials for the registry client, from docker's config: `credentialsFor(domain)`
 * resolves a reference's domain (`docker.io`, `127.0.0.1:5000`) to what `docker login` stored,
 * through the same helper or `auths` entry docker would use. RegistryClient asks only when a
 * registry challenges it, so anonymous pulls never read the file or run a helper.
 */
import type { Credentials } from '../registry/client.ts';
import { DockerConfig, dockerConfigDir } from './config.ts';
import { registryKey } from './keys.ts';
import { getCredentials } from './store.ts';

export interface CredentialsOptions {
  /** the directory of config.json (default `$DOCKER_CONFIG` or `~/.docker`) */
  configDir?: string;
  /** environment for the helpers and for DOCKER_CONFIG (default process.env) */
  env?: NodeJS.ProcessEnv;
}

/** The credentials docker would send to the registry of `domain`, or undefined when none. */
export async function credentialsFor(domain: string, opts: CredentialsOptions = {}): Promise<Credentials | undefined> {
  const env = opts.env ?? process.env;
  const cfg = await DockerConfig.load(opts.configDir ?? dockerConfigDir(env));
  const c = await getCredentials(cfg, registryKey(domain), env);
  if (!c) return undefined;
  return { username: c.username, password: c.password, ...(c.identityToken !== undefined && { identityToken: c.identityToken }) };
}

/** `credentialsFor` bound to `opts`: the shape RegistryClientOptions.credentialsFor takes. */
export function dockerCredentials(opts: CredentialsOptions = {}): (domain: string) => Promise<Credentials | undefined> {
  return (domain) => credentialsFor(domain, opts);
}
