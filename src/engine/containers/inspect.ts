/** `GET /containers/{id}/json`: docker's ContainerJSON, projected from the record. */
import { parseSecurityOpts } from '../spec/security.ts';
import type { ContainerContext } from './context.ts';
import { dockerMounts } from './mounts.ts';
import { networkSettings } from './netmodes.ts';
import type { Loaded } from './store.ts';

export function inspectContainer(ctx: ContainerContext, l: Loaded): Record<string, unknown> {
  const { rec, hostConfig } = l;
  const bundle = ctx.bundleDir(rec.id);
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: { ...rec.state },
    Image: rec.image,
    ResolvConfPath: rec.resolvConfPath ?? '',
    HostnamePath: rec.hostnamePath ?? '',
    HostsPath: rec.hostsPath ?? '',
    LogPath: rec.logPath,
    Name: rec.name,
    RestartCount: rec.restartCount,
    Driver: rec.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: appArmorProfile(l),
    ExecIDs: null,
    HostConfig: {
      Binds: null, ContainerIDFile: '', NetworkMode: 'none', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false, VolumeDriver: '', VolumesFrom: null, CapAdd: null, CapDrop: null, Dns: [], DnsOptions: [], DnsSearch: [],
      ExtraHosts: null, GroupAdd: null, IpcMode: 'private', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false,
      PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 67108864, Runtime: rec.runtime,
      ConsoleSize: [0, 0], Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, CpuPeriod: 0,
      CpuQuota: 0, CpusetCpus: '', CpusetMems: '', Devices: [], MemoryReservation: 0, MemorySwap: 0, OomKillDisable: false,
      PidsLimit: null, Ulimits: null, Init: null,
      ...hostConfig,
    },
    GraphDriver: {
      Name: rec.driver,
      Data: { MergedDir: `${bundle}/rootfs`, UpperDir: `${bundle}/.berth/upper`, WorkDir: `${bundle}/.berth/work` },
    },
    Mounts: dockerMounts(ctx, rec, hostConfig),
    Config: {
      Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false,
      StdinOnce: false, Env: null, Cmd: null, Image: rec.imageName, Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: {},
      ...rec.config,
    },
    NetworkSettings: networkSettings(ctx, l),
  };
}

/**
 * What dockerd 20.10 shows on a host without AppArmor: create records the apparmor= profile
 * (parseSecurityOpt), start clears it (saveAppArmorConfig: "apparmor is disabled, nothing to
 * do"), so inspect names it only until the first start.
 */
function appArmorProfile(l: Loaded): string {
  if (l.rec.hasBeenStarted) return '';
  try {
    return parseSecurityOpts((l.hostConfig.SecurityOpt as string[] | null | undefined) ?? []).appArmorProfile ?? '';
  } catch {
    return '';
  }
}
