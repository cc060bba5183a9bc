// The plan berth-init executes (src/runtime/plan/build.ts, encode.ts): the order of its records is
// where the security and correctness of container creation live, so these tests pin that order.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildCreatePlan, buildExecPlan } from '../../src/runtime/plan/build.ts';
import type { CreatePlanInput, ExecPlanInput } from '../../src/runtime/plan/build.ts';
import { Plan } from '../../src/native/plan.ts';
import { parseExact } from '../../src/runtime/json.ts';
import type { PlanRecord } from '../../src/native/plan.ts';
import { defaultSpec } from '../../src/runtime/spec/default.ts';
import type { Seccomp, Spec } from '../../src/runtime/spec/types.ts';
import type { CgroupLayout, Hierarchy } from '../../src/runtime/cgroups/layout.ts';
import { CLONE, MS, S_IF, makedev } from '../../src/runtime/linux.ts';
import { capMask } from '../../src/runtime/caps.ts';

// ---------------------------------------------------------------------------------------------
// fixtures

const FAKE_CG = '/fake/cgroup';
const unified: Hierarchy = { name: 'unified', version: 2, mountPoint: `${FAKE_CG}/unified`, controllers: [] };
const cpuV1: Hierarchy = { name: 'cpu', version: 1, mountPoint: `${FAKE_CG}/cpu`, controllers: ['cpu'] };
const systemdV1: Hierarchy = { name: 'name=systemd', version: 1, mountPoint: `${FAKE_CG}/systemd`, controllers: ['name=systemd'] };

const HYBRID: CgroupLayout = { kind: 'hybrid', hierarchies: [cpuV1, systemdV1, unified], unified };
const V2: CgroupLayout = {
  kind: 'v2',
  hierarchies: [{ name: 'unified', version: 2, mountPoint: FAKE_CG, controllers: ['cpu', 'memory'] }],
  unified: { name: 'unified', version: 2, mountPoint: FAKE_CG, controllers: ['cpu', 'memory'] },
};

let bundle: string;

before(() => {
  bundle = mkdtempSync(join(tmpdir(), 'berth-plan-test-'));
  mkdirSync(join(bundle, 'rootfs'));
  mkdirSync(join(bundle, 'data'));
  writeFileSync(join(bundle, 'hosts'), '127.0.0.1 localhost\n');
});

after(() => {
  rmSync(bundle, { recursive: true, force: true });
});

const SECCOMP: Seccomp = {
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }],
};

function spec(mut?: (s: Spec) => void): Spec {
  const s = defaultSpec();
  mut?.(s);
  return s;
}

function input(s: Spec, over: Partial<CreatePlanInput> = {}): CreatePlanInput {
  return {
    spec: s,
    bundle,
    rootfs: join(bundle, 'rootfs'),
    fifoPath: '/run/berth/c1/exec.fifo',
    statusPath: '/run/berth/c1/exec.status',
    tracePath: '/run/berth/c1/trace.log',
    cgroupsPath: '/berth/c1',
    layout: HYBRID,
    cgroupDirs: [
      { dir: `${cpuV1.mountPoint}/berth/c1`, version: 1 },
      { dir: `${systemdV1.mountPoint}/berth/c1`, version: 1 },
      { dir: `${unified.mountPoint}/berth/c1`, version: 2 },
    ],
    consoleSocket: '/tmp/console.sock',
    preserveFds: 0,
    noPivot: false,
    noNewKeyring: false,
    id: 'c1',
    foreground: false,
    ...over,
  };
}

function create(s: Spec, over: Partial<CreatePlanInput> = {}): PlanRecord[] {
  return buildCreatePlan(input(s, over)).plan.records;
}

function execInput(s: Spec, over: Partial<ExecPlanInput> = {}): ExecPlanInput {
  return {
    spec: s,
    process: { ...s.process!, terminal: false, args: ['ps', 'aux'] },
    pid: 4242,
    joinNamespaces: [
      { type: 'mount', path: '/proc/4242/ns/mnt' },
      { type: 'pid', path: '/proc/4242/ns/pid' },
      { type: 'user', path: '/proc/4242/ns/user' },
      { type: 'ipc', path: '/proc/4242/ns/ipc' },
    ],
    cgroupDirs: [
      { dir: `${cpuV1.mountPoint}/berth/c1`, version: 1 },
      { dir: `${unified.mountPoint}/berth/c1`, version: 2 },
    ],
    preserveFds: 0,
    foreground: true,
    ...over,
  };
}

const ops = (recs: PlanRecord[]): string[] => recs.map((r) => r.op);

function first(recs: PlanRecord[], op: string, pred: (r: PlanRecord) => boolean = () => true): number {
  const i = recs.findIndex((r) => r.op === op && pred(r));
  assert.ok(i >= 0, `no "${op}" record in the plan: ${ops(recs).join(' ')}`);
  return i;
}

function last(recs: PlanRecord[], op: string): number {
  let i = -1;
  recs.forEach((r, k) => {
    if (r.op === op) i = k;
  });
  assert.ok(i >= 0, `no "${op}" record in the plan: ${ops(recs).join(' ')}`);
  return i;
}

function indexes(recs: PlanRecord[], op: string): number[] {
  return recs.flatMap((r, k) => (r.op === op ? [k] : []));
}

function count(recs: PlanRecord[], op: string): number {
  return indexes(recs, op).length;
}

/** A spec that joins namespaces by path (listed with the user namespace last). */
function joiningSpec(): Spec {
  return spec((s) => {
    s.linux!.namespaces = [
      { type: 'pid' },
      { type: 'network', path: '/proc/100/ns/net' },
      { type: 'ipc', path: '/proc/100/ns/ipc' },
      { type: 'uts', path: '/proc/100/ns/uts' },
      { type: 'mount' },
      { type: 'cgroup', path: '/proc/100/ns/cgroup' },
      { type: 'user', path: '/proc/100/ns/user' },
    ];
  });
}

