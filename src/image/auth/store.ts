/**
 * Where the credentials of one registry live, as docker's CLI decides: the helper named by
 * `credHelpers[key]` or `credsStore` (docker's "native store"), else `auths` in the config file.
 * With a helper, the file keeps an empty `auths[key]` entry (docker writes it too: it is how
 * `logout` and other tools know a login happened) and the secret stays in the helper.
 */
import type { AuthEntry, DockerConfig } from './config.ts';
import { TOKEN_USERNAME, helperErase, helperGet, helperStore } from './helper.ts';

export interface StoredCredentials {
  /** the key they are filed under: `127.0.0.1:5000`, `https://index.docker.io/v1/` */
  serverAddress: string;
  username: string;
  password: string;
  identityToken?: string;
  /** the helper holding them, when not the file */
  helper?: string;
}

/** The credentials for `key` (a normalised key, see registryKey), or undefined when none. */
export async function getCredentials(cfg: DockerConfig, key: string, env: NodeJS.ProcessEnv = process.env): Promise<StoredCredentials | undefined> {
  const helper = cfg.helperFor(key);
  if (helper !== undefined) {
    const c = await helperGet(helper, key, env);
    if (!c || (c.Username === '' && c.Secret === '')) return undefined;
    return c.Username === TOKEN_USERNAME
      ? { serverAddress: key, username: '', password: '', identityToken: c.Secret, helper }
      : { serverAddress: key, username: c.Username, password: c.Secret, helper };
  }
  const found = cfg.findAuth(key);
  if (!found) return undefined;
  const e = found.entry;
  if (e.username === '' && e.password === '' && !e.identityToken) return undefined; // an empty helper-era entry
  return {
    serverAddress: key, username: e.username, password: e.password,
    ...(e.identityToken !== undefined && { identityToken: e.identityToken }),
  };
}

/**
 * Files credentials for `key` (in its helper, or base64 in `auths`) and saves the config.
 * An identity token replaces the password, as docker stores it. Returns the helper used, if any.
 */
export async function storeCredentials(
  cfg: DockerConfig, key: string, creds: Pick<AuthEntry, 'username' | 'password' | 'identityToken'>, env: NodeJS.ProcessEnv = process.env,
): Promise<{ helper?: string }> {
  const helper = cfg.helperFor(key);
  const password = creds.identityToken ? '' : creds.password;
  if (helper !== undefined) {
    await helperStore(helper, creds.identityToken
      ? { ServerURL: key, Username: TOKEN_USERNAME, Secret: creds.identityToken }
      : { ServerURL: key, Username: creds.username, Secret: password }, env);
    cfg.setAuth(key, {});
  } else {
    cfg.setAuth(key, { username: creds.username, password, ...(creds.identityToken && { identityToken: creds.identityToken }) });
  }
  await cfg.save();
  return helper !== undefined ? { helper } : {};
}

/**
 * Removes the credentials for `key`: every `auths` entry naming that registry (docker's logout
 * also tries the `http://` and `https://` forms older dockers wrote) and the helper's entry.
 * Returns false when there was nothing to remove.
 */
export async function eraseCredentials(cfg: DockerConfig, key: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const helper = cfg.helperFor(key);
  const removed = cfg.removeAuth(key);
  let erased = false;
  if (helper !== undefined) erased = await helperErase(helper, key, env);
  if (removed.length > 0) await cfg.save();
  return erased || removed.length > 0;
}
