// berth-oci's cgroup v1 resources on the real kernel, as root: the limits of linux.resources
// reach the container's v1 cgroup files (read from the host side, /sys/fs/cgroup/<ctrl>/berth/<id>,
// and from inside through the container's own cgroup mount), `update` changes them on a running
// container (flags and `-r -` JSON on stdin), and the v1 devices controller enforces the device
// rules: /dev/null works, a mknod'ed device the rules do not allow gives "Operation not permitted".
//
// Device rules follow runc 1.1: the config's rules, then runc's default allow-list (mknod of any
// device, /dev/null, zero, full, random, urandom, tty, ptmx, pts, tun). So /dev/zero (c 1:5) stays
// readable under a config of "deny all, allow c 1:3" — with runc too — and the denied devices
// here are ones outside that list: /dev/kmsg (c 1:11, opened for writing, which needs no
// capability) and loop0 (b 7:0). A second container that allows them shows the denial comes from
// the cgroup.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { makeBundle, oci, ok, show, uniqueId, type Bundle, type OciResult } from '../fixtures/busybox.ts';
import { v1Mount } from '../fixtures/host.ts';

const M = 1024 * 1024;

const NEEDED = ['memory', 'cpu', 'cpuset', 'pids', 'devices'];
const SKIP = process.getuid?.() !== 0 ? 'needs root' : NEEDED.some((c) => !v1Mount(c)) ? `needs v1 hierarchies for ${NEEDED.join(', ')}` : false;

/** A file of the container's cgroup, read from the host side. */
function cg(controller: string, id: string, file: string): string {
  return readFileSync(path.join(v1Mount(controller)!, 'berth', id, file), 'utf8').trim();
}

const ids: string[] = [];
const bundles: Bundle[] = [];

after(async () => {
  for (const id of ids) await oci(['delete', '--force', id]).catch(() => undefined);
  for (const b of bundles) await b.cleanup().catch(() => undefined);
  // no cgroup left behind in any hierarchy
  for (const id of ids) {
    for (const c of NEEDED) {
      const m = v1Mount(c);
      if (m) assert.ok(!existsSync(path.join(m, 'berth', id)), `cgroup ${m}/berth/${id} left behind`);
    }
  }
});

async function bundle(args: string[], mutate: (spec: any) => void): Promise<Bundle> {
  const b = await makeBundle({ args, mutate });
  bundles.push(b);
  return b;
}

/** `run -d` of a new container; returns its id. */
async function runDetached(b: Bundle, prefix = 'v1cg'): Promise<string> {
  const id = uniqueId(prefix);
  ids.push(id);
  ok(await oci(['run', '-d', '--bundle', b.dir, id]), `run -d ${id}`);
  return id;
}

/** `run` in the foreground: the container's output and exit code. */
async function runForeground(b: Bundle, prefix = 'v1cg'): Promise<OciResult> {
  const id = uniqueId(prefix);
  ids.push(id);
  return oci(['run', '--bundle', b.dir, id], { timeoutMs: 20_000 });
}

const LIMITS = {
  memory: { limit: 64 * M, reservation: 32 * M, swap: 128 * M, swappiness: 0 },
  cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0', mems: '0' },
  pids: { limit: 50 },
};