/** Decodes Plan.encode()'s wire format back into records (the helper's plan_read, in JS). */
function decode(buf: Buffer): { declared: number; body: Buffer; records: PlanRecord[] } {
  const nl = buf.indexOf(0x0a);
  const declared = Number(buf.subarray(0, nl).toString());
  const body = buf.subarray(nl + 1);
  const toks = body.toString('utf8').split('\0');
  assert.equal(toks.pop(), '', 'the body ends with a NUL');
  const records: PlanRecord[] = [];
  for (let k = 0; k < toks.length;) {
    const n = Number(toks[k + 1]);
    records.push({ op: toks[k]!, args: toks.slice(k + 2, k + 2 + n) });
    k += 2 + n;
  }
  return { declared, body, records };
}

// ---------------------------------------------------------------------------------------------

describe('buildCreatePlan: stage 0 (cgroups, setns, clone)', () => {
  test('cgroup_tasks (v1) and cgroup_into (v2) come before the first setns: paths must resolve in our own namespaces', () => {
    const recs = create(joiningSpec());
    const firstSetns = first(recs, 'setns');
    const cg = [...indexes(recs, 'cgroup_tasks'), ...indexes(recs, 'cgroup_into')];
    assert.equal(cg.length, 3, 'one cgroup record per hierarchy');
    for (const i of cg) assert.ok(i < firstSetns, `${recs[i]!.op} at ${i} is after setns at ${firstSetns}`);
    assert.deepEqual(
      recs.filter((r) => r.op.startsWith('cgroup_')).map((r) => [r.op, r.args[0]]),
      [
        ['cgroup_tasks', `${cpuV1.mountPoint}/berth/c1`],
        ['cgroup_tasks', `${systemdV1.mountPoint}/berth/c1`],
        ['cgroup_into', `${unified.mountPoint}/berth/c1`],
      ],
    );
  });

  test('clone comes after every setns and every cgroup_tasks/cgroup_into (the init is born inside its cgroups)', () => {
    const recs = create(joiningSpec());
    const clone = first(recs, 'clone');
    assert.equal(count(recs, 'clone'), 1);
    for (const op of ['setns', 'cgroup_tasks', 'cgroup_into']) {
      for (const i of indexes(recs, op)) assert.ok(i < clone, `${op} at ${i} is after clone at ${clone}`);
    }
  });

  test('the user namespace is joined first among setns, even when config.json lists it last', () => {
    const recs = create(joiningSpec());
    const setns = recs.filter((r) => r.op === 'setns');
    assert.deepEqual(setns[0], { op: 'setns', args: ['/proc/100/ns/user', String(CLONE.NEWUSER)] });
    // and the rest in the fixed join order: ipc, uts, network, (pid and mount are new), cgroup
    assert.deepEqual(setns.map((r) => r.args[0]), [
      '/proc/100/ns/user', '/proc/100/ns/ipc', '/proc/100/ns/uts', '/proc/100/ns/net', '/proc/100/ns/cgroup',
    ]);
  });

  test('only namespaces with a path are joined; clone gets the new ones except cgroup (unshared later) and time', () => {
    const recs = create(joiningSpec());
    const clone = recs[first(recs, 'clone')]!;
    assert.equal(Number(clone.args[0]), CLONE.NEWPID | CLONE.NEWNS);
    const plain = create(spec());
    const flags = Number(plain[first(plain, 'clone')]!.args[0]);
    assert.equal(flags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    assert.equal(flags & CLONE.NEWCGROUP, 0, 'CLONE_NEWCGROUP is not a clone flag');
    assert.equal(count(plain, 'setns'), 0, 'nothing joined when no namespace has a path');
  });

  test('clone carries foreground as 1 and background as 0', () => {
    assert.deepEqual(create(spec(), { foreground: true })[first(create(spec(), { foreground: true }), 'clone')]!.args[1], '1');
    const bg = create(spec(), { foreground: false });
    assert.equal(bg[first(bg, 'clone')]!.args[1], '0');
  });

  test('no cgroup dirs (empty placement) means no cgroup_* records, and clone still follows setns', () => {
    const recs = create(joiningSpec(), { cgroupDirs: [] });
    assert.equal(count(recs, 'cgroup_tasks') + count(recs, 'cgroup_into'), 0);
    assert.ok(last(recs, 'setns') < first(recs, 'clone'));
  });

  test('a new time namespace is unshared in stage 0 and its offsets written before clone', () => {
    const recs = create(spec((s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 3600, nanosecs: 5 } };
    }));
    const clone = first(recs, 'clone');
    const un = first(recs, 'unshare', (r) => r.args[0] === String(CLONE.NEWTIME));
    const wf = first(recs, 'write_file');
    assert.ok(un < wf && wf < clone);
    assert.deepEqual(recs[wf]!.args, ['/proc/self/timens_offsets', 'monotonic 3600 5']);
  });
});

