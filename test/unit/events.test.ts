// `events` (src/runtime/events.ts) and the OOM counters (src/runtime/cgroups/oom.ts), against
// fake cgroup files in a temp dir: runc's JSON shape, exact uint64 output, Go durations, and the
// event loop (OOM events as the counters move, the end when the container stops).
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeJson, parseDuration, runEvents, runcStats } from '../../src/runtime/events.ts';
import { oomFile, oomKillCount, parseOomCounters } from '../../src/runtime/cgroups/oom.ts';
import type { CgroupLayout } from '../../src/runtime/cgroups/layout.ts';
import type { CgroupPlacement } from '../../src/runtime/cgroups/placement.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-events-test-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fake hybrid layout: memory on v1, cgroup2 beside it; the container's dirs in both. */
function fake(memoryFiles: Record<string, string>): { layout: CgroupLayout; placement: CgroupPlacement; mem: string } {
  const mem = join(root, 'memory/berth/c1');
  const uni = join(root, 'unified/berth/c1');
  mkdirSync(mem, { recursive: true });
  mkdirSync(uni, { recursive: true });
  for (const [f, v] of Object.entries(memoryFiles)) writeFileSync(join(mem, f), v);
  const unified = { name: 'unified', version: 2 as const, mountPoint: join(root, 'unified'), controllers: [] };
  return {
    layout: { kind: 'hybrid', hierarchies: [{ name: 'memory', version: 1, mountPoint: join(root, 'memory'), controllers: ['memory'] }, unified], unified },
    placement: { path: '/berth/c1', dirs: [mem, uni], created: [] },
    mem,
  };
}

const OOM_CONTROL = (kills: number, under = 0) => `oom_kill_disable 0\nunder_oom ${under}\noom_kill ${kills}\n`;

describe('OOM counters', () => {
  test('v1 memory.oom_control and v2 memory.events', () => {
    assert.deepEqual(parseOomCounters(OOM_CONTROL(3, 1), 1), { oomKill: 3, oom: 0, underOom: true });
    assert.deepEqual(parseOomCounters('low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n', 2), { oomKill: 1, oom: 2, underOom: false });
  });

  test('oomKillCount reads the v1 file before cgroup2 and is 0 without a memory cgroup', () => {
    const { placement, mem } = fake({ 'memory.oom_control': OOM_CONTROL(2) });
    writeFileSync(join(placement.dirs[1]!, 'memory.events'), 'oom 9\noom_kill 9\n');
    assert.deepEqual(oomFile(placement), { path: join(mem, 'memory.oom_control'), version: 1 });
    assert.equal(oomKillCount(placement), 2);
    assert.equal(oomKillCount({ path: '/x', dirs: [join(root, 'nothing')], created: [] }), 0);
  });
});

describe('runc JSON', () => {
  test('Go durations', () => {
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('100ms'), 100);
    assert.equal(parseDuration('1m30s'), 90000);
    assert.equal(parseDuration('1.5h'), 5400000);
    assert.equal(parseDuration('250us'), 0.25);
    assert.equal(parseDuration('0'), 0);
    for (const bad of ['', '5', 's', '5x', '1s2', 'abc']) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  });

  test('uint64 values print exactly: v1 "unlimited" and cgroup2 "max"', () => {
    assert.equal(encodeJson({ a: 9223372036854771712, b: 2 ** 64, c: 5 }), '{"a":9223372036854771712,"b":18446744073709551615,"c":5}');
  });

  test('types.Stats shape with omitempty: zero fields dropped where runc drops them', () => {
    const out = runcStats({
      cpu: { usage: { total: 10, percpu: [4, 6], kernel: 0, user: 10 }, throttling: { periods: 3, throttledPeriods: 0, throttledTime: 0 } },
      memory: { cache: 0, usage: { limit: 100, usage: 5, max: 0, failcnt: 0 }, raw: { b: 1, a: 2 } },
      pids: { current: 1, limit: 0 },
      blkio: { ioServiceBytesRecursive: [{ major: 8, minor: 0, op: 'Read', value: 0 }] },
      hugetlb: { '2MB': { usage: 0, max: 0, failcnt: 0 } },
    });
    assert.deepEqual(JSON.parse(encodeJson(out)), {
      cpu: { usage: { total: 10, percpu: [4, 6], kernel: 0, user: 10 }, throttling: { periods: 3 } },
      cpuset: {
        cpu_exclusive: 0, mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0, memory_spread_slab: 0,
        memory_pressure: 0, sched_load_balance: 0, sched_relax_domain_level: 0,
      },
      memory: {
        usage: { limit: 100, usage: 5, failcnt: 0 }, swap: { limit: 0, failcnt: 0 }, kernel: { limit: 0, failcnt: 0 },
        kernelTCP: { limit: 0, failcnt: 0 }, raw: { a: 2, b: 1 },
      },
      pids: { current: 1 },
      blkio: { ioServiceBytesRecursive: [{ major: 8, op: 'Read' }] },
      hugetlb: { '2MB': { failcnt: 0 } },
      intel_rdt: {},
      network_interfaces: null,
    });
    // raw is sorted by key, as Go's encoder sorts maps
    assert.deepEqual(Object.keys((out as any).memory.raw), ['a', 'b']);
  });
});

