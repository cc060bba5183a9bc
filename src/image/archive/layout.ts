/**
 * The files of an image archive, as docker 25 writes them: an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) that is also a docker-archive
 * (`manifest.json`: `[{Config, RepoTags, Layers}]`, `repositories`). Older docker-archives keep
 * each layer as `<id>/layer.tar` and the config as `<hex>.json`; manifest.json names them.
 * Types and parsers of these files (untrusted input: parsed once, here).
 */
import { digestFromHex, digestHex, type Digest } from '../store/digest.ts';
import { ArchiveError } from './errors.ts';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const MANIFEST_FILE = 'manifest.json';
export const REPOSITORIES_FILE = 'repositories';
export const OCI_LAYOUT_VERSION = '1.0.0';

/** index.json annotations: containerd's full image name, and the OCI ref name (docker 25 puts the tag there). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** One image of docker's manifest.json. */
export interface DockerManifestEntry {
  /** archive path of the config JSON */
  Config: string;
  /** familiar names: `busybox:latest`, `127.0.0.1:5000/app:1` */
  RepoTags: string[] | null;
  /** archive paths of the layers, bottom first */
  Layers: string[];
}

/** Archive path of a blob: `blobs/sha256/<hex>`. */
export const blobPath = (d: Digest): string => `blobs/sha256/${digestHex(d)}`;

/** The digest a `blobs/<alg>/<hex>` path names, or undefined for other paths. Only sha256 is stored by berth. */
export function blobDigestOf(path: string): Digest | undefined {
  const m = /^blobs\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  if (m[1] !== 'sha256') throw new ArchiveError(`entry ${JSON.stringify(path)}: ${m[1]} blobs are not supported (berth stores sha256 only)`);
  try {
    return digestFromHex(m[2]!);
  } catch {
    throw new ArchiveError(`entry ${JSON.stringify(path)}: not a sha256 blob name (want 64 lowercase hex digits)`);
  }
}

/**
 * An archive path made canonical: `./a//b/` → `a/b`. Absolute paths, `..` components and NUL
 * bytes are refused: no legitimate archive has them, and a loader that honoured them could be
 * made to read or name files outside the archive.
 */
export function archivePath(raw: string, what = 'entry'): string {
  const shown = JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw);
  if (raw.includes('\0')) throw new ArchiveError(`${what} ${shown}: NUL byte in the path`);
  if (raw.startsWith('/')) throw new ArchiveError(`${what} ${shown}: absolute path (path traversal) refused`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(`${what} ${shown}: ".." in the path (path traversal) refused`);
  return parts.join('/');
}

/** `target` of a link at `path`, as an archive path; refused if it leaves the archive. */
export function linkTarget(path: string, target: string, kind: 'symlink' | 'hardlink'): string {
  const shown = `${kind} ${JSON.stringify(path)} → ${JSON.stringify(target)}`;
  if (target.startsWith('/')) throw new ArchiveError(`${shown}: absolute target (outside the archive) refused`);
  // a hardlink's target is an archive path; a symlink's is relative to the link's directory
  const base = kind === 'symlink' ? path.split('/').slice(0, -1) : [];
  const out = [...base];
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length === 0) throw new ArchiveError(`${shown}: points outside the archive`);
      out.pop();
    } else out.push(p);
  }
  return out.join('/');
}

function parseJsonText(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ArchiveError(`${where}: not JSON: ${(e as Error).message}`);
  }
}

/** Parses docker's manifest.json. */
export function parseDockerManifest(bytes: Buffer): DockerManifestEntry[] {
  const v = parseJsonText(bytes, MANIFEST_FILE);
  if (!Array.isArray(v)) throw new ArchiveError(`${MANIFEST_FILE}: want a JSON array of {Config, RepoTags, Layers}`);
  return v.map((e, i): DockerManifestEntry => {
    const at = `${MANIFEST_FILE}[${i}]`;
    if (typeof e !== 'object' || e === null) throw new ArchiveError(`${at}: not an object`);
    const o = e as Record<string, unknown>;
    if (typeof o.Config !== 'string' || o.Config === '') throw new ArchiveError(`${at}.Config: want the archive path of the config`);
    if (!Array.isArray(o.Layers) || o.Layers.some((l) => typeof l !== 'string')) throw new ArchiveError(`${at}.Layers: want an array of archive paths`);
    if (o.RepoTags != null && (!Array.isArray(o.RepoTags) || o.RepoTags.some((t) => typeof t !== 'string'))) {
      throw new ArchiveError(`${at}.RepoTags: want an array of names`);
    }
    return { Config: o.Config, RepoTags: (o.RepoTags as string[] | null | undefined) ?? null, Layers: o.Layers as string[] };
  });
}

/** Checks `oci-layout` ({"imageLayoutVersion": "1.0.0"}). */
export function checkOciLayout(bytes: Buffer): void {
  const v = parseJsonText(bytes, OCI_LAYOUT_FILE) as { imageLayoutVersion?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.imageLayoutVersion !== 'string') {
    throw new ArchiveError(`${OCI_LAYOUT_FILE}: want {"imageLayoutVersion": "${OCI_LAYOUT_VERSION}"}`);
  }
  if (v.imageLayoutVersion.split('.')[0] !== '1') throw new ArchiveError(`${OCI_LAYOUT_FILE}: unsupported imageLayoutVersion ${JSON.stringify(v.imageLayoutVersion)} (want 1.x)`);
}

/** Parses a JSON document of the archive that must be an object. */
export function parseJsonObject(bytes: Buffer, where: string): Record<string, unknown> {
  const v = parseJsonText(bytes, where);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArchiveError(`${where}: not a JSON object`);
  return v as Record<string, unknown>;
}
