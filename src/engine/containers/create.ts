/**
 * `POST /containers/create`: docker's Config merged with the image's, a name, a record, a bundle
 * (the image's layers under an overlay, config.json from the spec builder, src/engine/spec/) in
 * `<data>/containers/<id>/bundle`. The record is written first with `creating` set and cleared
 * once the bundle is complete: a daemon killed in between leaves a record reconcile removes.
 */
import { createBundle, removeBundle } from '../../image/index.ts';
import { hostname as osHostname } from 'node:os';

import { buildSpec, mergeImageConfig } from '../spec/create.ts';
import { containerMountPoints } from '../spec/mounts.ts';
import type { ImageRunConfig } from '../spec/docker-types.ts';
import { ramInBytes } from '../spec/units.ts';
import { EngineError, InvalidParameterError, SystemError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { checkResolution, writeEtcFiles } from './etcfiles.ts';
import { recordMounts, volumesFrom } from './mounts.ts';
import { checkModes, endpointNetwork, joinPlaceholders, networkTarget } from './netmodes.ts';
import { normalizeName } from './store.ts';
import { PhaseClock } from './timings.ts';
import { ZERO_TIME, nowRfc3339, type ContainerRecord, type DockerConfig, type HostConfig, type NetworkingConfig } from './types.ts';

export { mergeImageConfig };

export interface CreateRequest {
  name?: string;
  config: DockerConfig;
  hostConfig: HostConfig;
  networkingConfig?: NetworkingConfig;
}

/** The json-file options of HostConfig.LogConfig (docker's only driver berth has). */
export function logOptions(hc: HostConfig): { maxSize?: number; maxFile?: number } {
  const type = hc.LogConfig?.Type ?? '';
  if (type !== '' && type !== 'json-file') throw new InvalidParameterError(`logger: no log driver named '${type}' is registered (berth writes json-file logs)`);
  const cfg = hc.LogConfig?.Config ?? {};
  const out: { maxSize?: number; maxFile?: number } = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'max-size') {
      let n: number;
      try {
        n = ramInBytes(v);
      } catch (e) {
        throw new InvalidParameterError(`log-opt max-size: ${(e as Error).message}`);
      }
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
  const runtime = ctx.runtimes.resolve(req.hostConfig.Runtime);
  const warnings = checkModes(ctx, user, req.hostConfig);
  const bridgeNet = endpointNetwork(ctx, req.hostConfig);
  const epConfig = endpointConfig(req.networkingConfig, bridgeNet?.name, req.hostConfig.NetworkMode);
  checkResolution(req.hostConfig);
  // sharing another container's network is sharing its name too (docker refuses -h with it)
  const netTarget = networkTarget(ctx, req.hostConfig);
  const userConfig = netTarget ? { ...user, Hostname: netTarget.rec.config.Hostname ?? '' } : user;
  const clock = new PhaseClock();
  const image = await ctx.images.inspect(user.Image);
  clock.mark('image');
  // docker's merge with the image: refuses a container with no command before anything is made
  const merged = mergeImageConfig(user, image.Config as ImageRunConfig);
  const argv = [...(merged.Entrypoint ?? []), ...(merged.Cmd ?? [])];
  // --volumes-from: the other containers' mounts, resolved before anything is made
  const inherited = volumesFrom(ctx, req.hostConfig);
  const id = ctx.store.newId();
  const name = req.name ? normalizeName(req.name) : `/${generateName(ctx)}`;
  ctx.store.reserveName(name, id);
  // its network namespace from now, beside the record, the lease and the bundle, for the start
  // that usually follows at once (a namespace costs the kernel ~3 ms); removed if create fails
  if (bridgeNet) ctx.prepared.set(id, ctx.net.prepare());
  const rec: ContainerRecord = {
    schemaVersion: 1, id, name, created: nowRfc3339(), imageName: user.Image, image: image.Id, path: argv[0]!, args: argv.slice(1), config: merged,
    state: {
      Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0,
      ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
    },
    restartCount: 0, logPath: '', runtime, creating: true, driver: 'overlay2',
  };
  rec.logPath = ctx.monitorOptions(id, false, false, false, log).logPath;
  const hostConfig: HostConfig = { ...req.hostConfig };
  if (!hostConfig.NetworkMode) hostConfig.NetworkMode = 'default';
  hostConfig.Runtime = runtime;
  if (!hostConfig.LogConfig?.Type) hostConfig.LogConfig = { Type: 'json-file', Config: hostConfig.LogConfig?.Config ?? {} };
  if (!hostConfig.RestartPolicy) hostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  try {
    await ctx.store.add({ rec, hostConfig });
    // the address is leased now, so /etc/hosts names it and it is the container's until rm
    if (bridgeNet) {
      rec.endpoints = [await ctx.net.attach(id, bridgeNet, 'eth0', {
        ...(epConfig?.Aliases && { aliases: epConfig.Aliases }),
        ...(epConfig?.IPAMConfig?.IPv4Address && { v4: epConfig.IPAMConfig.IPv4Address }),
        ...(epConfig?.IPAMConfig?.IPv6Address && { v6: epConfig.IPAMConfig.IPv6Address }),
        ...((epConfig?.MacAddress || user.MacAddress) && { mac: epConfig?.MacAddress || user.MacAddress }),
      })];
      clock.mark('network');
    }
    const hostNet = hostConfig.NetworkMode === 'host';
    const ep = rec.endpoints?.[0];
    const etcFiles = await writeEtcFiles(ctx.store.dir(id), userConfig.Hostname || (hostNet ? osHostname() : id.slice(0, 12)), hostConfig, {
      host: hostNet, ...(netTarget && { from: { ...(netTarget.rec.hostsPath && { hosts: netTarget.rec.hostsPath }), ...(netTarget.rec.resolvConfPath && { resolvConf: netTarget.rec.resolvConfPath }) } }),
      ...(ep && { addresses: [ep.lease.v4?.address, ep.lease.v6?.address].filter((a): a is string => !!a), ...(userConfig.Domainname && { domainname: userConfig.Domainname }) }),
      // a user network's names are answered by berthd's DNS server on its gateway
      ...(ep && ep.networkName !== 'bridge' && ep.lease.v4 && { dnsServer: ep.lease.v4.gateway }),
      ...(ctx.net.lookup('bridge') && { hostGateway: ctx.net.poolsOf(ctx.net.lookup('bridge')!.id)?.v4?.gateway }),
    });
    clock.mark('directory');
    await createBundle(ctx.stores, image.Id, ctx.bundleDir(id), {
      pull: false,
      onPhase: (p) => clock.mark(p),
      spec: async (imageConfig, rootfs) => {
        const imageRun = (imageConfig as { config?: ImageRunConfig }).config ?? {};
        // the image's VOLUMEs and `-v /dst` (Config.Volumes) become anonymous volumes; the same list goes to buildSpec
        const mountPoints = containerMountPoints(hostConfig, Object.keys(mergeImageConfig(user, imageRun).Volumes ?? {}), inherited);
        const prep = await ctx.volumes.prepareMounts(id, mountPoints, rootfs);
        const built = await buildSpec({
          id, image: imageRun, config: userConfig, hostConfig, joinNamespaces: joinPlaceholders(hostConfig, !!bridgeNet), rootfs, etcFiles, cgroupsPath: `/berth/${id}`, mountPoints, volumes: prep.paths,
        });
        Object.assign(rec, { config: built.config, path: built.path, args: built.args, stopSignal: built.stopSignal, mounts: recordMounts(mountPoints, prep) });
        return built.spec;
      },
    });
    Object.assign(rec, { hostnamePath: etcFiles.hostname, hostsPath: etcFiles.hosts, resolvConfPath: etcFiles.resolvConf });
    delete rec.creating;
    rec.timings = { createAt: clock.at, create: clock.phases };
    await ctx.store.save(id);
  } catch (e) {
    await removeBundle(ctx.bundleDir(id)).catch(() => undefined);
    await ctx.volumes.releaseMounts(id, true).catch((e2: Error) => ctx.log.error(`create ${id}: releasing its volumes: ${e2.message}`));
    await ctx.dropPrepared(id);
    await ctx.net.detach(id, rec.endpoints ?? []).catch((e2: Error) => ctx.log.error(`create ${id}: releasing its addresses: ${e2.message}`));
    await ctx.store.drop(id).catch(() => undefined);
    ctx.store.releaseName(name, id);
    if (e instanceof EngineError) throw e;
    // the verdict of the spec builder or the volume service, through createBundle's wrapping
    if ((e as Error).cause instanceof EngineError) throw (e as Error).cause;
    throw new SystemError(`create: ${(e as Error).message}`, { cause: e });
  }
  return { Id: id, Warnings: warnings };
}

/**
 * The endpoint settings for the network a container starts on: dockerd 20.10 takes one
 * EndpointsConfig entry, the one of its network mode's network.
 */
function endpointConfig(nc: NetworkingConfig | undefined, network: string | undefined, mode: string | undefined) {
  const entries = Object.entries(nc?.EndpointsConfig ?? {});
  if (entries.length === 0) return undefined;
  if (entries.length > 1) throw new InvalidParameterError(`Container cannot be connected to network endpoints: ${entries.map(([k]) => k).join(', ')}`);
  const [name, cfg] = entries[0]!;
  if (!network) {
    if ((cfg?.Aliases ?? []).length > 0 || cfg?.IPAMConfig?.IPv4Address || cfg?.IPAMConfig?.IPv6Address) {
      throw new InvalidParameterError(`network ${mode || 'default'}: endpoint settings (--ip, --network-alias) need a bridge network`);
    }
    return undefined;
  }
  void name;
  return cfg ?? undefined;
}

const LEFT = ['admiring', 'brave', 'clever', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'nifty', 'quirky', 'serene', 'trusting', 'vibrant', 'zealous'];
const RIGHT = ['babbage', 'curie', 'darwin', 'euclid', 'fermi', 'galileo', 'hopper', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yonath'];

/** docker's namesgenerator shape, `adjective_surname`, with a digit added on a clash */
function generateName(ctx: ContainerContext): string {
  for (let i = 0; ; i++) {
    const n = `${LEFT[Math.floor(Math.random() * LEFT.length)]}_${RIGHT[Math.floor(Math.random() * RIGHT.length)]}${i > 3 ? Math.floor(Math.random() * 10) : ''}`;
    // a name reserved by a create still in progress is taken too: it has no record to find yet
    if (!ctx.store.nameTaken(`/${n}`)) return n;
  }
}
