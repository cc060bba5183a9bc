/**
 * The pure part of `docker create`: an image config, the request's Config and HostConfig and
 * the paths the engine prepared (rootfs, volumes, /etc/hosts...) → the OCI runtime spec the
 * runtime runs, with docker 20.10's defaults (moby daemon/oci_linux.go createSpec). It reads the
 * rootfs (users, the working directory, which it creates) and the host's devices; it starts
 * nothing and writes nothing else.
 */
import { constants as osConstants, hostname as osHostname } from 'node:os';
import * as fs from 'node:fs/promises';
import type { Mount, Namespace, NamespaceType, Spec } from '../../runtime/spec/types.ts';
import { InvalidParameterError } from '../errors.ts';
import type { ContainerConfig, HostConfig, ImageRunConfig } from './docker-types.ts';
import {
  DEFAULT_INIT_BINARY, DEFAULT_PATH_ENV, DEFAULT_SHM_SIZE, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS,
  INIT_PATH_IN_CONTAINER, dockerDefaultDeviceRules, dockerDefaultMounts,
} from './defaults.ts';
import { devicesFromPath, hostDevices } from './devices.ts';
import { containerMountPoints, mergeTmpfsOptions, prepareBindSource, type MountPoint } from './mounts.ts';
import { buildResources } from './resources.ts';
import { ensureDirInRootfs } from './rootfs-path.ts';
import { defaultProfile, parseProfile, resolveProfile } from './seccomp-default.ts';
import { parseSecurityOpts, tweakCapabilities } from './security.ts';
import { resolveUser } from './user.ts';

export interface BuildSpecInput {
  /** the container's id (64 hex); the default hostname is its first 12 characters */
  id: string;
  /** the image config blob's `config` */
  image: ImageRunConfig;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** the container's root filesystem on the host, mounted: users are looked up and the working directory made there */
  rootfs: string;
  /** spec.root.path; default "rootfs" (relative to the bundle) */
  rootPath?: string;
  /**
   * the container's own mount points when the engine resolved them (--volumes-from, the volume
   * names it chose); default: containerMountPoints of the HostConfig and the image's VOLUMEs
   */
  mountPoints?: MountPoint[];
  /** host paths of the named and anonymous volumes, by destination in the container */
  volumes?: Record<string, string>;
  /** files the engine wrote for the container; each is bind-mounted unless the user mounts that path */
  etcFiles?: { hosts?: string; hostname?: string; resolvConf?: string };
  /** namespace files to join for `container:X` modes (e.g. /proc/PID/ns/net) */
  joinNamespaces?: Partial<Record<'network' | 'ipc' | 'pid', string>>;
  /** the init for `--init`; default Debian's /usr/bin/tini-static */
  initBinary?: string;
  cgroupsPath?: string;
  /** facts about the host, for tests; default this host's */
  host?: { cgroupV2?: boolean; ncpu?: number; kernel?: string; arch?: string; capabilities?: string[] };
}

export interface BuiltSpec {
  spec: Spec;
  /** Config after docker's merge with the image (Env, Cmd, Entrypoint, User, WorkingDir, Labels...) */
  config: ContainerConfig;
  /** docker's Path and Args (before --init) */
  path: string;
  args: string[];
  /** the signal `stop` sends ("SIGTERM" unless the container or image says) */
  stopSignal: string;
  /** the container's own mounts (binds, volumes, tmpfs), for inspect's Mounts */
  mountPoints: MountPoint[];
}

const envKey = (e: string): string => e.split('=')[0]!;

