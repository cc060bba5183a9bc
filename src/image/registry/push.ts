/**
 * `pushImage`: push a local image (a name in the image index, or a digest in the content store)
 * to its registry, as the OCI distribution spec describes:
 *
 * - each blob (config, layers): HEAD in the target repository (there: skipped); else a
 *   cross-repository mount (`POST …/blobs/uploads/?mount=D&from=REPO`) from another repository of
 *   the same registry that berth knows holds it (other names of that domain in the image index
 *   whose image contains the blob); a 202 instead of 201 means the registry did not mount it and
 *   opened an upload session, which the upload then uses;
 * - upload: monolithic (POST, then one PUT `?digest=` with the whole blob) up to
 *   `monolithicMax` bytes, chunked above it (POST, PATCHes of `chunkSize` bytes with
 *   Content-Range, each to the Location the previous answer gave, then PUT `?digest=`); blobs are
 *   streamed from the content store, never held in memory;
 * - then the manifest, PUT with its media type under the tag (or digest); an index: its
 *   manifests first (each by digest, with their blobs), then the index.
 *
 * Every request goes through RegistryClient (auth with scope `repository:<name>:pull,push`,
 * retries, redirects). A manifest is PUT only after all it references is in the repository.
 */
import { Readable } from 'node:stream';
import { parseReference, type ImageReference } from '../reference.ts';
import type { ContentStore } from '../store/content.ts';
import { isDigest, shortDigest, type Digest } from '../store/digest.ts';
import { NotFoundError } from '../store/errors.ts';
import type { ImageRefs } from '../store/refs.ts';
import { RegistryClient, RegistryError, type RegistryClientOptions, type RequestBody } from './client.ts';
import { ManifestError, detectMediaType, isIndexType, isManifestType, parseIndex, parseManifest, type Descriptor } from './media.ts';
import { mapLimit } from './limit.ts';

/** The default largest blob sent in one PUT; larger ones go in chunks. */
export const DEFAULT_MONOLITHIC_MAX = 64 << 20;
export const DEFAULT_CHUNK_SIZE = 16 << 20;
/** Repositories a blob's mount is tried from before uploading it. */
const MAX_MOUNT_CANDIDATES = 3;

export interface PushOptions {
  /** a client to use (default: one for the reference's domain with `clientOptions`) */
  client?: RegistryClient;
  clientOptions?: RegistryClientOptions;
  /** blobs up to this many bytes are uploaded in one PUT, larger ones in chunks (default 64 MiB) */
  monolithicMax?: number;
  /** bytes per PATCH of a chunked upload (default 16 MiB) */
  chunkSize?: number;
  /** blobs pushed at once (default 3) */
  concurrency?: number;
  /** try cross-repository mounts (default true) */
  mount?: boolean;
  /** progress of each blob and manifest */
  onProgress?: (p: PushProgress) => void;
}

export type PushedKind = 'config' | 'layer' | 'manifest' | 'index';

/**
 * One step of a push: `exists` (the repository had it), `mounted` (from repository `from`),
 * `uploading` (`bytes` of `size` sent so far), `pushed` (uploaded, or a manifest PUT).
 */
export interface PushProgress {
  kind: PushedKind;
  digest: Digest;
  size: number;
  status: 'exists' | 'mounted' | 'uploading' | 'pushed';
  /** the repository path a blob was mounted from */
  from?: string;
  bytes?: number;
}

export interface PushedBlob {
  kind: 'config' | 'layer';
  digest: Digest;
  size: number;
  status: 'exists' | 'mounted' | 'pushed';
  from?: string;
  /** how it was uploaded (status `pushed`) */
  upload?: 'monolithic' | 'chunked';
}

export interface PushResult {
  /** the normalised reference pushed: `127.0.0.1:5000/x:1` */
  name: string;
  /** the tag (or digest) the top manifest was PUT under */
  reference: string;
  /** the pushed manifest's (or index's) digest, media type and size: docker's `TAG: digest: D size: N` */
  digest: Digest;
  mediaType: string;
  size: number;
  /** every blob of the push, once each */
  blobs: PushedBlob[];
}