describe('cgroup v1 resources (real kernel)', { skip: SKIP }, () => {
  test('memory, cpu, pids and cpuset limits are in the container\'s cgroup files before it runs', async () => {
    const b = await bundle(['sleep', '1000'], (s) => Object.assign(s.linux.resources, structuredClone(LIMITS)));
    const id = await runDetached(b);
    assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(64 * M));
    assert.equal(cg('memory', id, 'memory.soft_limit_in_bytes'), String(32 * M));
    assert.equal(cg('memory', id, 'memory.memsw.limit_in_bytes'), String(128 * M));
    assert.equal(cg('memory', id, 'memory.swappiness'), '0');
    assert.equal(cg('cpu', id, 'cpu.shares'), '512');
    assert.equal(cg('cpu', id, 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('cpu', id, 'cpu.cfs_period_us'), '100000');
    assert.equal(cg('pids', id, 'pids.max'), '50');
    assert.equal(cg('cpuset', id, 'cpuset.cpus'), '0');
    assert.equal(cg('cpuset', id, 'cpuset.mems'), '0');
    // the init is in those cgroups
    const pid = JSON.parse(ok(await oci(['state', id]), 'state').stdout).pid as number;
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`:memory:/berth/${id}$`, 'm'));
    ok(await oci(['delete', '--force', id]), 'delete');
    for (const c of NEEDED) assert.ok(!existsSync(path.join(v1Mount(c)!, 'berth', id)), `${c} cgroup removed by delete`);
  });

  test('from inside: the container sees its limits through its own cgroup mount', async () => {
    const b = await bundle(['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares'], (s) => Object.assign(s.linux.resources, structuredClone(LIMITS)));
    const r = await runForeground(b);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `50\n${64 * M}\n512\n`);
  });

  test('update --memory 32m of a running container changes memory.limit_in_bytes and the stored spec', async () => {
    const b = await bundle(['sleep', '1000'], (s) => Object.assign(s.linux.resources, { memory: { limit: 64 * M }, pids: { limit: 50 } }));
    const id = await runDetached(b);
    ok(await oci(['update', '--memory', '32m', '--cpu-share', '256', '--pids-limit', '20', id]), 'update');
    assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(32 * M));
    assert.equal(cg('cpu', id, 'cpu.shares'), '256');
    assert.equal(cg('pids', id, 'pids.max'), '20');
    const st = JSON.parse(readFileSync(`/run/berth-oci-test/${id}/state.json`, 'utf8'));
    assert.equal(st.spec.linux.resources.memory.limit, 32 * M);
    assert.equal(st.spec.linux.resources.pids.limit, 20);
    // the container still runs
    assert.equal(JSON.parse(ok(await oci(['state', id]), 'state').stdout).status, 'running');
  });

  test('update -r - takes linux.resources JSON on stdin (as containerd\'s shim sends it)', async () => {
    const b = await bundle(['sleep', '1000'], (s) => Object.assign(s.linux.resources, { memory: { limit: 64 * M } }));
    const id = await runDetached(b);
    const json = JSON.stringify({ memory: { limit: 100 * M, swap: 200 * M }, cpu: { quota: 20_000, period: 100_000 }, pids: { limit: 30 } });
    ok(await oci(['update', '--resources', '-', id], { input: json }), 'update -r -');
    assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(100 * M));
    assert.equal(cg('memory', id, 'memory.memsw.limit_in_bytes'), String(200 * M));
    assert.equal(cg('cpu', id, 'cpu.cfs_quota_us'), '20000');
    assert.equal(cg('pids', id, 'pids.max'), '30');
    // lowering both: the limit goes first, then memsw
    ok(await oci(['update', '-r', '-', id], { input: JSON.stringify({ memory: { limit: 48 * M, swap: 64 * M } }) }), 'update -r - (lower)');
    assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(48 * M));
    assert.equal(cg('memory', id, 'memory.memsw.limit_in_bytes'), String(64 * M));
  });

  test('update errors say what, where and why; the stored spec keeps the old values', async () => {
    const b = await bundle(['sleep', '1000'], (s) => Object.assign(s.linux.resources, { memory: { limit: 64 * M, swap: 64 * M } }));
    const id = await runDetached(b);
    const r = await oci(['update', '--memory', '128m', id]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, new RegExp(`update ${id}: cgroup /berth/${id}: memory\\.swap 67108864 is below memory\\.limit 134217728`), show(r));
    const busy = await oci(['update', '--memory', '4096', id]);
    assert.match(busy.stderr, /memory\.limit_in_bytes: write 4096: Device or resource busy/, show(busy));
    const st = JSON.parse(readFileSync(`/run/berth-oci-test/${id}/state.json`, 'utf8'));
    assert.equal(st.spec.linux.resources.memory.limit, 64 * M);
    assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(64 * M));
  });

  test('create: swap below the limit is refused and leaves no cgroup and no state', async () => {
    const b = await bundle(['true'], (s) => Object.assign(s.linux.resources, { memory: { limit: 64 * M, swap: 32 * M } }));
    const id = uniqueId('v1cg');
    ids.push(id);
    const r = await oci(['create', '--bundle', b.dir, id]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, new RegExp(`create ${id}: cgroup /berth/${id}: memory\\.swap 33554432 is below memory\\.limit 67108864`));
    assert.ok(!existsSync(path.join(v1Mount('memory')!, 'berth', id)), 'no memory cgroup left');
    assert.ok(!existsSync(`/run/berth-oci-test/${id}`), 'no state left');
  });

  test('settings this kernel does not honour are warned about on stderr, and the container still runs', async () => {
    const b = await bundle(['true'], (s) => Object.assign(s.linux.resources, { memory: { limit: 64 * M, kernel: 32 * M }, blockIO: { weight: 300 }, network: { classID: 7 } }));
    const r = await runForeground(b);
    assert.equal(r.code, 0, show(r));
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('berth-oci: warning: '));
    const hasBfqDevice = readdirSync('/sys/block').some((d) => {
      try {
        return readFileSync(`/sys/block/${d}/queue/scheduler`, 'utf8').includes('[bfq]');
      } catch {
        return false;
      }
    });
    assert.ok(warnings.some((w) => /memory\.kernel 33554432: .*does not enforce it|no memory\.kmem\.limit_in_bytes/.test(w)), r.stderr);
    if (!hasBfqDevice) assert.ok(warnings.some((w) => /blockIO\.weight 300/.test(w)), r.stderr);
    if (!v1Mount('net_cls')) assert.ok(warnings.some((w) => /network\.classID: not applied/.test(w)), r.stderr);
  });
});

