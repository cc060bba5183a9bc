/**
 * A container's own mounts, from `-v` (HostConfig.Binds), `--mount` (HostConfig.Mounts) and
 * `--tmpfs` (HostConfig.Tmpfs), with docker's parsing rules and messages (moby
 * volume/mounts/linux_parser.go, pkg/mount MergeTmpfsOptions). Named and anonymous volumes
 * are returned as such: the engine's volume service gives their host paths.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidParameterError } from '../errors.ts';
import type { HostConfig, MountSpec } from './docker-types.ts';

export interface MountPoint {
  type: 'bind' | 'volume' | 'tmpfs';
  destination: string;
  /** bind: the host path; volume: the volume name ("" for an anonymous one); tmpfs: "tmpfs" */
  source: string;
  rw: boolean;
  /** bind propagation ("rprivate" unless given); "" for volumes */
  propagation: string;
  nonRecursive?: boolean;
  /** `-v` creates a missing bind source; `--mount` refuses it */
  createSource?: boolean;
  /** volume: do not copy the image's content into a new volume */
  noCopy?: boolean;
  /** tmpfs: the options string ("size=64m,mode=1777") */
  data?: string;
  /** volume (`--mount` volume-driver/volume-opt/volume-label): used when the mount creates the volume */
  volumeDriver?: string;
  volumeOptions?: Record<string, string>;
  volumeLabels?: Record<string, string>;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const LABEL_MODES = new Set(['z', 'Z']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated']);
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function invalidSpec(raw: string): never {
  throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
}

/** docker's ValidMountMode: at most one of each kind among ro/rw, z/Z, propagation, nocopy, consistency. */
function validMode(mode: string): boolean {
  if (mode === '') return true;
  let rw = 0;
  let label = 0;
  let prop = 0;
  let copy = 0;
  let cons = 0;
  for (const o of mode.split(',')) {
    if (o === 'ro' || o === 'rw') rw++;
    else if (LABEL_MODES.has(o)) label++;
    else if (PROPAGATIONS.has(o)) prop++;
    else if (o === 'nocopy') copy++;
    else if (CONSISTENCY.has(o)) cons++;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && cons <= 1;
}

function checkDestination(dest: string, type: string): void {
  if (!dest.startsWith('/')) {
    throw new InvalidParameterError(`invalid mount config for type "${type}": invalid mount path: '${dest}' mount path must be absolute`);
  }
  if (path.posix.normalize(dest) === '/') throw new InvalidParameterError(`invalid specification: destination can't be '/'`);
}

/** One `-v` entry: `/ctr`, `/host:/ctr[:mode]`, `name:/ctr[:mode]`, `/ctr:mode`. */
export function parseBind(raw: string): MountPoint {
  const arr = raw.split(':');
  let src = '';
  let dst: string;
  let mode = '';
  switch (arr.length) {
    case 1:
      dst = arr[0]!;
      break;
    case 2:
      if (validMode(arr[1]!) && !arr[1]!.startsWith('/')) {
        dst = arr[0]!;
        mode = arr[1]!;
      } else {
        src = arr[0]!;
        dst = arr[1]!;
      }
      break;
    case 3:
      [src, dst, mode] = arr as [string, string, string];
      break;
    default:
      return invalidSpec(raw);
  }
  if (dst === '' || (arr.length === 3 && src === '') || (arr.length === 2 && mode === '' && src === '')) invalidSpec(raw);
  if (!validMode(mode)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  const modes = mode === '' ? [] : mode.split(',');
  const rw = !modes.includes('ro');
  const prop = modes.find((m) => PROPAGATIONS.has(m));
  if (src === '') {
    checkDestination(dst, 'volume');
    if (prop) throw new InvalidParameterError(`invalid mode: ${mode}`);
    return { type: 'volume', destination: path.posix.normalize(dst), source: '', rw, propagation: '', noCopy: modes.includes('nocopy') };
  }
  if (src.startsWith('/')) {
    checkDestination(dst, 'bind');
    if (modes.includes('nocopy')) throw new InvalidParameterError(`invalid mode: ${mode}`);
    return { type: 'bind', destination: path.posix.normalize(dst), source: path.posix.normalize(src), rw, propagation: prop ?? 'rprivate', createSource: true };
  }
  if (!VOLUME_NAME.test(src)) {
    throw new InvalidParameterError(`"${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  checkDestination(dst, 'volume');
  if (prop) throw new InvalidParameterError(`invalid mode: ${mode}`);
  return { type: 'volume', destination: path.posix.normalize(dst), source: src, rw, propagation: '', noCopy: modes.includes('nocopy') };
}

/** go-units-free suffixing of docker's ConvertTmpfsOptions: the largest unit that divides. */
function tmpfsSize(bytes: number): string {
  for (const [suffix, div] of [['g', 1 << 30], ['m', 1 << 20], ['k', 1 << 10]] as const) {
    if (bytes % div === 0) return `${bytes / div}${suffix}`;
  }
  return String(bytes);
}

/** One `--mount` entry (already split by the client into mount.Mount). */
export function parseMountSpec(m: MountSpec, where = 'HostConfig.Mounts'): MountPoint {
  const type = m.Type;
  const errPrefix = `invalid mount config for type "${type}"`;
  if (typeof m.Target !== 'string' || m.Target === '') throw new InvalidParameterError(`${errPrefix}: field Target must not be empty`);
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw new InvalidParameterError(`${where}: mount type unknown: ${JSON.stringify(type)}`);
  checkDestination(m.Target, type);
  const dst = path.posix.normalize(m.Target);
  const rw = !m.ReadOnly;
  if (type === 'bind') {
    if (!m.Source) throw new InvalidParameterError(`${errPrefix}: field Source must not be empty`);
    if (!m.Source.startsWith('/')) throw new InvalidParameterError(`${errPrefix}: invalid mount path: '${m.Source}' mount path must be absolute`);
    if (m.VolumeOptions) throw new InvalidParameterError(`${errPrefix}: field VolumeOptions must not be specified`);
    if (m.TmpfsOptions) throw new InvalidParameterError(`${errPrefix}: field TmpfsOptions must not be specified`);
    const prop = m.BindOptions?.Propagation || 'rprivate';
    if (!PROPAGATIONS.has(prop)) throw new InvalidParameterError(`${errPrefix}: invalid propagation mode: ${prop}`);
    return { type, destination: dst, source: path.posix.normalize(m.Source), rw, propagation: prop, nonRecursive: m.BindOptions?.NonRecursive === true, createSource: false };
  }
  if (type === 'volume') {
    if (m.BindOptions) throw new InvalidParameterError(`${errPrefix}: field BindOptions must not be specified`);
    if (m.TmpfsOptions) throw new InvalidParameterError(`${errPrefix}: field TmpfsOptions must not be specified`);
    const name = m.Source ?? '';
    if (name !== '' && !VOLUME_NAME.test(name)) {
      throw new InvalidParameterError(`${errPrefix}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const vo = m.VolumeOptions;
    return {
      type, destination: dst, source: name, rw, propagation: '', noCopy: vo?.NoCopy === true,
      ...(vo?.DriverConfig?.Name && { volumeDriver: vo.DriverConfig.Name }),
      ...(vo?.DriverConfig?.Options && { volumeOptions: { ...vo.DriverConfig.Options } }),
      ...(vo?.Labels && { volumeLabels: { ...vo.Labels } }),
    };
  }
  if (m.Source) throw new InvalidParameterError(`${errPrefix}: field Source must not be specified`);
  if (m.BindOptions) throw new InvalidParameterError(`${errPrefix}: field BindOptions must not be specified`);
  if (m.VolumeOptions) throw new InvalidParameterError(`${errPrefix}: field VolumeOptions must not be specified`);
  const opts: string[] = [];
  if (m.ReadOnly) opts.push('ro');
  if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
  if (m.TmpfsOptions?.SizeBytes) {
    if (m.TmpfsOptions.SizeBytes < 0) throw new InvalidParameterError(`${errPrefix}: invalid tmpfs size ${m.TmpfsOptions.SizeBytes}`);
    opts.push(`size=${tmpfsSize(m.TmpfsOptions.SizeBytes)}`);
  }
  return { type, destination: dst, source: 'tmpfs', rw, propagation: '', data: opts.join(',') };
}

// Mount flags by the bit they set, so that e.g. "exec" after "noexec" replaces it (pkg/mount's table).
const FLAG_KEYS: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev', exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand', atime: 'noatime',
  noatime: 'noatime', diratime: 'nodiratime', nodiratime: 'nodiratime', bind: 'bind', rbind: 'rbind', relatime: 'relatime',
  norelatime: 'relatime', strictatime: 'strictatime', nostrictatime: 'strictatime',
  shared: 'propagation', rshared: 'propagation', slave: 'propagation', rslave: 'propagation', private: 'propagation',
  rprivate: 'propagation', unbindable: 'propagation', runbindable: 'propagation',
};
const TMPFS_DATA = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** docker's MergeTmpfsOptions: later options win, one per flag bit and per data key. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const flag = FLAG_KEYS[o];
    if (flag !== undefined) {
      if (seenFlags.has(flag)) continue;
      seenFlags.add(flag);
      out.unshift(o);
      continue;
    }
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA.has(key)) {
      const parts = eq < 0 ? [o] : [key, o.slice(eq + 1)];
      throw new InvalidParameterError(`Invalid tmpfs option [${parts.map((p) => JSON.stringify(p)).join(' ')}]`);
    }
    if (seenData.has(key)) continue;
    seenData.add(key);
    out.unshift(o);
  }
  return out;
}

