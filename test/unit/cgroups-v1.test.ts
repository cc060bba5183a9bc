// The cgroup v1 controllers (src/runtime/cgroups/v1/*), the routing of linux.resources to the
// hierarchies (resources.ts) and `update`'s flags (src/cli/update.ts), against a temp-dir fake
// cgroupfs: the interface files the code reads and writes are pre-created, as the kernel makes
// them. Where the kernel's checks matter (memsw >= limit, EBUSY, a kmem limit it ignores), a
// small fake kernel wraps node:fs's openSync/writeSync and refuses or swallows writes the way
// the kernel does. Nothing here touches the real /sys/fs/cgroup.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { memory } from '../../src/runtime/cgroups/v1/memory.ts';
import { cpu } from '../../src/runtime/cgroups/v1/cpu.ts';
import { cpuacct } from '../../src/runtime/cgroups/v1/cpuacct.ts';
import { cpuset } from '../../src/runtime/cgroups/v1/cpuset.ts';
import { pids } from '../../src/runtime/cgroups/v1/pids.ts';
import { blkioController } from '../../src/runtime/cgroups/v1/blkio.ts';
import { hugetlb } from '../../src/runtime/cgroups/v1/hugetlb.ts';
import { devices, deviceWrites, emulate, formatRule, parseDeviceList } from '../../src/runtime/cgroups/v1/devices.ts';
import { netCls, netPrio } from '../../src/runtime/cgroups/v1/net.ts';
import { applyResources, collectStats, createResources, effectiveDeviceRules, mergeResources, updateWrites } from '../../src/runtime/cgroups/resources.ts';
import type { Stats } from '../../src/runtime/cgroups/controller.ts';
import type { CgroupLayout, Hierarchy } from '../../src/runtime/cgroups/layout.ts';
import type { CgroupPlacement } from '../../src/runtime/cgroups/placement.ts';
import type { Resources } from '../../src/runtime/spec/types.ts';
import { parseBytes, updateResources, UPDATE_FLAGS } from '../../src/cli/update.ts';
import { parseArgs } from '../../src/cli/args.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-cgroup-v1-test-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// the fake cgroupfs and the fake kernel

/** A cgroup directory holding `files` (name → content), as the kernel creates them. */
function cgroup(files: Record<string, string>, name = 'cg'): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
  return dir;
}

function cat(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8');
}

const MAX = '9223372036854771712';

function memoryFiles(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'memory.limit_in_bytes': MAX, 'memory.memsw.limit_in_bytes': MAX, 'memory.soft_limit_in_bytes': MAX,
    'memory.swappiness': '60', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.kmem.limit_in_bytes': MAX, 'memory.kmem.tcp.limit_in_bytes': MAX, 'memory.use_hierarchy': '1',
    'memory.usage_in_bytes': '4096', 'memory.max_usage_in_bytes': '8192', 'memory.failcnt': '0',
    ...extra,
  };
}

/**
 * What the fake kernel does with a write: undefined = store it; 'ignore' = accept and keep the old
 * value (kmem on Linux ≥ 5.16); an errno code = refuse it, the file keeps its old value.
 */
type Kernel = (file: string, value: string, dir: string) => string | undefined;

const fsCjs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');

/** Runs fn with the fake kernel deciding every write under `root`; returns the writes, in order, as "file=value". */
function withKernel<T>(kernel: Kernel, fn: () => T): { result: T; writes: string[] } {
  const { openSync, writeSync, closeSync } = fsCjs;
  const open = new Map<number, { path: string; old: string }>();
  const writes: string[] = [];
  fsCjs.openSync = ((p: string, flags: number, mode?: number) => {
    const path = String(p);
    const old = path.startsWith(root + '/') ? readFileSync(path, 'utf8') : '';
    const fd = openSync(p, flags, mode);
    if (path.startsWith(root + '/')) open.set(fd, { path, old });
    return fd;
  }) as typeof fsCjs.openSync;
  fsCjs.writeSync = ((fd: number, data: string, ...rest: unknown[]) => {
    const f = open.get(fd);
    if (!f) return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
    const file = basename(f.path);
    const verdict = kernel(file, String(data), f.path.slice(0, -file.length - 1));
    writes.push(`${file}=${data}`);
    if (verdict === undefined) return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
    writeFileSync(f.path, f.old);
    if (verdict === 'ignore') return String(data).length;
    throw Object.assign(new Error(`${verdict}: fake kernel refused`), { code: verdict });
  }) as typeof fsCjs.writeSync;
  fsCjs.closeSync = ((fd: number) => {
    open.delete(fd);
    return closeSync(fd);
  }) as typeof fsCjs.closeSync;
  syncBuiltinESMExports();
  try {
    return { result: fn(), writes };
  } finally {
    fsCjs.openSync = openSync;
    fsCjs.writeSync = writeSync;
    fsCjs.closeSync = closeSync;
    syncBuiltinESMExports();
  }
}

/** The v1 memory rule: memsw.limit_in_bytes >= limit_in_bytes after every write (-1 is unlimited). */
const memswRule: Kernel = (file, value, dir) => {
  const num = (s: string) => (Number(s) < 0 ? Infinity : Number(s));
  if (file === 'memory.limit_in_bytes' && num(value) > num(cat(dir, 'memory.memsw.limit_in_bytes'))) return 'EINVAL';
  if (file === 'memory.memsw.limit_in_bytes' && num(value) < num(cat(dir, 'memory.limit_in_bytes'))) return 'EINVAL';
  return undefined;
};

