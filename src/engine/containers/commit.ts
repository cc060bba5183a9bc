/**
 * `docker commit` (POST /commit): the container's writable layer (the overlay's upper dir) as a
 * new image layer on top of its image. The upper dir is read by fds (fs/inroot.ts), its overlayfs
 * whiteouts and opaque dirs written as OCI whiteouts (fs/tartree.ts), gzip-compressed into the
 * content store while its DiffID is hashed; the image config is the parent's with the DiffID and
 * a history entry appended and docker's Config (the request's with --change applied, filled in
 * from the container's: daemon/commit.go merge); then a manifest in the parent's format, the tag,
 * and the layer registered as a snapshot so the image runs without a pull. The container is
 * frozen meanwhile when asked (pause=true, docker's default), so the layer is one moment's.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';

import { applyChanges, ArchiveError, type ContainerConfig, type Digest, Digester, digestOf, storeKnownBytes, InvalidReferenceError, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_LAYER_GZIP, parseDigest, parseReference, readStoredImage, TarWriter } from '../../image/index.ts';
import { InvalidParameterError } from '../errors.ts';
import { openContainerFs } from './archive.ts';
import { containerLayers } from './changes.ts';
import type { ContainerContext } from './context.ts';
import { InRootFs } from './fs/inroot.ts';
import { TreeTar } from './fs/tartree.ts';
import type { Loaded } from './store.ts';
import type { DockerConfig } from './types.ts';

export interface CommitRequest {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes: string[];
  pause: boolean;
  /** the request body's Config (the SDK's `conf`), under the changes */
  config?: Record<string, unknown>;
}

/** docker's daemon/commit.go merge: what the user's config leaves unset comes from the container's. */
export function mergeCommitConfig(user: ContainerConfig & Record<string, unknown>, ctr: DockerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ctr, ...user };
  if (!user.User) out.User = ctr.User ?? '';
  const up = user.ExposedPorts ?? {};
  out.ExposedPorts = Object.keys(up).length === 0 ? (ctr.ExposedPorts ?? undefined) : { ...(ctr.ExposedPorts ?? {}), ...up };
  const env = [...(user.Env ?? [])];
  if (env.length === 0) out.Env = ctr.Env ?? [];
  else {
    for (const e of ctr.Env ?? []) if (!env.some((u) => u.split('=')[0] === e.split('=')[0])) env.push(e);
    out.Env = env;
  }
  out.Labels = { ...(ctr.Labels ?? {}), ...(user.Labels ?? {}) };
  if (!user.Entrypoint || user.Entrypoint.length === 0) {
    if (!user.Cmd || user.Cmd.length === 0) out.Cmd = ctr.Cmd ?? null;
    if (user.Entrypoint === undefined) out.Entrypoint = ctr.Entrypoint ?? null;
  }
  if (!user.WorkingDir) out.WorkingDir = ctr.WorkingDir ?? '';
  const uv = user.Volumes ?? {};
  out.Volumes = Object.keys(uv).length === 0 ? (ctr.Volumes ?? null) : { ...(ctr.Volumes ?? {}), ...uv };
  if (!user.StopSignal && ctr.StopSignal) out.StopSignal = ctr.StopSignal;
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

const MANIFEST_FIELDS = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'OnBuild'] as const;

