/**
 * linux.resources onto the container's cgroups, on whatever layout the host has. For each
 * controller: the v1 hierarchy that has it, else cgroup2 when its root offers it (this machine is
 * hybrid: most controllers on v1, hugetlb on cgroup2 when no v1 hierarchy takes it), else a
 * warning naming the resource that cannot be applied. Never a silent success that did nothing.
 *
 * v2 device rules are an eBPF program that berth-init attaches (the create plan carries it;
 * `update` runs v2/devices.ts applyDevices), so they are not written here.
 */
import type { Controller, Stats } from './controller.ts';
import type { CgroupLayout, Hierarchy } from './layout.ts';
import type { CgroupPlacement } from './placement.ts';
import type { DeviceCgroupRule, Resources, Spec } from '../spec/types.ts';
import { V1_CONTROLLERS } from './v1/index.ts';
import { V2_CONTROLLERS, enableControllers } from './v2/index.ts';
import { enabledControllers } from './v2/files.ts';

/**
 * runc 1.1's AllowedDevices: appended after the config's rules by runc (specconv), so the
 * standard nodes work under `runc spec`'s lone deny-all rule. A rule with a path is left out when
 * linux.devices has a node at that path (runc: "the spec one takes priority").
 */
const RUNC_DEFAULT_DEVICES: ReadonlyArray<{ path?: string; rule: DeviceCgroupRule }> = [
  { rule: { allow: true, type: 'c', access: 'm' } },
  { rule: { allow: true, type: 'b', access: 'm' } },
  { path: '/dev/null', rule: { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' } },
  { path: '/dev/random', rule: { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' } },
  { path: '/dev/full', rule: { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' } },
  { path: '/dev/tty', rule: { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' } },
  { path: '/dev/zero', rule: { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' } },
  { path: '/dev/urandom', rule: { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' } },
  // /dev/pts/*, /dev/ptmx, /dev/net/tun
  { rule: { allow: true, type: 'c', major: 136, access: 'rwm' } },
  { rule: { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' } },
  { rule: { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' } },
];

/** The device rules the container gets, as runc 1.1 computes them: the config's in order, then runc's defaults. */
export function effectiveDeviceRules(spec: Pick<Spec, 'linux'>): DeviceCgroupRule[] {
  const paths = new Set((spec.linux?.devices ?? []).map((d) => d.path));
  const defaults = RUNC_DEFAULT_DEVICES.filter((d) => !d.path || !paths.has(d.path)).map((d) => ({ ...d.rule }));
  return [...(spec.linux?.resources?.devices ?? []), ...defaults];
}

/** The resources of a new container: the config's, with the effective device rules. */
export function createResources(spec: Pick<Spec, 'linux'>): Resources {
  return { ...(spec.linux?.resources ?? {}), devices: effectiveDeviceRules(spec) };
}

/** One kind of setting: the v1 controller that applies it, its v2 counterpart, and its name for messages. */
interface Slot {
  v1: string;
  v2?: string;
  what: string;
  wanted(res: Resources): boolean;
}

const defined = (...xs: unknown[]) => xs.some((x) => x !== undefined);

/** In runc's order of application (cpuset first, devices early); `unified` last, so its raw values win. */
const SLOTS: readonly Slot[] = [
  { v1: 'cpuset', v2: 'cpuset', what: 'linux.resources.cpu.cpus/mems', wanted: (r) => !!(r.cpu?.cpus || r.cpu?.mems) },
  { v1: 'devices', what: 'linux.resources.devices', wanted: (r) => r.devices !== undefined },
  { v1: 'memory', v2: 'memory', what: 'linux.resources.memory', wanted: (r) => !!r.memory && Object.values(r.memory).some((v) => v !== undefined) },
  {
    v1: 'cpu', v2: 'cpu', what: 'linux.resources.cpu',
    wanted: (r) => !!r.cpu && defined(r.cpu.shares, r.cpu.quota, r.cpu.period, r.cpu.burst, r.cpu.realtimeRuntime, r.cpu.realtimePeriod, r.cpu.idle),
  },
  { v1: 'pids', v2: 'pids', what: 'linux.resources.pids', wanted: (r) => r.pids !== undefined },
  { v1: 'blkio', v2: 'io', what: 'linux.resources.blockIO', wanted: (r) => !!r.blockIO && Object.values(r.blockIO).some((v) => v !== undefined) },
  { v1: 'hugetlb', v2: 'hugetlb', what: 'linux.resources.hugepageLimits', wanted: (r) => !!r.hugepageLimits?.length },
  { v1: 'net_cls', what: 'linux.resources.network.classID', wanted: (r) => r.network?.classID !== undefined },
  { v1: 'net_prio', what: 'linux.resources.network.priorities', wanted: (r) => !!r.network?.priorities?.length },
  { v1: 'rdma', v2: 'rdma', what: 'linux.resources.rdma', wanted: (r) => !!r.rdma && Object.keys(r.rdma).length > 0 },
];

/** The container's directory in hierarchy `h`, if it has one. */
function dirIn(placement: CgroupPlacement, h: Hierarchy): string | undefined {
  return placement.dirs.find((d) => d === h.mountPoint || d.startsWith(h.mountPoint + '/'));
}

function v1With(layout: CgroupLayout, controller: string): Hierarchy | undefined {
  return layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller));
}

/** The controllers cgroup2 passes down to the container's directory (its cgroup.controllers). */
function v2Available(dir: string): Set<string> {
  return new Set(enabledControllers(dir));
}

interface Route {
  impl: Controller;
  dir: string;
}

type Routed = { route: Route } | { route?: undefined; why: string };

/**
 * Where a slot's settings go. For cgroup2, the controller is first enabled in the parents berth
 * created (never in the root: berth does not change cgroups it did not make).
 */
function route(layout: CgroupLayout, placement: CgroupPlacement, slot: Slot, warnings: string[]): Routed {
  const h1 = v1With(layout, slot.v1);
  if (h1) {
    const dir = dirIn(placement, h1);
    if (!dir) return { why: `the ${slot.v1} hierarchy (${h1.mountPoint}) was mounted after the container was created` };
    return { route: { impl: V1_CONTROLLERS.find((c) => c.name === slot.v1)!, dir } };
  }
  const u = layout.unified;
  const v2name = slot.v2;
  if (u && v2name && u.controllers.includes(v2name)) {
    const dir = dirIn(placement, u);
    if (!dir) return { why: `the container has no cgroup2 directory under ${u.mountPoint}` };
    if (!v2Available(dir).has(v2name)) {
      const parents = placement.created.filter((d) => d !== dir && dir.startsWith(d + '/')).sort((a, b) => a.length - b.length);
      warnings.push(...enableControllers(parents));
    }
    if (!v2Available(dir).has(v2name)) {
      return { why: `the ${v2name} controller is on cgroup2 here but not enabled for ${dir} (it must be in the parents' cgroup.subtree_control, and berth does not change the root cgroup's)` };
    }
    const impl = V2_CONTROLLERS.find((c) => c.name === v2name);
    if (!impl) return { why: `berth-oci has no cgroup v2 ${v2name} controller` };
    return { route: { impl, dir } };
  }
  const v1 = `no v1 ${slot.v1} hierarchy is mounted`;
  const v2 = !u ? 'there is no cgroup2 mount' : v2name ? `cgroup2 (${u.mountPoint}) does not offer ${v2name} (its cgroup.controllers: ${u.controllers.join(' ') || 'none'})` : `cgroup v2 has no ${slot.v1} controller`;
  return { why: `${v1} and ${v2}` };
}

function withContext(placement: CgroupPlacement, e: unknown): Error {
  return new Error(`cgroup ${placement.path}: ${(e as Error).message}`);
}

/** The `unified` map: cgroup v2 only, and only for controllers cgroup2 has on this host. */
function applyUnified(layout: CgroupLayout, placement: CgroupPlacement, res: Resources): string[] {
  const keys = Object.keys(res.unified ?? {});
  if (!keys.length) return [];
  const u = layout.unified;
  const dir = u && dirIn(placement, u);
  if (!u || !dir) throw new Error(`linux.resources.unified (${keys.join(', ')}): cgroup v2 only, and this host has no cgroup2 mount`);
  if (!u.controllers.length) {
    throw new Error(`linux.resources.unified (${keys.join(', ')}): cgroup v2 only, and this host's cgroup2 (${u.mountPoint}) has no controllers: they are all bound to v1 hierarchies (set the typed linux.resources fields instead)`);
  }
  for (const key of keys) {
    const controller = key.slice(0, key.indexOf('.'));
    const h1 = v1With(layout, controller);
    if (h1) throw new Error(`linux.resources.unified "${key}": the ${controller} controller is bound to cgroup v1 on this host (${h1.mountPoint}); use the typed linux.resources fields`);
  }
  const impl = V2_CONTROLLERS.find((c) => c.name === 'unified');
  if (!impl) throw new Error('linux.resources.unified: berth-oci has no cgroup v2 unified support');
  return impl.apply(dir, { unified: res.unified });
}

/**
 * Writes `res` into the container's cgroups; returns warnings for settings this host cannot
 * honour. Throws `cgroup PATH: FILE: write VALUE: REASON` on the first write the kernel refuses.
 */
export function applyResources(layout: CgroupLayout, placement: CgroupPlacement, res: Resources | undefined): string[] {
  if (!res) return [];
  const warnings: string[] = [];
  try {
    for (const slot of SLOTS) {
      if (!slot.wanted(res)) continue;
      const r = route(layout, placement, slot, warnings);
      if (!r.route) {
        // v2 device rules travel in the plan (eBPF), not through a controller here
        if (slot.v1 === 'devices' && layout.unified && dirIn(placement, layout.unified)) continue;
        warnings.push(`${slot.what}: not applied: ${r.why}`);
        continue;
      }
      warnings.push(...r.route.impl.apply(r.route.dir, res));
    }
    warnings.push(...applyUnified(layout, placement, res));
  } catch (e) {
    throw withContext(placement, e);
  }
  return warnings;
}

/** runc-shaped statistics of the container from every hierarchy that has its controllers. */
export function collectStats(layout: CgroupLayout, placement: CgroupPlacement): Stats {
  const stats: Stats = {};
  const done = new Set<string>();
  for (const impl of V1_CONTROLLERS) {
    const h = v1With(layout, impl.name);
    const dir = h && dirIn(placement, h);
    if (!dir || !impl.stats) continue;
    impl.stats(dir, stats);
    done.add(impl.name === 'blkio' ? 'io' : impl.name);
  }
  const u = layout.unified;
  const dir = u && dirIn(placement, u);
  if (dir) {
    for (const impl of V2_CONTROLLERS) {
      if (done.has(impl.name) || !impl.stats) continue;
      if (impl.name !== 'cpu' && !u.controllers.includes(impl.name)) continue;
      // v1 cpuacct counts the CPU time; cgroup2's cpu.stat (always there) is the fallback
      if (impl.name === 'cpu' && done.has('cpuacct')) continue;
      impl.stats(dir, stats);
    }
  }
  return stats;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * `update`: the stored resources with `change` merged in, as runc merges (fields given replace
 * the stored ones; an unlimited memory limit without a swap setting lifts swap too; empty
 * cpus/mems change nothing; device rules and hugepage limits replace per list/page size).
 */
export function mergeResources(old: Resources | undefined, change: Resources): Resources {
  const out: Resources = structuredClone(old ?? {});
  if (change.memory) {
    const m = definedOnly(change.memory);
    if (m.limit === -1 && m.swap === undefined) m.swap = -1;
    out.memory = { ...out.memory, ...m };
  }
  if (change.cpu) {
    const c = definedOnly(change.cpu);
    if (!c.cpus) delete c.cpus;
    if (!c.mems) delete c.mems;
    out.cpu = { ...out.cpu, ...c };
  }
  if (change.pids) out.pids = { ...change.pids };
  if (change.blockIO) out.blockIO = { ...out.blockIO, ...definedOnly(change.blockIO) };
  if (change.hugepageLimits) {
    const bySize = new Map((out.hugepageLimits ?? []).map((h) => [h.pageSize, h]));
    for (const h of change.hugepageLimits) bySize.set(h.pageSize, h);
    out.hugepageLimits = [...bySize.values()];
  }
  if (change.network) out.network = { ...out.network, ...definedOnly(change.network) };
  if (change.rdma) out.rdma = { ...out.rdma, ...change.rdma };
  if (change.unified) out.unified = { ...out.unified, ...change.unified };
  if (change.devices) out.devices = [...change.devices];
  return out;
}

/**
 * What an `update` writes: from the merged resources, the settings `change` names, plus the
 * ones the kernel checks them against (memory limit with swap, CFS quota with period).
 */
export function updateWrites(merged: Resources, change: Resources): Resources {
  const out: Resources = {};
  const pick = <T extends object>(from: T | undefined, keys: Iterable<string>): T => {
    const o: Record<string, unknown> = {};
    for (const k of keys) if (from && (from as Record<string, unknown>)[k] !== undefined) o[k] = (from as Record<string, unknown>)[k];
    return o as T;
  };
  if (change.memory) {
    const keys = new Set(Object.keys(definedOnly(change.memory)));
    if (keys.has('limit') || keys.has('swap')) keys.add('limit').add('swap');
    out.memory = pick(merged.memory, keys);
  }
  if (change.cpu) {
    const keys = new Set(Object.keys(definedOnly(change.cpu)));
    if (keys.has('quota') || keys.has('period')) keys.add('quota').add('period');
    out.cpu = pick(merged.cpu, keys);
  }
  if (change.pids) out.pids = merged.pids!;
  if (change.blockIO) out.blockIO = pick(merged.blockIO, Object.keys(definedOnly(change.blockIO)));
  if (change.hugepageLimits) out.hugepageLimits = change.hugepageLimits;
  if (change.network) out.network = change.network;
  if (change.rdma) out.rdma = change.rdma;
  if (change.unified) out.unified = change.unified;
  if (change.devices) out.devices = merged.devices!;
  return out;
}