/** docker's merge(userConf, imageConf) and the Entrypoint [""] reset (daemon/commit.go, create.go). */
export function mergeImageConfig(config: ContainerConfig, image: ImageRunConfig): ContainerConfig {
  const c: ContainerConfig = { ...config };
  if (!c.User) c.User = image.User ?? '';
  if (!c.ExposedPorts || Object.keys(c.ExposedPorts).length === 0) c.ExposedPorts = image.ExposedPorts ?? null;
  else c.ExposedPorts = { ...(image.ExposedPorts ?? {}), ...c.ExposedPorts };
  const env = c.Env ?? [];
  if (env.length === 0) c.Env = [...(image.Env ?? [])];
  else {
    const keys = new Set(env.map(envKey));
    c.Env = [...env, ...(image.Env ?? []).filter((e) => !keys.has(envKey(e)))];
  }
  c.Labels = { ...(image.Labels ?? {}), ...(c.Labels ?? {}) };
  if (!c.Entrypoint || c.Entrypoint.length === 0) {
    if (!c.Cmd || c.Cmd.length === 0) c.Cmd = image.Cmd ?? null;
    if (c.Entrypoint === undefined || c.Entrypoint === null) c.Entrypoint = image.Entrypoint ?? null;
  }
  if (!c.WorkingDir) c.WorkingDir = image.WorkingDir ?? '';
  if (!c.StopSignal && image.StopSignal) c.StopSignal = image.StopSignal;
  if (!c.Healthcheck && image.Healthcheck) c.Healthcheck = image.Healthcheck;
  else if (c.Healthcheck && image.Healthcheck) {
    // docker's merge: what the user left unset (an empty test, zero durations) comes from the image
    const u = { ...c.Healthcheck };
    const im = image.Healthcheck;
    if (!u.Test || u.Test.length === 0) u.Test = im.Test ?? null;
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) if (!u[k] && im[k]) u[k] = im[k];
    c.Healthcheck = u;
  }
  // the image's VOLUMEs join the container's (`-v /dst` sends Config.Volumes): anonymous volumes at create
  if (image.Volumes && Object.keys(image.Volumes).length > 0) c.Volumes = { ...(c.Volumes ?? {}), ...image.Volumes };
  if (c.Entrypoint?.length === 1 && c.Entrypoint[0] === '') c.Entrypoint = null;
  if ((c.Entrypoint?.length ?? 0) === 0 && (c.Cmd?.length ?? 0) === 0) throw new InvalidParameterError('No command specified');
  return c;
}

/** docker's ParseSignal: "SIGKILL", "KILL" or "9". */
export function checkSignal(sig: string): string {
  const table = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(sig)) {
    if (Number(sig) === 0 || !Object.values(table).includes(Number(sig))) throw new InvalidParameterError(`Invalid signal: ${sig}`);
    return sig;
  }
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  if (table[name] === undefined && !/^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) throw new InvalidParameterError(`Invalid signal: ${sig}`);
  return sig;
}

