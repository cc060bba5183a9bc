/**
 * The runtime config (config.json) of a bundle, generated from an image's config blob
 * (application/vnd.oci.image.config.v1+json) per the OCI image-spec's conversion.md:
 *  - verbatim: Config.WorkingDir → process.cwd, Config.Env → process.env (merged over the default
 *    PATH; no default is added for a name the image sets), Config.Entrypoint + Config.Cmd →
 *    process.args (caller's args replace Cmd, as `docker run IMAGE ARGS...` does);
 *  - parsed: Config.User ("uid", "uid:gid", "name", "name:group", numeric or names) → process.user,
 *    names resolved from the rootfs' /etc/passwd and /etc/group; for a user given without a group,
 *    the gid comes from /etc/passwd and additionalGids from the groups listing the user;
 *  - annotations: os, architecture, variant, os.version, os.features, author, created,
 *    Config.StopSignal, Config.ExposedPorts → org.opencontainers.image.*; Config.Labels copied
 *    verbatim and taking precedence over those implicit ones;
 *  - Config.Volumes: no mounts are made for them (conversion.md makes that optional); they are
 *    listed, comma-separated, in the `berth.image.volumes` annotation.
 * The rest comes from defaultSpec (terminal off, a writable root at "rootfs").
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSpec, DEFAULT_HOSTNAME } from '../../runtime/spec/default.ts';
import type { Spec, User } from '../../runtime/spec/types.ts';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const VOLUMES_ANNOTATION = 'berth.image.volumes';

/** The image config blob, the parts used here (validated by `parseImageConfig`). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object> | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
}

export interface SpecFromImageOptions {
  /** Replaces the image's Cmd (the Entrypoint is kept). */
  args?: string[];
  /** The container's root filesystem on disk, where user and group names are looked up. */
  rootfs?: string;
  hostname?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the shape of an image config blob; errors name the JSON path ($.config.Env[1]). */
