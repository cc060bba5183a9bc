// The cgroup v2 controllers (src/runtime/cgroups/v2/*) against a temp-dir fake cgroupfs: each
// setting written to its file and read back, the spec's edge cases by name, warnings for files a
// kernel lacks; and the eBPF device filter generator, decoded and run in a small interpreter
// against a reference model of the rules. Nothing here is privileged or touches /sys/fs/cgroup.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { DeviceCgroupRule, Resources } from '../../src/runtime/spec/types.ts';
import type { Stats } from '../../src/runtime/cgroups/controller.ts';
import { V2_CONTROLLERS, enableControllers } from '../../src/runtime/cgroups/v2/index.ts';
import { memory, swapMaxValue } from '../../src/runtime/cgroups/v2/memory.ts';
import { cpu, cpuMaxValue, sharesToWeight } from '../../src/runtime/cgroups/v2/cpu.ts';
import { cpuset } from '../../src/runtime/cgroups/v2/cpuset.ts';
import { pids } from '../../src/runtime/cgroups/v2/pids.ts';
import { blkioToIOWeight, io, ioMaxLines } from '../../src/runtime/cgroups/v2/io.ts';
import { hugetlb } from '../../src/runtime/cgroups/v2/hugetlb.ts';
import { unified } from '../../src/runtime/cgroups/v2/unified.ts';
import { UNLIMITED } from '../../src/runtime/cgroups/v2/files.ts';
import {
  ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR, OP, type BpfInsn,
  decodeProgram, deviceFilter, devicesDetachRecord, devicesRecords, disassemble, encodeProgram, oneOffPlan,
} from '../../src/runtime/cgroups/v2/devices.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-cgroup-v2-test-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Creates the fake cgroup's files with their initial contents. */
function files(spec: Record<string, string>): void {
  for (const [name, content] of Object.entries(spec)) writeFileSync(join(dir, name), content);
}