/** The image is not in the local store (docker's wording). */
export class ImageNotLocalError extends Error {
  constructor(readonly ref: ImageReference) {
    super(`An image does not exist locally with the tag: ${ref.familiarName()}`);
    this.name = 'ImageNotLocalError';
  }
}

/** The local digest `ref` names: its digest if stored, else its name's entry in the image index. */
export async function resolveLocal(ref: ImageReference, content: ContentStore, refs: ImageRefs): Promise<Digest> {
  if (ref.digest !== undefined) {
    // berth stores sha256 content only: another algorithm cannot be local
    if (isDigest(ref.digest) && (await content.has(ref.digest))) return ref.digest;
    throw new ImageNotLocalError(ref);
  }
  const d = await refs.resolve(ref.toString());
  if (d === undefined || !(await content.has(d))) throw new ImageNotLocalError(ref);
  return d;
}

interface PushContext {
  client: RegistryClient;
  repo: string;
  content: ContentStore;
  opts: PushOptions;
  /** blob → repositories on the same registry known to hold it */
  sources: Map<Digest, string[]>;
  /** each blob pushed once per push, even when several manifests share it */
  blobs: Map<Digest, Promise<PushedBlob>>;
}

export async function pushImage(
  reference: ImageReference | string,
  content: ContentStore,
  refs: ImageRefs,
  opts: PushOptions = {},
): Promise<PushResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const digest = await resolveLocal(ref, content, refs);
  const ctx: PushContext = {
    client: opts.client ?? RegistryClient.forReference(ref, opts.clientOptions),
    repo: ref.path,
    content,
    opts,
    sources: opts.mount === false ? new Map() : await mountSources(ref, content, refs),
    blobs: new Map(),
  };
  const tagOrDigest = ref.tag ?? digest;
  const top = await pushManifestTree(ctx, digest, tagOrDigest, `push ${ref.toString()}`);
  return { name: ref.toString(), reference: tagOrDigest, ...top, blobs: await Promise.all(ctx.blobs.values()) };
}

/**
 * Blob → repository paths of the same registry that hold it, from the other names of
 * `ref.domain` in the image index (their manifests as stored locally).
 */
async function mountSources(ref: ImageReference, content: ContentStore, refs: ImageRefs): Promise<Map<Digest, string[]>> {
  const out = new Map<Digest, string[]>();
  for (const { name, digest } of await refs.list()) {
    let other: ImageReference;
    try {
      other = parseReference(name);
    } catch {
      continue; // a name berth did not write: not a candidate
    }
    if (other.domain !== ref.domain || other.path === ref.path) continue;
    for (const blob of await localBlobs(content, digest)) {
      const repos = out.get(blob) ?? [];
      if (!repos.includes(other.path)) repos.push(other.path);
      out.set(blob, repos);
    }
  }
  return out;
}

/** The config and layer digests of the manifest (or of an index's stored manifests) `digest`. */
async function localBlobs(content: ContentStore, digest: Digest, depth = 0): Promise<Digest[]> {
  let bytes: Buffer;
  try {
    bytes = await content.readAll(digest);
  } catch (e) {
    if (e instanceof NotFoundError) return [];
    throw e;
  }
  try {
    const type = storedMediaType(bytes);
    if (isManifestType(type)) {
      const m = parseManifest(bytes, type);
      return [m.config.digest, ...m.layers.map((l) => l.digest)];
    }
    if (isIndexType(type) && depth < 4) {
      const all = await Promise.all(parseIndex(bytes, type).manifests.map((m) => localBlobs(content, m.digest, depth + 1)));
      return all.flat();
    }
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
  }
  return []; // not an image: nothing to mount from it
}

/**
 * Pushes the stored manifest or index `digest` and everything it references, then PUTs it under
 * `tagOrDigest`. Index children not stored locally must already be in the repository.
 */