export function parseImageConfig(raw: unknown): ImageConfig {
  const fail = (path: string, want: string, v: unknown): never => {
    throw new Error(`image config: ${path} must be ${want}, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  };
  const str = (v: unknown, path: string): void => {
    if (v !== undefined && typeof v !== 'string') fail(path, 'a string', v);
  };
  const strArray = (v: unknown, path: string, nullable: boolean): void => {
    if (v === undefined || (nullable && v === null)) return;
    if (!Array.isArray(v)) return fail(path, `an array of strings${nullable ? ' or null' : ''}`, v);
    v.forEach((e, i) => { if (typeof e !== 'string') fail(`${path}[${i}]`, 'a string', e); });
  };
  const objMap = (v: unknown, path: string, values: 'object' | 'string'): void => {
    if (v === undefined || v === null) return;
    if (!isObj(v)) return fail(path, `an object${values === 'string' ? ' of strings' : ''} or null`, v);
    for (const [k, e] of Object.entries(v)) {
      if (values === 'string' ? typeof e !== 'string' : !isObj(e)) fail(`${path}[${JSON.stringify(k)}]`, values === 'string' ? 'a string' : 'an object', e);
    }
  };
  if (!isObj(raw)) return fail('$', 'an object', raw);
  for (const k of ['created', 'author', 'architecture', 'os', 'os.version', 'variant']) str(raw[k], `$[${JSON.stringify(k)}]`.replace(/^\$\["([a-z]+)"\]$/, '$.$1'));
  strArray(raw['os.features'], '$["os.features"]', false);
  const c = raw.config;
  if (c !== undefined && c !== null) {
    if (!isObj(c)) return fail('$.config', 'an object', c);
    str(c.User, '$.config.User');
    str(c.WorkingDir, '$.config.WorkingDir');
    str(c.StopSignal, '$.config.StopSignal');
    strArray(c.Env, '$.config.Env', true);
    strArray(c.Entrypoint, '$.config.Entrypoint', true);
    strArray(c.Cmd, '$.config.Cmd', true);
    objMap(c.ExposedPorts, '$.config.ExposedPorts', 'object');
    objMap(c.Volumes, '$.config.Volumes', 'object');
    objMap(c.Labels, '$.config.Labels', 'string');
    if (Array.isArray(c.Env)) {
      (c.Env as string[]).forEach((e, i) => { if (!/^[^=]+=/.test(e)) throw new Error(`image config: $.config.Env[${i}] is not NAME=VALUE: ${JSON.stringify(e)}`); });
    }
    if (typeof c.WorkingDir === 'string' && c.WorkingDir !== '' && !c.WorkingDir.startsWith('/')) {
      throw new Error(`image config: $.config.WorkingDir must be an absolute path, got ${JSON.stringify(c.WorkingDir)}`);
    }
  }
  return raw as ImageConfig;
}

/** A file of the rootfs (etc/passwd, etc/group), refusing symlinks: the image is not trusted. */
function readRootfsFile(rootfs: string, rel: string): string | undefined {
  let p = rootfs;
  for (const part of rel.split('/')) {
    p = join(p, part);
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if (st.isSymbolicLink()) throw new Error(`image user: /${rel} in the rootfs goes through a symlink (${p}); not following it`);
  }
  return readFileSync(p, 'utf8');
}

interface DbEntry { name: string; id: number; gid: number; members: string[] }

function parseDb(text: string | undefined, kind: 'passwd' | 'group'): DbEntry[] {
  if (text === undefined) return [];
  const out: DbEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const id = Number(f[2]);
    if (f.length < 4 || !/^\d+$/.test(f[2] ?? '')) continue;
    if (kind === 'passwd') out.push({ name: f[0]!, id, gid: Number(f[3]), members: [] });
    else out.push({ name: f[0]!, id, gid: id, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

const numeric = (s: string): boolean => /^\d+$/.test(s);

/** Config.User → process.user, per conversion.md's "Config.User". */
export function resolveUser(user: string | undefined, rootfs: string | undefined): User {
  if (user === undefined || user === '') return { uid: 0, gid: 0 };
  const colon = user.indexOf(':');
  const u = colon < 0 ? user : user.slice(0, colon);
  const g = colon < 0 ? undefined : user.slice(colon + 1);
  if (u === '' || g === '') throw new Error(`image config: $.config.User ${JSON.stringify(user)} is not user[:group]`);
  const needFiles = !numeric(u) || (g !== undefined && !numeric(g)) || g === undefined;
  let passwd: DbEntry[] = [];
  let groups: DbEntry[] = [];
  if (needFiles && rootfs !== undefined) {
    passwd = parseDb(readRootfsFile(rootfs, 'etc/passwd'), 'passwd');
    groups = parseDb(readRootfsFile(rootfs, 'etc/group'), 'group');
  }
  const missing = (what: string, file: string): never => {
    throw new Error(`image config: $.config.User ${JSON.stringify(user)}: ${what} is not in ${rootfs === undefined ? 'the rootfs (no rootfs given to look names up in)' : `${join(rootfs, file)}`}`);
  };
  let uid: number;
  let pw: DbEntry | undefined;
  if (numeric(u)) {
    uid = Number(u);
    pw = passwd.find((e) => e.id === uid);
  } else {
    pw = passwd.find((e) => e.name === u);
    if (!pw) return missing(`user ${JSON.stringify(u)}`, 'etc/passwd');
    uid = pw.id;
  }
  let gid: number;
  if (g === undefined) gid = pw?.gid ?? 0;
  else if (numeric(g)) gid = Number(g);
  else {
    const gr = groups.find((e) => e.name === g);
    if (!gr) return missing(`group ${JSON.stringify(g)}`, 'etc/group');
    gid = gr.id;
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new Error(`image config: $.config.User ${JSON.stringify(user)}: id out of range`);
  const out: User = { uid, gid };
  // supplementary groups only for a user named without a group (conversion.md)
  if (!numeric(u) && g === undefined) {
    const extra = [...new Set(groups.filter((e) => e.members.includes(u) && e.id !== gid).map((e) => e.id))];
    if (extra.length > 0) out.additionalGids = extra;
  }
  return out;
}

function envName(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** The runtime config for a container of the image `imageConfig` (the config blob, parsed JSON). */
export function specFromImage(imageConfig: unknown, opts: SpecFromImageOptions = {}): Spec {
  const img = parseImageConfig(imageConfig);
  const c = img.config ?? {};
  const spec = defaultSpec({});
  const proc = spec.process!;
  proc.terminal = false;

  const entrypoint = c.Entrypoint ?? [];
  const cmd = opts.args !== undefined && opts.args.length > 0 ? opts.args : c.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new Error('image config: no command: $.config.Entrypoint and $.config.Cmd are empty and no args were given');
  proc.args = args;

  const imageEnv = c.Env ?? [];
  const names = new Set(imageEnv.map(envName));
  proc.env = [...(names.has('PATH') ? [] : [DEFAULT_PATH]), ...imageEnv];

  proc.cwd = c.WorkingDir !== undefined && c.WorkingDir !== '' ? c.WorkingDir : '/';
  proc.user = resolveUser(c.User, opts.rootfs);

  spec.root = { path: 'rootfs', readonly: false };
  spec.hostname = opts.hostname ?? DEFAULT_HOSTNAME;

  const ann: Record<string, string> = {};
  const implicit: [string, string | undefined][] = [
    ['org.opencontainers.image.os', img.os],
    ['org.opencontainers.image.architecture', img.architecture],
    ['org.opencontainers.image.variant', img.variant],
    ['org.opencontainers.image.os.version', img['os.version']],
    ['org.opencontainers.image.os.features', img['os.features']?.join(',')],
    ['org.opencontainers.image.author', img.author],
    ['org.opencontainers.image.created', img.created],
    ['org.opencontainers.image.stopSignal', c.StopSignal],
    ['org.opencontainers.image.exposedPorts', c.ExposedPorts ? Object.keys(c.ExposedPorts).join(',') || undefined : undefined],
    [VOLUMES_ANNOTATION, c.Volumes ? Object.keys(c.Volumes).join(',') || undefined : undefined],
  ];
  for (const [k, v] of implicit) if (v !== undefined && v !== '') ann[k] = v;
  Object.assign(ann, c.Labels ?? {}); // explicit labels take precedence
  if (Object.keys(ann).length > 0) spec.annotations = ann;
  return spec;
}