export async function commitContainer(ctx: ContainerContext, l: Loaded, req: CommitRequest): Promise<{ Id: string }> {
  const { rec } = l;
  // everything that can be refused is, before anything is written
  let name: string | undefined;
  if (req.repo) {
    try {
      const ref = parseReference(req.tag ? `${req.repo}:${req.tag}` : req.repo);
      if (ref.digest !== undefined) throw new InvalidParameterError('refusing to create a tag with a digest reference');
      name = ref.toString();
    } catch (e) {
      if (e instanceof InvalidReferenceError) throw new InvalidParameterError(`invalid reference format: ${(e as Error).message}`);
      throw e;
    }
  } else if (req.tag) {
    throw new InvalidParameterError(`invalid reference format: a tag (${req.tag}) needs a repository`);
  }
  let user: ContainerConfig;
  try {
    const base: ContainerConfig = {};
    for (const k of MANIFEST_FIELDS) if (req.config?.[k] !== undefined && req.config[k] !== null) (base as Record<string, unknown>)[k] = req.config[k];
    user = applyChanges(base, req.changes);
  } catch (e) {
    if (e instanceof ArchiveError) throw new InvalidParameterError(e.message);
    throw e;
  }
  const newConfig = mergeCommitConfig(user as ContainerConfig & Record<string, unknown>, rec.config);

  openContainerFs(ctx, l, { mounts: false }).close(); // the container's layers are there
  const layers = await containerLayers(ctx, l);
  const parent = await readStoredImage(ctx.stores.content, parseDigest(layers.manifestDigest, 'manifest'), rec.imageName);
  const docker = parent.manifest.mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
  const layerType = docker ? MEDIA_TYPE_DOCKER_LAYER : MEDIA_TYPE_OCI_LAYER_GZIP;

  const freeze = req.pause && rec.state.Status === 'running';
  if (freeze) await ctx.runtimeOf(rec).pause(rec.id);
  let layer: { digest: Digest; size: number; diffId: Digest } | undefined;
  try {
    layer = await writeLayer(ctx, layers.upper, layers.mountPoints);
  } finally {
    if (freeze) await ctx.runtimeOf(rec).resume(rec.id).catch((e: Error) => ctx.log.error(`commit: unpausing ${rec.id}: ${e.message}`));
  }

  const created = new Date().toISOString();
  const history = Array.isArray(parent.config.history) ? [...(parent.config.history as Record<string, unknown>[])] : [] as Record<string, unknown>[];
  // history steps pair with layers in order (docker history's sizes): a parent that records
  // fewer non-empty steps than it has layers (no history at all, as many imports) gets one per layer first
  const missing = parent.diffIds.length - history.filter((h) => !h.empty_layer).length;
  if (missing > 0) {
    const at = typeof parent.config.created === 'string' ? parent.config.created : undefined;
    history.unshift(...Array.from({ length: missing }, () => ({ ...(at !== undefined && { created: at }) })));
  }
  history.push({
    created,
    created_by: [rec.path, ...rec.args].join(' '),
    ...(req.author && { author: req.author }),
    ...(req.comment && { comment: req.comment }),
    ...(layer === undefined && { empty_layer: true }),
  });
  const diffIds = [...parent.diffIds, ...(layer ? [layer.diffId] : [])];
  const { id: _id, parent: _parent, ...inherited } = parent.config as Record<string, unknown>;
  const configBytes = Buffer.from(JSON.stringify({
    ...inherited,
    created,
    author: req.author ?? '',
    ...(req.comment && { comment: req.comment }),
    container: rec.id,
    container_config: rec.config,
    config: newConfig,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history,
  }));
  const configDigest = digestOf(configBytes);
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: parent.manifest.mediaType,
    config: { mediaType: docker ? MEDIA_TYPE_DOCKER_CONFIG : parent.manifest.config.mediaType, digest: configDigest, size: configBytes.length },
    layers: [...parent.manifest.layers, ...(layer ? [{ mediaType: layerType, digest: layer.digest, size: layer.size }] : [])],
  }));
  const manifestDigest = digestOf(manifestBytes);
  for (const [kind, bytes, digest] of [['config', configBytes, configDigest], ['manifest', manifestBytes, manifestDigest]] as const) {
    await storeKnownBytes(ctx.stores.content, `commit-${kind}-${digest}`, bytes, digest);
  }
  if (layer) {
    // the new layer unpacked beside the image's, so `docker run` of the result finds every snapshot
    const refs = [...parent.manifest.layers, { mediaType: layerType, digest: layer.digest }].map((d, i) => ({ digest: d.digest, mediaType: d.mediaType, diffId: diffIds[i]! }));
    await ctx.stores.snapshots.prepareLayer(refs, refs.length - 1, ctx.stores.content);
  }
  if (name !== undefined) await ctx.stores.refs.tag(name, manifestDigest);
  else {
    await ctx.stores.refs.update(({ images }) => {
      if (!images.has(manifestDigest)) images.set(manifestDigest, { addedAt: created });
    });
  }
  return { Id: configDigest };
}

/** The upper dir as a gzip layer blob in the content store; undefined when it holds no change. */
async function writeLayer(ctx: ContainerContext, upper: string, skip: ReadonlySet<string>): Promise<{ digest: Digest; size: number; diffId: Digest } | undefined> {
  const fsv = new InRootFs(upper);
  const tar = new PassThrough();
  const diff = new Digester();
  const gz = createGzip();
  const writer = await ctx.stores.content.writer(`commit-layer-${process.pid}-${randomBytes(6).toString('hex')}`);
  const compressed = (async () => {
    for await (const c of gz) await writer.write(c as Buffer);
  })();
  compressed.catch(() => undefined);
  const piped = (async () => {
    for await (const c of tar) {
      diff.update(c as Buffer);
      if (!gz.write(c)) await new Promise((r) => gz.once('drain', r));
    }
    gz.end();
  })();
  piped.catch(() => undefined);
  const w = new TarWriter(tar);
  const tt = new TreeTar(fsv, w, { topName: undefined, childPrefix: '', layer: true, xattrs: true, skip });
  try {
    await tt.add(fsv.rootNode(), undefined, '', undefined);
    await w.finish();
    tar.end();
    await piped;
    await compressed;
  } catch (e) {
    tar.destroy();
    gz.destroy();
    await compressed.catch(() => undefined);
    await writer.abort().catch(() => undefined);
    throw e;
  } finally {
    await tt.close();
    fsv.close();
  }
  if (tt.stats.entries === 0) {
    await writer.abort().catch(() => undefined);
    return undefined;
  }
  const size = writer.offset;
  const digest = await writer.commit(size);
  return { digest, size, diffId: diff.digest() };
}
