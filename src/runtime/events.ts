/**
 * `berth-oci events`: runc 1.1's container events. Statistics as runc's types.Stats, one JSON
 * object a line ({"type":"stats","id":…,"data":{…}}) every --interval, or once with --stats, and
 * {"type":"oom","id":…} as soon as the kernel OOM-kills something in the container.
 *
 * OOM kills are seen by polling the cgroup's counters (see cgroups/oom.ts) every 100 ms,
 * independently of the stats interval; the command ends once the container's init has exited
 * (after a last look at the counters, so that an OOM kill of the init itself is reported).
 *
 * The statistics are collectStats' (cgroups/resources.ts: each controller from the v1 hierarchy
 * that has it, else cgroup2), plus the few fields runc prints that Stats does not carry
 * (percpu_kernel/percpu_user, kernelTCP, cpuset), read here from the v1 files.
 */
import { readFileSync } from 'node:fs';
import type { CgroupLayout } from './cgroups/layout.ts';
import type { CgroupPlacement } from './cgroups/placement.ts';
import type { Stats } from './cgroups/controller.ts';
import { oomFile, readOomCounters, type OomCounters } from './cgroups/oom.ts';
import { collectStats } from './cgroups/resources.ts';

/** uint64 max: what runc prints for cgroup2's "max" */
const U64_MAX = 18446744073709551615n;

// --- reading cgroup files -----------------------------------------------------------------

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A number file; "max" (cgroup2) is uint64 max. Undefined if the file is missing. */
function num(file: string): number | undefined {
  const t = read(file)?.trim();
  if (t === undefined || t === '') return undefined;
  if (t === 'max') return Number(U64_MAX);
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "0-2,4" → [0, 1, 2, 4] */
function cpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

// --- what Stats does not carry ------------------------------------------------------------

/** Fields runc prints that the Controller interface's Stats does not carry (v1 only). */
export interface StatsExtra {
  percpuKernel?: number[];
  percpuUser?: number[];
  kernelTCP?: { limit: number; usage: number; max: number; failcnt: number };
  cpuset?: {
    cpus: number[]; cpu_exclusive: number; mems: number[]; mem_hardwall: number; mem_exclusive: number;
    memory_migrate: number; memory_spread_page: number; memory_spread_slab: number; memory_pressure: number;
    sched_load_balance: number; sched_relax_domain_level: number;
  };
}

/** The container's directory in the v1 hierarchy that has `controller`. */
function v1Dir(layout: CgroupLayout, placement: CgroupPlacement, controller: string): string | undefined {
  const h = layout.hierarchies.find((x) => x.version === 1 && x.controllers.includes(controller));
  return h && placement.dirs.find((d) => d.startsWith(h.mountPoint + '/'));
}

/** runc's percpu_kernel/percpu_user (cpuacct.usage_all), kernelTCP (memory.kmem.tcp.*) and cpuset stats. */
export function readExtra(layout: CgroupLayout, placement: CgroupPlacement): StatsExtra {
  const extra: StatsExtra = {};
  const acct = v1Dir(layout, placement, 'cpuacct');
  const all = acct && read(`${acct}/cpuacct.usage_all`);
  if (all) {
    // "cpu user system" then a line per cpu, in ns
    const rows = all.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).map(Number));
    extra.percpuUser = rows.map((r) => r[1] ?? 0);
    extra.percpuKernel = rows.map((r) => r[2] ?? 0);
  }
  const mem = v1Dir(layout, placement, 'memory');
  const tcp = mem !== undefined ? num(`${mem}/memory.kmem.tcp.usage_in_bytes`) : undefined;
  if (mem && tcp !== undefined) {
    extra.kernelTCP = {
      limit: num(`${mem}/memory.kmem.tcp.limit_in_bytes`) ?? 0,
      usage: tcp,
      max: num(`${mem}/memory.kmem.tcp.max_usage_in_bytes`) ?? 0,
      failcnt: num(`${mem}/memory.kmem.tcp.failcnt`) ?? 0,
    };
  }
  const cs = v1Dir(layout, placement, 'cpuset');
  const cpus = cs && read(`${cs}/cpuset.cpus`);
  if (cs && cpus !== undefined) {
    const n = (f: string) => num(`${cs}/cpuset.${f}`) ?? 0;
    extra.cpuset = {
      cpus: cpuList(cpus), cpu_exclusive: n('cpu_exclusive'), mems: cpuList(read(`${cs}/cpuset.mems`)),
      mem_hardwall: n('mem_hardwall'), mem_exclusive: n('mem_exclusive'), memory_migrate: n('memory_migrate'),
      memory_spread_page: n('memory_spread_page'), memory_spread_slab: n('memory_spread_slab'),
      memory_pressure: n('memory_pressure'), sched_load_balance: n('sched_load_balance'),
      sched_relax_domain_level: n('sched_relax_domain_level'),
    };
  }
  return extra;
}