async function pushManifestTree(ctx: PushContext, digest: Digest, tagOrDigest: string, where: string, depth = 0): Promise<{ digest: Digest; mediaType: string; size: number }> {
  const bytes = await ctx.content.readAll(digest);
  const mediaType = storedMediaType(bytes);
  const what = `${where}: ${isIndexType(mediaType) ? 'index' : 'manifest'} ${shortDigest(digest)}`;
  if (isIndexType(mediaType)) {
    if (depth >= 4) throw new ManifestError(`${what}: indexes nested more than 4 deep`);
    const index = parseIndex(bytes, mediaType, what);
    for (const m of index.manifests) {
      if (await ctx.content.has(m.digest)) {
        await pushManifestTree(ctx, m.digest, m.digest, where, depth + 1);
      } else if (!(await exists(ctx, 'manifests', m.digest, what))) {
        throw new RegistryError(`${what}: its manifest ${m.digest} is neither stored locally nor in ${ctx.client.domain}/${ctx.repo}`);
      }
    }
  } else if (isManifestType(mediaType)) {
    const manifest = parseManifest(bytes, mediaType, what);
    const blobs: Array<[Descriptor, 'config' | 'layer']> = [[manifest.config, 'config'], ...manifest.layers.map((l): [Descriptor, 'layer'] => [l, 'layer'])];
    await mapLimit(blobs, ctx.opts.concurrency ?? 3, ([d, kind]) => pushBlobOnce(ctx, d, kind, what));
  } else {
    throw new ManifestError(`${what}: unsupported media type ${JSON.stringify(mediaType)}`);
  }
  await putManifest(ctx, bytes, digest, mediaType, tagOrDigest, what);
  ctx.opts.onProgress?.({ kind: isIndexType(mediaType) ? 'index' : 'manifest', digest, size: bytes.length, status: 'pushed' });
  return { digest, mediaType, size: bytes.length };
}

/**
 * The media type of a stored manifest or index: its `mediaType` field, else by its shape. The
 * field is optional in OCI (umoci leaves it out) and the content store keeps no Content-Type;
 * Docker's types always carry it, so a document without one is OCI: `manifests` → an index,
 * `config` and `layers` → an image manifest.
 */
/** The media type of a stored manifest or index (see detectMediaType: the field, else its shape). */
export function storedMediaType(bytes: Uint8Array): string {
  return detectMediaType(bytes, undefined);
}

function pushBlobOnce(ctx: PushContext, d: Descriptor, kind: 'config' | 'layer', where: string): Promise<PushedBlob> {
  let p = ctx.blobs.get(d.digest);
  if (p === undefined) {
    p = pushBlob(ctx, d, kind, where);
    ctx.blobs.set(d.digest, p);
  }
  return p;
}

async function pushBlob(ctx: PushContext, d: Descriptor, kind: 'config' | 'layer', where: string): Promise<PushedBlob> {
  const what = `${where}: ${kind} ${shortDigest(d.digest)}`;
  const base = { kind, digest: d.digest, size: d.size };
  const report = (b: PushedBlob): PushedBlob => {
    ctx.opts.onProgress?.({ ...base, status: b.status, ...(b.from !== undefined && { from: b.from }) });
    return b;
  };
  if (await exists(ctx, 'blobs', d.digest, what)) return report({ ...base, status: 'exists' });
  if (!(await ctx.content.has(d.digest))) {
    throw new RegistryError(`${what}: not in the local content store${d.urls?.length ? ' (a foreign layer: berth does not push those)' : ''}`);
  }
  const stored = (await ctx.content.info(d.digest)).size;
  if (stored !== d.size) throw new ManifestError(`${what}: the manifest says ${d.size} bytes, the content store has ${stored}`);

  let session: string | undefined;
  const candidates = (ctx.sources.get(d.digest) ?? []).slice(0, MAX_MOUNT_CANDIDATES);
  for (const [i, from] of candidates.entries()) {
    const r = await tryMount(ctx, d.digest, from, what);
    if (r === 'mounted') return report({ ...base, status: 'mounted', from });
    // Not mounted: the session the registry opened serves the upload, unless another candidate is still to be tried.
    if (i === candidates.length - 1) session = r;
    else await cancelUpload(ctx, r);
  }
  session ??= await startUpload(ctx, what);
  const chunked = d.size > (ctx.opts.monolithicMax ?? DEFAULT_MONOLITHIC_MAX);
  if (chunked) await uploadChunked(ctx, session, d, kind, what);
  else await uploadMonolithic(ctx, session, d, kind, what);
  return report({ ...base, status: 'pushed', upload: chunked ? 'chunked' : 'monolithic' });
}