function get(name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

const MEMORY_FILES = { 'memory.max': 'max\n', 'memory.low': '0\n', 'memory.swap.max': 'max\n', 'memory.current': '4096\n' };

// ---------------------------------------------------------------------------------------------

describe('V2_CONTROLLERS', () => {
  test('one controller per concern, unified last (its raw values override the typed ones)', () => {
    assert.deepEqual(V2_CONTROLLERS.map((c) => c.name), ['cpuset', 'cpu', 'memory', 'pids', 'io', 'hugetlb', 'unified']);
  });

  test('resources with nothing set write nothing and warn nothing', () => {
    files({ ...MEMORY_FILES, 'cpu.max': 'max 100000\n', 'cpu.weight': '100\n', 'pids.max': 'max\n' });
    for (const c of V2_CONTROLLERS) assert.deepEqual(c.apply(dir, {}), [], c.name);
    assert.equal(get('memory.max'), 'max\n');
    assert.equal(get('cpu.weight'), '100\n');
  });

  test('a missing file is never created: settings for absent controllers only warn', () => {
    const res: Resources = { memory: { limit: 1 << 20 }, cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' }, pids: { limit: 10 } };
    const warnings = V2_CONTROLLERS.flatMap((c) => c.apply(dir, res));
    assert.equal(warnings.length, 5, warnings.join('\n'));
    for (const f of ['memory.max', 'cpu.weight', 'cpu.max', 'cpuset.cpus', 'pids.max']) assert.ok(!existsSync(join(dir, f)), f);
  });
});

describe('memory', () => {
  test('limit → memory.max, reservation → memory.low', () => {
    files(MEMORY_FILES);
    assert.deepEqual(memory.apply(dir, { memory: { limit: 536870912, reservation: 268435456 } }), []);
    assert.equal(get('memory.max'), '536870912');
    assert.equal(get('memory.low'), '268435456');
  });

  test('limit -1 is max', () => {
    files({ ...MEMORY_FILES, 'memory.max': '1000\n' });
    memory.apply(dir, { memory: { limit: -1 } });
    assert.equal(get('memory.max'), 'max');
  });

  test('limit 0 means not set (as in runc): memory.max unchanged', () => {
    files(MEMORY_FILES);
    assert.deepEqual(memory.apply(dir, { memory: { limit: 0 } }), []);
    assert.equal(get('memory.max'), 'max\n');
  });

  test('limit below -1 is refused', () => {
    files(MEMORY_FILES);
    assert.throws(() => memory.apply(dir, { memory: { limit: -2 } }), /memory\.limit: -2 is out of range/);
  });

  test('swap is memory+swap: memory.swap.max = swap − limit', () => {
    files(MEMORY_FILES);
    memory.apply(dir, { memory: { limit: 512 << 20, swap: 768 << 20 } });
    assert.equal(get('memory.swap.max'), String(256 << 20));
  });

  test('swap equal to the limit is no swap at all (memory.swap.max 0)', () => {
    files(MEMORY_FILES);
    memory.apply(dir, { memory: { limit: 1 << 20, swap: 1 << 20 } });
    assert.equal(get('memory.swap.max'), '0');
  });

  test('swap -1 is max', () => {
    files({ ...MEMORY_FILES, 'memory.swap.max': '0\n' });
    memory.apply(dir, { memory: { limit: 1 << 20, swap: -1 } });
    assert.equal(get('memory.swap.max'), 'max');
  });

  test('swap below limit is refused, and nothing is written', () => {
    files(MEMORY_FILES);
    assert.throws(() => memory.apply(dir, { memory: { limit: 2 << 20, swap: 1 << 20 } }), /below memory\.limit/);
    assert.equal(get('memory.max'), 'max\n');
  });

  test('a swap limit without a memory limit is refused', () => {
    files(MEMORY_FILES);
    assert.throws(() => memory.apply(dir, { memory: { swap: 1 << 20 } }), /needs a memory limit/);
  });

  test('an unlimited memory without a swap setting makes swap unlimited too (as v1 does)', () => {
    files({ ...MEMORY_FILES, 'memory.swap.max': '0\n' });
    memory.apply(dir, { memory: { limit: -1 } });
    assert.equal(get('memory.swap.max'), 'max');
  });

  test('update of swap alone converts against the cgroup\'s current memory.max', () => {
    files({ ...MEMORY_FILES, 'memory.max': '1048576\n' });
    memory.apply(dir, { memory: { swap: 3 << 20 } });
    assert.equal(get('memory.swap.max'), String(2 << 20));
  });

  test('swapMaxValue: 0 and unset leave memory.swap.max alone', () => {
    assert.equal(swapMaxValue(undefined, 100), undefined);
    assert.equal(swapMaxValue(0, 100), undefined);
    assert.equal(swapMaxValue(undefined, -1), -1);
  });

  test('no memory.swap.max (no swap accounting): a swap limit warns, swap -1 does not', () => {
    files({ 'memory.max': 'max\n' });
    assert.match(memory.apply(dir, { memory: { limit: 1 << 20, swap: 2 << 20 } }).join(), /memory\.swap .* ignored: memory\.swap\.max does not exist/);
    assert.deepEqual(memory.apply(dir, { memory: { limit: 1 << 20, swap: -1 } }), []);
    assert.equal(get('memory.max'), '1048576');
  });

  test('disableOOMKiller, swappiness, kernel, kernelTCP and useHierarchy false are warnings in v2', () => {
    files(MEMORY_FILES);
    const w = memory.apply(dir, { memory: { disableOOMKiller: true, swappiness: 10, kernel: 1 << 20, kernelTCP: 1 << 20, useHierarchy: false } });
    assert.equal(w.length, 5);
    assert.match(w[0]!, /disableOOMKiller ignored: cgroup v2 has no way to disable the OOM killer/);
    assert.match(w.join('\n'), /swappiness 10 ignored/);
    assert.match(w.join('\n'), /kernel 1048576 ignored/);
    assert.match(w.join('\n'), /kernelTCP 1048576 ignored/);
  });

  test('disableOOMKiller false is no warning', () => {
    files(MEMORY_FILES);
    assert.deepEqual(memory.apply(dir, { memory: { disableOOMKiller: false } }), []);
  });

  test('checkBeforeUpdate refuses a limit below the current usage', () => {
    files({ ...MEMORY_FILES, 'memory.current': '8192\n' });
    assert.throws(() => memory.apply(dir, { memory: { limit: 4096, checkBeforeUpdate: true } }), /below the current usage 8192/);
    memory.apply(dir, { memory: { limit: 16384, checkBeforeUpdate: true } });
    assert.equal(get('memory.max'), '16384');
  });

  test('stats: usage, limit, peak, failcnt from memory.events, raw memory.stat, swap as memory+swap', () => {
    files({
      'memory.current': '1000\n', 'memory.max': '5000\n', 'memory.peak': '3000\n',
      'memory.stat': 'anon 600\nfile 400\nkernel 10\n', 'memory.events': 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n',
      'memory.swap.current': '50\n', 'memory.swap.max': '200\n', 'memory.swap.events': 'high 0\nmax 2\nfail 0\n',
    });
    const s: Stats = {};
    memory.stats!(dir, s);
    assert.deepEqual(s.memory, {
      cache: 400,
      usage: { limit: 5000, usage: 1000, max: 3000, failcnt: 7 },
      raw: { anon: 600, file: 400, kernel: 10 },
      swap: { usage: 1050, limit: 5200, max: 0, failcnt: 2 },
    });
  });

  test('stats: memory.max "max" is reported as runc\'s MaxUint64, and an unlimited swap too', () => {
    files({ 'memory.current': '1\n', 'memory.max': 'max\n', 'memory.swap.current': '0\n', 'memory.swap.max': 'max\n' });
    const s: Stats = {};
    memory.stats!(dir, s);
    assert.equal(s.memory!.usage.limit, UNLIMITED);
    assert.equal(s.memory!.swap!.limit, UNLIMITED);
  });

  test('stats without memory.current (controller not enabled) adds nothing', () => {
    const s: Stats = {};
    memory.stats!(dir, s);
    assert.deepEqual(s, {});
  });
});

describe('cpu', () => {
  test('shares 2 is weight 1', () => assert.equal(sharesToWeight(2), 1));
  test('shares 262144 is weight 10000', () => assert.equal(sharesToWeight(262144), 10000));
  test('shares 1024 (the v1 default) is weight 39, as in runc', () => assert.equal(sharesToWeight(1024), 39));

  test('shares → cpu.weight', () => {
    files({ 'cpu.weight': '100\n' });
    assert.deepEqual(cpu.apply(dir, { cpu: { shares: 512 } }), []);
    assert.equal(get('cpu.weight'), String(sharesToWeight(512)));
  });

  test('shares out of 2..262144 are clamped, with a warning (v1 clamps too)', () => {
    files({ 'cpu.weight': '100\n' });
    assert.match(cpu.apply(dir, { cpu: { shares: 1 } }).join(), /cpu\.shares 1 clamped to 2/);
    assert.equal(get('cpu.weight'), '1');
    assert.match(cpu.apply(dir, { cpu: { shares: 1_000_000 } }).join(), /clamped to 262144/);
    assert.equal(get('cpu.weight'), '10000');
  });

  test('quota and period → cpu.max "QUOTA PERIOD"', () => {
    files({ 'cpu.max': 'max 100000\n' });
    cpu.apply(dir, { cpu: { quota: 50000, period: 100000 } });
    assert.equal(get('cpu.max'), '50000 100000');
  });

  test('quota -1 is max', () => {
    files({ 'cpu.max': '50000 100000\n' });
    cpu.apply(dir, { cpu: { quota: -1, period: 250000 } });
    assert.equal(get('cpu.max'), 'max 250000');
    assert.equal(cpuMaxValue(-1, undefined), 'max');
  });

  test('a quota alone keeps the period (the kernel does)', () => {
    assert.equal(cpuMaxValue(30000, undefined), '30000');
  });

  test('a period alone keeps the cgroup\'s quota', () => {
    files({ 'cpu.max': '20000 100000\n' });
    cpu.apply(dir, { cpu: { period: 50000 } });
    assert.equal(get('cpu.max'), '20000 50000');
  });

  test('quota 0 and period 0 mean not set (as in runc)', () => {
    assert.equal(cpuMaxValue(0, 0), undefined);
  });

  test('a quota below 1000 µs, a period outside 1 ms..1 s, or a quota below -1 is refused', () => {
    assert.throws(() => cpuMaxValue(999, 100000), /cpu\.quota: 999 is out of range/);
    assert.throws(() => cpuMaxValue(50000, 999), /cpu\.period/);
    assert.throws(() => cpuMaxValue(50000, 1_000_001), /cpu\.period/);
    assert.throws(() => cpuMaxValue(-2, 100000), /not a quota/);
  });

  test('burst → cpu.max.burst; without the file a warning', () => {
    files({ 'cpu.max.burst': '0\n' });
    cpu.apply(dir, { cpu: { burst: 10000 } });
    assert.equal(get('cpu.max.burst'), '10000');
    rmSync(join(dir, 'cpu.max.burst'));
    assert.match(cpu.apply(dir, { cpu: { burst: 10000 } }).join(), /cpu\.burst 10000 ignored: cpu\.max\.burst does not exist \(kernel older than 5\.14/);
  });

  test('idle → cpu.idle; idle 2 is refused', () => {
    files({ 'cpu.idle': '0\n' });
    cpu.apply(dir, { cpu: { idle: 1 } });
    assert.equal(get('cpu.idle'), '1');
    assert.throws(() => cpu.apply(dir, { cpu: { idle: 2 } }), /must be 0 or 1/);
  });

  test('realtime settings are a warning (v2 has no RT group scheduling)', () => {
    assert.match(cpu.apply(dir, { cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 } }).join(), /realtime.* ignored/);
  });

  test('stats: cpu.stat µs become runc\'s ns', () => {
    files({ 'cpu.stat': 'usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 500\n' });
    const s: Stats = {};
    cpu.stats!(dir, s);
    assert.deepEqual(s.cpu, {
      usage: { total: 3_000_000, kernel: 1_000_000, user: 2_000_000 },
      throttling: { periods: 10, throttledPeriods: 4, throttledTime: 500_000 },
    });
  });

  test('stats: cpu.stat without the cpu controller (usage only) has zero throttling', () => {
    files({ 'cpu.stat': 'usage_usec 7\nuser_usec 5\nsystem_usec 2\n' });
    const s: Stats = {};
    cpu.stats!(dir, s);
    assert.deepEqual(s.cpu!.throttling, { periods: 0, throttledPeriods: 0, throttledTime: 0 });
    assert.equal(s.cpu!.usage.total, 7000);
  });
});

describe('cpuset', () => {
  test('cpus → cpuset.cpus, mems → cpuset.mems', () => {
    files({ 'cpuset.cpus': '\n', 'cpuset.mems': '\n' });
    assert.deepEqual(cpuset.apply(dir, { cpu: { cpus: '0-1,3', mems: '0' } }), []);
    assert.equal(get('cpuset.cpus'), '0-1,3');
    assert.equal(get('cpuset.mems'), '0');
  });

  test('a list that is not a cpu list is refused', () => {
    files({ 'cpuset.cpus': '\n' });
    assert.throws(() => cpuset.apply(dir, { cpu: { cpus: '0;reboot' } }), /not a list/);
  });

  test('without cpuset files: a warning per setting', () => {
    assert.equal(cpuset.apply(dir, { cpu: { cpus: '0', mems: '0' } }).length, 2);
  });
});

describe('pids', () => {
  test('limit → pids.max', () => {
    files({ 'pids.max': 'max\n' });
    pids.apply(dir, { pids: { limit: 100 } });
    assert.equal(get('pids.max'), '100');
  });

  test('limit -1 is max', () => {
    files({ 'pids.max': '5\n' });
    pids.apply(dir, { pids: { limit: -1 } });
    assert.equal(get('pids.max'), 'max');
  });

  test('limit 0 leaves pids.max unchanged (as in runc)', () => {
    files({ 'pids.max': '5\n' });
    pids.apply(dir, { pids: { limit: 0 } });
    assert.equal(get('pids.max'), '5\n');
  });

  test('no pids.max: a warning', () => {
    assert.match(pids.apply(dir, { pids: { limit: 10 } }).join(), /pids\.limit 10 ignored: pids\.max does not exist/);
  });

  test('stats: pids.current, and "max" as limit 0 (runc)', () => {
    files({ 'pids.current': '3\n', 'pids.max': 'max\n' });
    const s: Stats = {};
    pids.stats!(dir, s);
    assert.deepEqual(s.pids, { current: 3, limit: 0 });
    writeFileSync(join(dir, 'pids.max'), '64\n');
    pids.stats!(dir, s);
    assert.deepEqual(s.pids, { current: 3, limit: 64 });
  });
});

describe('io', () => {
  test('weight → io.bfq.weight when BFQ is there (same range as v1)', () => {
    files({ 'io.bfq.weight': 'default 100\n', 'io.weight': 'default 100\n' });
    io.apply(dir, { blockIO: { weight: 500 } });
    assert.equal(get('io.bfq.weight'), '500');
    assert.equal(get('io.weight'), 'default 100\n');
  });

  test('weight → io.weight (converted) without BFQ', () => {
    files({ 'io.weight': 'default 100\n' });
    io.apply(dir, { blockIO: { weight: 500 } });
    assert.equal(get('io.weight'), `default ${blkioToIOWeight(500)}`);
  });

  test('blkio weight 10 is io.weight 1, 1000 is 10000', () => {
    assert.equal(blkioToIOWeight(10), 1);
    assert.equal(blkioToIOWeight(1000), 10000);
  });

  test('weight without io.bfq.weight and io.weight (mq-deadline) is a warning, never a silent success', () => {
    files({ 'io.max': '' });
    assert.match(io.apply(dir, { blockIO: { weight: 300 } }).join(), /blockIO\.weight 300 ignored: neither io\.bfq\.weight .* nor io\.weight/);
  });

  test('weight outside 10..1000 is refused', () => {
    files({ 'io.weight': '' });
    assert.throws(() => io.apply(dir, { blockIO: { weight: 5 } }), /blockIO\.weight: 5 is out of range/);
  });

  test('per-device weight: "MAJ:MIN W"', () => {
    files({ 'io.bfq.weight': 'default 100\n' });
    io.apply(dir, { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 200 }] } });
    assert.equal(get('io.bfq.weight'), '8:0 200');
  });

  test('leaf weights are warnings (v2 has none)', () => {
    files({ 'io.bfq.weight': '' });
    assert.match(io.apply(dir, { blockIO: { leafWeight: 300 } }).join(), /leafWeight 300 ignored/);
  });

  test('throttles → io.max, one line per device with every key of that device', () => {
    const lines = ioMaxLines({
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }, { major: 8, minor: 16, rate: 2048 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 524288 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    });
    assert.deepEqual(lines, ['8:0 rbps=1048576 wbps=524288 riops=100 wiops=50', '8:16 rbps=2048']);
  });

  test('a throttle rate of 0 removes the limit (max), as 0 does on v1', () => {
    assert.deepEqual(ioMaxLines({ throttleWriteIOPSDevice: [{ major: 253, minor: 1, rate: 0 }] }), ['253:1 wiops=max']);
  });

  test('io.max is written', () => {
    files({ 'io.max': '' });
    io.apply(dir, { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] } });
    assert.equal(get('io.max'), '8:0 rbps=1000');
  });

  test('throttles without io.max: a warning', () => {
    assert.match(io.apply(dir, { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] } }).join(), /throttles ignored: io\.max does not exist/);
  });

  test('stats: io.stat → ioServiceBytesRecursive and ioServicedRecursive', () => {
    files({ 'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0\n' });
    const s: Stats = {};
    io.stats!(dir, s);
    assert.deepEqual(s.blkio, {
      ioServiceBytesRecursive: [
        { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 },
        { major: 253, minor: 1, op: 'Read', value: 1 }, { major: 253, minor: 1, op: 'Write', value: 0 },
      ],
      ioServicedRecursive: [
        { major: 8, minor: 0, op: 'Read', value: 1 }, { major: 8, minor: 0, op: 'Write', value: 2 },
        { major: 253, minor: 1, op: 'Read', value: 1 }, { major: 253, minor: 1, op: 'Write', value: 0 },
      ],
    });
  });
});