/** The container's statistics: every controller's (collectStats) plus the extra fields runc prints. */
export function readStats(layout: CgroupLayout, placement: CgroupPlacement): { stats: Stats; extra: StatsExtra } {
  return { stats: collectStats(layout, placement), extra: readExtra(layout, placement) };
}

// --- runc's JSON ----------------------------------------------------------------------------

/** Drops the keys runc's omitempty drops (0, "", empty arrays), keeping `keep` even when zero. */
function omitEmpty<T extends Record<string, unknown>>(o: T, keep: string[] = []): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (!keep.includes(k) && (v === 0 || v === '' || (Array.isArray(v) && v.length === 0))) continue;
    out[k] = v;
  }
  return out as Partial<T>;
}

function memoryEntry(e: { limit: number; usage: number; max: number; failcnt: number } | undefined): object {
  return omitEmpty({ limit: e?.limit ?? 0, usage: e?.usage ?? 0, max: e?.max ?? 0, failcnt: e?.failcnt ?? 0 }, ['limit', 'failcnt']);
}

const BLKIO_KEYS = [
  'ioServiceBytesRecursive', 'ioServicedRecursive', 'ioQueueRecursive', 'ioServiceTimeRecursive',
  'ioWaitTimeRecursive', 'ioMergedRecursive', 'ioTimeRecursive', 'sectorsRecursive',
];

/** runc 1.1's types.Stats, field for field, with Go's omitempty rules. */
export function runcStats(s: Stats, extra: StatsExtra = {}): object {
  const u = s.cpu?.usage;
  const t = s.cpu?.throttling;
  const cs = extra.cpuset;
  const blkio: Record<string, object[]> = {};
  for (const k of [...BLKIO_KEYS, ...Object.keys(s.blkio ?? {}).filter((x) => !BLKIO_KEYS.includes(x))]) {
    const list = s.blkio?.[k];
    if (list?.length) blkio[k] = list.map((e) => omitEmpty({ major: e.major, minor: e.minor, op: e.op, value: e.value }));
  }
  const hugetlb: Record<string, object> = {};
  for (const [size, h] of Object.entries(s.hugetlb ?? {})) hugetlb[size] = omitEmpty({ usage: h.usage, max: h.max, failcnt: h.failcnt }, ['failcnt']);
  return {
    cpu: {
      usage: omitEmpty({
        total: u?.total ?? 0, percpu: u?.percpu ?? [], percpu_kernel: extra.percpuKernel ?? [], percpu_user: extra.percpuUser ?? [],
        kernel: u?.kernel ?? 0, user: u?.user ?? 0,
      }, ['kernel', 'user']),
      throttling: omitEmpty({ periods: t?.periods ?? 0, throttledPeriods: t?.throttledPeriods ?? 0, throttledTime: t?.throttledTime ?? 0 }),
    },
    cpuset: omitEmpty({
      cpus: cs?.cpus ?? [], cpu_exclusive: cs?.cpu_exclusive ?? 0, mems: cs?.mems ?? [], mem_hardwall: cs?.mem_hardwall ?? 0,
      mem_exclusive: cs?.mem_exclusive ?? 0, memory_migrate: cs?.memory_migrate ?? 0, memory_spread_page: cs?.memory_spread_page ?? 0,
      memory_spread_slab: cs?.memory_spread_slab ?? 0, memory_pressure: cs?.memory_pressure ?? 0,
      sched_load_balance: cs?.sched_load_balance ?? 0, sched_relax_domain_level: cs?.sched_relax_domain_level ?? 0,
    }, ['cpu_exclusive', 'mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page', 'memory_spread_slab', 'memory_pressure', 'sched_load_balance', 'sched_relax_domain_level']),
    memory: {
      ...omitEmpty({ cache: s.memory?.cache ?? 0 }),
      usage: memoryEntry(s.memory?.usage),
      swap: memoryEntry(s.memory?.swap),
      kernel: memoryEntry(s.memory?.kernel),
      kernelTCP: memoryEntry(extra.kernelTCP),
      ...(s.memory?.raw && Object.keys(s.memory.raw).length ? { raw: Object.fromEntries(Object.entries(s.memory.raw).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) } : {}),
    },
    pids: omitEmpty({ current: s.pids?.current ?? 0, limit: s.pids?.limit ?? 0 }),
    blkio,
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

/**
 * JSON.stringify, except that integers beyond 2^53 are printed exactly as the kernel wrote them
 * where a double can hold them (v1's 9223372036854771712 "unlimited"), and 2^64 and above as
 * uint64 max (cgroup2's "max"): Go decoders of runc's output read these fields as uint64.
 */
export function encodeJson(value: unknown): string {
  const big = new Map<string, string>();
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER) {
      const b = BigInt(v);
      const digits = (b >= U64_MAX ? U64_MAX : b).toString();
      const token = `\u0001u64:${big.size}\u0001`;
      big.set(token, digits);
      return token;
    }
    return v;
  });
  if (big.size === 0) return text;
  return text.replace(/"\\u0001u64:(\d+)\\u0001"/g, (m) => big.get(JSON.parse(m) as string) ?? m);
}

