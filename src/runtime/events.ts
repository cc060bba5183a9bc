/**
 * `berth-oci events`: runc 1.1's container events. Statistics as runc's types.Stats, one JSON
 * object a line ({"type":"stats","id":…,"data":{…}}) every --interval, or once with --stats, and
 * {"type":"oom","id":…} as soon as the kernel OOM-kills something in the container.
 *
 * OOM kills are seen by polling the cgroup's counters (see cgroups/oom.ts) every 100 ms,
 * independently of the stats interval; the command ends once the container's init has exited
 * (after a last look at the counters, so that an OOM kill of the init itself is reported).
 *
 * The statistics come from the container's cgroups: for each controller the v1 hierarchy that
 * has it, else cgroup2 (on this hybrid machine hugetlb may live on either).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { CgroupLayout } from './cgroups/layout.ts';
import type { CgroupPlacement } from './cgroups/placement.ts';
import type { Stats } from './cgroups/controller.ts';
import { oomFile, readOomCounters, type OomCounters } from './cgroups/oom.ts';

/** uint64 max: what runc prints for cgroup2's "max" */
const U64_MAX = 18446744073709551615n;
/** USER_HZ: the unit of cpuacct.stat */
const CLK_TCK = 100;

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

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events). */
function keyValues(file: string): Map<string, number> | undefined {
  const t = read(file);
  if (t === undefined) return undefined;
  const m = new Map<string, number>();
  for (const line of t.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) m.set(k, Number(v));
  }
  return m;
}

