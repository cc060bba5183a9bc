/**
 * `POST /containers/create`: docker's Config merged with the image's, a name, a record, a bundle
 * (the image's layers under an overlay, config.json built from Config + HostConfig + image) in
 * `<data>/containers/<id>/bundle`. The record is written first with `creating` set and cleared
 * once the bundle is complete: a daemon killed in between leaves a record reconcile removes.
 */
import { createBundle, removeBundle } from '../../image/bundle/create.ts';
import { specFromImage } from '../../image/bundle/config.ts';
import type { Spec } from '../../runtime/spec/types.ts';
import type { ImageContainerConfig } from '../../image/images/types.ts';
import { InvalidParameterError, SystemError } from '../errors.ts';
import { BUILTIN_RUNTIME } from '../runtimes.ts';
import type { ContainerContext } from './context.ts';
import { normalizeName } from './store.ts';
import { ZERO_TIME, nowRfc3339, type ContainerRecord, type DockerConfig, type HostConfig } from './types.ts';

export interface CreateRequest {
  name?: string;
  config: DockerConfig;
  hostConfig: HostConfig;
}

/** docker's daemon/commit.go merge: the image's settings where the client gave none. */
export function mergeImageConfig(user: DockerConfig, image: ImageContainerConfig): DockerConfig {
  const c: DockerConfig = { ...user };
  if (!c.User) c.User = image.User ?? '';
  if (image.ExposedPorts) c.ExposedPorts = { ...image.ExposedPorts, ...(c.ExposedPorts ?? {}) };
  const env = [...(c.Env ?? [])];
  const names = new Set(env.map((e) => e.split('=')[0]));
  for (const e of image.Env ?? []) if (!names.has(e.split('=')[0])) env.push(e);
  c.Env = env;
  if (image.Labels || c.Labels) c.Labels = { ...(image.Labels ?? {}), ...(c.Labels ?? {}) };
  if (!c.Entrypoint || c.Entrypoint.length === 0) {
    if (!c.Cmd || c.Cmd.length === 0) c.Cmd = image.Cmd ?? null;
    if (!c.Entrypoint) c.Entrypoint = image.Entrypoint ?? null;
  }
  if (!c.WorkingDir) c.WorkingDir = image.WorkingDir ?? '';
  if (image.Volumes) c.Volumes = { ...image.Volumes, ...(c.Volumes ?? {}) };
  if (!c.StopSignal && image.StopSignal) c.StopSignal = image.StopSignal;
  if (c.Healthcheck === undefined && image.Healthcheck !== undefined) c.Healthcheck = image.Healthcheck;
  return c;
}

/** go-units RAMInBytes: `10m`, `1.5g`, `100k`, `512` (binary multiples) */
export function ramInBytes(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new InvalidParameterError(`invalid size: '${s}' (${what})`);
  const mult = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40, p: 2 ** 50 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'];
  return Math.floor(Number(m[1]) * mult);
}

/** The json-file options of HostConfig.LogConfig (docker's only driver berth has). */
export function logOptions(hc: HostConfig): { maxSize?: number; maxFile?: number } {
  const type = hc.LogConfig?.Type ?? '';
  if (type !== '' && type !== 'json-file') throw new InvalidParameterError(`logger: no log driver named '${type}' is registered (berth writes json-file logs)`);
  const cfg = hc.LogConfig?.Config ?? {};
  const out: { maxSize?: number; maxFile?: number } = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'max-size') {
      const n = ramInBytes(v, 'log-opt max-size');
      if (n > 0) out.maxSize = n;
    } else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidParameterError(`invalid value for max-file: ${JSON.stringify(v)}: must be a positive integer`);
      out.maxFile = Number(v);
    } else if (!['compress', 'labels', 'env', 'env-regex', 'tag'].includes(k)) {
      throw new InvalidParameterError(`unknown log opt '${k}' for json-file log driver`);
    }
  }
  if (out.maxFile !== undefined && out.maxFile > 1 && out.maxSize === undefined) throw new InvalidParameterError('max-file cannot be set without max-size');
  return out;
}

/** docker's getEntrypointAndArgs */
function entrypointAndArgs(c: DockerConfig): { path: string; args: string[] } {
  const ep = c.Entrypoint ?? [];
  const cmd = c.Cmd ?? [];
  const all = ep.length > 0 ? [...ep, ...cmd] : cmd;
  if (all.length === 0 || all[0] === '') throw new InvalidParameterError('No command specified');
  return { path: all[0]!, args: all.slice(1) };
}

