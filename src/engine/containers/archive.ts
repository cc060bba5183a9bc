/**
 * `docker cp`: HEAD / GET / PUT /containers/{id}/archive, and `docker export`. Paths are the
 * container's, resolved inside its root filesystem with its bind mounts and volumes (fs/inroot.ts: nothing
 * here ever follows a container's symlink onto the host); the root filesystem is the bundle's
 * overlay mount, there while the container exists, running or not.
 *
 * docker's path rules (daemon/archive.go): HEAD and GET resolve the parent and keep the last
 * component as it is (a symlink is stat'ed and archived as a symlink) unless the path ends in
 * `/` or `/.`; PUT resolves all of it, and wants a directory. The archive's names start with the
 * path's base name (`/etc` → `etc/…`, `/etc/.` → `./…`).
 */
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { isMountPoint, type TarEntry, TarError, TarWriter } from '../../image/index.ts';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { MountPoint } from '../spec/mounts.ts';
import type { ContainerContext } from './context.ts';
import { ExtractError, extractTree } from './fs/extract.ts';
import { InRootError, InRootFs, type InRootMount, type InRootNode } from './fs/inroot.ts';
import { TreeTar } from './fs/tartree.ts';
import type { Loaded } from './store.ts';

/** docker's types.ContainerPathStat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits */
  mode: number;
  /** RFC 3339 with nanoseconds */
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode of a stat. */
export function goFileMode(st: fs.BigIntStats): number {
  let m = Number(st.mode & 0o777n);
  const mode = Number(st.mode);
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  if (st.isDirectory()) m += 2 ** 31;
  else if (st.isSymbolicLink()) m += 2 ** 27;
  else if (st.isBlockDevice()) m += 2 ** 26;
  else if (st.isCharacterDevice()) m += 2 ** 26 + 2 ** 21;
  else if (st.isFIFO()) m += 2 ** 25;
  else if (st.isSocket()) m += 2 ** 24;
  return m;
}