describe('hugetlb', () => {
  test('hugepageLimits → hugetlb.<size>.max and .rsvd.max', () => {
    files({ 'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.rsvd.max': 'max\n', 'hugetlb.1GB.max': 'max\n' });
    assert.deepEqual(hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }, { pageSize: '1GB', limit: 0 }] }), []);
    assert.equal(get('hugetlb.2MB.max'), '4194304');
    assert.equal(get('hugetlb.2MB.rsvd.max'), '4194304');
    assert.equal(get('hugetlb.1GB.max'), '0');
  });

  test('a page size the kernel lacks is a warning naming the sizes it has', () => {
    files({ 'hugetlb.2MB.max': 'max\n' });
    assert.match(hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }).join(), /hugetlb\.1GB\.max does not exist \(page sizes here: 2MB\)/);
  });

  test('no hugetlb files at all: the controller is not enabled', () => {
    assert.match(hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }).join(), /hugetlb controller is not enabled/);
  });

  test('a page size that is not like 2MB is refused (it becomes part of a file name)', () => {
    assert.throws(() => hugetlb.apply(dir, { hugepageLimits: [{ pageSize: '../../x', limit: 1 }] }), /not like 2MB/);
  });

  test('stats: usage from .current, failcnt from .events max', () => {
    files({ 'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.current': '2097152\n', 'hugetlb.2MB.events': 'max 3\n' });
    const s: Stats = {};
    hugetlb.stats!(dir, s);
    assert.deepEqual(s.hugetlb, { '2MB': { usage: 2097152, max: 0, failcnt: 3 } });
  });
});