/**
 * The OCI spec of the container: the image's defaults (specFromImage) with docker's Config over
 * them. The full conversion (docker's default caps, seccomp, mounts, resources) is buildSpec in
 * src/engine/spec/.
 */
function buildContainerSpec(rec: ContainerRecord, imageConfig: unknown, rootfs: string): Spec {
  const img = (imageConfig ?? {}) as { config?: Record<string, unknown> };
  const c = rec.config;
  const merged = {
    ...img,
    config: {
      ...(img.config ?? {}),
      Entrypoint: [rec.path], Cmd: rec.args, Env: c.Env ?? [], WorkingDir: c.WorkingDir ?? '', User: c.User ?? '',
    },
  };
  const spec = specFromImage(merged, { rootfs, hostname: c.Hostname || rec.id.slice(0, 12) });
  spec.process!.terminal = !!c.Tty;
  if (c.Tty) spec.process!.env = [...(spec.process!.env ?? []), ...((c.Env ?? []).some((e) => e.startsWith('TERM=')) ? [] : ['TERM=xterm'])];
  spec.linux = { ...(spec.linux ?? {}), cgroupsPath: `/berth/${rec.id}` };
  return spec;
}

export async function createContainer(ctx: ContainerContext, req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
  const user = req.config;
  if (typeof user.Image !== 'string' || user.Image === '') throw new InvalidParameterError('Config.Image: no image given');
  const log = logOptions(req.hostConfig);
  const restart = req.hostConfig.RestartPolicy;
  if (restart && restart.Name && !['no', 'always', 'on-failure', 'unless-stopped'].includes(restart.Name)) {
    throw new InvalidParameterError(`invalid restart policy '${restart.Name}'`);
  }
  if (restart && req.hostConfig.AutoRemove && restart.Name && restart.Name !== 'no') {
    throw new InvalidParameterError(`can't create 'AutoRemove' container with restart policy`);
  }
  if (restart?.Name !== 'on-failure' && (restart?.MaximumRetryCount ?? 0) > 0) {
    throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  const image = await ctx.images.inspect(user.Image);
  const config = mergeImageConfig(user, image.Config);
  const { path, args } = entrypointAndArgs(config);
  const id = ctx.store.newId();
  if (!config.Hostname) config.Hostname = id.slice(0, 12);
  const name = req.name ? normalizeName(req.name) : `/${generateName(ctx)}`;
  ctx.store.reserveName(name, id);
  const rec: ContainerRecord = {
    schemaVersion: 1, id, name, created: nowRfc3339(), imageName: user.Image, image: image.Id, path, args, config,
    state: {
      Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0,
      ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
    },
    restartCount: 0, logPath: '', runtime: BUILTIN_RUNTIME, creating: true, driver: 'overlay2',
  };
  rec.logPath = ctx.monitorOptions(id, false, false, false, log).logPath;
  const hostConfig: HostConfig = { ...req.hostConfig };
  if (!hostConfig.NetworkMode) hostConfig.NetworkMode = 'none';
  if (!hostConfig.LogConfig?.Type) hostConfig.LogConfig = { Type: 'json-file', Config: hostConfig.LogConfig?.Config ?? {} };
  if (!hostConfig.RestartPolicy) hostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  try {
    await ctx.store.add({ rec, hostConfig });
    await createBundle(ctx.stores, image.Id, ctx.bundleDir(id), {
      pull: false,
      spec: (imageConfig, rootfs) => buildContainerSpec(rec, imageConfig, rootfs),
    });
    delete rec.creating;
    await ctx.store.save(id);
  } catch (e) {
    await removeBundle(ctx.bundleDir(id)).catch(() => undefined);
    await ctx.store.drop(id).catch(() => undefined);
    ctx.store.releaseName(name, id);
    if (e instanceof InvalidParameterError) throw e;
    throw new SystemError(`create: ${(e as Error).message}`, { cause: e });
  }
  return { Id: id, Warnings: [] };
}

const LEFT = ['admiring', 'brave', 'clever', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'nifty', 'quirky', 'serene', 'trusting', 'vibrant', 'zealous'];
const RIGHT = ['babbage', 'curie', 'darwin', 'euclid', 'fermi', 'galileo', 'hopper', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yonath'];

/** docker's namesgenerator shape, `adjective_surname`, with a digit added on a clash */
function generateName(ctx: ContainerContext): string {
  for (let i = 0; ; i++) {
    const n = `${LEFT[Math.floor(Math.random() * LEFT.length)]}_${RIGHT[Math.floor(Math.random() * RIGHT.length)]}${i > 3 ? Math.floor(Math.random() * 10) : ''}`;
    if (!ctx.store.find(n)) return n;
  }
}