function rfc3339Nano(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** Go's filepath.Base. */
function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/**
 * docker's absPath: `path` made absolute and cleaned, a trailing `/` or `/.` kept
 * (archive.PreserveTrailingDotOrSeparator), since they change what is resolved.
 */
export function containerAbsPath(path: string): string {
  let abs = posix.normalize(`/${path}`);
  if (abs.length > 1) abs = abs.replace(/\/+$/, '');
  if (goBase(abs) !== '.' && goBase(path) === '.') abs = abs.endsWith('/') ? `${abs}.` : `${abs}/.`;
  if (!abs.endsWith('/') && path.endsWith('/')) abs += '/';
  return abs;
}

/**
 * The mounts `docker cp` reaches: the container's binds and volumes (a volume's data directory is
 * the volume service's, there while the container exists), and the files berthd mounts on /etc.
 * A tmpfs has nothing on the host: as docker's, cp reaches the directory beneath it.
 */
export function containerMounts(ctx: ContainerContext, l: Loaded): InRootMount[] {
  const out: InRootMount[] = [];
  for (const m of (l.rec.mounts ?? []) as MountPoint[]) {
    if (m.type === 'bind' && m.source.startsWith('/')) out.push({ destination: m.destination, source: m.source, readOnly: !m.rw });
    else if (m.type === 'volume' && m.source !== '') out.push({ destination: m.destination, source: ctx.volumes.dataPath(m.source), readOnly: !m.rw });
  }
  const etc: [string, string | undefined][] = [['/etc/hostname', l.rec.hostnamePath], ['/etc/hosts', l.rec.hostsPath], ['/etc/resolv.conf', l.rec.resolvConfPath]];
  for (const [dest, src] of etc) {
    if (src !== undefined && !out.some((m) => m.destination === dest)) out.push({ destination: dest, source: src, readOnly: false });
  }
  return out;
}

/** The container's filesystem view; the caller closes it. */
export function openContainerFs(ctx: ContainerContext, l: Loaded, opts: { mounts: boolean } = { mounts: true }): InRootFs {
  const { rec } = l;
  if (rec.state.Status === 'removing' || rec.state.Status === 'dead') throw new ConflictError(`container ${rec.id} is ${rec.state.Status}: its filesystem is gone`);
  const rootfs = join(ctx.bundleDir(rec.id), 'rootfs');
  if (!isMountPoint(rootfs)) throw new ConflictError(`container ${rec.id}: its root filesystem is not mounted (${rootfs})`);
  return new InRootFs(rootfs, opts.mounts ? containerMounts(ctx, l) : []);
}

function notFound(path: string, ref: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${path} in container ${ref}`);
}

/**
 * An fs error met while the container changes what is being copied (a file removed, a
 * directory swapped): docker's 404 for a vanished path, a conflict otherwise; never a host path.
 */
function racing(e: unknown, path: string, ref: string): unknown {
  if (e instanceof InRootError) return e.code === 'ENOENT' || e.code === 'ENOTDIR' ? notFound(path, ref) : new ConflictError(`${path} in container ${ref}: ${e.message}`);
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return notFound(path, ref);
  if (typeof code === 'string' && ['ENOTDIR', 'ELOOP', 'EEXIST', 'ENOTEMPTY', 'EINVAL', 'EISDIR'].includes(code)) {
    return new ConflictError(`${path} in container ${ref}: changed while being copied (${code})`);
  }
  return e;
}

/** Resolves `abs` as HEAD/GET do; a missing path is docker's 404. */
function resolveForRead(fsv: InRootFs, abs: string, path: string, ref: string): InRootNode {
  const followFinal = abs.endsWith('/') || goBase(abs) === '.';
  try {
    return fsv.resolve(abs, { followFinal });
  } catch (e) {
    if (e instanceof InRootError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) throw notFound(path, ref);
    if (e instanceof InRootError) throw new InvalidParameterError(`${path}: ${e.message}`);
    throw e;
  }
}

function statOf(fsv: InRootFs, n: InRootNode, abs: string): ContainerPathStat {
  let linkTarget = '';
  if (n.st.isSymbolicLink()) linkTarget = fsv.resolveText(abs);
  return { name: goBase(abs), size: Number(n.st.size), mode: goFileMode(n.st), mtime: rfc3339Nano(n.st.mtimeNs), linkTarget };
}

/** `HEAD /containers/{id}/archive?path=`. */
export function statPath(ctx: ContainerContext, l: Loaded, ref: string, path: string): ContainerPathStat {
  if (path === '') throw new InvalidParameterError('path: must not be empty');
  const fsv = openContainerFs(ctx, l);
  try {
    const abs = containerAbsPath(path);
    return statOf(fsv, resolveForRead(fsv, abs, path, ref), abs);
  } catch (e) {
    throw racing(e, path, ref);
  } finally {
    fsv.close();
  }
}

/**
 * `GET /containers/{id}/archive?path=`: the stat (for the header, known before a byte is sent)
 * and a writer of the tar.
 */
export function archivePath(ctx: ContainerContext, l: Loaded, ref: string, path: string): { stat: ContainerPathStat; write: (sink: Writable) => Promise<void> } {
  if (path === '') throw new InvalidParameterError('path: must not be empty');
  const fsv = openContainerFs(ctx, l);
  let n: InRootNode;
  let stat: ContainerPathStat;
  const abs = containerAbsPath(path);
  try {
    n = resolveForRead(fsv, abs, path, ref);
    stat = statOf(fsv, n, abs);
  } catch (e) {
    fsv.close();
    throw racing(e, path, ref);
  }
  const write = async (sink: Writable): Promise<void> => {
    const w = new TarWriter(sink);
    const root = n.path === '/';
    const top = root ? undefined : stat.name;
    const tt = new TreeTar(fsv, w, { topName: top, childPrefix: root ? '/' : '' });
    try {
      // the top is reached by resolution: it is read as a symlink only when it is one (no parent readlink needed)
      if (n.st.isSymbolicLink()) {
        const parentPath = posix.dirname(n.path);
        const parent = fsv.resolve(parentPath, { followFinal: true });
        await tt.add(n, parent, posix.basename(n.path), top);
      } else {
        await tt.add(n, undefined, '', top);
      }
      await w.finish();
    } finally {
      await tt.close();
      fsv.close();
    }
  };
  return { stat, write };
}

/** `GET /containers/{id}/export`: the merged root filesystem (the container's mounts not included, as docker's). */
export async function exportContainer(ctx: ContainerContext, l: Loaded, sink: Writable): Promise<void> {
  const fsv = openContainerFs(ctx, l, { mounts: false });
  const w = new TarWriter(sink);
  const tt = new TreeTar(fsv, w, { topName: undefined, childPrefix: '', xattrs: true });
  try {
    await tt.add(fsv.rootNode(), undefined, '', undefined);
    await w.finish();
  } finally {
    await tt.close();
    fsv.close();
  }
}

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

/** The owner of what is extracted: root, or with copyUIDGID the tar's (the container's user when it names a numeric one). */
function ownerFor(l: Loaded, e: TarEntry, copyUIDGID: boolean): { uid: number; gid: number } {
  if (!copyUIDGID) return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(l.rec.config.User ?? '');
  if (m) return { uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : Number(m[1]) };
  return { uid: e.uid, gid: e.gid };
}

/** `PUT /containers/{id}/archive?path=`: extracts the tar `body` into the directory `path`. */
export async function extractToDir(ctx: ContainerContext, l: Loaded, ref: string, path: string, body: Readable, o: ExtractOptions): Promise<void> {
  if (path === '') throw new InvalidParameterError('path: must not be empty');
  const fsv = openContainerFs(ctx, l);
  try {
    let dest: InRootNode[];
    try {
      dest = fsv.resolveStack(containerAbsPath(path), { followFinal: true });
    } catch (e) {
      if (e instanceof InRootError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) throw notFound(path, ref);
      if (e instanceof InRootError) throw new InvalidParameterError(`${path}: ${e.message}`);
      throw e;
    }
    const checkWritable = (dir: InRootNode): void => {
      const m = fsv.mountOf(dir.path);
      if (m?.readOnly) throw new ForbiddenError('mounted volume is marked read-only');
      if (!m && l.hostConfig.ReadonlyRootfs) throw new ForbiddenError('container rootfs is marked read-only');
    };
    try {
      await extractTree(fsv, dest, body, {
        noOverwriteDirNonDir: o.noOverwriteDirNonDir, checkWritable, owner: (e) => ownerFor(l, e, o.copyUIDGID), what: 'docker cp',
      });
    } catch (e) {
      if (e instanceof TarError) throw new InvalidParameterError(`the archive to extract is not a valid tar: ${e.message}`);
      if (e instanceof ExtractError) throw new InvalidParameterError(e.message);
      throw racing(e, path, ref);
    }
  } finally {
    fsv.close();
  }
}
