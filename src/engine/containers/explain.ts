/**
 * `explain`: the seed's "What docker run actually does" for one container, its 9 steps with the
 * values read back from where they live, not from what was asked for: the image store (layers,
 * snapshots), the host's mount table (the overlay as mounted), the running init's /proc (its
 * namespaces, capabilities, seccomp mode, network devices, mount table) and cgroup files (the
 * limits as the kernel holds them), the monitor's /proc entry, and the runtime's creation trace
 * (every call berth-init made, with its time), plus the engine's own clocks around it. A stopped
 * container still explains itself from the copy of the trace kept at start and its config.json;
 * what only the live process could say is then null.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type BundleRecord, chainIds, detectMediaType, type Digest, layerRefs, parseManifest } from '../../image/index.ts';
import { DEFAULT_CAPS } from '../../runtime/caps.ts';
import { detectLayout, type CgroupLayout } from '../../runtime/cgroups/layout.ts';
import type { Spec } from '../../runtime/spec/types.ts';
import { readTrace, type TraceStep } from '../../runtime/trace.ts';
import type { ContainerContext } from './context.ts';
import type {
  CgroupFile, CgroupLimits, CgroupStep, DirectoryStep, ExecStep, Explanation, ImageStep, LayerInfo, MonitorInfo, NamespaceInfo,
  NamespaceStep, NetworkStep, OverlayStep, Phase, RootfsStep, SecurityStep, SeccompRuleInfo, TraceEntry,
} from './explain-types.ts';
import { capNames, netDevices, netRoutes, nsInode, overlayDirs, parseMountInfo, procStatus, readOr, statusCaps } from './explain-proc.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export type { Explanation } from './explain-types.ts';

const TITLES = [
  '', 'Pull image layers', 'Create container directory', 'clone() with namespaces', 'Set up cgroups', 'Mount overlay filesystem',
  'pivot_root(): switch to the container filesystem', 'Configure network', 'Apply security (capabilities, seccomp)', 'execve(): run the application',
];

/** steps of the trace that span others (node-side umbrellas) or only wait: not counted in a step's time */
const NOT_WORK = new Set(['spawn', 'plan', 'wait_fifo', 'wait_go']);

