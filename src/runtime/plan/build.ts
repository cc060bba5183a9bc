/**
 * Turns a validated config.json into the plan berth-init executes. Every decision lives here:
 * which namespaces are new or joined, which mounts, devices and symlinks, the order of security
 * steps. The helper only carries them out.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Hook, Mount, Process, Spec, Uint64 } from '../spec/types.ts';
import { capMask } from '../caps.ts';
import { CLONE, MS, RLIMIT, S_IF, makedev } from '../linux.ts';
import { parseMountOptions, propagationFlags } from '../mountopts.ts';
import { addSeccomp } from '../seccomp.ts';
import type { SeccompCache } from '../seccomp-cache.ts';
import { sharesHostMountNs, sysctlFile } from '../spec/validate.ts';
import type { CgroupLayout } from '../cgroups/layout.ts';
import { Plan, type Arg, type PlanRecord } from '../../native/plan.ts';

export const NS_FLAG: Readonly<Record<string, number>> = {
  user: CLONE.NEWUSER, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS, network: CLONE.NEWNET,
  pid: CLONE.NEWPID, mount: CLONE.NEWNS, cgroup: CLONE.NEWCGROUP, time: CLONE.NEWTIME,
};

/** The order in which namespaces are joined: the user namespace first, so the others are owned by it. */
const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'mount', 'cgroup', 'time'];

export interface CreatePlanInput {
  spec: Spec;
  bundle: string;
  rootfs: string;
  fifoPath: string;
  /** the page (exec.status) in which the init reports a failure between `ready` and execve */
  statusPath: string;
  tracePath: string;
  cgroupsPath: string;
  layout: CgroupLayout;
  /** the container's cgroup directory in each hierarchy */
  cgroupDirs: CgroupDir[];
  /** records that attach the cgroup v2 device filter (eBPF), where no v1 devices controller does the job */
  deviceFilter?: PlanRecord[];
  consoleSocket?: string;
  preserveFds: number;
  noPivot: boolean;
  noNewKeyring: boolean;
  /** the container id, for the session keyring's name */
  id: string;
  foreground: boolean;
  /**
   * Where berth-init logs the mounts it makes when the container shares the host's mount
   * namespace (no "mount" in linux.namespaces): they are made on the host, and `delete` or a
   * failed create unmounts them from this log.
   */
  mountLog?: string;
  /** compiled seccomp programs: a hit is loaded as is, a miss is compiled by berth-init (`seccomp_export`) */
  seccompCache?: SeccompCache;
}

export interface CgroupDir {
  dir: string;
  version: 1 | 2;
}

/**
 * Stage 0 moves itself into the v1 cgroups (writing "0" to `tasks`: no global lock, no RCU grace
 * period) and clones the init straight into the v2 cgroup (clone3 CLONE_INTO_CGROUP), so the init
 * never has to be migrated.
 */
function addCgroupJoin(plan: Plan, dirs: readonly CgroupDir[]): void {
  for (const d of dirs) plan.add(d.version === 1 ? 'cgroup_tasks' : 'cgroup_into', d.dir);
}

export interface CreatePlan {
  plan: Plan;
  newNamespaces: string[];
  userns: boolean;
  /** no mount namespace of its own: its mounts are on the host, logged to `mountLog` */
  hostMounts: boolean;
}

/** A validated uint64 (rlimits): exact, RLIM_INFINITY included, as the validator kept it. */
function u64(n: Uint64): bigint {
  return BigInt(n);
}