/** `KEY=VALUE` replacing an earlier KEY (docker's ReplaceOrAppendEnvValues). */
export function replaceOrAppend(base: string[], over: readonly string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const k = envKey(e);
    const i = out.findIndex((x) => envKey(x) === k);
    if (!e.includes('=')) {
      if (i >= 0) out.splice(i, 1); // "-e NAME" with NAME unset removes it
      continue;
    }
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

function containerMode(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

/** The container's namespaces: docker's defaults with the modes of HostConfig applied. */
function namespaces(input: BuildSpecInput, cgroupV2: boolean): Namespace[] {
  const hc = input.hostConfig;
  const join = input.joinNamespaces ?? {};
  const list: Namespace[] = [{ type: 'mount' }];
  const joined = (type: NamespaceType, mode: string | undefined, flag: string): Namespace => {
    const p = join[type as 'network' | 'ipc' | 'pid'];
    if (!p) throw new InvalidParameterError(`${flag} ${mode}: the engine did not give the namespace of container ${containerMode(mode)}`);
    return { type, path: p };
  };
  const net = hc.NetworkMode ?? '';
  if (containerMode(net) !== undefined) list.push(joined('network', net, '--network'));
  // a bridge network's container joins the sandbox the engine makes at start (its path then)
  else if (net !== 'host' && join.network) list.push({ type: 'network', path: join.network });
  else if (net !== 'host') list.push({ type: 'network' }); // none: a new one with loopback
  if (hc.UTSMode !== 'host') list.push({ type: 'uts' });
  const pid = hc.PidMode ?? '';
  if (containerMode(pid) !== undefined) list.push(joined('pid', pid, '--pid'));
  else if (pid !== 'host') {
    if (pid !== '') throw new InvalidParameterError(`invalid --pid: ${JSON.stringify(pid)}`);
    list.push({ type: 'pid' });
  }
  const ipc = hc.IpcMode ?? '';
  if (containerMode(ipc) !== undefined) list.push(joined('ipc', ipc, '--ipc'));
  else if (ipc !== 'host') {
    if (!['', 'private', 'shareable', 'none'].includes(ipc)) throw new InvalidParameterError(`Invalid IPC mode: ${ipc}`);
    list.push({ type: 'ipc' });
  }
  const cgroupns = hc.CgroupnsMode || (cgroupV2 ? 'private' : 'host');
  if (cgroupns !== 'private' && cgroupns !== 'host') throw new InvalidParameterError(`invalid cgroup namespace mode: ${cgroupns}`);
  if (cgroupns === 'private') list.push({ type: 'cgroup' });
  return list;
}

function bindOptions(mp: { rw: boolean; propagation: string; nonRecursive?: boolean }): string[] {
  const o = [mp.nonRecursive ? 'bind' : 'rbind'];
  if (!mp.rw) o.push('ro');
  if (mp.propagation) o.push(mp.propagation);
  return o;
}

async function isCgroupV2(): Promise<boolean> {
  try {
    await fs.access('/sys/fs/cgroup/cgroup.controllers');
    return true;
  } catch {
    return false;
  }
}

async function sysctlExists(name: string): Promise<boolean> {
  try {
    await fs.access(`/proc/sys/${name.replace(/\./g, '/')}`);
    return true;
  } catch {
    return false;
  }
}

/** Builds the container's runtime spec. Bad input is an InvalidParameterError in docker's words. */
export async function buildSpec(input: BuildSpecInput): Promise<BuiltSpec> {
  const hc = input.hostConfig;
  const host = input.host ?? {};
  const cgroupV2 = host.cgroupV2 ?? (await isCgroupV2());
  const privileged = hc.Privileged === true;
  const config = mergeImageConfig(input.config, input.image);

  const entrypoint = config.Entrypoint ?? [];
  const cmd = config.Cmd ?? [];
  const argv = entrypoint.length > 0 ? [...entrypoint, ...cmd] : [...cmd];
  const [path0, ...args] = argv as [string, ...string[]];

  const net = hc.NetworkMode ?? '';
  let hostname = config.Hostname ?? '';
  if (hostname === '') hostname = net === 'host' || hc.UTSMode === 'host' ? osHostname() : input.id.slice(0, 12);
  config.Hostname = hostname;
  const stopSignal = checkSignal(config.StopSignal || 'SIGTERM');

  // env: PATH and HOSTNAME first, TERM with a tty, then the container's (which may replace them)
  const baseEnv = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`, ...(config.Tty ? ['TERM=xterm'] : [])];
  const env = replaceOrAppend(baseEnv, config.Env ?? []);

  const workdir = config.WorkingDir ? config.WorkingDir.replace(/\/+$/, '') || '/' : '/';
  if (!workdir.startsWith('/')) throw new InvalidParameterError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  if (workdir !== '/') {
    try {
      await ensureDirInRootfs(input.rootfs, workdir);
    } catch (e) {
      throw new InvalidParameterError((e as Error).message);
    }
  }
  const user = await resolveUser(input.rootfs, config.User ?? '', (hc.GroupAdd ?? []).filter((g) => g !== ''));

  const caps = tweakCapabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], privileged, host.capabilities);
  const sec = parseSecurityOpts(hc.SecurityOpt ?? []);

  const spec: Spec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: config.Tty === true,
      user,
      args: argv,
      env,
      cwd: workdir,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
    root: { path: input.rootPath ?? 'rootfs', readonly: hc.ReadonlyRootfs === true },
    hostname: hc.UTSMode === 'host' ? '' : hostname,
    mounts: [],
    linux: {
      namespaces: namespaces(input, cgroupV2),
      devices: [],
      resources: buildResources(hc, host.ncpu),
      maskedPaths: [...(hc.MaskedPaths ?? DOCKER_MASKED_PATHS)],
      readonlyPaths: [...(hc.ReadonlyPaths ?? DOCKER_READONLY_PATHS)],
    },
  };
  if (config.Domainname) spec.domainname = config.Domainname;
  const proc = spec.process!;
  const linux = spec.linux!;
  if (sec.noNewPrivileges) proc.noNewPrivileges = true;
  if (input.cgroupsPath) linux.cgroupsPath = input.cgroupsPath;
  if (hc.UTSMode === 'host') delete spec.hostname;

  const ulimits = hc.Ulimits ?? [];
  if (ulimits.length > 0) {
    proc.rlimits = ulimits.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}` as never, soft: u.Soft, hard: u.Hard }));
  }

  // sysctls docker sets for a network namespace of the container's own (not host, not joined)
  const sysctl: Record<string, string> = {};
  if (net !== 'host' && containerMode(net) === undefined) {
    if (await sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (await sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  Object.assign(sysctl, hc.Sysctls ?? {});
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;

  // devices
  let rules = dockerDefaultDeviceRules();
  if (privileged) {
    linux.devices = await hostDevices();
    for (const d of hc.Devices ?? []) {
      if (d.PathOnHost === d.PathInContainer) continue; // already there through /dev
      linux.devices.push(...(await devicesFromPath(d.PathOnHost, d.PathInContainer, 'rwm')).map((e) => e.device));
    }
    rules = [{ allow: true, access: 'rwm' }];
  } else {
    for (const d of hc.Devices ?? []) {
      for (const e of await devicesFromPath(d.PathOnHost, d.PathInContainer, d.CgroupPermissions || 'rwm')) {
        linux.devices!.push(e.device);
        rules.push(e.rule);
      }
    }
  }
  linux.resources!.devices = rules;

  // seccomp: none for privileged or unconfined; a given profile or berth's default otherwise
  if (!privileged && sec.seccomp !== 'unconfined') {
    const profile = sec.seccomp !== undefined ? parseProfile(sec.seccomp) : defaultProfile();
    linux.seccomp = resolveProfile(profile, { caps, arch: host.arch, kernel: host.kernel });
  }

  // mounts: the container's own, then the defaults they do not cover (docker's WithMounts)
  // the image's VOLUMEs and the request's Config.Volumes (`-v /dst`), merged into config
  const mountPoints = input.mountPoints ?? containerMountPoints(hc, Object.keys(config.Volumes ?? {}));
  const own: Mount[] = [];
  for (const mp of mountPoints) {
    if (mp.type === 'tmpfs') {
      const data = mp.data ? mp.data.split(',') : [];
      own.push({ destination: mp.destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...data]) });
      continue;
    }
    if (mp.type === 'bind') {
      await prepareBindSource(mp);
      own.push({ destination: mp.destination, type: 'bind', source: mp.source, options: bindOptions(mp) });
      continue;
    }
    const src = input.volumes?.[mp.destination];
    if (!src) throw new InvalidParameterError(`volume for ${mp.destination}${mp.source ? ` (${mp.source})` : ''} was not created: the engine gives volume paths to buildSpec`);
    own.push({ destination: mp.destination, type: 'bind', source: src, options: bindOptions(mp) });
  }
  const etc = input.etcFiles ?? {};
  const userDest = new Set(own.map((m) => m.destination));
  for (const [dest, src] of [['/etc/resolv.conf', etc.resolvConf], ['/etc/hostname', etc.hostname], ['/etc/hosts', etc.hosts]] as const) {
    if (src && !userDest.has(dest)) {
      own.push({ destination: dest, type: 'bind', source: src, options: bindOptions({ rw: hc.ReadonlyRootfs !== true, propagation: 'rprivate' }) });
    }
  }
  // docker sorts its mounts by depth so that a parent is mounted before what is inside it
  const depth = (p: string): number => p.split('/').filter((x) => x !== '').length;
  own.sort((a, b) => depth(a.destination) - depth(b.destination));
  const ownDest = new Set(own.map((m) => m.destination));
  const userDev = ownDest.has('/dev');
  const mounts: Mount[] = [];
  for (const m of dockerDefaultMounts()) {
    if (ownDest.has(m.destination)) continue;
    if (userDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (hc.IpcMode === 'none' || hc.IpcMode === 'host' || containerMode(hc.IpcMode) !== undefined) continue;
      m.options!.push(`size=${hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE}`);
    }
    mounts.push(m);
  }
  mounts.push(...own);
  if (hc.ReadonlyRootfs) {
    for (const m of mounts) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) || ownDest.has(m.destination)) continue;
      if (!m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  if (privileged) {
    for (const m of mounts) if (m.destination === '/sys' || m.type === 'cgroup') m.options = m.options?.filter((o) => o !== 'ro');
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }

  // --init: only with a pid namespace of the container's own, where PID 1 is ours to choose
  const pidPrivate = (hc.PidMode ?? '') === '';
  if (hc.Init === true && pidPrivate) {
    const init = input.initBinary ?? DEFAULT_INIT_BINARY;
    try {
      await fs.access(init, fs.constants.X_OK);
    } catch {
      throw new InvalidParameterError(`--init: ${init} is not an executable file (install Debian's tini package)`);
    }
    proc.args = [INIT_PATH_IN_CONTAINER, '--', ...argv];
    mounts.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: init, options: ['bind', 'ro'] });
  }
  spec.mounts = mounts;

  return { spec, config, path: path0, args, stopSignal, mountPoints };
}