describe('unified', () => {
  test('each key is written as a file of the cgroup', () => {
    files({ 'cgroup.controllers': 'cpu memory pids\n', 'memory.high': 'max\n', 'pids.max': 'max\n' });
    assert.deepEqual(unified.apply(dir, { unified: { 'memory.high': '1073741824', 'pids.max': '20' } }), []);
    assert.equal(get('memory.high'), '1073741824');
    assert.equal(get('pids.max'), '20');
  });

  test('a key with "/" or ".." is refused', () => {
    files({ 'cgroup.controllers': 'memory\n' });
    assert.throws(() => unified.apply(dir, { unified: { '../memory.max': '1' } }), /must be a file name/);
    assert.throws(() => unified.apply(dir, { unified: { 'memory/max': '1' } }), /must be a file name/);
    assert.throws(() => unified.apply(dir, { unified: { 'memory..max': '1' } }), /must be a file name/);
  });

  test('a key whose controller is not enabled is refused, saying which are', () => {
    files({ 'cgroup.controllers': 'pids\n', 'memory.high': 'max\n' });
    assert.throws(() => unified.apply(dir, { unified: { 'memory.high': '1' } }),
      /"memory\.high" cannot be set: the memory controller is not enabled for this cgroup \(enabled: pids\)/);
  });

  test('nothing is written when any key is refused', () => {
    files({ 'cgroup.controllers': 'pids\n', 'pids.max': 'max\n' });
    assert.throws(() => unified.apply(dir, { unified: { 'pids.max': '5', 'io.max': '8:0 rbps=1' } }), /io controller is not enabled/);
    assert.equal(get('pids.max'), 'max\n');
  });

  test('a key not in controller.parameter form, a missing file or an empty value is refused', () => {
    files({ 'cgroup.controllers': 'pids\n', 'pids.max': 'max\n' });
    assert.throws(() => unified.apply(dir, { unified: { pidsmax: '5' } }), /controller\.parameter/);
    assert.throws(() => unified.apply(dir, { unified: { 'pids.nope': '5' } }), /does not exist/);
    assert.throws(() => unified.apply(dir, { unified: { 'pids.max': '' } }), /empty value/);
  });

  test('cgroup.procs and other files that move processes are refused; core cgroup.* files are allowed', () => {
    files({ 'cgroup.controllers': '\n', 'cgroup.procs': '', 'cgroup.max.depth': 'max\n' });
    assert.throws(() => unified.apply(dir, { unified: { 'cgroup.procs': '1' } }), /managed by the runtime/);
    unified.apply(dir, { unified: { 'cgroup.max.depth': '3' } });
    assert.equal(get('cgroup.max.depth'), '3');
  });
});

