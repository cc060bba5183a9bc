/**
 * Media types of the image manifests berth pulls (Docker v2 schema 2 and OCI), parsing of
 * untrusted manifest JSON into checked descriptors, and platform selection in a manifest list /
 * OCI index (containerd's platforms.Only matching: os and architecture equal, variant equal when
 * the wanted one says so, arm64's default variant v8 and amd64's none treated as equal).
 */
import { parseDigest, type Digest } from '../store/digest.ts';

export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_TYPE_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** Not in Docker's spec, but BuildKit writes it (and containerd reads it) for zstd layers under Docker manifests. */
export const MEDIA_TYPE_DOCKER_LAYER_ZSTD = 'application/vnd.docker.image.rootfs.diff.tar.zstd';

/** Layer media types berth unpacks: tar, gzip or zstd (the compression is checked from the bytes too). */
export const LAYER_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_ZSTD,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
];

export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST];
export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX];
/** The Accept list of a pull: every manifest and index type berth understands. */
export const ACCEPT_ALL: readonly string[] = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES];

export const isManifestType = (t: string): boolean => MANIFEST_MEDIA_TYPES.includes(t);
export const isIndexType = (t: string): boolean => INDEX_MEDIA_TYPES.includes(t);
export const isLayerType = (t: string): boolean => LAYER_MEDIA_TYPES.includes(t);

/** A manifest, index or blob that berth cannot use: not JSON, wrong shape, unknown type. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

function parseJson(bytes: Uint8Array, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new ManifestError(`${where}: not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ManifestError(`${where}: not a JSON object`);
  return v as Record<string, unknown>;
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw new ManifestError(`${where}: not an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType === '') throw new ManifestError(`${where}.mediaType: missing`);
  let digest: Digest;
  try {
    digest = parseDigest(o.digest, `${where}.digest`);
  } catch (e) {
    throw new ManifestError((e as Error).message);
  }
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new ManifestError(`${where}.size: expected a non-negative integer, got ${JSON.stringify(o.size)}`);
  }
  const d: Descriptor = { mediaType: o.mediaType, digest, size: o.size };
  if (o.platform !== undefined) {
    const p = o.platform as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw new ManifestError(`${where}.platform: needs string os and architecture`);
    }
    d.platform = { ...(p as object), os: p.os, architecture: p.architecture } as Descriptor['platform'];
    if (p.variant !== undefined && typeof p.variant !== 'string') throw new ManifestError(`${where}.platform.variant: not a string`);
  }
  if (o.annotations !== undefined) d.annotations = o.annotations as Record<string, string>;
  if (Array.isArray(o.urls)) d.urls = o.urls.filter((u): u is string => typeof u === 'string');
  return d;
}

/**
 * The media type of a manifest document: its `mediaType` field, else the HTTP Content-Type, else
 * (a stored document the OCI spec lets omit the field, as umoci writes them) its shape: an OCI
 * index has `manifests`, an OCI image manifest `config` and `layers`. '' when none tells.
 */
export function detectMediaType(bytes: Uint8Array, contentType: string | undefined): string {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    doc = undefined;
  }
  const o = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : undefined;
  const field = o?.mediaType;
  if (typeof field === 'string' && field !== '') return field;
  const header = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (header !== '') return header;
  if (o !== undefined && o.schemaVersion === 2) {
    if (Array.isArray(o.manifests)) return MEDIA_TYPE_OCI_INDEX;
    if (typeof o.config === 'object' && Array.isArray(o.layers)) return MEDIA_TYPE_OCI_MANIFEST;
  }
  return '';
}

/** Parses an image manifest (Docker v2 schema 2 or OCI). `mediaType` is the type it was served as. */
export function parseManifest(bytes: Uint8Array, mediaType: string, where = 'manifest'): ImageManifest {
  const o = parseJson(bytes, where);
  if (o.schemaVersion !== 2) throw new ManifestError(`${where}: unsupported schemaVersion ${JSON.stringify(o.schemaVersion)} (want 2)`);
  const type = typeof o.mediaType === 'string' ? o.mediaType : mediaType;
  if (!isManifestType(type)) throw new ManifestError(`${where}: unsupported media type ${JSON.stringify(type)}`);
  if (!Array.isArray(o.layers)) throw new ManifestError(`${where}.layers: missing`);
  const config = parseDescriptor(o.config, `${where}.config`);
  const layers = o.layers.map((l, i) => parseDescriptor(l, `${where}.layers[${i}]`));
  // Refused before any blob is fetched: a pull of an image berth cannot unpack tags nothing.
  for (const [i, l] of layers.entries()) {
    if (!isLayerType(l.mediaType)) {
      throw new ManifestError(`${where}.layers[${i}]: unsupported layer media type ${JSON.stringify(l.mediaType)} (berth unpacks tar, tar+gzip and tar+zstd layers)`);
    }
  }
  return { schemaVersion: 2, mediaType: type, config, layers };
}

/** Parses a Docker manifest list or OCI index. */
export function parseIndex(bytes: Uint8Array, mediaType: string, where = 'index'): ImageIndex {
  const o = parseJson(bytes, where);
  if (o.schemaVersion !== 2) throw new ManifestError(`${where}: unsupported schemaVersion ${JSON.stringify(o.schemaVersion)} (want 2)`);
  const type = typeof o.mediaType === 'string' ? o.mediaType : mediaType;
  if (!isIndexType(type)) throw new ManifestError(`${where}: unsupported media type ${JSON.stringify(type)}`);
  if (!Array.isArray(o.manifests)) throw new ManifestError(`${where}.manifests: missing`);
  return { schemaVersion: 2, mediaType: type, manifests: o.manifests.map((m, i) => parseDescriptor(m, `${where}.manifests[${i}]`)) };
}

const ARCH_ALIASES: Readonly<Record<string, string>> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** Normalises a platform as containerd does (aarch64 → arm64, arm64's default variant v8, arm's v7). */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const architecture = ARCH_ALIASES[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os, architecture, ...(variant !== undefined && { variant }) };
}

/** The platform of this machine (`linux/amd64`, `linux/arm64`, …). */
export function hostPlatform(): Platform {
  const arch = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch as string] ?? process.arch;
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : process.platform, architecture: arch });
}

/** Parses `os/arch[/variant]` (docker's `--platform`). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new ManifestError(`invalid platform ${JSON.stringify(s)}: want os/arch[/variant]`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] !== undefined && { variant: parts[2] }) });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The manifest of `index` for `want`: the first entry whose normalised os and architecture are
 * equal and whose variant is equal; when `want` names no variant, an entry without one is
 * preferred, else the first of any variant. Entries that are not image manifests (attestations:
 * `unknown/unknown`) never match. Throws ManifestError listing the platforms the index has.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const w = normalizePlatform(want);
  const candidates: Descriptor[] = [];
  for (const m of index.manifests) {
    if (!m.platform || !isManifestType(m.mediaType)) continue;
    const p = normalizePlatform(m.platform);
    if (p.os !== w.os || p.architecture !== w.architecture) continue;
    if (w.variant !== undefined && p.variant !== w.variant) continue;
    candidates.push(m);
  }
  if (candidates.length === 0) {
    const have = index.manifests.filter((m) => m.platform).map((m) => formatPlatform(normalizePlatform(m.platform!)));
    throw new ManifestError(`no manifest for platform ${formatPlatform(w)} in the index (it has: ${have.join(', ') || 'none'})`);
  }
  return candidates.find((d) => normalizePlatform(d.platform!).variant === undefined) ?? candidates[0]!;
}