const url = (ctx: PushContext, path: string): string => `${ctx.client.baseUrl}/v2/${ctx.repo}/${path}`;

/** HEAD of a blob or manifest in the target repository: true on 200, false on 404. */
async function exists(ctx: PushContext, kind: 'blobs' | 'manifests', digest: Digest, what: string): Promise<boolean> {
  const u = url(ctx, `${kind}/${digest}`);
  const res = await ctx.client.request(ctx.repo, u, { method: 'HEAD' }, { push: true });
  await res.body?.cancel();
  if (res.ok) return true;
  if (res.status === 404) return false;
  throw await ctx.client.responseError(res, `${what}: existence check`, u);
}

/** POST …/blobs/uploads/: a new upload session's URL. */
async function startUpload(ctx: PushContext, what: string): Promise<string> {
  const u = url(ctx, 'blobs/uploads/');
  const res = await ctx.client.request(ctx.repo, u, { method: 'POST', headers: { 'content-length': '0' } }, { push: true });
  if (res.status !== 202) throw await ctx.client.responseError(res, `${what}: upload start`, u);
  await res.body?.cancel();
  return location(res, u, `${what}: upload start`);
}

/**
 * POST …/blobs/uploads/?mount=D&from=REPO: 'mounted' on 201; on 202 the registry did not mount
 * it (it does not hold it there, or this client may not read REPO) and opened an upload session,
 * whose URL is returned.
 */
async function tryMount(ctx: PushContext, digest: Digest, from: string, what: string): Promise<'mounted' | string> {
  const u = new URL(url(ctx, 'blobs/uploads/'));
  u.searchParams.set('mount', digest);
  u.searchParams.set('from', from);
  const res = await ctx.client.request(ctx.repo, u.toString(), { method: 'POST', headers: { 'content-length': '0' } }, { push: true });
  if (res.status !== 201 && res.status !== 202) throw await ctx.client.responseError(res, `${what}: mount from ${from}`, u.toString());
  await res.body?.cancel();
  return res.status === 201 ? 'mounted' : location(res, u.toString(), `${what}: mount from ${from}`);
}

/** An upload session's next URL: the answer's Location, resolved against the request's URL. */
function location(res: Response, requestUrl: string, what: string): string {
  const loc = res.headers.get('location');
  if (!loc) throw new RegistryError(`${what}: ${requestUrl}: HTTP ${res.status} without a Location for the upload`, res.status);
  return new URL(loc, requestUrl).toString();
}

/** DELETE of an upload session not used (best effort: the registry expires them anyway). */
async function cancelUpload(ctx: PushContext, session: string): Promise<void> {
  try {
    const res = await ctx.client.request(ctx.repo, session, { method: 'DELETE' }, { push: true, retry: false });
    await res.body?.cancel();
  } catch {
    // left to expire
  }
}

async function uploadMonolithic(ctx: PushContext, session: string, d: Descriptor, kind: 'config' | 'layer', what: string): Promise<void> {
  await finishUpload(ctx, session, d, what, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(d.size) },
    body: () => blobStream(ctx, d, kind, 0, d.size),
  });
}