function seedStepOf(s: TraceStep): number {
  switch (s.stage) {
    case 'prepare': return 2;
    case 'clone': return 3;
    case 'cgroups': return 4;
    case 'rootfs': return s.step === 'rootfs' ? 5 : 6;
    case 'pivot_root': case 'hooks': return 6;
    case 'network': return 7;
    case 'security': return 8;
    default: return 9;
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

const NS_PROC: Readonly<Record<string, string>> = { pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time' };

/** syscalls worth naming in the seccomp summary: what a container must not do unprivileged */
const NOTABLE_SYSCALLS = [
  'mount', 'umount2', 'reboot', 'kexec_load', 'init_module', 'delete_module', 'keyctl', 'add_key', 'bpf', 'unshare', 'setns', 'clone3',
  'ptrace', 'swapon', 'pivot_root', 'chroot', 'open_by_handle_at', 'perf_event_open', 'userfaultfd', 'personality',
];

export async function explainContainer(ctx: ContainerContext, l: Loaded): Promise<Explanation> {
  const { rec, hostConfig } = l;
  const id = rec.id;
  const dir = ctx.store.dir(id);
  const bundle = ctx.bundleDir(id);
  const running = isRunningStatus(rec.state.Status) && rec.state.Pid > 0;
  const pid = running ? rec.state.Pid : 0;
  const status = pid ? await procStatus(pid) : null;
  const live = status !== null;

  const spec = await readJson<Spec>(join(bundle, 'config.json'));
  const trace = await containerTrace(ctx, id, running);
  const t0 = trace[0]?.start ?? 0;
  const entries: TraceEntry[] = trace.map((s) => ({
    seedStep: seedStepOf(s), step: s.step, stage: s.stage, atMs: round(s.start - t0), tookMs: round(Math.max(0, s.end - s.start)),
    result: s.result, detail: s.detail,
  }));
  const traceMs = (n: number, only?: (s: TraceEntry) => boolean): number | null => {
    const xs = entries.filter((e) => e.seedStep === n && !NOT_WORK.has(e.step) && (!only || only(e)));
    return xs.length ? round(xs.reduce((a, e) => a + e.tookMs, 0)) : null;
  };
  const sum = (...xs: (number | null | undefined)[]): number | null => {
    const ns = xs.filter((x): x is number => typeof x === 'number');
    return ns.length ? round(ns.reduce((a, b) => a + b, 0)) : null;
  };
  const createT = rec.timings?.create ?? {};
  const startT = rec.timings?.start ?? {};

  const image = await imageStep(ctx, bundle, rec.imageName, rec.image);
  image.tookMs = sum(createT.image, createT.resolve, createT.layers);

  const runtimeStateDir = ctx.runtime.store.dir(id);
  const mon = ctx.monitorOptions(id, !!rec.config.Tty, false, false, {});
  const directory: DirectoryStep = {
    step: 2, title: TITLES[2]!, tookMs: sum(createT.directory, traceMs(2)), dir, bundle, configJson: join(bundle, 'config.json'),
    logPath: rec.logPath, runDir: ctx.runDir(id), runtimeStateDir,
    etcFiles: { ...(rec.hostnamePath && { hostname: rec.hostnamePath }), ...(rec.hostsPath && { hosts: rec.hostsPath }), ...(rec.resolvConfPath && { resolvConf: rec.resolvConfPath }) },
  };

  const modes: Record<string, string | undefined> = {
    net: hostConfig.NetworkMode, ipc: hostConfig.IpcMode, pid: hostConfig.PidMode, uts: hostConfig.UTSMode, cgroup: hostConfig.CgroupnsMode,
  };
  const namespaces = await namespaceStep(spec, pid, live, modes, entries);
  namespaces.tookMs = traceMs(3);

  const cgroups = await cgroupStep(spec, pid, live);
  cgroups.tookMs = traceMs(4);

  const overlay = await overlayStep(join(bundle, 'rootfs'), image.layers.map((x) => x.dir));
  overlay.tookMs = sum(createT.overlay, traceMs(5));

  const rootfs = await rootfsStep(spec, pid, live, rec.mounts ?? [], entries);
  rootfs.tookMs = traceMs(6);

  const netns = namespaces.namespaces.find((n) => n.type === 'net');
  const requested = hostConfig.NetworkMode || 'default';
  const eps = rec.endpoints ?? [];
  const v4 = eps.find((e) => e.lease.v4)?.lease.v4;
  const network: NetworkStep = {
    step: 7, title: TITLES[7]!, tookMs: traceMs(7),
    mode: requested === 'host' || requested.startsWith('container:') || requested === 'none' ? requested : eps.length > 0 ? 'bridge' : 'none',
    requested, hostname: spec?.hostname ?? rec.config.Hostname ?? '',
    netns: netns?.mode ?? null, sandbox: live ? rec.sandboxKey ?? null : null, interfaces: live ? await netDevices(pid) : null,
    endpoints: eps.map((e) => {
      const net = ctx.net.lookup(e.networkId);
      return {
        network: e.networkName, bridge: net?.bridge ?? '', hostVeth: e.hostIfname, containerIf: e.ifname, mac: e.mac,
        ipv4: e.lease.v4 ? `${e.lease.v4.address}/${e.lease.v4.prefix}` : '', gateway: e.lease.v4?.gateway ?? '',
        ipv6: e.lease.v6 ? `${e.lease.v6.address}/${e.lease.v6.prefix}` : '',
        dns: net && !net.builtin && e.lease.v4 ? `${e.lease.v4.gateway}:53 (berthd)` : null,
      };
    }),
    routes: live ? await netRoutes(pid) : null,
    ports: live && v4 ? ctx.net.published(id).map((p) => ({
      proto: p.proto, host: `${p.hostIp || '*'}:${p.hostPort}`, target: `${v4.address}:${p.containerPort}`, table: `inet ${ctx.net.firewall.table}`,
    })) : [],
    timings: rec.timings?.network ?? null,
  };

  const security = securityStep(spec, status, !!hostConfig.Privileged, trace);
  security.tookMs = traceMs(8);

  const execNote = trace.filter((s) => s.step === 'exec').at(-1);
  const cmdline = live ? await readOr(`/proc/${pid}/cmdline`) : null;
  const exec: ExecStep = {
    step: 9, title: TITLES[9]!, tookMs: traceMs(9), path: rec.path, args: rec.args,
    execve: execNote ? execNote.detail : null, execAt: execNote ? new Date(execNote.start).toISOString() : null,
    cmdline: cmdline === null ? null : cmdline.split('\0').filter((x, i, a) => x !== '' || i < a.length - 1),
    cwd: spec?.process?.cwd ?? rec.config.WorkingDir ?? '/', env: spec?.process?.env?.length ?? 0,
  };

  const monitorPid = rec.monitorPid ?? null;
  const monStatus = monitorPid && (await monitorAlive(monitorPid, id)) ? await procStatus(monitorPid) : null;
  const monitor: MonitorInfo = {
    pid: monitorPid, alive: monStatus !== null, rssKiB: monStatus ? Number.parseInt(monStatus.get('VmRSS') ?? '', 10) || null : null,
    logPath: rec.logPath, attachSocket: mon.attachSocket, ctlSocket: mon.ctlSocket, exitPath: mon.exitPath,
  };

  const phases = (t: Record<string, number>): Phase[] => Object.entries(t).map(([name, ms]) => ({ name, ms }));
  const total = (t: Record<string, number>): number | null => (Object.keys(t).length ? round(Object.values(t).reduce((a, b) => a + b, 0)) : null);
  const execMs = execNote?.start;
  const startAt = rec.timings?.startAt;
  const createAt = rec.timings?.createAt;
  return {
    id, name: rec.name.replace(/^\//, ''), status: rec.state.Status, pid: rec.state.Pid,
    exitCode: isRunningStatus(rec.state.Status) || !rec.hasBeenStarted ? null : rec.state.ExitCode,
    created: rec.created, startedAt: rec.state.StartedAt, finishedAt: rec.state.FinishedAt, live,
    startup: {
      create: phases(createT), start: phases(startT), createMs: total(createT), startMs: total(startT),
      startToExecMs: execMs !== undefined && startAt !== undefined && execMs >= startAt ? round(execMs - startAt) : null,
      createToExecMs: execMs !== undefined && createAt !== undefined && rec.restartCount === 0 && execMs >= createAt ? round(execMs - createAt) : null,
    },
    steps: { image, directory, namespaces, cgroups, overlay, rootfs, network, security, exec },
    monitor,
    trace: entries,
  };
}

async function readJson<T>(path: string): Promise<T | null> {
  const text = await readOr(path);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * The trace of the latest start: the runtime's own while it holds the container (it is the one
 * being written during a start), else the copy kept in the container's directory.
 */
async function containerTrace(ctx: ContainerContext, id: string, running: boolean): Promise<TraceStep[]> {
  const own = running ? readTrace(ctx.runtime.store.tracePath(id)) : [];
  return own.length ? own : readTrace(join(ctx.store.dir(id), 'trace.log'));
}

async function monitorAlive(pid: number, id: string): Promise<boolean> {
  // a recycled pid is not the monitor: its command line names the container's directory
  const cmd = await readOr(`/proc/${pid}/cmdline`);
  return cmd !== null && cmd.includes(id);
}

async function imageStep(ctx: ContainerContext, bundle: string, requested: string, imageId: string): Promise<ImageStep> {
  const step: ImageStep = { step: 1, title: TITLES[1]!, tookMs: null, requested, name: requested, id: imageId, manifestDigest: '', layers: [] };
  const b = await readJson<BundleRecord>(join(bundle, '.berth', 'bundle.json'));
  if (!b) return step;
  Object.assign(step, { name: b.image, id: b.configDigest, manifestDigest: b.manifestDigest });
  try {
    const mbytes = await ctx.stores.content.readAll(b.manifestDigest);
    const manifest = parseManifest(mbytes, detectMediaType(mbytes, undefined), `manifest ${b.manifestDigest}`);
    const refs = layerRefs(manifest.layers, await ctx.stores.content.readAll(manifest.config.digest), `config ${manifest.config.digest}`);
    const ids = chainIds(refs.map((r) => r.diffId));
    step.layers = await Promise.all(refs.map(async (r, i): Promise<LayerInfo> => {
      const chainId = ids[i]!;
      const present = await ctx.stores.snapshots.has(chainId);
      return {
        index: i, digest: r.digest, mediaType: r.mediaType, compressedSize: manifest.layers[i]!.size, diffId: r.diffId, chainId,
        dir: ctx.stores.snapshots.lowerDir(chainId), size: present ? ((await ctx.stores.snapshots.unpackedSize(chainId)) ?? null) : null, present,
      };
    }));
  } catch {
    // the image's blobs went (the container keeps its snapshots): the chain IDs the bundle recorded
    step.layers = b.chainIds.map((chainId: Digest, i) => ({
      index: i, digest: '', mediaType: '', compressedSize: 0, diffId: '', chainId, dir: ctx.stores.snapshots.lowerDir(chainId), size: null, present: true,
    }));
  }
  return step;
}

async function namespaceStep(spec: Spec | null, pid: number, live: boolean, modes: Record<string, string | undefined>, trace: TraceEntry[]): Promise<NamespaceStep> {
  const wanted = new Map((spec?.linux?.namespaces ?? []).map((n) => [NS_PROC[n.type] ?? n.type, n.path]));
  const out: NamespaceInfo[] = [];
  for (const type of ['pid', 'net', 'mnt', 'ipc', 'uts', 'user', 'cgroup', 'time']) {
    const inode = live ? await nsInode(`/proc/${pid}/ns/${type}`) : null;
    const hostInode = await nsInode(`/proc/self/ns/${type}`);
    if (inode === null && hostInode === null) continue; // not in this kernel
    const path = wanted.get(type);
    const joinedName = modes[type]?.startsWith('container:') ? modes[type] : undefined;
    let mode: NamespaceInfo['mode'];
    if (live && inode !== null) mode = inode === hostInode ? 'host' : path ? 'joined' : 'new';
    else mode = !wanted.has(type) ? 'host' : path ? 'joined' : 'new';
    out.push({ type, mode, ...(mode === 'joined' && { joined: joinedName ?? path! }), inode, hostInode });
  }
  const clone = trace.find((e) => e.step === 'clone');
  return { step: 3, title: TITLES[3]!, tookMs: null, clone: clone?.detail ?? null, namespaces: out, source: live ? `/proc/${pid}/ns` : 'config.json' };
}

const UNLIMITED = 2 ** 62;

function num(v: string | undefined | null): number | null {
  if (v === undefined || v === null) return null;
  const t = v.trim();
  if (t === '' || t === 'max' || !/^-?\d+$/.test(t)) return null;
  const n = Number(t);
  return n < 0 || n >= UNLIMITED ? null : n;
}

/** where a controller's files are: its v1 hierarchy, else the unified one (hybrid hosts have both) */
function controllerDir(layout: CgroupLayout, paths: Map<string, string>, controller: string): { dir: string; v2: boolean } | undefined {
  const v1 = layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller));
  if (v1) {
    const p = paths.get(v1.name);
    return p === undefined ? undefined : { dir: join(v1.mountPoint, p), v2: false };
  }
  const u = layout.unified;
  if (u && u.controllers.includes(controller)) {
    const p = paths.get('unified');
    return p === undefined ? undefined : { dir: join(u.mountPoint, p), v2: true };
  }
  return undefined;
}

async function cgroupStep(spec: Spec | null, pid: number, live: boolean): Promise<CgroupStep> {
  const layout = detectLayout();
  const r = spec?.linux?.resources;
  const configured: CgroupLimits = {
    memoryBytes: num(r?.memory?.limit?.toString()), memorySwapBytes: num(r?.memory?.swap?.toString()),
    cpuQuotaUs: num(r?.cpu?.quota?.toString()), cpuPeriodUs: num(r?.cpu?.period?.toString()), cpuShares: num(r?.cpu?.shares?.toString()),
    pids: num(r?.pids?.limit?.toString()), cpusetCpus: r?.cpu?.cpus || null, cpusetMems: r?.cpu?.mems || null,
  };
  const step: CgroupStep = {
    step: 4, title: TITLES[4]!, tookMs: null, layout: layout.kind, cgroupsPath: spec?.linux?.cgroupsPath ?? '', paths: [], readBack: null, files: [], configured,
  };
  const text = live ? await readOr(`/proc/${pid}/cgroup`) : null;
  if (text === null) return step;
  // `ID:controllers:path`; `0::path` is the unified hierarchy
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const name = m[2] === '' ? 'unified' : m[2]!;
    paths.set(name, m[3]!);
  }
  for (const h of layout.hierarchies) {
    const p = paths.get(h.name);
    if (p !== undefined) step.paths.push({ hierarchy: h.name, dir: join(h.mountPoint, p) });
  }
  const files: CgroupFile[] = [];
  const read = async (controller: string, v1: string, v2: string): Promise<string | null> => {
    const d = controllerDir(layout, paths, controller);
    if (!d) return null;
    const path = join(d.dir, d.v2 ? v2 : v1);
    const v = await readOr(path);
    if (v === null) return null;
    files.push({ path, value: v.trim() });
    return v.trim();
  };
  const cpuMax = controllerDir(layout, paths, 'cpu')?.v2 ? (await read('cpu', '', 'cpu.max'))?.split(' ') : undefined;
  step.readBack = {
    memoryBytes: num(await read('memory', 'memory.limit_in_bytes', 'memory.max')),
    memorySwapBytes: num(await read('memory', 'memory.memsw.limit_in_bytes', 'memory.swap.max')),
    cpuQuotaUs: cpuMax ? num(cpuMax[0]) : num(await read('cpu', 'cpu.cfs_quota_us', '')),
    cpuPeriodUs: cpuMax ? num(cpuMax[1]) : num(await read('cpu', 'cpu.cfs_period_us', '')),
    cpuShares: num(await read('cpu', 'cpu.shares', 'cpu.weight')),
    pids: num(await read('pids', 'pids.max', 'pids.max')),
    cpusetCpus: (await read('cpuset', 'cpuset.cpus', 'cpuset.cpus.effective')) || null,
    cpusetMems: (await read('cpuset', 'cpuset.mems', 'cpuset.mems.effective')) || null,
  };
  step.files = files;
  return step;
}

async function overlayStep(mountpoint: string, imageDirs: string[]): Promise<OverlayStep> {
  const info = parseMountInfo((await readOr('/proc/self/mountinfo')) ?? '').filter((m) => m.mountPoint === mountpoint && m.fstype === 'overlay').at(-1);
  const step: OverlayStep = {
    step: 5, title: TITLES[5]!, tookMs: null, mountpoint, mounted: !!info, lowerdirs: [], upperdir: null, workdir: null, options: info?.superOptions ?? null, matchesImage: false,
  };
  if (!info) return step;
  const d = overlayDirs(info.superOptions);
  Object.assign(step, { lowerdirs: d.lowers, upperdir: d.upper, workdir: d.work });
  step.matchesImage = imageDirs.length > 0 && imageDirs.length === d.lowers.length && imageDirs.every((x, i) => x === d.lowers[i]);
  return step;
}

async function rootfsStep(spec: Spec | null, pid: number, live: boolean, recMounts: unknown[], trace: TraceEntry[]): Promise<RootfsStep> {
  const step: RootfsStep = {
    step: 6, title: TITLES[6]!, tookMs: null,
    switchedBy: trace.some((e) => e.step === 'pivot_root') ? 'pivot_root' : trace.some((e) => e.step === 'chroot_dir' || e.step === 'chroot') ? 'chroot' : null,
    readonly: !!spec?.root?.readonly, mounts: [], userMounts: [],
    maskedPaths: spec?.linux?.maskedPaths ?? [], readonlyPaths: spec?.linux?.readonlyPaths ?? [],
  };
  const text = live ? await readOr(`/proc/${pid}/mountinfo`) : null;
  if (text !== null) {
    step.mounts = parseMountInfo(text).map((m) => ({ destination: m.mountPoint, type: m.fstype, source: m.source, options: m.mountOptions }));
  } else {
    step.mounts = (spec?.mounts ?? []).map((m) => ({ destination: m.destination, type: m.type ?? 'bind', source: m.source ?? '', options: (m.options ?? []).join(',') }));
  }
  for (const m of recMounts) {
    const o = m as Record<string, unknown>;
    const s = (k: string): string => String(o[k] ?? o[k[0]!.toUpperCase() + k.slice(1)] ?? '');
    const rw = o.rw ?? o.RW;
    step.userMounts.push({ type: s('type'), source: s('source'), destination: s('destination'), rw: rw === undefined ? true : !!rw });
  }
  return step;
}

function securityStep(spec: Spec | null, status: Map<string, string> | null, privileged: boolean, trace: TraceStep[]): SecurityStep {
  const step: SecurityStep = {
    step: 8, title: TITLES[8]!, tookMs: null, source: status ? '/proc/PID/status' : 'trace', privileged, capabilities: null,
    droppedFromDefault: [], addedToDefault: [], seccomp: { mode: null, filters: null, profile: null, notable: [] }, noNewPrivs: null, user: null,
  };
  if (status) {
    step.capabilities = {
      effective: statusCaps(status.get('CapEff')), permitted: statusCaps(status.get('CapPrm')), inheritable: statusCaps(status.get('CapInh')),
      bounding: statusCaps(status.get('CapBnd')), ambient: statusCaps(status.get('CapAmb')),
    };
    step.seccomp.mode = num(status.get('Seccomp'));
    step.seccomp.filters = num(status.get('Seccomp_filters'));
    step.noNewPrivs = status.get('NoNewPrivs') === '1';
    const ids = (k: string): number[] => (status.get(k) ?? '').split(/\s+/).filter(Boolean).map(Number);
    step.user = { uid: ids('Uid'), gid: ids('Gid'), groups: ids('Groups') };
  } else if (trace.length) {
    // the values berth-init passed to the kernel, as the trace recorded them
    const set = trace.filter((s) => s.step === 'cap_set').at(-1);
    const bnd = trace.filter((s) => s.step === 'cap_bounding').at(-1);
    const amb = trace.filter((s) => s.step === 'cap_ambient').at(-1);
    if (set) {
      step.source = 'trace: the sets berth-init gave the init before execve (CAP_SYS_ADMIN kept only to load the seccomp filter, absent from the bounding set)';
      step.capabilities = {
        effective: capNames(set.args[0] ?? '0'), permitted: capNames(set.args[1] ?? '0'), inheritable: capNames(set.args[2] ?? '0'),
        bounding: bnd ? capNames(bnd.args[0] ?? '0') : [], ambient: amb ? capNames(amb.args[0] ?? '0') : [],
      };
    }
    step.seccomp.mode = trace.some((s) => s.step === 'seccomp_load') ? 2 : 0;
    step.noNewPrivs = trace.some((s) => s.step === 'no_new_privs');
    const u = trace.filter((s) => s.step === 'user').at(-1);
    if (u) step.user = { uid: [Number(u.args[0])], gid: [Number(u.args[1])], groups: u.args.slice(4).map(Number) };
  }
  if (step.capabilities) {
    // the trace's capset is the init's before execve, with CAP_SYS_ADMIN kept to load the filter
    // (src/runtime/plan/build.ts): there the bounding set is what the program could get
    const have = status ? step.capabilities.effective : step.capabilities.bounding;
    step.droppedFromDefault = DEFAULT_CAPS.filter((c) => !have.includes(c));
    step.addedToDefault = have.filter((c) => !DEFAULT_CAPS.includes(c));
  }
  const sc = spec?.linux?.seccomp;
  if (sc) {
    const rules = sc.syscalls ?? [];
    step.seccomp.profile = {
      defaultAction: actionName(sc.defaultAction, sc.defaultErrnoRet), rules: rules.length,
      syscalls: new Set(rules.flatMap((r) => r.names)).size, architectures: sc.architectures ?? [],
    };
    step.seccomp.notable = NOTABLE_SYSCALLS.map((name): SeccompRuleInfo => {
      const hits = rules.filter((r) => r.names.includes(name));
      const plain = hits.find((r) => !r.args?.length);
      if (plain) return { syscall: name, action: actionName(plain.action, plain.errnoRet) };
      if (hits.length) return { syscall: name, action: `${actionName(hits[0]!.action, hits[0]!.errnoRet)} if args match, else ${actionName(sc.defaultAction, sc.defaultErrnoRet)}` };
      return { syscall: name, action: actionName(sc.defaultAction, sc.defaultErrnoRet) };
    });
  }
  return step;
}

function actionName(action: string, errnoRet: number | undefined): string {
  return action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE' ? `${action}(${errnoRet ?? 1})` : action;
}