const M = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// memory

describe('v1 memory', () => {
  test('limit, reservation and swappiness go to memory.limit_in_bytes, soft_limit_in_bytes, swappiness', () => {
    const dir = cgroup(memoryFiles());
    const w = memory.apply(dir, { memory: { limit: 64 * M, reservation: 32 * M, swappiness: 10 } });
    assert.deepEqual(w, []);
    assert.equal(cat(dir, 'memory.limit_in_bytes'), String(64 * M));
    assert.equal(cat(dir, 'memory.soft_limit_in_bytes'), String(32 * M));
    assert.equal(cat(dir, 'memory.swappiness'), '10');
    assert.equal(cat(dir, 'memory.memsw.limit_in_bytes'), MAX, 'swap not asked for: memsw untouched');
  });

  test('swappiness: zero is a valid limit (written, not skipped); -1 leaves the kernel\'s value', () => {
    const dir = cgroup(memoryFiles());
    memory.apply(dir, { memory: { swappiness: 0 } });
    assert.equal(cat(dir, 'memory.swappiness'), '0');
    const dir2 = cgroup(memoryFiles(), 'cg2');
    memory.apply(dir2, { memory: { swappiness: -1 } });
    assert.equal(cat(dir2, 'memory.swappiness'), '60');
  });

  test('a zero memory limit is left unset, as runc does (0 is Go\'s "not set")', () => {
    const dir = cgroup(memoryFiles());
    const { writes } = withKernel(() => undefined, () => memory.apply(dir, { memory: { limit: 0, swap: 0, reservation: 0 } }));
    assert.deepEqual(writes, []);
  });

  test('negative swap means unlimited: memsw is lifted first, then the limit written', () => {
    const dir = cgroup(memoryFiles({ 'memory.limit_in_bytes': String(64 * M), 'memory.memsw.limit_in_bytes': String(64 * M) }));
    const { writes } = withKernel(memswRule, () => memory.apply(dir, { memory: { limit: 128 * M, swap: -1 } }));
    assert.deepEqual(writes, ['memory.memsw.limit_in_bytes=-1', `memory.limit_in_bytes=${128 * M}`]);
  });

  test('an unlimited limit (-1) without a swap setting lifts swap too (runc)', () => {
    const dir = cgroup(memoryFiles({ 'memory.limit_in_bytes': String(64 * M), 'memory.memsw.limit_in_bytes': String(64 * M) }));
    const { writes } = withKernel(memswRule, () => memory.apply(dir, { memory: { limit: -1 } }));
    assert.deepEqual(writes, ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
  });

  test('raising both: memsw before limit; lowering both: limit before memsw (the kernel keeps memsw >= limit)', () => {
    const dir = cgroup(memoryFiles({ 'memory.limit_in_bytes': String(64 * M), 'memory.memsw.limit_in_bytes': String(128 * M) }));
    const up = withKernel(memswRule, () => memory.apply(dir, { memory: { limit: 256 * M, swap: 512 * M } }));
    assert.deepEqual(up.writes, [`memory.memsw.limit_in_bytes=${512 * M}`, `memory.limit_in_bytes=${256 * M}`]);
    const down = withKernel(memswRule, () => memory.apply(dir, { memory: { limit: 16 * M, swap: 32 * M } }));
    assert.deepEqual(down.writes, [`memory.limit_in_bytes=${16 * M}`, `memory.memsw.limit_in_bytes=${32 * M}`]);
    assert.equal(cat(dir, 'memory.limit_in_bytes'), String(16 * M));
    assert.equal(cat(dir, 'memory.memsw.limit_in_bytes'), String(32 * M));
  });

  test('swap below limit is refused before anything is written', () => {
    const dir = cgroup(memoryFiles());
    const { result, writes } = withKernel(memswRule, () => {
      try {
        memory.apply(dir, { memory: { limit: 64 * M, swap: 32 * M } });
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    });
    assert.match(result ?? '', /memory\.swap 33554432 is below memory\.limit 67108864/);
    assert.deepEqual(writes, []);
  });

  test('swap alone below the current limit is refused', () => {
    const dir = cgroup(memoryFiles({ 'memory.limit_in_bytes': String(64 * M) }));
    assert.throws(() => memory.apply(dir, { memory: { swap: 32 * M } }), /below the current memory limit 67108864/);
  });

  test('memsw absent gives a warning, not silence; the memory limit is still set', () => {
    const files = memoryFiles();
    delete files['memory.memsw.limit_in_bytes'];
    const dir = cgroup(files);
    const w = memory.apply(dir, { memory: { limit: 64 * M, swap: 128 * M } });
    assert.equal(w.length, 1);
    assert.match(w[0]!, /swap limit not supported by this kernel \(no memory\.memsw\.\*/);
    assert.equal(cat(dir, 'memory.limit_in_bytes'), String(64 * M));
  });

  test('memsw absent and swap -1 (unlimited, which it already is): no warning', () => {
    const files = memoryFiles();
    delete files['memory.memsw.limit_in_bytes'];
    assert.deepEqual(memory.apply(cgroup(files), { memory: { limit: 64 * M, swap: -1 } }), []);
  });

  test('a limit below the usage (EBUSY) names the current and peak usage', () => {
    const dir = cgroup(memoryFiles({ 'memory.usage_in_bytes': '5000000', 'memory.max_usage_in_bytes': '6000000' }));
    const { result } = withKernel((f) => (f === 'memory.limit_in_bytes' ? 'EBUSY' : undefined), () => {
      try {
        memory.apply(dir, { memory: { limit: 1000 } });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    });
    assert.equal(result, 'memory.limit_in_bytes: write 1000: Device or resource busy (the limit is below what the container uses: current usage 5000000 bytes, peak 6000000 bytes)');
  });

  test('kmem limit the kernel accepts but ignores (Linux >= 5.16): a warning that it is not enforced', () => {
    const dir = cgroup(memoryFiles());
    const { result } = withKernel((f) => (f === 'memory.kmem.limit_in_bytes' ? 'ignore' : undefined), () => memory.apply(dir, { memory: { kernel: 50 * M, kernelTCP: 10 * M } }));
    assert.equal(result.length, 1, result.join('\n'));
    assert.match(result[0]!, /^memory\.kernel 52428800: Linux .* accepts memory\.kmem\.limit_in_bytes but does not enforce it/);
    assert.equal(cat(dir, 'memory.kmem.tcp.limit_in_bytes'), String(10 * M), 'the tcp limit is honoured');
  });

  test('kmem files absent: warnings for kernel and kernelTCP', () => {
    const files = memoryFiles();
    delete files['memory.kmem.limit_in_bytes'];
    delete files['memory.kmem.tcp.limit_in_bytes'];
    const w = memory.apply(cgroup(files), { memory: { kernel: M, kernelTCP: M } });
    assert.equal(w.length, 2);
    assert.match(w[0]!, /memory\.kernel .*no memory\.kmem\.limit_in_bytes/);
    assert.match(w[1]!, /memory\.kernelTCP .*no memory\.kmem\.tcp\.limit_in_bytes/);
  });

  test('disableOOMKiller writes "1" to memory.oom_control; false leaves it', () => {
    const dir = cgroup(memoryFiles());
    memory.apply(dir, { memory: { disableOOMKiller: false } });
    assert.match(cat(dir, 'memory.oom_control'), /^oom_kill_disable 0/);
    memory.apply(dir, { memory: { disableOOMKiller: true } });
    assert.equal(cat(dir, 'memory.oom_control'), '1');
  });

  test('stats: usage, swap and kernel from the *.usage/max_usage/failcnt/limit files, raw memory.stat, cache', () => {
    const dir = cgroup(memoryFiles({
      'memory.stat': 'cache 8192\nrss 4096\ntotal_cache 8192\n',
      'memory.limit_in_bytes': String(64 * M), 'memory.failcnt': '3',
      'memory.memsw.usage_in_bytes': '5000', 'memory.memsw.max_usage_in_bytes': '6000', 'memory.memsw.failcnt': '1',
      'memory.kmem.usage_in_bytes': '100', 'memory.kmem.max_usage_in_bytes': '200', 'memory.kmem.failcnt': '0',
    }));
    const s: Stats = {};
    memory.stats!(dir, s);
    assert.deepEqual(s.memory?.usage, { usage: 4096, max: 8192, failcnt: 3, limit: 64 * M });
    assert.equal(s.memory?.cache, 8192);
    assert.equal(s.memory?.raw?.rss, 4096);
    assert.deepEqual(s.memory?.swap, { usage: 5000, max: 6000, failcnt: 1, limit: Number(MAX) });
    assert.equal(s.memory?.kernel?.usage, 100);
  });
});

// ---------------------------------------------------------------------------------------------
// cpu, cpuacct, cpuset, pids

const CPU_FILES = { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.rt_period_us': '1000000', 'cpu.rt_runtime_us': '0', 'cpu.cfs_burst_us': '0', 'cpu.idle': '0' };

describe('v1 cpu', () => {
  test('shares, then period before quota', () => {
    const dir = cgroup(CPU_FILES);
    const { result, writes } = withKernel(() => undefined, () => cpu.apply(dir, { cpu: { shares: 512, quota: 50000, period: 200000 } }));
    assert.deepEqual(result, []);
    assert.deepEqual(writes, ['cpu.shares=512', 'cpu.cfs_period_us=200000', 'cpu.cfs_quota_us=50000']);
  });

  test('a period the kernel refuses before the new quota (EINVAL) is written again after it', () => {
    const dir = cgroup(CPU_FILES);
    let refused = false;
    const { writes } = withKernel((f) => {
      if (f === 'cpu.cfs_period_us' && !refused) {
        refused = true;
        return 'EINVAL';
      }
      return undefined;
    }, () => cpu.apply(dir, { cpu: { quota: 10000, period: 20000 } }));
    assert.deepEqual(writes, ['cpu.cfs_period_us=20000', 'cpu.cfs_quota_us=10000', 'cpu.cfs_period_us=20000']);
    assert.equal(cat(dir, 'cpu.cfs_period_us'), '20000');
  });

  test('quota -1 means no limit and is written', () => {
    const dir = cgroup({ ...CPU_FILES, 'cpu.cfs_quota_us': '50000' });
    cpu.apply(dir, { cpu: { quota: -1 } });
    assert.equal(cat(dir, 'cpu.cfs_quota_us'), '-1');
  });

  test('realtime: period, then runtime; zero is a valid limit for the runtime', () => {
    const dir = cgroup({ ...CPU_FILES, 'cpu.rt_runtime_us': '5000' });
    const { writes } = withKernel(() => undefined, () => cpu.apply(dir, { cpu: { realtimePeriod: 500000, realtimeRuntime: 0 } }));
    assert.deepEqual(writes, ['cpu.rt_period_us=500000', 'cpu.rt_runtime_us=0']);
  });

  test('realtime files absent (no CONFIG_RT_GROUP_SCHED): a warning', () => {
    const files: Record<string, string> = { ...CPU_FILES };
    delete files['cpu.rt_period_us'];
    delete files['cpu.rt_runtime_us'];
    const w = cpu.apply(cgroup(files), { cpu: { realtimeRuntime: 950000 } });
    assert.equal(w.length, 1);
    assert.match(w[0]!, /cpu\.realtimePeriod\/realtimeRuntime: this kernel has no cpu\.rt_\* files/);
  });

  test('shares the kernel clamps: a warning with the value it kept', () => {
    const dir = cgroup(CPU_FILES);
    const w = withKernel((f) => (f === 'cpu.shares' ? 'ignore' : undefined), () => cpu.apply(dir, { cpu: { shares: 1 } })).result;
    assert.match(w[0] ?? '', /cpu\.shares 1: the kernel clamped it to 1024/);
  });

  test('burst and idle where the files exist, warnings where not', () => {
    const dir = cgroup(CPU_FILES);
    assert.deepEqual(cpu.apply(dir, { cpu: { burst: 1000, idle: 1 } }), []);
    assert.equal(cat(dir, 'cpu.cfs_burst_us'), '1000');
    assert.equal(cat(dir, 'cpu.idle'), '1');
    const w = cpu.apply(cgroup({ 'cpu.shares': '1024' }, 'old'), { cpu: { burst: 1000, idle: 1 } });
    assert.equal(w.length, 2);
  });

  test('stats: throttling from cpu.stat; usage from cpuacct (ticks to ns)', () => {
    const dir = cgroup({ 'cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n', 'cpuacct.usage': '999', 'cpuacct.usage_percpu': '500 499 \n', 'cpuacct.stat': 'user 3\nsystem 2\n' });
    const s: Stats = {};
    cpu.stats!(dir, s);
    cpuacct.stats!(dir, s);
    assert.deepEqual(s.cpu, {
      usage: { total: 999, percpu: [500, 499], kernel: 20_000_000, user: 30_000_000 },
      throttling: { periods: 10, throttledPeriods: 4, throttledTime: 123456 },
    });
  });
});

describe('v1 cpuset and pids', () => {
  test('cpuset: cpus and mems written; empty strings leave them', () => {
    const dir = cgroup({ 'cpuset.cpus': '0-1', 'cpuset.mems': '0' });
    cpuset.apply(dir, { cpu: { cpus: '', mems: '' } });
    assert.equal(cat(dir, 'cpuset.cpus'), '0-1');
    cpuset.apply(dir, { cpu: { cpus: '1', mems: '0' } });
    assert.equal(cat(dir, 'cpuset.cpus'), '1');
    assert.equal(cat(dir, 'cpuset.mems'), '0');
  });

  test('pids: a positive limit is written as is; 0 or below becomes "max"', () => {
    const dir = cgroup({ 'pids.max': 'max' });
    pids.apply(dir, { pids: { limit: 50 } });
    assert.equal(cat(dir, 'pids.max'), '50');
    pids.apply(dir, { pids: { limit: 0 } });
    assert.equal(cat(dir, 'pids.max'), 'max');
    pids.apply(dir, { pids: { limit: 7 } });
    pids.apply(dir, { pids: { limit: -1 } });
    assert.equal(cat(dir, 'pids.max'), 'max');
  });

  test('pids stats: current, and "max" reported as limit 0 (runc)', () => {
    const s: Stats = {};
    pids.stats!(cgroup({ 'pids.current': '3', 'pids.max': 'max' }), s);
    assert.deepEqual(s.pids, { current: 3, limit: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// blkio

/** A fake /sys with block devices and their schedulers: name → [MAJ:MIN, scheduler line]. */
function sysfs(devs: Record<string, [string, string]>): string {
  const sys = join(root, 'sys');
  for (const [name, [mm, sched]] of Object.entries(devs)) {
    mkdirSync(join(sys, 'block', name, 'queue'), { recursive: true });
    writeFileSync(join(sys, 'block', name, 'queue', 'scheduler'), sched + '\n');
    mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
    fsCjs.symlinkSync(join(sys, 'block', name), join(sys, 'dev', 'block', mm));
  }
  return sys;
}

const THROTTLE_FILES = {
  'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '',
  'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '',
};

describe('v1 blkio', () => {
  test('weight goes to blkio.weight where CFQ\'s file exists', () => {
    const dir = cgroup({ 'blkio.weight': '500', 'blkio.bfq.weight': '100' });
    const blk = blkioController(sysfs({ vda: ['254:0', 'none [mq-deadline] kyber bfq'] }));
    assert.deepEqual(blk.apply(dir, { blockIO: { weight: 300 } }), []);
    assert.equal(cat(dir, 'blkio.weight'), '300');
    assert.equal(cat(dir, 'blkio.bfq.weight'), '100');
  });

  test('weight with only blkio.bfq.weight and no device on bfq: written, with a warning naming the schedulers', () => {
    const dir = cgroup({ 'blkio.bfq.weight': '100' });
    const blk = blkioController(sysfs({ vda: ['254:0', 'none [mq-deadline] kyber bfq'], loop0: ['7:0', '[none] mq-deadline'] }));
    const w = blk.apply(dir, { blockIO: { weight: 300 } });
    assert.equal(cat(dir, 'blkio.bfq.weight'), '300');
    assert.equal(w.length, 1);
    assert.match(w[0]!, /blockIO\.weight 300: written to blkio\.bfq\.weight, but no block device uses the bfq I\/O scheduler \(vda: mq-deadline\): the weight has no effect/);
  });

  test('weight with a device on bfq: no warning', () => {
    const dir = cgroup({ 'blkio.bfq.weight': '100' });
    const blk = blkioController(sysfs({ sda: ['8:0', 'mq-deadline [bfq]'] }));
    assert.deepEqual(blk.apply(dir, { blockIO: { weight: 300 } }), []);
  });

  test('no weight file at all: a warning that names the scheduler limitation', () => {
    const blk = blkioController(sysfs({}));
    const w = blk.apply(cgroup(THROTTLE_FILES), { blockIO: { weight: 300, leafWeight: 200 } });
    assert.equal(w.length, 2);
    assert.match(w[0]!, /no blkio\.weight: the CFQ scheduler was removed in Linux 5\.0; no blkio\.bfq\.weight: BFQ is not loaded/);
    assert.match(w[1]!, /blockIO\.leafWeight 200/);
  });

  test('weightDevice on a device whose scheduler is not bfq: a warning, nothing written', () => {
    const dir = cgroup({ 'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '' });
    const blk = blkioController(sysfs({ vda: ['254:0', '[mq-deadline] bfq'], sda: ['8:0', 'mq-deadline [bfq]'] }));
    const { result, writes } = withKernel(() => undefined, () => blk.apply(dir, { blockIO: { weightDevice: [{ major: 254, minor: 0, weight: 50 }, { major: 8, minor: 0, weight: 70 }] } }));
    assert.deepEqual(writes, ['blkio.bfq.weight_device=8:0 70']);
    assert.match(result[0] ?? '', /254:0 uses the mq-deadline I\/O scheduler, not bfq/);
  });

  test('throttles: one "MAJ:MIN VALUE" write per device, to the right file', () => {
    const dir = cgroup(THROTTLE_FILES);
    const { result, writes } = withKernel(() => undefined, () => blkioController(sysfs({})).apply(dir, {
      blockIO: {
        throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }, { major: 8, minor: 16, rate: 2048 }],
        throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
      },
    }));
    assert.deepEqual(result, []);
    assert.deepEqual(writes, ['blkio.throttle.read_bps_device=254:0 1048576', 'blkio.throttle.read_bps_device=8:16 2048', 'blkio.throttle.write_iops_device=254:0 100']);
  });

  test('throttle: zero is a valid limit (written: it lifts the device\'s throttle)', () => {
    const dir = cgroup(THROTTLE_FILES);
    blkioController(sysfs({})).apply(dir, { blockIO: { throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 0 }] } });
    assert.equal(cat(dir, 'blkio.throttle.write_bps_device'), '254:0 0');
  });

  test('throttle files absent (no CONFIG_BLK_DEV_THROTTLING): a warning', () => {
    const w = blkioController(sysfs({})).apply(cgroup({}), { blockIO: { throttleReadIOPSDevice: [{ major: 1, minor: 2, rate: 3 }] } });
    assert.match(w[0] ?? '', /blockIO\.throttleReadIOPSDevice: this kernel has no blkio\.throttle\.read_iops_device/);
  });

  test('stats from blkio.throttle.io_service_bytes(_recursive) and io_serviced', () => {
    const dir = cgroup({
      'blkio.throttle.io_service_bytes_recursive': '254:0 Read 4096\n254:0 Write 8192\nTotal 12288\n',
      'blkio.throttle.io_serviced': '254:0 Read 1\nTotal 1\n',
    });
    const s: Stats = {};
    blkioController(sysfs({})).stats!(dir, s);
    assert.deepEqual(s.blkio, {
      ioServiceBytesRecursive: [{ major: 254, minor: 0, op: 'Read', value: 4096 }, { major: 254, minor: 0, op: 'Write', value: 8192 }],
      ioServicedRecursive: [{ major: 254, minor: 0, op: 'Read', value: 1 }],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// hugetlb, net

describe('v1 hugetlb and net', () => {
  test('hugetlb: hugetlb.<size>.limit_in_bytes per page size', () => {
    const dir = cgroup({ 'hugetlb.2MB.limit_in_bytes': MAX, 'hugetlb.1GB.limit_in_bytes': MAX });
    hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '2MB', limit: 4 * 2 * M }, { pageSize: '1GB', limit: 0 }] });
    assert.equal(cat(dir, 'hugetlb.2MB.limit_in_bytes'), String(8 * M));
    assert.equal(cat(dir, 'hugetlb.1GB.limit_in_bytes'), '0');
  });

  test('hugetlb: an unknown page size is an error listing the kernel\'s sizes', () => {
    const dir = cgroup({ 'hugetlb.2MB.limit_in_bytes': MAX });
    assert.throws(() => hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '4MB', limit: 1 }] }), /page size "4MB" is not one of this kernel's \(2MB\): no hugetlb\.4MB\.limit_in_bytes/);
  });

  test('hugetlb stats per page size', () => {
    const dir = cgroup({ 'hugetlb.2MB.limit_in_bytes': MAX, 'hugetlb.2MB.usage_in_bytes': '2097152', 'hugetlb.2MB.max_usage_in_bytes': '4194304', 'hugetlb.2MB.failcnt': '1' });
    const s: Stats = {};
    hugetlb.stats!(dir, s);
    assert.deepEqual(s.hugetlb, { '2MB': { usage: 2097152, max: 4194304, failcnt: 1 } });
  });

  test('net_cls.classid and one net_prio.ifpriomap write per interface', () => {
    const dir = cgroup({ 'net_cls.classid': '0', 'net_prio.ifpriomap': '' });
    const { writes } = withKernel(() => undefined, () => {
      netCls.apply(dir, { network: { classID: 0x100001 } });
      netPrio.apply(dir, { network: { priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 1 }] } });
    });
    assert.deepEqual(writes, ['net_cls.classid=1048577', 'net_prio.ifpriomap=eth0 5', 'net_prio.ifpriomap=lo 1']);
  });
});

// ---------------------------------------------------------------------------------------------
// devices

describe('v1 devices', () => {
  test('rule format: "TYPE MAJ:MIN ACCESS"; -1 major becomes *, a missing minor too, type a alone', () => {
    assert.equal(formatRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }), 'c 1:3 rwm');
    assert.equal(formatRule({ allow: true, type: 'c', major: -1, minor: -1, access: 'm' }), 'c *:* m');
    assert.equal(formatRule({ allow: true, type: 'c', major: 136, access: 'rw' }), 'c 136:* rw');
    assert.equal(formatRule({ allow: true, type: 'b', major: 8, minor: -1, access: 'wr' }), 'b 8:* rw');
    assert.equal(formatRule({ allow: false, access: 'rwm' }), 'a');
    assert.equal(formatRule({ allow: false, type: 'c', major: 5, minor: 1 }), 'c 5:1 rwm', 'a missing access means rwm');
  });

  test('a new cgroup (allow-all): "a" to devices.deny, then the device rules in config order', () => {
    const dir = cgroup({ 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' });
    const rules: Resources['devices'] = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
      { allow: true, type: 'b', major: 7, access: 'r' },
    ];
    const { writes } = withKernel(() => undefined, () => devices.apply(dir, { devices: rules }));
    assert.deepEqual(writes, ['devices.deny=a', 'devices.allow=c 1:3 rwm', 'devices.allow=c *:* m', 'devices.deny=c 1:3 w', 'devices.allow=b 7:* r']);
  });

  test('no devices in the resources: nothing written (update leaves devices alone, as runc)', () => {
    const dir = cgroup({ 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' });
    const { writes } = withKernel(() => undefined, () => devices.apply(dir, {}));
    assert.deepEqual(writes, []);
  });

  test('emulate: the kernel\'s default + exceptions after a rule list', () => {
    const s = emulate([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
    ]);
    assert.equal(s.defaultAllow, false);
    assert.deepEqual([...s.exceptions], [['c 1:3', 'rm'], ['c 1:5', 'r']]);
    assert.equal(emulate([{ allow: true, access: 'rwm' }, { allow: false, type: 'b', major: 8, minor: 0, access: 'w' }]).defaultAllow, true);
  });

  test('update of a deny-by-default cgroup writes only the difference, additions before removals (no transient denial)', () => {
    const current = parseDeviceList('c 1:3 rwm\nc 1:5 rwm\nc 136:* rw\n');
    const writes = deviceWrites(current, [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
    ]);
    assert.deepEqual(writes, [
      ['devices.allow', 'c 136:* m'],
      ['devices.allow', 'c 10:200 rwm'],
      ['devices.deny', 'c 1:5 rwm'],
    ]);
    assert.ok(!writes.some(([, l]) => l === 'a'), 'never "a": that would deny /dev/null for an instant');
  });

  test('a target of allow-all: "a" to devices.allow first, then the denied exceptions', () => {
    const writes = deviceWrites(parseDeviceList('c 1:3 rwm\n'), [{ allow: true, access: 'rwm' }, { allow: false, type: 'b', major: 8, minor: 0, access: 'w' }]);
    assert.deepEqual(writes, [['devices.allow', 'a'], ['devices.deny', 'b 8:0 w']]);
  });

  test('devices.list "a *:* rwm" reads as allow-by-default', () => {
    assert.equal(parseDeviceList('a *:* rwm\n').defaultAllow, true);
    assert.deepEqual([...parseDeviceList('c 1:3 rwm\nb *:* m\n').exceptions], [['c 1:3', 'rwm'], ['b *:*', 'm']]);
  });
});

// ---------------------------------------------------------------------------------------------
// resources.ts: routing, errors, runc's device list, update merging

/** A fake hierarchy under root/<name> with the container dir /berth/c1 holding `files`. */
function fakeHierarchy(name: string, version: 1 | 2, controllers: string[], files: Record<string, string>): { h: Hierarchy; dir: string } {
  const mountPoint = join(root, 'fs', name);
  const dir = join(mountPoint, 'berth', 'c1');
  mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
  return { h: { name, version, mountPoint, controllers }, dir };
}

function setup(parts: { h: Hierarchy; dir: string }[]): { layout: CgroupLayout; placement: CgroupPlacement } {
  const hierarchies = parts.map((p) => p.h);
  const v1 = hierarchies.some((h) => h.version === 1);
  const unified = hierarchies.find((h) => h.version === 2);
  const layout: CgroupLayout = { kind: v1 && unified ? 'hybrid' : v1 ? 'v1' : 'v2', hierarchies, unified };
  return { layout, placement: { path: '/berth/c1', dirs: parts.map((p) => p.dir), created: parts.map((p) => p.dir) } };
}

describe('applyResources (resources.ts)', () => {
  test('each resource goes to the v1 hierarchy that has its controller', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const pid = fakeHierarchy('pids', 1, ['pids'], { 'pids.max': 'max' });
    const { layout, placement } = setup([mem, pid]);
    const w = applyResources(layout, placement, { memory: { limit: 64 * M }, pids: { limit: 9 } });
    assert.deepEqual(w, []);
    assert.equal(cat(mem.dir, 'memory.limit_in_bytes'), String(64 * M));
    assert.equal(cat(pid.dir, 'pids.max'), '9');
  });

  test('a resource whose controller exists nowhere gives a warning naming the resource, not silence', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const uni = fakeHierarchy('unified', 2, [], { 'cgroup.controllers': '' });
    const { layout, placement } = setup([mem, uni]);
    const w = applyResources(layout, placement, { hugepageLimits: [{ pageSize: '2MB', limit: 0 }], network: { classID: 7, priorities: [{ name: 'lo', priority: 1 }] }, pids: { limit: 5 } });
    assert.equal(w.length, 4, w.join('\n'));
    assert.match(w[0]!, /^linux\.resources\.pids: not applied: no v1 pids hierarchy is mounted and cgroup2 .* does not offer pids/);
    assert.match(w[1]!, /^linux\.resources\.hugepageLimits: not applied: no v1 hugetlb hierarchy/);
    assert.match(w[2]!, /^linux\.resources\.network\.classID: not applied: .*cgroup v2 has no net_cls controller/);
    assert.match(w[3]!, /^linux\.resources\.network\.priorities: not applied/);
  });

  test('hybrid: a controller with no v1 hierarchy goes to cgroup2 when the container\'s dir has it', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const uni = fakeHierarchy('unified', 2, ['pids'], { 'cgroup.controllers': 'pids\n', 'pids.max': 'max' });
    const { layout, placement } = setup([mem, uni]);
    assert.deepEqual(applyResources(layout, placement, { pids: { limit: 12 } }), []);
    assert.equal(cat(uni.dir, 'pids.max'), '12');
  });

  test('hybrid: on cgroup2 but not enabled for the container (the root does not pass it down): a warning', () => {
    const uni = fakeHierarchy('unified', 2, ['hugetlb'], { 'cgroup.controllers': '' });
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const { layout, placement } = setup([mem, uni]);
    placement.created = [mem.dir, uni.dir];
    const w = applyResources(layout, placement, { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] });
    assert.match(w.at(-1) ?? '', /hugepageLimits: not applied: the hugetlb controller is on cgroup2 here but not enabled/);
  });

  test('errors carry what, where and why: cgroup PATH: FILE: write VALUE: REASON', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const { layout, placement } = setup([mem]);
    assert.throws(
      () => withKernel((f) => (f === 'memory.limit_in_bytes' ? 'EINVAL' : undefined), () => applyResources(layout, placement, { memory: { limit: 1000 } })),
      { message: 'cgroup /berth/c1: memory.limit_in_bytes: write 1000: Invalid argument' },
    );
  });

  test('unified is cgroup v2 only: refused where cgroup2 has no controllers', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const uni = fakeHierarchy('unified', 2, [], { 'cgroup.controllers': '' });
    const a = setup([mem]);
    assert.throws(() => applyResources(a.layout, a.placement, { unified: { 'memory.high': '1000' } }), /unified \(memory\.high\): cgroup v2 only, and this host has no cgroup2 mount/);
    const b = setup([mem, uni]);
    assert.throws(() => applyResources(b.layout, b.placement, { unified: { 'memory.high': '1000' } }), /has no controllers: they are all bound to v1 hierarchies/);
  });

  test('unified for a controller bound to v1 on a hybrid host is refused', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles());
    const uni = fakeHierarchy('unified', 2, ['hugetlb'], { 'cgroup.controllers': 'hugetlb\n' });
    const { layout, placement } = setup([mem, uni]);
    assert.throws(() => applyResources(layout, placement, { unified: { 'memory.high': '1000' } }), /the memory controller is bound to cgroup v1 on this host/);
  });

  test('collectStats gathers the v1 controllers\' statistics', () => {
    const mem = fakeHierarchy('memory', 1, ['memory'], memoryFiles({ 'memory.stat': 'cache 1\n' }));
    const pid = fakeHierarchy('pids', 1, ['pids'], { 'pids.max': '5', 'pids.current': '2' });
    const { layout, placement } = setup([mem, pid]);
    const s = collectStats(layout, placement);
    assert.deepEqual(s.pids, { current: 2, limit: 5 });
    assert.equal(s.memory?.usage.usage, 4096);
  });
});

