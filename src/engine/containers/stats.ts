/**
 * `GET /containers/{id}/stats`: docker's StatsJSON (API v1.41) from the container's cgroups,
 * whichever hierarchy has each controller (v1, cgroup2 or both on a hybrid host), as the
 * runtime's statistics read them, plus the host's CPU time for the CPU percentage clients
 * compute (system_cpu_usage, online_cpus). Like dockerd, a memory limit above the machine's
 * memory (v1's "unlimited", cgroup2's "max") is reported as the machine's memory.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';

import type { Stats } from '../../runtime/cgroups/controller.ts';
import { detectLayout, type CgroupLayout } from '../../runtime/cgroups/layout.ts';
import { collectStats } from '../../runtime/cgroups/resources.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { ZERO_TIME, isRunningStatus, nowRfc3339 } from './types.ts';

/** what dockerd collects a container's statistics every (its collector's interval) */
export const STATS_INTERVAL_MS = 1000;

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux docker supports */
const CLOCK_TICKS = 100;

let layout: CgroupLayout | undefined;

/** docker's getSystemCPUUsage: the host's CPU time in ns (/proc/stat's cpu line), and the CPUs online. */
async function systemCpu(): Promise<{ usage: number; online: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  let usage = 0;
  let online = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') usage = f.slice(1, 8).reduce((s, v) => s + Number(v), 0) * (1e9 / CLOCK_TICKS);
    else if (/^cpu\d+$/.test(f[0] ?? '')) online++;
  }
  return { usage, online };
}

const BLKIO: Record<string, string> = {
  ioServiceBytesRecursive: 'io_service_bytes_recursive', ioServicedRecursive: 'io_serviced_recursive', ioQueueRecursive: 'io_queue_recursive',
  ioServiceTimeRecursive: 'io_service_time_recursive', ioWaitTimeRecursive: 'io_wait_time_recursive', ioMergedRecursive: 'io_merged_recursive',
  ioTimeRecursive: 'io_time_recursive', sectorsRecursive: 'sectors_recursive',
};

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface StatsJson {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, { major: number; minor: number; op: string; value: number }[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  name: string;
  id: string;
}

const emptyCpu = (): CpuStats => ({ cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });

/** The zero-valued answer dockerd gives for a container that is not running. */
export function emptyStats(l: Loaded): StatsJson {
  const blkio = Object.fromEntries(Object.values(BLKIO).map((k) => [k, null]));
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {}, blkio_stats: blkio, num_procs: 0, storage_stats: {},
    cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {}, name: l.rec.name, id: l.rec.id,
  };
}

function dockerStats(s: Stats, sys: { usage: number; online: number }, l: Loaded, machineMemory: number): StatsJson {
  const u = s.cpu?.usage;
  const t = s.cpu?.throttling;
  const blkio: StatsJson['blkio_stats'] = {};
  for (const [from, to] of Object.entries(BLKIO)) {
    const list = s.blkio?.[from];
    blkio[to] = list?.length ? list.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value })) : null;
  }
  const m = s.memory;
  const memory: StatsJson['memory_stats'] = {};
  if (m) {
    memory.usage = m.usage.usage;
    if (m.usage.max) memory.max_usage = m.usage.max;
    memory.stats = m.raw ?? {};
    if (m.usage.failcnt) memory.failcnt = m.usage.failcnt;
    memory.limit = m.usage.limit > 0 && m.usage.limit <= machineMemory ? m.usage.limit : machineMemory;
  }
  return {
    read: nowRfc3339(), preread: ZERO_TIME,
    pids_stats: s.pids ? { current: s.pids.current, ...(s.pids.limit > 0 && { limit: s.pids.limit }) } : {},
    blkio_stats: blkio, num_procs: 0, storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: u?.total ?? 0, ...(u?.percpu?.length && { percpu_usage: u.percpu }),
        usage_in_kernelmode: u?.kernel ?? 0, usage_in_usermode: u?.user ?? 0,
      },
      system_cpu_usage: sys.usage, online_cpus: sys.online,
      throttling_data: { periods: t?.periods ?? 0, throttled_periods: t?.throttledPeriods ?? 0, throttled_time: t?.throttledTime ?? 0 },
    },
    precpu_stats: emptyCpu(),
    memory_stats: memory,
    name: l.rec.name, id: l.rec.id,
  };
}

/** One sample of a running container's statistics, or undefined when it has no cgroup (not running). */
export async function sampleStats(ctx: ContainerContext, l: Loaded): Promise<StatsJson | undefined> {
  if (!isRunningStatus(l.rec.state.Status)) return undefined;
  let placement;
  try {
    placement = await ctx.runtimeOf(l.rec).cgroup(l.rec.id);
  } catch {
    return undefined;
  }
  layout ??= detectLayout();
  const sys = await systemCpu();
  return dockerStats(collectStats(layout, placement), sys, l, totalmem());
}

/**
 * dockerd's stats loop: a sample every second, each with the one before as precpu/preread.
 * `stream` false sends one sample that already has its precpu (the second one, as dockerd
 * primes it), `oneShot` with it sends the first sample at once. Ends when `closed()` or the
 * container stops (a stopped container gets dockerd's zero-valued answer once).
 */
export async function streamStats(ctx: ContainerContext, l: Loaded, o: { stream: boolean; oneShot: boolean }, send: (s: StatsJson) => void, closed: () => boolean): Promise<void> {
  let pre: StatsJson | undefined;
  let first = true;
  for (;;) {
    if (closed()) return;
    const s = await sampleStats(ctx, l);
    if (!s) {
      if (first) send(emptyStats(l));
      return;
    }
    if (pre) {
      s.precpu_stats = pre.cpu_stats;
      s.preread = pre.read;
    }
    pre = s;
    const primed = !first || (o.oneShot && !o.stream);
    first = false;
    if (o.stream || primed) {
      send(s);
      if (!o.stream) return;
    }
    await new Promise((r) => setTimeout(r, STATS_INTERVAL_MS));
  }
}