// --- the command --------------------------------------------------------------------------

/** Go's time.ParseDuration: "5s", "100ms", "1m30s", "1.5h", "250us"; in milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`time: invalid duration "${s}"`);
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let ms = 0;
  let pos = 0;
  re.lastIndex = 0;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    ms += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== rest.length) throw new Error(`time: invalid duration "${s}"`);
  return sign * ms;
}

export interface EventsOptions {
  id: string;
  layout: CgroupLayout;
  placement: CgroupPlacement;
  /** the container's init still runs */
  running: () => boolean;
  /** one line of output (without its newline) */
  write: (line: string) => void;
  intervalMs: number;
  /** print one stats event and return */
  statsOnly?: boolean;
  /** how often to look at the OOM counters and at the init (default 100 ms) */
  pollMs?: number;
  /** statistics; default readStats (the cgroup files) */
  stats?: () => { stats: Stats; extra?: StatsExtra };
}

function statsEvent(o: EventsOptions): string {
  const { stats, extra } = (o.stats ?? (() => readStats(o.layout, o.placement)))();
  return encodeJson({ type: 'stats', id: o.id, data: runcStats(stats, extra) });
}

/** Did the counters move in a way that means a (new) OOM? */
function oomHappened(before: OomCounters | undefined, now: OomCounters): boolean {
  if (!before) return now.oomKill > 0 || now.oom > 0 || now.underOom;
  return now.oomKill > before.oomKill || now.oom > before.oom || (now.underOom && !before.underOom);
}

/** Runs the events loop until the container stops (or, with statsOnly, after one line). */
export function runEvents(o: EventsOptions): Promise<void> {
  if (o.statsOnly) {
    o.write(statsEvent(o));
    return Promise.resolve();
  }
  const file = oomFile(o.placement);
  let last = readOomCounters(file);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearInterval(statsTimer);
      clearInterval(pollTimer);
      if (err) reject(err);
      else resolve();
    };
    const checkOom = () => {
      const now = readOomCounters(file);
      if (now && oomHappened(last, now)) o.write(encodeJson({ type: 'oom', id: o.id }));
      if (now) last = now;
    };
    const statsTimer = setInterval(() => {
      try {
        o.write(statsEvent(o));
      } catch (e) {
        finish(e);
      }
    }, o.intervalMs);
    const pollTimer = setInterval(() => {
      try {
        const running = o.running();
        // after the init's exit too: the kill that ended it counts
        checkOom();
        if (!running) finish();
      } catch (e) {
        finish(e);
      }
    }, o.pollMs ?? 100);
  });
}
