/**
 * docker's client configuration file, `config.json` in `$DOCKER_CONFIG` or `~/.docker`: the parts
 * about registry credentials (`auths`, `credsStore`, `credHelpers`), read and written the way
 * docker's CLI does, so that `docker login` and `berth login` share one file:
 *
 * - an `auths` entry holds `auth` = base64("user:password") (docker also reads plain `username` /
 *   `password`), `identitytoken` (an OAuth2 refresh token), `registrytoken`, `email`;
 * - every other key of the file, and every other field of an entry, is kept as it was;
 * - the file is replaced atomically (a temp file in the same directory, mode 0600, renamed over
 *   it; through a symlink to its target), so a crash or a concurrent reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

import { sameRegistry } from './keys.ts';

export const CONFIG_FILE_NAME = 'config.json';

/** A problem with the config file: which file, which key, what is wrong. */
export class DockerConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockerConfigError';
  }
}

/** One `auths` entry, decoded. */
export interface AuthEntry {
  username: string;
  password: string;
  /** an OAuth2 refresh token the registry issued at login; used instead of the password */
  identityToken?: string;
  /** a bearer token sent to the registry as is */
  registryToken?: string;
  email?: string;
}

/** `$DOCKER_CONFIG`, else `~/.docker` (as docker's `config.Dir()`). */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.DOCKER_CONFIG;
  return d !== undefined && d !== '' ? d : join(env.HOME || homedir(), '.docker');
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The file's contents; `raw` keeps every key, the accessors read and change the known ones. */
export class DockerConfig {
  private constructor(readonly file: string, private raw: Json) {}