function envPath(env: readonly string[] | undefined): string {
  const p = env?.find((e) => e.startsWith('PATH='));
  return p ? p.slice(5) : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

function addHook(plan: Plan, h: Hook): void {
  const args = h.args ?? [];
  plan.add('hook', h.path, h.timeout ?? 0, args.length, ...args, ...(h.env ?? []));
}

/** CAP_SYS_ADMIN as a capability mask */
const SYS_ADMIN = capMask(['CAP_SYS_ADMIN']);

/**
 * The process part shared by create and exec: identity, capabilities, seccomp, exec.
 *
 * The seccomp filter is the user's, and it may deny anything (a default action of ERRNO or KILL
 * with a short allow-list): so it is loaded last, after every step of ours, and the only syscall
 * that follows it is the execve that any working profile allows. Everything that can fail comes
 * before it: close_fds (close_range), the exec fifo handshake (open, the startContainer hooks,
 * the release write). A failure after the release is reported in a shared page, not with a
 * syscall (see status_map in native/src/sync.c), so even a failed execve is reported exactly.
 *
 * Without no_new_privs, loading a filter needs CAP_SYS_ADMIN in the effective set. Rather than
 * load it before the capabilities are dropped (which would put capset, setresuid, chdir, the
 * fifo and the hooks under the user's filter), the init keeps CAP_SYS_ADMIN in its effective and
 * permitted sets until execve. That changes nothing the user's process gets: without
 * no_new_privs, execve computes the new permitted set from the bounding, inheritable and ambient
 * sets (and the file's capabilities), never from the old permitted one, and the bounding set
 * has already been cut to the config's.
 */
export function addProcessSteps(plan: Plan, proc: Process, spec: Spec, opts: { ready: boolean; fifo: boolean; seccompLoad?: Arg[] }): void {
  const seccomp = spec.linux?.seccomp;
  const args = proc.args ?? [];
  if (args.length === 0) throw new Error('process.args is empty: nothing to run');
  plan.add('resolve_exec', args[0]!, envPath(proc.env));
  const caps = proc.capabilities ?? {};
  plan.add('cap_bounding', capMask(caps.bounding ?? []));
  const u = proc.user;
  const gids = u.additionalGids ?? [];
  plan.add('user', u.uid, u.gid, u.umask ?? 0o022, gids.length, ...gids);
  plan.add('cwd', proc.cwd);
  const permitted = capMask(caps.permitted ?? []);
  const keepAdmin = seccomp && !proc.noNewPrivileges ? SYS_ADMIN : 0n;
  plan.add('cap_set', capMask(caps.effective ?? []) | keepAdmin, permitted | keepAdmin, capMask(caps.inheritable ?? []));
  // the kernel raises an ambient capability only if it is permitted: CAP_SYS_ADMIN kept for the
  // load must not become ambient where the config's permitted set would have refused it
  const ambient = capMask(caps.ambient ?? []) & ~(keepAdmin & ~permitted);
  if (caps.ambient?.length) plan.add('cap_ambient', ambient);
  if (proc.noNewPrivileges) plan.add('no_new_privs');
  if (opts.ready) plan.add('ready');
  plan.add('close_fds');
  if (opts.fifo) {
    plan.add('wait_fifo');
    for (const h of spec.hooks?.startContainer ?? []) addHook(plan, h);
    plan.add('release');
  }
  if (seccomp) plan.add('seccomp_load', ...(opts.seccompLoad ?? []));
  plan.add('exec', args.length, ...args, ...(proc.env ?? []));
}

function bindSource(m: Mount, bundle: string): string {
  const src = m.source ?? '';
  return isAbsolute(src) ? src : resolve(bundle, src);
}

function addCgroupMount(plan: Plan, m: Mount, input: CreatePlanInput, newCgroupNs: boolean): void {
  const opts = parseMountOptions(m.options, 'cgroup');
  const flags = opts.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  const dest = m.destination;
  const unifiedOnly = input.layout.kind === 'v2';
  if (unifiedOnly && !input.layout.unified) throw new Error(`mounts: ${dest}: this host has no cgroup filesystem mounted`);
  if (unifiedOnly) {
    if (newCgroupNs) plan.add('mount', 'cgroup2', dest, 'cgroup2', flags | (opts.flags & MS.RDONLY), '', 0, 'dir');
    else plan.add('mount', input.layout.unified!.mountPoint + input.cgroupsPath, dest, '', MS.BIND | MS.REC | flags | (opts.flags & MS.RDONLY), '', 0, 'dir');
    return;
  }
  // v1 and hybrid: a tmpfs holding one mount per hierarchy, as runc lays it out
  plan.add('mount', 'tmpfs', dest, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755', 0, 'dir');
  for (const h of input.layout.hierarchies) {
    const sub = h.version === 2 ? 'unified' : h.controllers.map((c) => c.replace(/^name=/, '')).join(',');
    const target = `${dest}/${sub}`;
    if (newCgroupNs) {
      const data = h.version === 2 ? '' : h.controllers.join(',');
      plan.add('mount', 'cgroup', target, h.version === 2 ? 'cgroup2' : 'cgroup', flags | (opts.flags & MS.RDONLY), data, 0, 'dir');
    } else {
      plan.add('mount', h.mountPoint + input.cgroupsPath, target, '', MS.BIND | MS.REC | flags | (opts.flags & MS.RDONLY), '', 0, 'dir');
    }
  }
  if (opts.flags & MS.RDONLY) plan.add('mount', '', dest, '', MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 0, '');
}

const DEFAULT_DEVICES: ReadonlyArray<[string, number, number]> = [
  ['/dev/null', 1, 3], ['/dev/zero', 1, 5], ['/dev/full', 1, 7],
  ['/dev/random', 1, 8], ['/dev/urandom', 1, 9], ['/dev/tty', 5, 0],
];

function addDevices(plan: Plan, spec: Spec, userns: boolean): void {
  const devices = new Map<string, { type: string; major: number; minor: number; mode: number; uid: number; gid: number }>();
  for (const [path, major, minor] of DEFAULT_DEVICES) devices.set(path, { type: 'c', major, minor, mode: 0o666, uid: 0, gid: 0 });
  for (const d of spec.linux?.devices ?? []) {
    devices.set(d.path, { type: d.type, major: d.major ?? 0, minor: d.minor ?? 0, mode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 });
  }
  for (const [path, d] of devices) {
    if (userns) {
      // mknod is not allowed in a user namespace: bind the host's node instead
      plan.add('mount', path, path, '', MS.BIND, '', 0, 'file');
      continue;
    }
    const type = d.type === 'b' ? S_IF.BLK : d.type === 'p' ? S_IF.FIFO : S_IF.CHR;
    plan.add('mkdev', path, type | (d.mode & 0o7777), makedev(d.major, d.minor), d.uid, d.gid);
  }
  plan.add('symlink', '/proc/self/fd', '/dev/fd');
  plan.add('symlink', '/proc/self/fd/0', '/dev/stdin');
  plan.add('symlink', '/proc/self/fd/1', '/dev/stdout');
  plan.add('symlink', '/proc/self/fd/2', '/dev/stderr');
  if (existsSync('/proc/kcore')) plan.add('symlink', '/proc/kcore', '/dev/core');
}

export function buildCreatePlan(input: CreatePlanInput): CreatePlan {
  const { spec } = input;
  const linux = spec.linux ?? {};
  const proc = spec.process;
  const plan = new Plan();
  const namespaces = linux.namespaces ?? [];
  const newNs = namespaces.filter((n) => !n.path).map((n) => n.type);
  const userns = newNs.includes('user');
  // runtime-spec: a namespace type not listed is the runtime's own; for "mount" that means the
  // container's mounts are made on the host, under the rootfs (see mountLog)
  const hostMounts = sharesHostMountNs(namespaces);
  if (hostMounts && !input.mountLog) throw new Error('linux.namespaces: no mount namespace, and no file to log the host mounts to');
  // the validator refuses these with their JSON paths: each would mount over, or remount, host paths unlogged
  if (hostMounts && (linux.maskedPaths?.length || linux.readonlyPaths?.length || spec.root?.readonly || linux.rootfsPropagation)) {
    throw new Error('linux.namespaces: maskedPaths, readonlyPaths, root.readonly and rootfsPropagation need a mount namespace of the container\'s own');
  }

  // ---- stage 0
  plan.add('trace', input.tracePath);
  plan.add('mkfifo', input.fifoPath, 0o622);
  plan.add('fifo', input.fifoPath);
  // where the init reports a failure after `ready`, for `start` to tell execve from death
  plan.add('exec_status', input.statusPath);
  if (proc?.terminal) {
    if (!input.consoleSocket) throw new Error('process.terminal is true but no --console-socket was given');
    plan.add('console_socket', input.consoleSocket);
  }
  plan.add('preserve_fds', input.preserveFds);
  if (hostMounts) plan.add('mount_log', input.mountLog!);
  // before any setns: paths must resolve in our own mount and cgroup namespaces
  for (const r of input.deviceFilter ?? []) plan.add(r.op, ...r.args);
  addCgroupJoin(plan, input.cgroupDirs);
  for (const type of JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === type && n.path);
    if (ns) plan.add('setns', ns.path!, NS_FLAG[type]!);
  }
  if (newNs.includes('time')) {
    plan.add('unshare', CLONE.NEWTIME);
    const offs = linux.timeOffsets ?? {};
    const lines = Object.entries(offs).map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}`);
    if (lines.length) plan.add('write_file', '/proc/self/timens_offsets', lines.join('\n'));
  }
  const seccompLoad = linux.seccomp ? addSeccomp(plan, linux.seccomp, input.seccompCache).loadArgs : undefined;
  let cloneFlags = 0;
  for (const t of newNs) if (t !== 'time' && t !== 'cgroup') cloneFlags |= NS_FLAG[t]!;
  plan.add('clone', cloneFlags, input.foreground ? 1 : 0);

  // ---- the container's init
  // the init waits for berth-oci only when it needs it: uid/gid maps written from outside, or the
  // state (with its pid) that createContainer/startContainer hooks read on stdin
  const hooksNeedState = (spec.hooks?.createContainer?.length ?? 0) + (spec.hooks?.startContainer?.length ?? 0) > 0;
  if (userns || hooksNeedState) plan.add('wait_go');
  if (userns) plan.add('become_root');
  // a session of its own, as with runc and crun (the terminal, if any, is attached by `console`)
  plan.add('setsid');
  if (!input.noNewKeyring) plan.add('session_keyring', sessionKeyring(input.id));
  // after berth-oci placed us in the cgroup, so that the namespace's root is the container's cgroup
  if (newNs.includes('cgroup')) plan.add('unshare', CLONE.NEWCGROUP);
  if (spec.hostname !== undefined) plan.add('hostname', spec.hostname);
  if (spec.domainname !== undefined) plan.add('domainname', spec.domainname);
  if (newNs.includes('network')) plan.add('lo_up');
  if (proc?.oomScoreAdj !== undefined) plan.add('oom_score_adj', proc.oomScoreAdj);

  const prop = linux.rootfsPropagation;
  if (hostMounts) {
    // the host's "/" is not ours to make rslave (runc does), and the rootfs needs no bind onto
    // itself: there is no pivot_root (the validator refuses rootfsPropagation and root.readonly)
    plan.add('root_dir', input.rootfs);
  } else {
    const pre = prop === 'private' || prop === 'rprivate' ? MS.PRIVATE | MS.REC : MS.SLAVE | MS.REC;
    plan.add('propagation', '/', pre);
    plan.add('rootfs', input.rootfs);
  }

  let devIsTmpfs = false;
  for (const m of spec.mounts ?? []) {
    if (m.type === 'cgroup') {
      addCgroupMount(plan, m, input, newNs.includes('cgroup'));
      continue;
    }
    const o = parseMountOptions(m.options, m.type);
    if (m.destination === '/dev' && !o.bind) devIsTmpfs = true;
    if (o.bind) {
      const src = bindSource(m, input.bundle);
      let st;
      try {
        st = statSync(src);
      } catch {
        throw new Error(`mounts: bind source "${src}" for ${m.destination} does not exist`);
      }
      plan.add('mount', src, m.destination, '', o.flags, '', o.propagation, st.isDirectory() ? 'dir' : 'file');
    } else {
      // sysfs in a container that shares the host's network namespace must not be writable
      plan.add('mount', m.source ?? m.type ?? 'none', m.destination, m.type ?? '', o.flags, o.data.join(','), o.propagation, o.tmpcopyup ? 'tmpcopyup' : 'dir');
    }
  }
  if (devIsTmpfs) {
    // mknod needs the initial user namespace: in any other one (new or joined) bind the host's nodes
    addDevices(plan, spec, namespaces.some((n) => n.type === 'user'));
    if ((spec.mounts ?? []).some((m) => m.destination === '/dev/pts')) plan.add('symlink', 'pts/ptmx', '/dev/ptmx');
  }
  if (proc) plan.add('mkdir', proc.cwd, 0o755);

  if ((spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0) plan.add('hooks_sync');
  for (const h of spec.hooks?.createContainer ?? []) addHook(plan, h);

  if (hostMounts) {
    plan.add('chroot_dir');
  } else {
    plan.add(input.noPivot ? 'chroot' : 'pivot_root');
    if (prop && prop !== 'private' && prop !== 'rprivate') plan.add('propagation', '/', propagationFlags(prop));
  }

  for (const [key, value] of Object.entries(linux.sysctl ?? {})) plan.add('sysctl', sysctlFile(key), value);
  for (const p of linux.maskedPaths ?? []) plan.add('mask', p);
  for (const p of linux.readonlyPaths ?? []) plan.add('readonly', p);
  if (spec.root?.readonly) plan.add('remount_root', MS.RDONLY);

  if (proc) {
    for (const r of proc.rlimits ?? []) plan.add('rlimit', RLIMIT[r.type]!, u64(r.soft), u64(r.hard));
    if (proc.terminal) plan.add('console', proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0);
    addProcessSteps(plan, proc, spec, { ready: true, fifo: true, seccompLoad });
  } else {
    // runtime-spec: a config without process may be created; start then fails
    plan.add('ready');
    plan.add('close_fds');
    plan.add('wait_fifo');
    plan.add('release');
    plan.add('exec', 1, '/berth-oci: config.json has no process');
  }
  return { plan, newNamespaces: newNs, userns, hostMounts };
}

/** The container's session keyring, which its init creates and `exec` joins (runc's name). */
export function sessionKeyring(id: string): string {
  return `_ses.${id}`;
}

export interface ExecPlanInput {
  spec: Spec;
  process: Process;
  pid: number;
  /** the container's id, for its session keyring; absent: keep the caller's (--no-new-keyring at create) */
  keyringOf?: string;
  joinNamespaces: { type: string; path: string }[];
  cgroupDirs: CgroupDir[];
  consoleSocket?: string;
  preserveFds: number;
  foreground: boolean;
  /** the container shares the host's mount namespace: its root is entered with chroot, not setns */
  chrootTo?: string;
  seccompCache?: SeccompCache;
}

export function buildExecPlan(input: ExecPlanInput): Plan {
  const plan = new Plan();
  const proc = input.process;
  if (proc.terminal) {
    if (!input.consoleSocket) throw new Error('process.terminal is true but no --console-socket was given');
    plan.add('console_socket', input.consoleSocket);
  }
  plan.add('preserve_fds', input.preserveFds);
  // before any setns: paths must resolve in our own mount and cgroup namespaces
  addCgroupJoin(plan, input.cgroupDirs);
  for (const type of JOIN_ORDER) {
    const ns = input.joinNamespaces.find((n) => n.type === type);
    if (ns) plan.add('setns', ns.path, NS_FLAG[type]!);
  }
  const seccompLoad = input.spec.linux?.seccomp ? addSeccomp(plan, input.spec.linux.seccomp, input.seccompCache).loadArgs : undefined;
  plan.add('clone', 0, input.foreground ? 1 : 0);
  plan.add('setsid');
  if (input.keyringOf !== undefined) {
    // the keyring belongs to the container's root: in its user namespace, become that root first
    if (input.joinNamespaces.some((n) => n.type === 'user')) plan.add('become_root');
    plan.add('session_keyring', sessionKeyring(input.keyringOf));
  }
  if (input.chrootTo !== undefined) {
    plan.add('root_dir', input.chrootTo);
    plan.add('chroot_dir');
  }
  for (const r of proc.rlimits ?? []) plan.add('rlimit', RLIMIT[r.type]!, u64(r.soft), u64(r.hard));
  if (proc.terminal) plan.add('console', proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0);
  addProcessSteps(plan, proc, input.spec, { ready: true, fifo: false, seccompLoad });
  return plan;
}