describe('runc\'s device list and update merging', () => {
  test('the config\'s rules come first, in order, then runc 1.1\'s default allow-list', () => {
    const rules = effectiveDeviceRules({ linux: { resources: { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }] } } });
    assert.deepEqual(rules.slice(0, 2).map(formatRule), ['a', 'c 1:3 r']);
    assert.deepEqual(rules.slice(2).map(formatRule), ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm']);
  });

  test('no devices in the config: deny-all plus runc\'s defaults (never allow-all)', () => {
    const res = createResources({});
    assert.equal(emulate(res.devices!).defaultAllow, false);
    assert.ok(emulate(res.devices!).exceptions.has('c 1:3'));
  });

  test('a default with a path in linux.devices is dropped (runc: the spec\'s device takes priority)', () => {
    const rules = effectiveDeviceRules({ linux: { devices: [{ path: '/dev/zero', type: 'c', major: 1, minor: 5 }] } });
    assert.ok(!rules.map(formatRule).includes('c 1:5 rwm'));
    assert.ok(rules.map(formatRule).includes('c 1:3 rwm'));
  });

  test('merge: given fields replace, others stay; -1 limit without swap lifts swap; empty cpus change nothing', () => {
    const old: Resources = { memory: { limit: 64 * M, swap: 128 * M, reservation: M }, cpu: { shares: 512, cpus: '0' }, pids: { limit: 5 }, devices: [{ allow: false, access: 'rwm' }] };
    const m = mergeResources(old, { memory: { limit: -1 }, cpu: { cpus: '', quota: 1000 } });
    assert.deepEqual(m.memory, { limit: -1, swap: -1, reservation: M });
    assert.deepEqual(m.cpu, { shares: 512, cpus: '0', quota: 1000 });
    assert.deepEqual(m.pids, { limit: 5 });
    assert.deepEqual(m.devices, old.devices);
    assert.deepEqual(old.memory, { limit: 64 * M, swap: 128 * M, reservation: M }, 'the stored resources are not mutated');
  });

  test('update writes what it names plus the partner the kernel checks it against', () => {
    const merged: Resources = { memory: { limit: 32 * M, swap: 128 * M, kernel: M, reservation: M }, cpu: { shares: 2, quota: 5000, period: 10000 }, pids: { limit: 3 } };
    const w = updateWrites(merged, { memory: { limit: 32 * M }, cpu: { quota: 5000 } });
    assert.deepEqual(w, { memory: { limit: 32 * M, swap: 128 * M }, cpu: { quota: 5000, period: 10000 } });
  });
});