describe('cgroup v1 devices (real kernel)', { skip: SKIP }, () => {
  const script = [
    'head -c1 /dev/null; echo null=$?',
    'mknod /dev/t-kmsg c 1 11 && { (exec 3>/dev/t-kmsg); echo kmsg=$?; }',
    'mknod /dev/t-loop b 7 0 && { head -c1 /dev/t-loop >/dev/null; echo loop=$?; }',
    'mknod /dev/t-zero c 1 5 && head -c1 /dev/t-zero | od -An -tx1 | tr -d " "',
  ].join('; ');

  function withMknod(s: any, devices: unknown[]): void {
    for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_MKNOD');
    s.linux.resources.devices = devices;
  }

  test('deny all + allow c 1:3: /dev/null works, mknod\'ed kmsg (c 1:11) and loop0 (b 7:0) give "Operation not permitted"', async () => {
    const b = await bundle(['sh', '-c', script], (s) => withMknod(s, [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]));
    const r = await runForeground(b);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^null=0$/m, show(r));
    assert.match(r.stdout, /^kmsg=[1-9]/m, show(r));
    assert.match(r.stdout, /^loop=[1-9]/m, show(r));
    assert.match(r.stderr, /t-kmsg: Operation not permitted/, show(r));
    assert.match(r.stderr, /t-loop: Operation not permitted/, show(r));
    // runc 1.1's default list always allows /dev/zero (c 1:5) and mknod
    assert.match(r.stdout, /^00$/m, show(r));
  });

  test('the same devices allowed by the rules: no error (the denial above is the cgroup\'s)', async () => {
    const b = await bundle(['sh', '-c', script], (s) => withMknod(s, [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
      { allow: true, type: 'b', major: 7, minor: 0, access: 'r' },
    ]));
    const r = await runForeground(b);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^kmsg=0$/m, show(r));
    assert.match(r.stdout, /^loop=0$/m, show(r));
  });

  test('devices.list holds the config\'s rules and runc\'s defaults, not "a *:* rwm"', async () => {
    const b = await bundle(['sleep', '1000'], (s) => { s.linux.resources.devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]; });
    const id = await runDetached(b);
    const list = cg('devices', id, 'devices.list').split('\n');
    assert.ok(!list.includes('a *:* rwm'), list.join('\n'));
    for (const want of ['c 1:3 rwm', 'c *:* m', 'b *:* m', 'c 1:5 rwm', 'c 136:* rwm', 'c 5:2 rwm']) assert.ok(list.includes(want), `${want} in\n${list.join('\n')}`);
    assert.ok(!list.includes('c 1:11 rwm'));
  });

  test('update -r - with device rules changes a running container\'s rules by difference (kmsg becomes writable)', async () => {
    const b = await bundle(['sleep', '1000'], (s) => withMknod(s, [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]));
    const id = await runDetached(b);
    const probe = ['sh', '-c', 'test -e /dev/t-kmsg || mknod /dev/t-kmsg c 1 11; (exec 3>/dev/t-kmsg) && echo open-ok; head -c1 /dev/null && echo null-ok'];
    const before = await oci(['exec', id, ...probe]);
    assert.doesNotMatch(before.stdout, /open-ok/, show(before));
    const rules = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }];
    ok(await oci(['update', '-r', '-', id], { input: JSON.stringify({ devices: rules }) }), 'update devices');
    const list = cg('devices', id, 'devices.list').split('\n');
    assert.ok(list.includes('c 1:11 w'), list.join('\n'));
    const afterUpdate = await oci(['exec', id, ...probe]);
    assert.match(afterUpdate.stdout, /open-ok\nnull-ok/, show(afterUpdate));
  });
});