function numbers(file: string): number[] | undefined {
  const t = read(file)?.trim();
  if (t === undefined) return undefined;
  return t ? t.split(/\s+/).map(Number) : [];
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

// --- which directory holds which controller -------------------------------------------------

export interface ControllerDir {
  dir: string;
  version: 1 | 2;
}

/**
 * The container's directory for each controller: the v1 hierarchy that has it, else the cgroup2
 * directory if the controller is enabled there (listed in the cgroup's own cgroup.controllers).
 */
export function controllerDirs(layout: CgroupLayout, placement: CgroupPlacement): Map<string, ControllerDir> {
  const out = new Map<string, ControllerDir>();
  let unifiedDir: string | undefined;
  for (const dir of placement.dirs) {
    const h = layout.hierarchies.find((x) => dir === x.mountPoint || dir.startsWith(x.mountPoint + '/'));
    if (!h) continue;
    if (h.version === 2) {
      unifiedDir = dir;
      continue;
    }
    for (const c of h.controllers) if (!out.has(c)) out.set(c, { dir, version: 1 });
  }
  if (unifiedDir) {
    const enabled = (read(`${unifiedDir}/cgroup.controllers`) ?? '').trim().split(/\s+/).filter(Boolean);
    for (const c of enabled) if (!out.has(c)) out.set(c, { dir: unifiedDir, version: 2 });
    // cgroup2's cpu.stat (usage_usec…) exists in every directory, the cpu controller enabled or not
    if (!out.has('cpu') && !out.has('cpuacct')) out.set('cpu', { dir: unifiedDir, version: 2 });
  }
  return out;
}

// --- statistics ---------------------------------------------------------------------------

/** Fields runc prints that the Controller interface's Stats does not carry. */
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

function memEntry(dir: string, prefix: string): { limit: number; usage: number; max: number; failcnt: number } | undefined {
  const usage = num(`${dir}/${prefix}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    limit: num(`${dir}/${prefix}.limit_in_bytes`) ?? 0,
    usage,
    max: num(`${dir}/${prefix}.max_usage_in_bytes`) ?? 0,
    failcnt: num(`${dir}/${prefix}.failcnt`) ?? 0,
  };
}

function memoryV1(dir: string, into: Stats, extra: StatsExtra): void {
  const usage = memEntry(dir, 'memory');
  if (!usage) return;
  const raw = Object.fromEntries(keyValues(`${dir}/memory.stat`) ?? []);
  into.memory = { cache: raw.cache ?? 0, usage, raw };
  // v1's memsw counts memory + swap; runc reports it as "swap" as it is
  const swap = memEntry(dir, 'memory.memsw');
  if (swap) into.memory.swap = swap;
  const kernel = memEntry(dir, 'memory.kmem');
  if (kernel) into.memory.kernel = kernel;
  const tcp = memEntry(dir, 'memory.kmem.tcp');
  if (tcp) extra.kernelTCP = tcp;
}

function memoryV2(dir: string, into: Stats): void {
  const current = num(`${dir}/memory.current`);
  if (current === undefined) return;
  const raw = Object.fromEntries(keyValues(`${dir}/memory.stat`) ?? []);
  const events = keyValues(`${dir}/memory.events`);
  const limit = num(`${dir}/memory.max`) ?? Number(U64_MAX);
  into.memory = {
    cache: raw.file ?? 0,
    usage: { limit, usage: current, max: num(`${dir}/memory.peak`) ?? 0, failcnt: events?.get('max') ?? 0 },
    raw,
  };
  const swapCurrent = num(`${dir}/memory.swap.current`);
  if (swapCurrent !== undefined) {
    // as runc does: v1 reports memory+swap, so v2's swap is reported the same way
    const swapMax = num(`${dir}/memory.swap.max`) ?? Number(U64_MAX);
    const big = Number(U64_MAX);
    into.memory.swap = {
      limit: limit >= big || swapMax >= big ? big : limit + swapMax,
      usage: current + swapCurrent,
      max: 0,
      failcnt: keyValues(`${dir}/memory.swap.events`)?.get('max') ?? 0,
    };
  }
}

function cpuV1(cpuDir: string | undefined, acctDir: string | undefined, into: Stats, extra: StatsExtra): void {
  const usage = { total: 0, percpu: [] as number[], kernel: 0, user: 0 };
  const throttling = { periods: 0, throttledPeriods: 0, throttledTime: 0 };
  if (acctDir) {
    usage.total = num(`${acctDir}/cpuacct.usage`) ?? 0;
    usage.percpu = numbers(`${acctDir}/cpuacct.usage_percpu`) ?? [];
    const all = read(`${acctDir}/cpuacct.usage_all`);
    if (all) {
      const rows = all.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).map(Number));
      extra.percpuUser = rows.map((r) => r[1] ?? 0);
      extra.percpuKernel = rows.map((r) => r[2] ?? 0);
    }
    const st = keyValues(`${acctDir}/cpuacct.stat`);
    usage.user = ((st?.get('user') ?? 0) * 1e9) / CLK_TCK;
    usage.kernel = ((st?.get('system') ?? 0) * 1e9) / CLK_TCK;
  }
  if (cpuDir) {
    const st = keyValues(`${cpuDir}/cpu.stat`);
    throttling.periods = st?.get('nr_periods') ?? 0;
    throttling.throttledPeriods = st?.get('nr_throttled') ?? 0;
    throttling.throttledTime = st?.get('throttled_time') ?? 0;
  }
  into.cpu = { usage, throttling };
}

function cpuV2(dir: string, into: Stats): void {
  const st = keyValues(`${dir}/cpu.stat`);
  if (!st) return;
  into.cpu = {
    usage: { total: (st.get('usage_usec') ?? 0) * 1000, kernel: (st.get('system_usec') ?? 0) * 1000, user: (st.get('user_usec') ?? 0) * 1000 },
    throttling: {
      periods: st.get('nr_periods') ?? 0,
      throttledPeriods: st.get('nr_throttled') ?? 0,
      throttledTime: (st.get('throttled_usec') ?? 0) * 1000,
    },
  };
}

function pids(dir: string, into: Stats): void {
  const current = num(`${dir}/pids.current`);
  if (current === undefined) return;
  const t = read(`${dir}/pids.max`)?.trim();
  // runc: "max" is no limit, printed as 0 (omitted)
  into.pids = { current, limit: t === undefined || t === 'max' ? 0 : Number(t) };
}

type BlkioEntry = { major: number; minor: number; op: string; value: number };

/** v1 blkio files: "MAJ:MIN Op value" lines (and a "Total value" line that is skipped). */
function blkioEntries(file: string): BlkioEntry[] | undefined {
  const t = read(file);
  if (t === undefined) return undefined;
  const out: BlkioEntry[] = [];
  for (const line of t.split('\n')) {
    const f = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!m) continue;
    if (f.length === 3) out.push({ major: Number(m[1]), minor: Number(m[2]), op: f[1]!, value: Number(f[2]) });
    else if (f.length === 2) out.push({ major: Number(m[1]), minor: Number(m[2]), op: '', value: Number(f[1]) });
  }
  return out;
}

function blkioV1(dir: string, into: Stats): void {
  const blkio: Record<string, BlkioEntry[]> = {};
  const put = (key: string, file: string) => {
    const e = blkioEntries(`${dir}/${file}`);
    if (e?.length) blkio[key] = e;
  };
  if (existsSync(`${dir}/blkio.io_service_bytes_recursive`)) {
    // CFQ (kernels before 5.0): the full set
    put('ioServiceBytesRecursive', 'blkio.io_service_bytes_recursive');
    put('ioServicedRecursive', 'blkio.io_serviced_recursive');
    put('ioQueueRecursive', 'blkio.io_queued_recursive');
    put('ioServiceTimeRecursive', 'blkio.io_service_time_recursive');
    put('ioWaitTimeRecursive', 'blkio.io_wait_time_recursive');
    put('ioMergedRecursive', 'blkio.io_merged_recursive');
    put('ioTimeRecursive', 'blkio.time_recursive');
    put('sectorsRecursive', 'blkio.sectors_recursive');
  } else {
    // the throttle layer sees every bio whatever the I/O scheduler; BFQ's counters only what BFQ schedules
    put('ioServiceBytesRecursive', 'blkio.throttle.io_service_bytes_recursive');
    put('ioServicedRecursive', 'blkio.throttle.io_serviced_recursive');
    if (!blkio.ioServiceBytesRecursive) {
      put('ioServiceBytesRecursive', 'blkio.bfq.io_service_bytes_recursive');
      put('ioServicedRecursive', 'blkio.bfq.io_serviced_recursive');
    }
  }
  into.blkio = blkio;
}

function ioV2(dir: string, into: Stats): void {
  const t = read(`${dir}/io.stat`);
  if (t === undefined) return;
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of t.split('\n')) {
    const f = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!m) continue;
    const kv = new Map(f.slice(1).map((x) => x.split('=') as [string, string]));
    const dev = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...dev, op: 'Read', value: Number(kv.get('rbytes') ?? 0) }, { ...dev, op: 'Write', value: Number(kv.get('wbytes') ?? 0) });
    ios.push({ ...dev, op: 'Read', value: Number(kv.get('rios') ?? 0) }, { ...dev, op: 'Write', value: Number(kv.get('wios') ?? 0) });
  }
  into.blkio = {};
  if (bytes.length) into.blkio.ioServiceBytesRecursive = bytes;
  if (ios.length) into.blkio.ioServicedRecursive = ios;
}

function hugetlb(dir: string, version: 1 | 2, into: Stats): void {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return;
  }
  const out: Record<string, { usage: number; max: number; failcnt: number }> = {};
  for (const f of files) {
    const m = /^hugetlb\.(\d+[KMG]B)\.(usage_in_bytes|current)$/.exec(f);
    if (!m) continue;
    const size = m[1]!;
    if (version === 1) {
      out[size] = {
        usage: num(`${dir}/hugetlb.${size}.usage_in_bytes`) ?? 0,
        max: num(`${dir}/hugetlb.${size}.max_usage_in_bytes`) ?? 0,
        failcnt: num(`${dir}/hugetlb.${size}.failcnt`) ?? 0,
      };
    } else {
      out[size] = {
        usage: num(`${dir}/hugetlb.${size}.current`) ?? 0,
        max: 0,
        failcnt: keyValues(`${dir}/hugetlb.${size}.events`)?.get('max') ?? 0,
      };
    }
  }
  into.hugetlb = out;
}

function cpusetV1(dir: string, extra: StatsExtra): void {
  const n = (f: string) => num(`${dir}/cpuset.${f}`) ?? 0;
  const cpus = read(`${dir}/cpuset.cpus`);
  if (cpus === undefined) return;
  extra.cpuset = {
    cpus: cpuList(cpus), cpu_exclusive: n('cpu_exclusive'), mems: cpuList(read(`${dir}/cpuset.mems`)),
    mem_hardwall: n('mem_hardwall'), mem_exclusive: n('mem_exclusive'), memory_migrate: n('memory_migrate'),
    memory_spread_page: n('memory_spread_page'), memory_spread_slab: n('memory_spread_slab'),
    memory_pressure: n('memory_pressure'), sched_load_balance: n('sched_load_balance'),
    sched_relax_domain_level: n('sched_relax_domain_level'),
  };
}

/**
 * Reads the statistics of every controller the container's cgroups have. Missing controllers
 * leave their part out (runc then prints zeros).
 */
export function readStats(layout: CgroupLayout, placement: CgroupPlacement): { stats: Stats; extra: StatsExtra } {
  const dirs = controllerDirs(layout, placement);
  const stats: Stats = {};
  const extra: StatsExtra = {};
  const at = (c: string) => dirs.get(c);
  const cpu = at('cpu');
  const acct = at('cpuacct');
  if (cpu?.version === 2) cpuV2(cpu.dir, stats);
  else if (cpu || acct) cpuV1(cpu?.dir, acct?.version === 1 ? acct.dir : undefined, stats, extra);
  const cpuset = at('cpuset');
  if (cpuset?.version === 1) cpusetV1(cpuset.dir, extra);
  const mem = at('memory');
  if (mem) (mem.version === 1 ? memoryV1(mem.dir, stats, extra) : memoryV2(mem.dir, stats));
  const p = at('pids');
  if (p) pids(p.dir, stats);
  const blk = at('blkio');
  if (blk?.version === 1) blkioV1(blk.dir, stats);
  else {
    const io = at('io');
    if (io) ioV2(io.dir, stats);
  }
  const h = at('hugetlb');
  if (h) hugetlb(h.dir, h.version, stats);
  return { stats, extra };
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