describe('buildCreatePlan: the init', () => {
  test('wait_go right after clone when the init needs berth-oci: user namespace maps, or hooks that read the state', () => {
    const withHook = spec((x) => {
      x.hooks = { startContainer: [{ path: '/bin/true' }] };
    });
    for (const s of [defaultSpec({ rootless: true, uid: 1000, gid: 1000 }), withHook]) {
      const recs = create(s);
      assert.equal(recs[first(recs, 'clone') + 1]!.op, 'wait_go');
    }
  });

  test('no wait_go when nothing has to be done from outside: the init goes straight on', () => {
    for (const s of [spec(), joiningSpec()]) assert.equal(count(create(s), 'wait_go'), 0);
  });

  test('unshare of CLONE_NEWCGROUP (0x2000000) comes in the init, which was born inside its cgroups', () => {
    assert.equal(CLONE.NEWCGROUP, 0x2000000);
    const recs = create(spec());
    const un = first(recs, 'unshare', (r) => r.args[0] === String(0x2000000));
    assert.ok(un > first(recs, 'clone'), 'in the init, not in stage 0');
    assert.ok(first(recs, 'cgroup_tasks') < first(recs, 'clone'), 'cgroups joined before the clone');
  });

  test('without a cgroup namespace there is no unshare of CLONE_NEWCGROUP', () => {
    const recs = create(defaultSpec({ cgroupNamespace: false }));
    assert.equal(recs.filter((r) => r.op === 'unshare' && r.args[0] === String(CLONE.NEWCGROUP)).length, 0);
  });

  test('a new user namespace: become_root right after wait_go', () => {
    const recs = create(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }));
    assert.equal(recs[first(recs, 'wait_go') + 1]!.op, 'become_root');
    assert.equal(count(create(spec()), 'become_root'), 0, 'no become_root without a user namespace');
  });

  test('session_keyring named _ses.<id> is joined by the init by default', () => {
    const recs = create(spec(), { id: 'web-1' });
    const i = first(recs, 'session_keyring');
    assert.ok(i > first(recs, 'clone'));
    assert.deepEqual(recs[i]!.args, ['_ses.web-1']);
  });

  test('session_keyring is absent with noNewKeyring (--no-new-keyring)', () => {
    assert.equal(count(create(spec(), { noNewKeyring: true }), 'session_keyring'), 0);
  });

  /** The records that touch "/" or the rootfs as a mount: none may reach the host's own. */
  const ROOT_MOUNT_OPS = ['propagation', 'rootfs', 'pivot_root', 'chroot', 'remount_root', 'mask', 'readonly'];

  test('without a mount namespace: mounts logged from stage 0, root_dir and a plain chroot_dir, nothing on "/"', () => {
    const s = spec((x) => {
      x.linux!.namespaces = x.linux!.namespaces!.filter((n) => n.type !== 'mount');
      delete x.linux!.maskedPaths;
      delete x.linux!.readonlyPaths;
      x.root!.readonly = false;
    });
    const built = buildCreatePlan(input(s, { mountLog: '/run/berth/c1/mounts' }));
    const recs = built.plan.records;
    assert.equal(built.hostMounts, true);
    assert.deepEqual(recs[first(recs, 'mount_log')]!.args, ['/run/berth/c1/mounts']);
    assert.ok(first(recs, 'mount_log') < first(recs, 'clone'));
    assert.deepEqual(recs[first(recs, 'root_dir')]!.args, [join(bundle, 'rootfs')]);
    assert.ok(first(recs, 'root_dir') < first(recs, 'mount') && last(recs, 'mount') < first(recs, 'chroot_dir'));
    assert.ok(first(recs, 'chroot_dir') < first(recs, 'exec'));
    for (const op of ROOT_MOUNT_OPS) assert.equal(count(recs, op), 0, `${op} in the host's mount namespace`);
    assert.equal(Number(recs[first(recs, 'clone')]!.args[0]) & CLONE.NEWNS, 0, 'no CLONE_NEWNS');
    assert.throws(() => buildCreatePlan(input(s)), /no file to log the host mounts to/);
  });

  test('a mount namespace joined by path that is berth-oci\'s own is no mount namespace of the container\'s own', () => {
    const s = spec((x) => {
      x.linux!.namespaces = x.linux!.namespaces!.map((n) => (n.type === 'mount' ? { type: 'mount', path: '/proc/self/ns/mnt' } : n));
      x.root!.readonly = false;
    });
    // the validator refuses these with their JSON paths; the plan never turns them into host mounts
    assert.throws(() => buildCreatePlan(input(s, { mountLog: '/run/berth/c1/mounts' })), /maskedPaths/);
    delete s.linux!.maskedPaths;
    delete s.linux!.readonlyPaths;
    const built = buildCreatePlan(input(s, { mountLog: '/run/berth/c1/mounts' }));
    assert.equal(built.hostMounts, true);
    for (const op of ROOT_MOUNT_OPS) assert.equal(count(built.plan.records, op), 0, `${op} would pivot or remount the host`);
  });

  test('a joined (path) mount namespace of another process is the container\'s own', () => {
    const other = '/nonexistent-berth-test/ns/mnt'; // not ours: setns names it if it is missing
    const s = spec((x) => {
      x.linux!.namespaces = x.linux!.namespaces!.map((n) => (n.type === 'mount' ? { type: 'mount', path: other } : n));
    });
    const recs = create(s);
    assert.equal(recs.filter((r) => r.op === 'setns' && r.args[1] === String(CLONE.NEWNS)).length, 1);
    assert.ok(first(recs, 'rootfs') < first(recs, 'pivot_root'));
    assert.equal(count(recs, 'mount_log'), 0);
  });

  test('process.terminal without a console socket throws', () => {
    assert.throws(() => buildCreatePlan(input(spec(), { consoleSocket: undefined })), /console-socket/);
  });

  test('process.terminal with a console socket: console_socket in stage 0, console in the init', () => {
    const recs = create(spec(), { consoleSocket: '/tmp/sock' });
    assert.ok(first(recs, 'console_socket') < first(recs, 'clone'));
    assert.deepEqual(recs[first(recs, 'console_socket')]!.args, ['/tmp/sock']);
    assert.ok(first(recs, 'console') > first(recs, 'clone'));
  });

  test('terminal false needs no console socket and emits no console records', () => {
    const recs = create(spec((s) => { s.process!.terminal = false; }), { consoleSocket: undefined });
    assert.equal(count(recs, 'console_socket') + count(recs, 'console'), 0);
  });
});