describe('enableControllers', () => {
  test('enables every available controller not yet in subtree_control', () => {
    files({ 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': 'cpu\n' });
    assert.deepEqual(enableControllers([dir]), []);
    assert.equal(get('cgroup.subtree_control'), '+memory +pids');
  });

  test('nothing available (this machine\'s hybrid root passes nothing down): nothing written', () => {
    files({ 'cgroup.controllers': '\n', 'cgroup.subtree_control': '\n' });
    assert.deepEqual(enableControllers([dir]), []);
    assert.equal(get('cgroup.subtree_control'), '\n');
  });
});

// ---------------------------------------------------------------------------------------------
// the eBPF device filter

interface Request { type: number; major: number; minor: number; access: number }

/** An interpreter for the instructions the generator emits, with the kernel's semantics. */
function run(prog: BpfInsn[], req: Request): number {
  const r = new Array<number>(11).fill(0);
  const ctx = [(req.access << 16) | req.type, req.major, req.minor];
  let steps = 0;
  for (let pc = 0; ; pc++) {
    assert.ok(pc >= 0 && pc < prog.length, `pc ${pc} out of the program`);
    assert.ok(++steps < 100000, 'the program loops');
    const i = prog[pc]!;
    switch (i.code) {
      case OP.LDXW:
        assert.equal(i.src, 1, 'loads only from the context (r1)');
        assert.ok(i.off === 0 || i.off === 4 || i.off === 8, `ctx offset ${i.off}`);
        r[i.dst] = ctx[i.off / 4]! >>> 0;
        break;
      case OP.AND32: r[i.dst] = (r[i.dst]! & i.imm) >>> 0; break;
      case OP.RSH32: r[i.dst] = r[i.dst]! >>> i.imm; break;
      case OP.MOV32: r[i.dst] = i.imm >>> 0; break;
      case OP.JNE: if (r[i.dst] !== i.imm) pc += i.off; break;
      case OP.JSET: if ((r[i.dst]! & i.imm) !== 0) pc += i.off; break;
      case OP.JA: pc += i.off; break;
      case OP.EXIT: return r[0]!;
      default: assert.fail(`unexpected opcode 0x${i.code.toString(16)} at ${pc}`);
    }
  }
}

/** The reference semantics: per requested bit, the last matching rule with that bit decides; default deny. */
function model(rules: DeviceCgroupRule[], req: Request): number {
  for (const bit of [ACC_MKNOD, ACC_READ, ACC_WRITE]) {
    if (!(req.access & bit)) continue;
    let allowed = false;
    for (const rule of rules) {
      const t = rule.type ?? 'a';
      if (t !== 'a' && (t === 'c' ? DEV_CHAR : DEV_BLOCK) !== req.type) continue;
      if (rule.major !== undefined && rule.major !== -1 && rule.major !== req.major) continue;
      if (rule.minor !== undefined && rule.minor !== -1 && rule.minor !== req.minor) continue;
      const acc = rule.access ?? 'rwm';
      if (!acc.includes(bit === ACC_MKNOD ? 'm' : bit === ACC_READ ? 'r' : 'w')) continue;
      allowed = rule.allow;
    }
    if (!allowed) return 0;
  }
  return 1;
}

/** The verifier's structural rules that concern us: forward jumps in range, no dead code, ends in exit. */
function checkStructure(prog: BpfInsn[]): void {
  const reach = new Array<boolean>(prog.length).fill(false);
  const todo = [0];
  while (todo.length) {
    const pc = todo.pop()!;
    if (reach[pc]) continue;
    reach[pc] = true;
    const i = prog[pc]!;
    if (i.code === OP.EXIT) continue;
    const isJump = i.code === OP.JNE || i.code === OP.JSET || i.code === OP.JA;
    if (isJump) {
      assert.ok(i.off >= 0, `backward jump at ${pc}`);
      assert.ok(pc + 1 + i.off < prog.length, `jump out of the program at ${pc}`);
      todo.push(pc + 1 + i.off);
    }
    if (i.code !== OP.JA) {
      assert.ok(pc + 1 < prog.length, `falls off the end at ${pc}`);
      todo.push(pc + 1);
    }
  }
  const dead = reach.flatMap((x, pc) => (x ? [] : [pc]));
  assert.deepEqual(dead, [], `unreachable instructions (the verifier refuses them):\n${disassemble(prog).join('\n')}`);
  assert.equal(prog[prog.length - 1]!.code, OP.EXIT);
}

/** Every combination of type, access and a few device numbers. */
function* requests(): Generator<Request> {
  for (const type of [DEV_BLOCK, DEV_CHAR]) {
    for (let access = 1; access <= 7; access++) {
      for (const major of [1, 5, 8, 136]) for (const minor of [0, 3, 5]) yield { type, major, minor, access };
    }
  }
}

function agree(rules: DeviceCgroupRule[]): void {
  const prog = deviceFilter(rules);
  checkStructure(prog);
  for (const req of requests()) {
    assert.equal(run(prog, req), model(rules, req), `rules ${JSON.stringify(rules)}\nrequest ${JSON.stringify(req)}\n${disassemble(prog).join('\n')}`);
  }
}

const R = ACC_READ;
const W = ACC_WRITE;
const M = ACC_MKNOD;
const c = (major: number, minor: number, access: number): Request => ({ type: DEV_CHAR, major, minor, access });

describe('device filter: structure', () => {
  test('it starts by loading type, access, major and minor from struct bpf_cgroup_dev_ctx', () => {
    const prog = deviceFilter([{ allow: false, access: 'rwm' }]);
    assert.deepEqual(disassemble(prog).slice(0, 6), [
      '0: r2 = *(u32 *)(r1 + 0)', '1: w2 &= 0xffff', '2: r3 = *(u32 *)(r1 + 0)', '3: w3 >>= 16',
      '4: r4 = *(u32 *)(r1 + 4)', '5: r5 = *(u32 *)(r1 + 8)',
    ]);
  });

  test('deny-all is three bit tests jumping to deny, then allow (for no bits) and deny', () => {
    const prog = deviceFilter([{ allow: false, access: 'rwm' }]);
    assert.deepEqual(disassemble(prog).slice(6), [
      '6: if r3 & 0x1 goto 11', '7: if r3 & 0x2 goto 11', '8: if r3 & 0x4 goto 11',
      '9: w0 = 1', '10: exit', '11: w0 = 0', '12: exit',
    ]);
  });

  test('allow-all has no deny block (it would be unreachable, which the verifier refuses)', () => {
    const prog = deviceFilter([{ allow: true, type: 'a', access: 'rwm' }]);
    assert.equal(prog.length, 8);
    assert.deepEqual(disassemble(prog).slice(6), ['6: w0 = 1', '7: exit']);
    checkStructure(prog);
  });

  test('an allow rule is: type, major, minor compared, then a jump to the next bit', () => {
    const prog = deviceFilter([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]);
    const text = disassemble(prog).join('\n');
    assert.match(text, /if r2 != 2 goto \d+\n\d+: if r4 != 1 goto \d+\n\d+: if r5 != 3 goto \d+\n\d+: goto \d+/);
    checkStructure(prog);
  });

  test('a wildcard major or minor (absent or -1) is not compared', () => {
    const prog = deviceFilter([{ allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }]);
    const text = disassemble(prog).join('\n');
    assert.match(text, /r4 != 136/);
    assert.doesNotMatch(text, /r5 !=/);
  });

  test('rules before a rule matching every device are left out', () => {
    const a = deviceFilter([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: false, access: 'rwm' }]);
    const b = deviceFilter([{ allow: false, access: 'rwm' }]);
    assert.deepEqual(a, b);
  });

  test('a deny rule under a deny default changes nothing and is left out', () => {
    assert.deepEqual(deviceFilter([{ allow: false, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 5 }]), deviceFilter([{ allow: false, access: 'rwm' }]));
  });

  test('an empty rule list is deny-all (an allow-list with nothing allowed)', () => {
    assert.deepEqual(deviceFilter([]), deviceFilter([{ allow: false, access: 'rwm' }]));
  });

  test('hex encoding: 16 hex digits per instruction, little-endian fields, dst in the low nibble', () => {
    const prog = deviceFilter([{ allow: false, access: 'rwm' }]);
    const hex = encodeProgram(prog, 'LE');
    assert.equal(hex.length, prog.length * 16);
    // r2 = *(u32 *)(r1 + 0): code 0x61, dst 2 src 1 → 0x12, off 0, imm 0
    assert.equal(hex.slice(0, 16), '6112000000000000');
    // w2 &= 0xffff: code 0x54, dst 2, imm 0x0000ffff little-endian
    assert.equal(hex.slice(16, 32), '54020000ffff0000');
    assert.deepEqual(decodeProgram(hex, 'LE'), prog);
  });

  test('hex encoding round-trips in big-endian order too', () => {
    const prog = deviceFilter([{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 8, access: 'rw' }]);
    const hex = encodeProgram(prog, 'BE');
    assert.equal(hex.slice(0, 4), '6121');
    assert.deepEqual(decodeProgram(hex, 'BE'), prog);
  });

  test('devicesRecords: one bpf_devices record with the cgroup dir and the program', () => {
    const rules: DeviceCgroupRule[] = [{ allow: false, access: 'rwm' }];
    const recs = devicesRecords('/sys/fs/cgroup/berth/x', rules);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.op, 'bpf_devices');
    assert.equal(recs[0]!.args[0], '/sys/fs/cgroup/berth/x');
    assert.deepEqual(decodeProgram(recs[0]!.args[1]!), deviceFilter(rules));
  });

  test('devicesRecords with no rules given asks for nothing: no record', () => {
    assert.deepEqual(devicesRecords('/x', undefined), []);
  });

  test('the one-off plan ends with done; the detach record has an empty program', () => {
    const plan = oneOffPlan([devicesDetachRecord('/x')]);
    assert.deepEqual(plan.records, [{ op: 'bpf_devices', args: ['/x', ''] }, { op: 'done', args: [] }]);
  });

  test('invalid rules are refused: major out of range, unknown access, unknown type', () => {
    assert.throws(() => deviceFilter([{ allow: true, type: 'c', major: 2 ** 31 }]), /devices\[0\]: major 2147483648 is out of range/);
    assert.throws(() => deviceFilter([{ allow: true, type: 'c', minor: -2 }]), /minor -2 is out of range/);
    assert.throws(() => deviceFilter([{ allow: true, access: 'rx' }]), /may only contain r, w and m/);
    assert.throws(() => deviceFilter([{ allow: true, type: 'p' as 'c' }]), /type "p" is not a, b or c/);
  });
});

