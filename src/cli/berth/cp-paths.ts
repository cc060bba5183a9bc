/**
 * docker cp's path rules (docker/cli cli/command/container/cp.go and moby pkg/archive/copy.go),
 * on plain strings and the host's filesystem: which argument is the container's, where an
 * archive is extracted and under which name its top entry lands.
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { PlainFailure } from './command.ts';

/** `CONTAINER:PATH` or a local path; an absolute path or one starting with `.` is always local (splitCpArg). */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/')) return { container: '', path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const specifiesCurrentDir = (p: string): boolean => goBase(p) === '.';
const hasTrailingSeparator = (p: string): boolean => p.length > 0 && p.endsWith('/');

/** Go's filepath.Base. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Go's filepath.Clean (posix.normalize, without a trailing slash). */
function goClean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** archive.SplitPathDirEntry: `/a/b/` → `/a`, `b`; `/a/b/.` → `/a/b`, `.`. */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += cleaned === '/' ? '.' : '/.';
  return { dir: posix.dirname(cleaned), base: goBase(cleaned) };
}

/** archive.PreserveTrailingDotOrSeparator. */
function preserveTrailing(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) out = `${out.replace(/\/$/, '')}/.`;
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/** resolveLocalPath: absolute, cleaned, a trailing `/` or `/.` kept. */
export function resolveLocalPath(p: string): string {
  return preserveTrailing(goClean(posix.resolve(p)), p);
}

/** archive.GetRebaseName: a followed symlink keeps the name it was asked by. */
export function getRebaseName(path: string, resolved: string): { path: string; rebaseName: string | undefined } {
  let r = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(r)) r += '/';
  return { path: r, rebaseName: goBase(path) !== goBase(r) ? goBase(path) : undefined };
}

/** `/a/./`-style paths that say "a directory" (assertsDirectory). */
export const assertsDirectory = (p: string): boolean => hasTrailingSeparator(p) || specifiesCurrentDir(p);

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName?: string | undefined;
}

/** Go's message of an fs error: `stat /x: no such file or directory`. */
export function goFsError(op: string, path: string, e: unknown): PlainFailure {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  return new PlainFailure(`${op} ${path}: ${why}`);
}

/** archive.CopyInfoDestinationPath on the host: a final symlink is followed (the user's own), a missing path needs its parent. */
export function copyInfoDestinationPath(path0: string): CopyInfo {
  let path = path0;
  let st: fs.Stats | undefined;
  const lstat = (p: string): fs.Stats | undefined => {
    try {
      return fs.lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw goFsError('lstat', p, e);
    }
  };
  st = lstat(path);
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new PlainFailure(`too many symlinks in ${path0}`);
    let target = fs.readlinkSync(path);
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(path).dir, target);
    path = target;
    st = lstat(path);
  }
  if (st) return { path, exists: true, isDir: st.isDirectory() };
  const parent = splitPathDirEntry(path).dir;
  let pst: fs.Stats;
  try {
    pst = fs.statSync(parent);
  } catch (e) {
    throw goFsError('stat', parent, e);
  }
  if (!pst.isDirectory()) throw new PlainFailure('not a directory');
  return { path, exists: false, isDir: false };
}

/**
 * archive.PrepareArchiveCopy: the directory to extract into, and the name the archive's top
 * entry (`srcBase`) takes there (undefined: kept).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rename: { from: string; to: string } | undefined } {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  const srcBase = splitPathDirEntry(src.path).base;
  // an existing directory takes the archive as it is (under the name -L asked for)
  if (dst.exists && dst.isDir) return { dstDir: dst.path, rename: src.rebaseName !== undefined ? { from: srcBase, to: src.rebaseName } : undefined };
  if (dst.exists && src.isDir) throw new PlainFailure('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new PlainFailure('no such directory');
  return { dstDir, rename: { from: srcBase, to: dstBase } };
}

/** RebaseArchiveEntries on a cleaned entry name: its first component `from` becomes `to` (`.` and `/` stand for every name). */
export function rebase(from: string, to: string): (rel: string) => string {
  return (rel) => {
    if (from === '.' || from === '/') return rel === '.' ? to : `${to}/${rel}`;
    if (rel === from) return to;
    if (rel.startsWith(`${from}/`)) return `${to}${rel.slice(from.length)}`;
    return rel;
  };
}

/** ValidateOutputPath: the parent of where something is written must exist. */
export function validateOutputPath(path: string): void {
  const dir = posix.dirname(goClean(path));
  if (dir !== '' && dir !== '.' && !fs.existsSync(dir)) throw new PlainFailure(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
}