describe('buildCreatePlan: root filesystem', () => {
  test('pivot_root comes after every mount record and before mask/readonly', () => {
    const recs = create(spec());
    const pivot = first(recs, 'pivot_root');
    assert.ok(count(recs, 'mount') > 5);
    assert.ok(last(recs, 'mount') < pivot, 'every mount before pivot_root');
    assert.ok(last(recs, 'mkdev') < pivot, 'devices before pivot_root');
    assert.ok(first(recs, 'mask') > pivot, 'masks after pivot_root');
    assert.ok(first(recs, 'readonly') > pivot, 'readonly paths after pivot_root');
    assert.ok(first(recs, 'remount_root') > pivot, 'root.readonly after pivot_root');
    assert.equal(count(recs, 'chroot'), 0);
  });

  test('pivot_root also follows the bind mounts of a user namespace (devices, rbind /sys)', () => {
    const recs = create(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }));
    assert.ok(last(recs, 'mount') < first(recs, 'pivot_root'));
  });

  test('--no-pivot emits chroot instead of pivot_root, at the same place', () => {
    const recs = create(spec(), { noPivot: true });
    assert.equal(count(recs, 'pivot_root'), 0);
    const ch = first(recs, 'chroot');
    assert.ok(last(recs, 'mount') < ch && ch < first(recs, 'mask'));
  });

  test('mask and readonly records carry the default masked and readonly paths in order', () => {
    const recs = create(spec());
    assert.deepEqual(recs.filter((r) => r.op === 'mask').map((r) => r.args[0]), defaultSpec().linux!.maskedPaths);
    assert.deepEqual(recs.filter((r) => r.op === 'readonly').map((r) => r.args[0]), defaultSpec().linux!.readonlyPaths);
  });

  test('rootfs propagation defaults to rslave before the mounts; shared is applied again after pivot_root', () => {
    let recs = create(spec());
    const p0 = first(recs, 'propagation');
    assert.deepEqual(recs[p0]!.args, ['/', String(MS.SLAVE | MS.REC)]);
    assert.ok(p0 < first(recs, 'mount'));
    recs = create(spec((s) => { s.linux!.rootfsPropagation = 'rshared'; }));
    const ps = indexes(recs, 'propagation');
    assert.equal(ps.length, 2);
    assert.ok(ps[1]! > first(recs, 'pivot_root'));
    assert.equal(recs[ps[1]!]!.args[1], String(MS.SHARED | MS.REC));
  });

  test('the six default devices get mkdev records (S_IFCHR|0666, glibc makedev) when /dev is a tmpfs', () => {
    const recs = create(spec());
    const mk = recs.filter((r) => r.op === 'mkdev');
    const want: Array<[string, number, number]> = [
      ['/dev/null', 1, 3], ['/dev/zero', 1, 5], ['/dev/full', 1, 7],
      ['/dev/random', 1, 8], ['/dev/urandom', 1, 9], ['/dev/tty', 5, 0],
    ];
    assert.deepEqual(mk.map((r) => r.args), want.map(([p, ma, mi]) => [p, String(S_IF.CHR | 0o666), String(makedev(ma, mi)), '0', '0']));
    assert.equal(mk[0]!.args[2], '259', 'makedev(1, 3) = 259');
    assert.equal(mk[5]!.args[2], '1280', 'makedev(5, 0) = 1280');
    assert.ok(first(recs, 'mkdev') > first(recs, 'mount', (r) => r.args[1] === '/dev'), 'after /dev is mounted');
  });

  test('a config device overrides a default one with the same path and adds new ones (block device type)', () => {
    const recs = create(spec((s) => {
      s.linux!.devices = [
        { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 7, gid: 8 },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0 },
      ];
    }));
    const mk = recs.filter((r) => r.op === 'mkdev');
    assert.equal(mk.length, 7);
    assert.deepEqual(mk.find((r) => r.args[0] === '/dev/null')!.args, ['/dev/null', String(S_IF.CHR | 0o600), '259', '7', '8']);
    assert.deepEqual(mk.find((r) => r.args[0] === '/dev/sda')!.args, ['/dev/sda', String(S_IF.BLK | 0o666), String(makedev(8, 0)), '0', '0']);
  });

  test('in a new user namespace devices are bind mounts of the host nodes, never mkdev', () => {
    const recs = create(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }));
    assert.equal(count(recs, 'mkdev'), 0);
    for (const d of ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']) {
      const i = first(recs, 'mount', (r) => r.args[1] === d);
      assert.deepEqual(recs[i]!.args, [d, d, '', String(MS.BIND), '', '0', 'file']);
    }
  });

  test('in a joined user namespace (linux.namespaces user with a path) devices are bind mounts too: mknod is refused outside the initial user namespace', () => {
    const recs = create(joiningSpec());
    assert.equal(count(recs, 'mkdev'), 0, 'mkdev records in a joined user namespace would fail with EPERM');
    assert.ok(recs.some((r) => r.op === 'mount' && r.args[0] === '/dev/null' && r.args[1] === '/dev/null'));
  });

  test('/dev bind-mounted from the host (not a tmpfs): no device records and no /dev/ptmx symlink', () => {
    const recs = create(spec((s) => {
      s.mounts = s.mounts!.map((m) => (m.destination === '/dev' ? { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] } : m));
    }));
    assert.equal(count(recs, 'mkdev'), 0);
    assert.equal(recs.filter((r) => r.op === 'symlink' && r.args[1] === '/dev/ptmx').length, 0);
  });

  test('/dev/ptmx links to pts/ptmx when /dev/pts is mounted, and the std fd links are made', () => {
    const recs = create(spec());
    const links = recs.filter((r) => r.op === 'symlink').map((r) => `${r.args[1]}->${r.args[0]}`);
    for (const l of ['/dev/fd->/proc/self/fd', '/dev/stdin->/proc/self/fd/0', '/dev/stdout->/proc/self/fd/1', '/dev/stderr->/proc/self/fd/2', '/dev/ptmx->pts/ptmx']) {
      assert.ok(links.includes(l), `${l} in ${links.join(' ')}`);
    }
  });

  test('a bind mount whose source is missing throws naming the (bundle-resolved) source', () => {
    const s = spec((x) => { x.mounts!.push({ destination: '/data', type: 'bind', source: 'no-such-dir', options: ['rbind'] }); });
    assert.throws(() => buildCreatePlan(input(s)), (e: Error) => {
      assert.ok(e.message.includes(join(bundle, 'no-such-dir')), e.message);
      assert.match(e.message, /\/data/);
      return true;
    });
  });

  test('a relative bind source is resolved against the bundle; dir and file sources are told apart', () => {
    const recs = create(spec((x) => {
      x.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] });
      x.mounts!.push({ destination: '/etc/hosts', source: join(bundle, 'hosts'), options: ['bind'] });
    }));
    const data = recs[first(recs, 'mount', (r) => r.args[1] === '/data')]!;
    assert.deepEqual(data.args, [join(bundle, 'data'), '/data', '', String(MS.BIND | MS.REC | MS.RDONLY), '', '0', 'dir']);
    const hosts = recs[first(recs, 'mount', (r) => r.args[1] === '/etc/hosts')]!;
    assert.equal(hosts.args[6], 'file');
  });

  test('mount data options are comma-joined and mounts keep config order', () => {
    const recs = create(spec());
    const dests = recs.filter((r) => r.op === 'mount').map((r) => r.args[1]);
    assert.deepEqual(dests.slice(0, 6), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    const pts = recs[first(recs, 'mount', (r) => r.args[1] === '/dev/pts')]!;
    assert.equal(pts.args[4], 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  });

  test('cgroup mount on v2 with a new cgroup namespace: a cgroup2 mount, read-only kept', () => {
    const recs = create(spec(), { layout: V2, cgroupDirs: [{ dir: `${FAKE_CG}/berth/c1`, version: 2 }] });
    const m = recs[first(recs, 'mount', (r) => r.args[1] === '/sys/fs/cgroup')]!;
    assert.equal(m.args[2], 'cgroup2');
    assert.equal(Number(m.args[3]) & MS.RDONLY, MS.RDONLY);
  });

  test('cgroup mount on v2 without a cgroup namespace: a bind of the container cgroup only, not the host root', () => {
    const recs = create(defaultSpec({ cgroupNamespace: false }), { layout: V2, cgroupDirs: [{ dir: `${FAKE_CG}/berth/c1`, version: 2 }] });
    const m = recs[first(recs, 'mount', (r) => r.args[1] === '/sys/fs/cgroup')]!;
    assert.equal(m.args[0], `${FAKE_CG}/berth/c1`);
    assert.equal(Number(m.args[3]) & MS.BIND, MS.BIND);
  });

  test('cgroup mount on hybrid: a tmpfs, one mount per hierarchy (name= stripped), then a read-only remount', () => {
    const recs = create(spec());
    const cg = recs.filter((r) => r.op === 'mount' && r.args[1]!.startsWith('/sys/fs/cgroup'));
    assert.deepEqual(cg.map((r) => r.args[1]), ['/sys/fs/cgroup', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']);
    assert.equal(cg[0]!.args[2], 'tmpfs');
    assert.equal(cg[2]!.args[4], 'name=systemd');
    assert.equal(cg[3]!.args[2], 'cgroup2');
    assert.equal(Number(cg[4]!.args[3]) & (MS.REMOUNT | MS.RDONLY), MS.REMOUNT | MS.RDONLY);
  });

  test('hooks_sync only when prestart or createRuntime hooks exist, and before pivot_root', () => {
    assert.equal(count(create(spec()), 'hooks_sync'), 0, 'no hooks');
    assert.equal(count(create(spec((s) => { s.hooks = { createContainer: [{ path: '/bin/true' }], poststart: [{ path: '/bin/true' }] }; })), 'hooks_sync'), 0,
      'createContainer/poststart hooks alone need no sync');
    for (const hooks of [{ prestart: [{ path: '/bin/true' }] }, { createRuntime: [{ path: '/bin/true' }] }]) {
      const recs = create(spec((s) => { s.hooks = hooks; }));
      assert.equal(count(recs, 'hooks_sync'), 1, JSON.stringify(hooks));
      assert.ok(first(recs, 'hooks_sync') < first(recs, 'pivot_root'));
      assert.equal(count(recs, 'hook'), 0, 'prestart/createRuntime run in berth-oci, not in the init');
    }
  });

  test('createContainer hooks run in the init before pivot_root, with timeout, argc, args and env', () => {
    const recs = create(spec((s) => {
      s.hooks = { createContainer: [{ path: '/hook', args: ['hook', '-v'], env: ['A=1'], timeout: 5 }] };
    }));
    const h = first(recs, 'hook');
    assert.ok(h < first(recs, 'pivot_root'));
    assert.deepEqual(recs[h]!.args, ['/hook', '5', '2', 'hook', '-v', 'A=1']);
  });
});

describe('buildCreatePlan: process (identity, capabilities, seccomp, exec)', () => {
  test('without noNewPrivileges: seccomp_load is still the last step before exec, CAP_SYS_ADMIN kept in cap_set for it', () => {
    const recs = create(spec((s) => { s.process!.noNewPrivileges = false; s.linux!.seccomp = SECCOMP; }));
    assert.equal(count(recs, 'seccomp_load'), 1);
    const load = first(recs, 'seccomp_load');
    assert.equal(recs[load + 1]!.op, 'exec');
    assert.equal(load, recs.length - 2);
    for (const op of ['user', 'cap_set', 'close_fds', 'wait_fifo', 'release']) assert.ok(first(recs, op) < load, `${op} before seccomp_load`);
    assert.equal(count(recs, 'no_new_privs'), 0);
    const caps = defaultSpec().process!.capabilities!;
    const admin = capMask(['CAP_SYS_ADMIN']);
    assert.deepEqual(recs[first(recs, 'cap_set')]!.args,
      [String(capMask(caps.effective!) | admin), String(capMask(caps.permitted!) | admin), '0'], 'CAP_SYS_ADMIN effective until the load');
    assert.deepEqual(recs[first(recs, 'cap_ambient')]!.args, [String(capMask(caps.ambient!))], 'ambient unchanged');
  });

  test('without noNewPrivileges: the CAP_SYS_ADMIN kept for the load never becomes ambient unless the config permits it', () => {
    const recs = create(spec((s) => {
      s.process!.noNewPrivileges = false;
      s.linux!.seccomp = SECCOMP;
      s.process!.capabilities = { ambient: ['CAP_SYS_ADMIN', 'CAP_KILL'], inheritable: ['CAP_SYS_ADMIN', 'CAP_KILL'], permitted: ['CAP_KILL'] };
    }));
    assert.deepEqual(recs[first(recs, 'cap_ambient')]!.args, [String(capMask(['CAP_KILL']))]);
  });

  test('with noNewPrivileges: seccomp_load after close_fds, the fifo release and no_new_privs, right before exec; cap_set as given', () => {
    const recs = create(spec((s) => {
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp = SECCOMP;
      s.hooks = { startContainer: [{ path: '/s1' }] };
    }));
    assert.equal(count(recs, 'seccomp_load'), 1);
    const load = first(recs, 'seccomp_load');
    for (const op of ['close_fds', 'no_new_privs', 'wait_fifo', 'hook', 'release']) assert.ok(load > first(recs, op), `${op} before seccomp_load`);
    assert.equal(recs[load + 1]!.op, 'exec');
    const caps = defaultSpec().process!.capabilities!;
    assert.deepEqual(recs[first(recs, 'cap_set')]!.args, [String(capMask(caps.effective!)), String(capMask(caps.permitted!)), '0']);
  });

  test('close_fds comes before the exec fifo handshake (nothing after the release may need a syscall but execve)', () => {
    const recs = create(spec());
    assert.ok(first(recs, 'ready') < first(recs, 'close_fds'));
    assert.ok(first(recs, 'close_fds') < first(recs, 'wait_fifo'));
    assert.deepEqual(ops(recs).slice(-2), ['release', 'exec']);
  });

  test('exec_status is mapped in stage 0; the init makes its own session (after wait_go and become_root, if any), before console', () => {
    const recs = create(spec());
    const clone = first(recs, 'clone');
    assert.ok(first(recs, 'exec_status') < clone);
    assert.deepEqual(recs[first(recs, 'exec_status')]!.args, ['/run/berth/c1/exec.status']);
    assert.equal(recs[clone + 1]!.op, 'setsid');
    const tty = create(spec((s) => { s.process!.terminal = true; s.hooks = { startContainer: [{ path: '/s1' }] }; }));
    assert.equal(count(tty, 'setsid'), 1);
    assert.equal(tty[first(tty, 'wait_go') + 1]!.op, 'setsid', 'right after wait_go');
    assert.ok(first(tty, 'setsid') < first(tty, 'console'));
  });

  test('the seccomp filter is built in stage 0 (before clone) and loaded in the init', () => {
    const recs = create(spec((s) => { s.linux!.seccomp = SECCOMP; }));
    const clone = first(recs, 'clone');
    for (const op of ['seccomp_init', 'seccomp_arch', 'seccomp_rule']) assert.ok(last(recs, op) < clone, op);
    assert.ok(first(recs, 'seccomp_load') > clone);
  });

  test('no linux.seccomp: no seccomp records at all', () => {
    assert.equal(create(spec()).filter((r) => r.op.startsWith('seccomp')).length, 0);
  });

  test('cap_bounding comes before user and cap_set after it (setresuid would drop the capabilities otherwise)', () => {
    const recs = create(spec());
    const user = first(recs, 'user');
    assert.ok(first(recs, 'cap_bounding') < user);
    assert.ok(first(recs, 'cap_set') > user);
    assert.ok(first(recs, 'cap_ambient') > first(recs, 'cap_set'), 'ambient needs permitted+inheritable set first');
    const caps = defaultSpec().process!.capabilities!;
    assert.deepEqual(recs[first(recs, 'cap_bounding')]!.args, [String(capMask(caps.bounding!))]);
    assert.deepEqual(recs[first(recs, 'cap_set')]!.args, [String(capMask(caps.effective!)), String(capMask(caps.permitted!)), '0']);
  });

  test('user carries uid, gid, umask (default 022) and the additional gids', () => {
    const recs = create(spec((s) => { s.process!.user = { uid: 1000, gid: 100, additionalGids: [5, 20] }; }));
    assert.deepEqual(recs[first(recs, 'user')]!.args, ['1000', '100', String(0o022), '2', '5', '20']);
  });

  test('umask 0 is a valid umask (kept, not replaced by 022)', () => {
    const recs = create(spec((s) => { s.process!.user = { uid: 0, gid: 0, umask: 0 }; }));
    assert.equal(recs[first(recs, 'user')]!.args[2], '0');
  });

  test('ready comes before wait_fifo; release after the startContainer hooks; exec is last with argv and env', () => {
    const recs = create(spec((s) => {
      s.process!.args = ['sh', '-c', 'echo hi'];
      s.process!.env = ['PATH=/bin', 'A=b c'];
      s.hooks = { startContainer: [{ path: '/s1' }, { path: '/s2' }] };
    }));
    const ready = first(recs, 'ready');
    const wait = first(recs, 'wait_fifo');
    const release = first(recs, 'release');
    assert.ok(ready < wait, 'ready before wait_fifo');
    const hooks = indexes(recs, 'hook');
    assert.equal(hooks.length, 2);
    for (const h of hooks) assert.ok(wait < h && h < release, 'startContainer hooks between wait_fifo and release');
    assert.equal(recs.length - 1, last(recs, 'exec'), 'exec is the last record');
    assert.equal(count(recs, 'exec'), 1);
    assert.deepEqual(recs.at(-1)!.args, ['3', 'sh', '-c', 'echo hi', 'PATH=/bin', 'A=b c']);
    assert.deepEqual(recs[first(recs, 'resolve_exec')]!.args, ['sh', '/bin']);
  });

  test('exec with an empty env: argc and argv only', () => {
    const recs = create(spec((s) => { s.process!.env = []; s.process!.args = ['true']; }));
    assert.deepEqual(recs.at(-1), { op: 'exec', args: ['1', 'true'] });
    assert.equal(recs[first(recs, 'resolve_exec')]!.args[1], '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'no PATH in env: the default PATH');
  });

  test('empty process.args throws', () => {
    assert.throws(() => buildCreatePlan(input(spec((s) => { s.process!.args = []; }))), /process\.args is empty/);
  });

  test('a config without process: ready, close_fds, wait_fifo, release, then an exec that fails', () => {
    const recs = create(spec((s) => { delete s.process; }));
    assert.deepEqual(ops(recs).slice(-5), ['ready', 'close_fds', 'wait_fifo', 'release', 'exec']);
    assert.equal(count(recs, 'user'), 0);
  });

  test('rlimit RLIM_INFINITY (18446744073709551615, exact from parseSpec) encodes as 18446744073709551615, one less stays one less', () => {
    const s = parseExact('{"type":"RLIMIT_CORE","soft":18446744073709551614,"hard":18446744073709551615}') as any;
    assert.equal(s.soft, 18446744073709551614n);
    const recs = create(spec((x) => { x.process!.rlimits = [s]; }));
    assert.deepEqual(recs[first(recs, 'rlimit')]!.args, ['4', '18446744073709551614', '18446744073709551615']);
  });

  test('rlimit with RLIM_INFINITY encodes as 18446744073709551615', () => {
    const s = parseExact('{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615}') as any;
    const recs = create(spec((x) => { x.process!.rlimits = [s]; }));
    assert.deepEqual(recs[first(recs, 'rlimit')]!.args, ['4', '18446744073709551615', '18446744073709551615']);
    assert.ok(decode(new Plan().add('rlimit', ...recs[first(recs, 'rlimit')]!.args).encode()).body.includes('18446744073709551615'));
  });

  test('zero is a valid rlimit, and soft < hard is kept as given', () => {
    const recs = create(spec((x) => {
      x.process!.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }];
    }));
    assert.deepEqual(recs.filter((r) => r.op === 'rlimit').map((r) => r.args), [['4', '0', '0'], ['7', '1024', '4096']]);
    assert.ok(first(recs, 'rlimit') > first(recs, 'pivot_root'));
  });

  test('rlimit comes before user (raising a hard limit needs CAP_SYS_RESOURCE, lost at setresuid)', () => {
    const recs = create(spec((s) => { s.process!.user = { uid: 1000, gid: 1000 }; }));
    assert.ok(last(recs, 'rlimit') < first(recs, 'user'));
    const e = buildExecPlan(execInput(spec())).records;
    assert.ok(last(e, 'rlimit') < first(e, 'user'), 'exec too');
  });

  test('a large but finite rlimit (2^53) is not turned into RLIM_INFINITY', () => {
    const recs = create(spec((x) => { x.process!.rlimits = [{ type: 'RLIMIT_FSIZE', soft: 2 ** 53, hard: 2 ** 53 }]; }));
    assert.deepEqual(recs[first(recs, 'rlimit')]!.args, ['1', '9007199254740992', '9007199254740992']);
  });
});

describe('buildExecPlan', () => {
  test('a container without a mount namespace: after clone, chroot into its rootfs before the process steps', () => {
    const s = spec();
    const recs = buildExecPlan(execInput(s, {
      joinNamespaces: [{ type: 'pid', path: '/proc/4242/ns/pid' }], chrootTo: '/b/rootfs',
    })).records;
    assert.deepEqual(recs[first(recs, 'root_dir')]!.args, ['/b/rootfs']);
    assert.ok(first(recs, 'clone') < first(recs, 'root_dir'));
    assert.ok(first(recs, 'root_dir') < first(recs, 'chroot_dir') && first(recs, 'chroot_dir') < first(recs, 'resolve_exec'));
    assert.equal(count(buildExecPlan(execInput(s)).records, 'chroot_dir'), 0, 'not when the mount namespace is joined');
  });

  test('cgroup records before every setns; clone after all of them, with no new namespaces', () => {
    const recs = buildExecPlan(execInput(spec())).records;
    const firstSetns = first(recs, 'setns');
    for (const i of [...indexes(recs, 'cgroup_tasks'), ...indexes(recs, 'cgroup_into')]) assert.ok(i < firstSetns);
    const clone = first(recs, 'clone');
    assert.ok(last(recs, 'setns') < clone);
    assert.deepEqual(recs[clone]!.args, ['0', '1']);
  });

  test('the user namespace is joined first, then the fixed order, whatever order joinNamespaces has', () => {
    const recs = buildExecPlan(execInput(spec())).records;
    assert.deepEqual(recs.filter((r) => r.op === 'setns').map((r) => r.args), [
      ['/proc/4242/ns/user', String(CLONE.NEWUSER)],
      ['/proc/4242/ns/ipc', String(CLONE.NEWIPC)],
      ['/proc/4242/ns/pid', String(CLONE.NEWPID)],
      ['/proc/4242/ns/mnt', String(CLONE.NEWNS)],
    ]);
  });

  test('exec: ready but no wait_fifo/release; cap_bounding < user < cap_set; exec last with argv+env', () => {
    const s = spec();
    const recs = buildExecPlan(execInput(s)).records;
    assert.equal(count(recs, 'ready'), 1);
    assert.equal(count(recs, 'wait_fifo') + count(recs, 'release'), 0);
    assert.ok(first(recs, 'cap_bounding') < first(recs, 'user') && first(recs, 'user') < first(recs, 'cap_set'));
    assert.deepEqual(recs.at(-1)!.args, ['2', 'ps', 'aux', ...s.process!.env!]);
  });

  test('exec: seccomp built before clone, loaded last (after close_fds, right before exec) when noNewPrivileges is false', () => {
    const s = spec((x) => { x.linux!.seccomp = SECCOMP; });
    const recs = buildExecPlan(execInput(s, { process: { ...s.process!, terminal: false, noNewPrivileges: false } })).records;
    assert.ok(first(recs, 'seccomp_init') < first(recs, 'clone'));
    assert.ok(first(recs, 'seccomp_load') > first(recs, 'close_fds'));
    assert.deepEqual(ops(recs).slice(-2), ['seccomp_load', 'exec']);
  });

  test('exec: setsid right after clone; joins the container\'s session keyring as its root, before user', () => {
    const recs = buildExecPlan(execInput(spec(), { keyringOf: 'c1' })).records;
    const clone = first(recs, 'clone');
    assert.equal(recs[clone + 1]!.op, 'setsid');
    assert.ok(first(recs, 'become_root') > clone, 'the user namespace is joined: become its root first');
    assert.ok(first(recs, 'become_root') < first(recs, 'session_keyring'));
    assert.deepEqual(recs[first(recs, 'session_keyring')]!.args, ['_ses.c1']);
    assert.ok(first(recs, 'session_keyring') < first(recs, 'user'));
  });

  test('exec: no user namespace joined, no become_root; no keyringOf (--no-new-keyring), no session_keyring', () => {
    const s = spec();
    const noUser = execInput(s, { keyringOf: 'c1' });
    noUser.joinNamespaces = noUser.joinNamespaces.filter((n) => n.type !== 'user');
    const recs = buildExecPlan(noUser).records;
    assert.equal(count(recs, 'become_root'), 0);
    assert.equal(count(recs, 'session_keyring'), 1);
    assert.equal(count(buildExecPlan(execInput(s)).records, 'session_keyring'), 0);
  });

  test('exec: terminal without a console socket throws', () => {
    const s = spec();
    assert.throws(() => buildExecPlan(execInput(s, { process: { ...s.process!, terminal: true } })), /console-socket/);
  });

  test('exec: rlimit RLIM_INFINITY encodes as 18446744073709551615', () => {
    const s = spec();
    const recs = buildExecPlan(execInput(s, {
      process: { ...s.process!, terminal: false, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 18446744073709551615n, hard: 18446744073709551615n }] },
    })).records;
    assert.deepEqual(recs[first(recs, 'rlimit')]!.args, ['7', '18446744073709551615', '18446744073709551615']);
  });
});