describe('the events loop', () => {
  test('--stats: one stats line', async () => {
    const { layout, placement } = fake({ 'memory.oom_control': OOM_CONTROL(0), 'memory.usage_in_bytes': '4096\n', 'memory.limit_in_bytes': '9223372036854771712\n' });
    const lines: string[] = [];
    await runEvents({ id: 'c1', layout, placement, running: () => true, write: (l) => lines.push(l), intervalMs: 1000, statsOnly: true });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\{"type":"stats","id":"c1","data":\{"cpu":/);
    assert.match(lines[0]!, /"usage":\{"limit":9223372036854771712,"usage":4096,"failcnt":0\}/);
  });

  test('an oom event as soon as oom_kill grows (not for kills before the start); the end when the init is gone', async () => {
    const { layout, placement, mem } = fake({ 'memory.oom_control': OOM_CONTROL(1), 'memory.usage_in_bytes': '0\n' });
    const lines: string[] = [];
    let running = true;
    const done = runEvents({
      id: 'c1', layout, placement, running: () => running, write: (l) => lines.push(l), intervalMs: 60000, pollMs: 5,
      stats: () => ({ stats: {} }),
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(lines, [], 'a kill from before events started is not an event');
    writeFileSync(join(mem, 'memory.oom_control'), OOM_CONTROL(2));
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(lines, ['{"type":"oom","id":"c1"}']);
    // the kill that ends the init is seen on the way out
    writeFileSync(join(mem, 'memory.oom_control'), OOM_CONTROL(3));
    running = false;
    await done;
    assert.deepEqual(lines, ['{"type":"oom","id":"c1"}', '{"type":"oom","id":"c1"}']);
  });

  test('with the OOM killer disabled: under_oom going to 1 is the event', async () => {
    const { layout, placement, mem } = fake({ 'memory.oom_control': OOM_CONTROL(0, 0) });
    const lines: string[] = [];
    let running = true;
    const done = runEvents({ id: 'c1', layout, placement, running: () => running, write: (l) => lines.push(l), intervalMs: 60000, pollMs: 5, stats: () => ({ stats: {} }) });
    writeFileSync(join(mem, 'memory.oom_control'), OOM_CONTROL(0, 1));
    await new Promise((r) => setTimeout(r, 30));
    running = false;
    await done;
    assert.deepEqual(lines, ['{"type":"oom","id":"c1"}']);
  });

  test('stats every interval', async () => {
    const { layout, placement } = fake({});
    const lines: string[] = [];
    let running = true;
    const done = runEvents({ id: 'c1', layout, placement, running: () => running, write: (l) => lines.push(l), intervalMs: 10, pollMs: 5, stats: () => ({ stats: { pids: { current: 2, limit: 5 } } }) });
    await new Promise((r) => setTimeout(r, 60));
    running = false;
    await done;
    assert.ok(lines.length >= 2, `${lines.length} lines`);
    for (const l of lines) assert.match(l, /^\{"type":"stats","id":"c1","data":\{.*"pids":\{"current":2,"limit":5\}/);
  });
});