// ---------------------------------------------------------------------------------------------
// update's command line

describe('berth-oci update flags', () => {
  test('memory sizes take docker\'s units: 64m, 1g, 1.5g, 512k, plain bytes, -1', () => {
    assert.equal(parseBytes('64m', 'memory'), 64 * M);
    assert.equal(parseBytes('1g', 'memory'), 1024 * M);
    assert.equal(parseBytes('1.5G', 'memory'), 1536 * M);
    assert.equal(parseBytes('512kb', 'memory'), 512 * 1024);
    assert.equal(parseBytes('1000', 'memory'), 1000);
    assert.equal(parseBytes('-1', 'memory-swap'), -1);
    assert.throws(() => parseBytes('lots', 'memory'), /invalid value "lots" for flag --memory/);
  });

  test('flags become a resources fragment; --pids-limit 0 and --blkio-weight 0 change nothing (runc)', () => {
    const p = parseArgs(['--memory', '32m', '--memory-swap', '-1', '--cpu-share', '256', '--cpu-quota', '-1', '--cpuset-cpus', '0', '--pids-limit', '0', '--blkio-weight', '0', 'c1'], UPDATE_FLAGS);
    assert.deepEqual(updateResources(p), { memory: { limit: 32 * M, swap: -1 }, cpu: { shares: 256, quota: -1, cpus: '0' } });
    assert.deepEqual(updateResources(parseArgs(['--cpu-shares', '10', '--pids-limit', '-1', 'c1'], UPDATE_FLAGS)), { cpu: { shares: 10 }, pids: { limit: -1 } });
  });

  test('-r - reads linux.resources JSON from stdin, validated; other flags are ignored', () => {
    const p = parseArgs(['-r', '-', '--memory', '1g', 'c1'], UPDATE_FLAGS);
    assert.deepEqual(updateResources(p, () => '{"memory":{"limit":1000000},"cpu":{"shares":100}}'), { memory: { limit: 1000000 }, cpu: { shares: 100 } });
    assert.throws(() => updateResources(p, () => '{"memory":{"limit":"lots"}}'), /update: <stdin>: \$\.memory\.limit/);
  });
});