async function uploadChunked(ctx: PushContext, session: string, d: Descriptor, kind: 'config' | 'layer', what: string): Promise<void> {
  const chunk = Math.max(1, ctx.opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
  let next = session;
  for (let offset = 0; offset < d.size; offset += chunk) {
    const n = Math.min(chunk, d.size - offset);
    const end = offset + n - 1;
    // Not retried: a PATCH that failed may have been half written into the session.
    const res = await ctx.client.request(ctx.repo, next, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(n), 'content-range': `${offset}-${end}` },
      body: () => blobStream(ctx, d, kind, offset, n),
    }, { push: true, retry: false });
    const op = `${what}: chunk ${offset}-${end} of ${d.size}`;
    if (res.status !== 202) throw await ctx.client.responseError(res, op, next);
    await res.body?.cancel();
    const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
    if (range && Number(range[1]) !== end) {
      throw new RegistryError(`${op}: the registry holds bytes 0-${range[1]}, expected 0-${end}`, res.status);
    }
    next = location(res, next, op);
  }
  await finishUpload(ctx, next, d, what, { headers: { 'content-length': '0' } });
}

/** PUT `session?digest=D` (with the last bytes, if any): the blob is committed, 201. */
async function finishUpload(ctx: PushContext, session: string, d: Descriptor, what: string, init: { headers: Record<string, string>; body?: () => RequestBody }): Promise<void> {
  const u = new URL(session);
  u.searchParams.set('digest', d.digest);
  let res: Response;
  try {
    res = await ctx.client.request(ctx.repo, u.toString(), { method: 'PUT', ...init }, { push: true });
  } catch (e) {
    // The answer may have been lost after the registry committed the blob.
    if (await exists(ctx, 'blobs', d.digest, what).catch(() => false)) return;
    throw e;
  }
  if (res.status !== 201 && res.status !== 204) {
    const err = await ctx.client.responseError(res, `${what}: upload`, u.toString());
    if (res.status === 404 && (await exists(ctx, 'blobs', d.digest, what).catch(() => false))) return; // a retried PUT after a lost answer
    throw err;
  }
  await res.body?.cancel();
  const said = res.headers.get('docker-content-digest');
  if (said && said !== d.digest) throw new RegistryError(`${what}: the registry stored the upload as ${said}`, res.status);
}

async function putManifest(ctx: PushContext, bytes: Buffer, digest: Digest, mediaType: string, tagOrDigest: string, what: string): Promise<void> {
  const u = url(ctx, `manifests/${tagOrDigest}`);
  const res = await ctx.client.request(ctx.repo, u, {
    method: 'PUT',
    headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    body: () => bytes,
  }, { push: true });
  if (res.status !== 201 && res.status !== 200) throw await ctx.client.responseError(res, `${what}: PUT as ${tagOrDigest}`, u);
  await res.body?.cancel();
  const said = res.headers.get('docker-content-digest');
  if (said && said !== digest) throw new RegistryError(`${what}: the registry computed digest ${said} for the manifest`, res.status);
}

/** Bytes [offset, offset+length) of blob `d` from the content store, as a stream reporting progress. */
function blobStream(ctx: PushContext, d: Descriptor, kind: 'config' | 'layer', offset: number, length: number): ReadableStream<Uint8Array> {
  const { content, opts } = ctx;
  async function* slice(): AsyncGenerator<Uint8Array> {
    const r = await content.reader(d.digest, { offset });
    let left = length;
    try {
      for await (const c of r) {
        const b = c as Buffer;
        const part = b.length > left ? b.subarray(0, left) : b;
        left -= part.length;
        yield part;
        opts.onProgress?.({ kind, digest: d.digest, size: d.size, status: 'uploading', bytes: offset + length - left });
        if (left === 0) break;
      }
    } finally {
      r.destroy();
    }
    if (left > 0) throw new Error(`blob ${d.digest}: the content store ended ${left} bytes early`);
  }
  return Readable.toWeb(Readable.from(slice())) as ReadableStream<Uint8Array>;
}