/**
 * All the container's own mount points: Binds, Mounts and Tmpfs, then the image's VOLUMEs not
 * already covered (anonymous volumes). A destination given twice is docker's error.
 */
export function containerMountPoints(hostConfig: HostConfig, imageVolumes: readonly string[] = []): MountPoint[] {
  const out: MountPoint[] = [];
  const seen = new Set<string>();
  const add = (mp: MountPoint): void => {
    if (seen.has(mp.destination)) throw new InvalidParameterError(`Duplicate mount point: ${mp.destination}`);
    seen.add(mp.destination);
    out.push(mp);
  };
  for (const b of hostConfig.Binds ?? []) add(parseBind(b));
  (hostConfig.Mounts ?? []).forEach((m, i) => add(parseMountSpec(m, `HostConfig.Mounts[${i}]`)));
  for (const [dest, data] of Object.entries(hostConfig.Tmpfs ?? {})) {
    checkDestination(dest, 'tmpfs');
    const d = path.posix.normalize(dest);
    mergeTmpfsOptions(data === '' ? [] : data.split(',')); // refuse bad options at create, as docker does
    add({ type: 'tmpfs', destination: d, source: 'tmpfs', rw: !data.split(',').includes('ro'), propagation: '', data });
  }
  for (const v of imageVolumes) {
    const d = path.posix.normalize(v);
    if (!seen.has(d)) {
      seen.add(d);
      out.push({ type: 'volume', destination: d, source: '', rw: true, propagation: '' });
    }
  }
  return out;
}

/** Makes a missing `-v` bind source (a directory) and checks a `--mount` one exists. */
export async function prepareBindSource(mp: MountPoint): Promise<void> {
  if (mp.type !== 'bind') return;
  try {
    await fs.stat(mp.source);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!mp.createSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${mp.source}`);
    await fs.mkdir(mp.source, { recursive: true, mode: 0o755 });
  }
}