describe('Plan.encode', () => {
  test('the length prefix equals the byte length of the body (multi-byte UTF-8 counted in bytes)', () => {
    const plan = new Plan().add('hostname', 'héllo-☃').add('mkdir', '/ü', 0o755);
    const buf = plan.encode();
    const { declared, body } = decode(buf);
    assert.equal(declared, body.length);
    assert.notEqual(declared, body.toString('utf8').length, 'bytes, not UTF-16 code units');
    assert.match(buf.toString('latin1'), /^\d+\n/);
  });

  test('fields are NUL-separated: op, argument count, arguments; every record ends with NUL', () => {
    const buf = new Plan().add('mount', 'a', '/b', '', 4096, '', 0, 'dir').add('wait_go').add('rlimit', 7, 10n, 20n).encode();
    const nl = buf.indexOf(0x0a);
    assert.equal(
      buf.subarray(nl + 1).toString(),
      'mount\x007\x00a\x00/b\x00\x004096\x00\x000\x00dir\x00wait_go\x000\x00rlimit\x003\x007\x0010\x0020\x00',
    );
  });

  test('a real create plan round-trips through encode (empty strings are kept as empty fields)', () => {
    const built = buildCreatePlan(input(spec()));
    const { declared, body, records } = decode(built.plan.encode());
    assert.equal(declared, body.length);
    assert.deepEqual(records, built.plan.records);
  });

  test('an argument containing NUL throws, naming the record', () => {
    assert.throws(() => new Plan().add('hostname', 'a\0b').encode(), /hostname.*NUL/);
    assert.throws(() => buildCreatePlan(input(spec((s) => { s.process!.args = ['sh\0evil']; }))).plan.encode(), /NUL/);
  });
});

test('the cgroup v2 device filter is attached in stage 0, before the helper joins its cgroups and clones', () => {
  const recs = create(spec(), { deviceFilter: [{ op: 'bpf_devices', args: ['/sys/fs/cgroup/berth/c1', '00ff'] }] });
  const bpf = first(recs, 'bpf_devices');
  assert.ok(bpf >= 0, 'the record is in the plan');
  assert.ok(bpf < first(recs, 'cgroup_tasks') && bpf < first(recs, 'clone'));
  assert.deepEqual(recs[bpf]!.args, ['/sys/fs/cgroup/berth/c1', '00ff']);
  assert.equal(count(create(spec()), 'bpf_devices'), 0, 'none unless asked for');
});