describe('device filter: semantics (interpreted, against the reference model)', () => {
  const RUNC_DEFAULTS: DeviceCgroupRule[] = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
    { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
    { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
    { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
    { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
    { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // pts
    { allow: true, type: 'c', access: 'm' }, // mknod of any char device
    { allow: true, type: 'b', access: 'm' },
  ];

  test('the usual deny-all + allowed devices list', () => {
    const prog = deviceFilter(RUNC_DEFAULTS);
    assert.equal(run(prog, c(1, 3, R | W)), 1, '/dev/null rw');
    assert.equal(run(prog, c(136, 5, R | W)), 1, '/dev/pts/5');
    assert.equal(run(prog, c(8, 0, M)), 1, 'mknod of any char device');
    assert.equal(run(prog, c(8, 0, R)), 0, 'reading a char device not in the list');
    assert.equal(run(prog, { type: DEV_BLOCK, major: 8, minor: 0, access: R }), 0, '/dev/sda');
    assert.equal(run(prog, { type: DEV_BLOCK, major: 1, minor: 3, access: R }), 0, 'block 1:3 is not char 1:3');
    agree(RUNC_DEFAULTS);
  });

  test('the last matching rule wins', () => {
    const rules: DeviceCgroupRule[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 5, access: 'rwm' }];
    const prog = deviceFilter(rules);
    assert.equal(run(prog, c(1, 3, R)), 1);
    assert.equal(run(prog, c(1, 5, R)), 0);
    agree(rules);
    // the other way round the broad allow, coming last, wins
    const swapped: DeviceCgroupRule[] = [rules[0]!, rules[2]!, rules[1]!];
    assert.equal(run(deviceFilter(swapped), c(1, 5, R)), 1);
    agree(swapped);
  });

  test('a request is allowed only if every bit it asks for is: allow rw then deny w', () => {
    const rules: DeviceCgroupRule[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
    const prog = deviceFilter(rules);
    assert.equal(run(prog, c(1, 3, R)), 1);
    assert.equal(run(prog, c(1, 3, W)), 0);
    assert.equal(run(prog, c(1, 3, R | W)), 0);
    agree(rules);
  });

  test('bits granted by different rules add up: allow r, then allow w, is rw', () => {
    const rules: DeviceCgroupRule[] = [{ allow: true, type: 'c', major: 1, minor: 3, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'w' }];
    assert.equal(run(deviceFilter(rules), c(1, 3, R | W)), 1);
    agree(rules);
  });

  test('allow-all with exceptions (a deny-list)', () => {
    const rules: DeviceCgroupRule[] = [{ allow: true, access: 'rwm' }, { allow: false, type: 'b', major: 8, access: 'rw' }];
    const prog = deviceFilter(rules);
    assert.equal(run(prog, { type: DEV_BLOCK, major: 8, minor: 1, access: R }), 0);
    assert.equal(run(prog, { type: DEV_BLOCK, major: 8, minor: 1, access: M }), 1);
    assert.equal(run(prog, c(10, 200, R | W)), 1);
    agree(rules);
  });

  test('a wildcard for some bits only: deny all reads, everything else allowed', () => {
    agree([{ allow: true, access: 'rwm' }, { allow: false, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]);
  });

  test('type a with a major matches both block and char devices of that major', () => {
    const rules: DeviceCgroupRule[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'a', major: 8, access: 'r' }];
    const prog = deviceFilter(rules);
    assert.equal(run(prog, { type: DEV_BLOCK, major: 8, minor: 0, access: R }), 1);
    assert.equal(run(prog, c(8, 0, R)), 1);
    agree(rules);
  });

  test('random rule lists agree with the model on every request', () => {
    // a small deterministic generator, so that a failure is reproducible
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const types = [undefined, 'a', 'b', 'c'] as const;
    const ids = [undefined, -1, 1, 5, 8, 136, 0, 3];
    const accesses = [undefined, '', 'r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];
    for (let n = 0; n < 300; n++) {
      const rules: DeviceCgroupRule[] = [];
      const len = rnd(8);
      for (let k = 0; k < len; k++) {
        const rule: DeviceCgroupRule = { allow: rnd(2) === 1 };
        const t = types[rnd(types.length)];
        if (t) rule.type = t;
        const major = ids[rnd(ids.length)];
        if (major !== undefined) rule.major = major;
        const minor = ids[rnd(ids.length)];
        if (minor !== undefined) rule.minor = minor;
        const access = accesses[rnd(accesses.length)];
        if (access !== undefined) rule.access = access;
        rules.push(rule);
      }
      agree(rules);
    }
  });
});