  /** Reads `dir`/config.json (default `dockerConfigDir()`); a missing file is an empty config. */
  static async load(dir: string = dockerConfigDir()): Promise<DockerConfig> {
    const file = join(dir, CONFIG_FILE_NAME);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new DockerConfig(file, {});
      throw new DockerConfigError(`docker config ${file}: ${(e as Error).message}`, { cause: e });
    }
    return DockerConfig.parse(text, file);
  }

  /** Parses and checks the credential parts of a config file's text (`file` names it in errors). */
  static parse(text: string, file: string): DockerConfig {
    let raw: unknown;
    try {
      raw = text.trim() === '' ? {} : JSON.parse(text);
    } catch (e) {
      throw new DockerConfigError(`docker config ${file}: not JSON: ${(e as Error).message}`, { cause: e });
    }
    if (!isObject(raw)) throw new DockerConfigError(`docker config ${file}: not a JSON object`);
    const cfg = new DockerConfig(file, raw);
    if (raw.auths !== undefined && raw.auths !== null) {
      if (!isObject(raw.auths)) throw new DockerConfigError(`docker config ${file}: "auths" is not an object`);
      for (const key of Object.keys(raw.auths)) cfg.#decode(key); // every entry checked once, at the edge
    }
    if (raw.credsStore !== undefined && typeof raw.credsStore !== 'string') {
      throw new DockerConfigError(`docker config ${file}: "credsStore" is not a string`);
    }
    if (raw.credHelpers !== undefined && raw.credHelpers !== null) {
      if (!isObject(raw.credHelpers) || Object.values(raw.credHelpers).some((v) => typeof v !== 'string')) {
        throw new DockerConfigError(`docker config ${file}: "credHelpers" is not an object of strings`);
      }
    }
    return cfg;
  }

  /** The config as JSON text, as it would be written. */
  toJSON(): Json {
    return structuredClone(this.raw);
  }

  get credsStore(): string | undefined {
    return typeof this.raw.credsStore === 'string' && this.raw.credsStore !== '' ? this.raw.credsStore : undefined;
  }

  get credHelpers(): Readonly<Record<string, string>> {
    return isObject(this.raw.credHelpers) ? (this.raw.credHelpers as Record<string, string>) : {};
  }

  /** The keys of `auths`, as written. */
  authKeys(): string[] {
    return isObject(this.raw.auths) ? Object.keys(this.raw.auths) : [];
  }

  /**
   * The `auths` entry for the registry of `key`: the exact key first, then (as docker's file
   * store does for legacy files) the first key naming the same registry (`https://host:5000`).
   */
  findAuth(key: string): { key: string; entry: AuthEntry } | undefined {
    const keys = this.authKeys();
    const found = keys.includes(key) ? key : keys.find((k) => sameRegistry(k, key));
    return found === undefined ? undefined : { key: found, entry: this.#decode(found) };
  }

  /**
   * The credential helper for `key` (its NAME in docker-credential-NAME): `credHelpers[key]`
   * (or a key naming the same registry), else `credsStore`, else none (the file itself).
   */
  helperFor(key: string): string | undefined {
    const helpers = this.credHelpers;
    const k = key in helpers ? key : Object.keys(helpers).find((h) => sameRegistry(h, key));
    const name = k !== undefined && helpers[k] !== '' ? helpers[k] : this.credsStore;
    return name;
  }

  /**
   * Files `entry` under `key` as docker does: `auth` = base64(user:password) (nothing when both
   * are empty), `identitytoken` when there is one, the other fields dropped; replaces the entry.
   */
  setAuth(key: string, entry: Partial<AuthEntry>): void {
    const auths = isObject(this.raw.auths) ? this.raw.auths : (this.raw.auths = {});
    const out: Json = {};
    const user = entry.username ?? '';
    const pass = entry.password ?? '';
    if (user !== '' || pass !== '') out.auth = Buffer.from(`${user}:${pass}`).toString('base64');
    if (entry.email) out.email = entry.email;
    if (entry.identityToken) out.identitytoken = entry.identityToken;
    if (entry.registryToken) out.registrytoken = entry.registryToken;
    (auths as Json)[key] = out;
  }

  /** Removes every `auths` entry naming the registry of `key`; the keys removed. */
  removeAuth(key: string): string[] {
    if (!isObject(this.raw.auths)) return [];
    const gone = Object.keys(this.raw.auths).filter((k) => sameRegistry(k, key));
    for (const k of gone) delete this.raw.auths[k];
    return gone;
  }

  /**
   * Writes the file atomically: a temp file beside it (mode 0600), fsynced, renamed over the
   * file, or over its target when the file is a symlink (a dotfiles setup keeps its link).
   */
  async save(): Promise<void> {
    let target = this.file;
    try {
      target = await realpath(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new DockerConfigError(`docker config ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    const dir = dirname(target);
    const tmp = join(dir, `.${CONFIG_FILE_NAME}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(this.raw, null, '\t')}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await chmod(tmp, 0o600); // the umask may have narrowed it; never wider than 0600
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new DockerConfigError(`docker config ${target}: write: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Decodes `auths[key]`: `auth` (base64 of user:password) wins over `username`/`password`. */
  #decode(key: string): AuthEntry {
    const where = `docker config ${this.file}: auths[${JSON.stringify(key)}]`;
    const v = (this.raw.auths as Json)[key];
    if (!isObject(v)) throw new DockerConfigError(`${where}: not an object`);
    const str = (name: string): string | undefined => {
      const x = v[name];
      if (x === undefined || x === null) return undefined;
      if (typeof x !== 'string') throw new DockerConfigError(`${where}.${name}: not a string`);
      return x;
    };
    const entry: AuthEntry = { username: str('username') ?? '', password: str('password') ?? '' };
    const auth = str('auth');
    if (auth !== undefined && auth !== '') {
      if (!BASE64.test(auth)) throw new DockerConfigError(`${where}.auth: not base64`);
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new DockerConfigError(`${where}.auth: not base64 of "user:password" (no colon)`);
      entry.username = decoded.slice(0, colon);
      entry.password = decoded.slice(colon + 1).replace(/^\0+|\0+$/g, ''); // docker trims NULs too
    }
    const identityToken = str('identitytoken');
    if (identityToken) entry.identityToken = identityToken;
    const registryToken = str('registrytoken');
    if (registryToken) entry.registryToken = registryToken;
    const email = str('email');
    if (email) entry.email = email;
    return entry;
  }
}
