/**
 * Entry paths made safe for extraction under a layer root, and the OCI
 * whiteout names (image-spec layer.md "Whiteouts"):
 *   .wh.NAME       — NAME was deleted in this layer
 *   .wh..wh..opq   — the directory holding it is opaque (lower layers' content hidden)
 * Other `.wh..wh.*` names are AUFS metadata (isAufsMeta) that extractors skip.
 *
 * This is lexical only; an extractor must still not follow symlinks out of the root.
 */
import { TarError } from './errors.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const META_PREFIX = '.wh..wh.';

/**
 * The relative path an entry is extracted to: leading './' and trailing '/'
 * dropped, 'a//b' and 'a/./b' collapsed, 'a/../b' resolved. Rejects empty
 * names, NUL bytes, absolute paths and '..' that climbs above the root.
 * The root itself ('.', './') comes back as '.'.
 */
export function cleanEntryPath(path: string): string {
  const name = JSON.stringify(path);
  if (path === '') throw new TarError('tar entry with an empty path');
  if (path.includes('\0')) throw new TarError(`tar entry ${name}: NUL byte in path`);
  // The layer root itself written as `/` (umoci's `insert SRC /` does) names no place outside;
  // any other absolute name is refused.
  if (/^\/+$/.test(path)) return '.';
  if (path.startsWith('/')) throw new TarError(`tar entry ${name}: absolute path not allowed in a layer`);
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new TarError(`tar entry ${name}: path escapes the layer root`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.length === 0 ? '.' : out.join('/');
}

function split(path: string): { dir: string; base: string } {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? { dir: '', base: trimmed } : { dir: trimmed.slice(0, slash), base: trimmed.slice(slash + 1) };
}

/** `.wh..wh..opq`: the directory containing it is opaque. */
export function isOpaqueMarker(path: string): boolean {
  return split(path).base === OPAQUE_MARKER;
}

/** Any other `.wh..wh.*` name (AUFS hardlink dirs etc.): not a whiteout, skipped by extractors. */
export function isAufsMeta(path: string): boolean {
  const { base } = split(path);
  return base.startsWith(META_PREFIX) && base !== OPAQUE_MARKER;
}

/** `.wh.NAME` deleting NAME (not the opaque marker, not AUFS metadata). */
export function isWhiteout(path: string): boolean {
  const { base } = split(path);
  return base.startsWith(WHITEOUT_PREFIX) && !base.startsWith(META_PREFIX) && base.length > WHITEOUT_PREFIX.length;
}

/** The path a whiteout deletes: 'a/b/.wh.c' → 'a/b/c'. Throws unless isWhiteout(path). */
export function whiteoutTarget(path: string): string {
  if (!isWhiteout(path)) throw new TarError(`tar entry ${JSON.stringify(path)}: not a whiteout`);
  const { dir, base } = split(path);
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '.' || target === '..') throw new TarError(`tar entry ${JSON.stringify(path)}: whiteout of ${JSON.stringify(target)}`);
  return dir === '' ? target : `${dir}/${target}`;
}
