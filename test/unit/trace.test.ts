// src/runtime/trace.ts: reading, explaining and formatting the creation trace, and the Node-side
// recorder (including its cost: "recording costs under 1 ms per container").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TraceRecorder, explain, formatTrace, readTrace } from '../../src/runtime/trace.ts';
import { CLONE, MS, S_IF, makedev } from '../../src/runtime/linux.ts';
import { capMask } from '../../src/runtime/caps.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-trace-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const T = 1_700_000_000_000_000_000n; // ns since the epoch, as berth-init writes them
const at = (us: number): string => String(T + BigInt(us) * 1000n);

/** A trace.log as berth-init (C) and berth-oci (Node) leave it: appended in write order, not time order. */
const SAMPLE = [
  // berth-oci's lines are flushed last, but some started first
  ['cgroup', at(100), at(300), '0', 'mkdir /berth/c1 in 3 hierarchies (hybrid)'],
  ['plan', at(100), at(900), '0', '/b/config.json', '60 plan records sent to berth-init 41'],
  // berth-init's lines
  ['trace', at(1000), at(1001), '0', '/run/berth/c1/trace.log'],
  ['cgroup_tasks', at(1100), at(1130), '0', '/sys/fs/cgroup/cpu/berth/c1'],
  ['setns', at(1200), at(1210), '0', '/proc/1/ns/net', String(CLONE.NEWNET)],
  ['clone', at(1300), at(1500), '0', String(CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS), '0'],
  ['wait_go', at(1500), at(2500), '0'],
  ['unshare', at(2600), at(2650), '0', String(CLONE.NEWCGROUP)],
  ['mount', at(3000), at(3100), '0', 'proc', '/proc', 'proc', String(MS.NOSUID | MS.NODEV | MS.NOEXEC), '', '0', 'dir'],
  ['mount', at(3200), at(3300), '0', '/data', '/data', '', String(MS.BIND | MS.REC | MS.RDONLY), '', String(MS.PRIVATE), 'dir'],
  ['mkdev', at(3400), at(3410), '0', '/dev/null', String(S_IF.CHR | 0o666), String(makedev(1, 3)), '0', '0'],
  ['pivot_root', at(3500), at(3700), '0'],
  ['rlimit', at(3800), at(3801), '0', '7', '1024', '18446744073709551615'],
  ['cap_bounding', at(3900), at(3950), '0', String(capMask(['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']))],
  ['user', at(4000), at(4010), '0', '1000', '1000', String(0o022), '2', '5', '20'],
  ['cap_set', at(4100), at(4110), '0', String(capMask(['CAP_KILL'])), String(capMask(['CAP_KILL'])), '0'],
  ['seccomp_load', at(4200), at(4300), '0'],
  ['exec', at(4400), at(4400), '0', '/bin/sh'],
  // the userns step (Node) landed in between
  ['userns', at(1600), at(1700), '0', 'uid_map 0 1000 1; gid_map 0 1000 1'],
  ['spawn', at(100), at(1550), '0', 'berth-init cloned the init: pid 42'],
].map((f) => f.join('\t')).join('\n') + '\n';

function sample(): string {
  const p = join(dir, `sample-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(p, SAMPLE);
  return p;
}

describe('readTrace', () => {
  test('a missing trace file reads as no steps', () => {
    assert.deepEqual(readTrace(join(dir, 'nope.log')), []);
  });

  test('steps are sorted by start time (Node and helper lines merged), stable for equal starts', () => {
    const steps = readTrace(sample());
    assert.equal(steps.length, 20);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i - 1]!.start <= steps[i]!.start, `${steps[i - 1]!.step} before ${steps[i]!.step}`);
    assert.deepEqual(steps.slice(0, 3).map((s) => s.step), ['cgroup', 'plan', 'spawn'], 'equal starts keep file order');
    assert.equal(steps.findIndex((s) => s.step === 'userns'), steps.findIndex((s) => s.step === 'wait_go') + 1);
  });

  test('times are milliseconds, args and result are parsed', () => {
    const steps = readTrace(sample());
    const clone = steps.find((s) => s.step === 'clone')!;
    assert.ok(Math.abs(clone.end - clone.start - 0.2) < 1e-3, `clone took ${clone.end - clone.start} ms`);
    assert.equal(clone.result, 0);
    assert.deepEqual(clone.args, [String(CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS), '0']);
  });

  test('steps map to their stages; unknown steps are "other"', () => {
    const p = join(dir, 'stages.log');
    writeFileSync(p, SAMPLE + `frobnicate\t${at(9000)}\t${at(9001)}\t0\n`);
    const stage = Object.fromEntries(readTrace(p).map((s) => [s.step, s.stage]));
    assert.deepEqual(
      { cgroup: stage.cgroup, cgroup_tasks: stage.cgroup_tasks, setns: stage.setns, clone: stage.clone, wait_go: stage.wait_go, mount: stage.mount,
        mkdev: stage.mkdev, pivot_root: stage.pivot_root, rlimit: stage.rlimit, cap_bounding: stage.cap_bounding, seccomp_load: stage.seccomp_load,
        exec: stage.exec, plan: stage.plan, userns: stage.userns, frobnicate: stage.frobnicate },
      { cgroup: 'cgroups', cgroup_tasks: 'cgroups', setns: 'clone', clone: 'clone', wait_go: 'cgroups', mount: 'rootfs',
        mkdev: 'rootfs', pivot_root: 'pivot_root', rlimit: 'security', cap_bounding: 'security', seccomp_load: 'security',
        exec: 'exec', plan: 'prepare', userns: 'clone', frobnicate: 'other' },
    );
  });

  test('a failed step keeps its negative result (errno) and an error line maps to the error stage', () => {
    const p = join(dir, 'err.log');
    writeFileSync(p, `mount\t${at(1)}\t${at(2)}\t-13\tproc\t/proc\tproc\t0\t\t0\tdir\nerror\t${at(3)}\t${at(3)}\t0\tmount /proc: Permission denied\n`);
    const [m, e] = readTrace(p);
    assert.equal(m!.result, -13);
    assert.equal(e!.stage, 'error');
    assert.equal(e!.detail, 'mount /proc: Permission denied');
  });

  test('blank lines are skipped and a step with no args still reads', () => {
    const p = join(dir, 'blank.log');
    writeFileSync(p, `\n\nwait_go\t${at(1)}\t${at(2)}\t0\n\n`);
    const steps = readTrace(p);
    assert.equal(steps.length, 1);
    assert.deepEqual(steps[0]!.args, []);
  });
});

describe('explain', () => {
  test('clone flags render as CLONE_NEW… names (plus SIGCHLD)', () => {
    assert.equal(explain('clone', [String(CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWNET), '0']),
      'clone(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNET|SIGCHLD)');
  });

  test('clone with no new namespace (exec) renders 0', () => {
    assert.equal(explain('clone', ['0', '1']), 'clone(0|SIGCHLD)');
  });

  test('unknown clone bits are shown in hex, not dropped', () => {
    assert.equal(explain('unshare', [String(CLONE.NEWCGROUP | 0x100)]), 'unshare(CLONE_NEWCGROUP|0x100)');
  });

  test('unshare of CLONE_NEWCGROUP and setns name their namespace flag', () => {
    assert.equal(explain('unshare', [String(0x2000000)]), 'unshare(CLONE_NEWCGROUP)');
    assert.equal(explain('setns', ['/proc/1/ns/user', String(CLONE.NEWUSER)]), 'setns(open("/proc/1/ns/user"), CLONE_NEWUSER)');
  });

  test('mount flags render as MS_… names, propagation appended when not 0', () => {
    assert.equal(
      explain('mount', ['proc', '/proc', 'proc', String(MS.NOSUID | MS.NODEV | MS.NOEXEC), '', '0', 'dir']),
      'mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, "")',
    );
    assert.equal(
      explain('mount', ['/data', '/data', '', String(MS.BIND | MS.REC | MS.RDONLY), 'x=1', String(MS.PRIVATE | MS.REC), 'dir']),
      'mount("/data", "/data", "", MS_RDONLY|MS_BIND|MS_REC, "x=1") + MS_REC|MS_PRIVATE',
    );
  });

  test('zero mount flags render as 0', () => {
    assert.equal(explain('mount', ['tmpfs', '/dev', 'tmpfs', '0', 'mode=755', '0', 'dir']), 'mount("tmpfs", "/dev", "tmpfs", 0, "mode=755")');
  });

  test('propagation names its MS_ flags', () => {
    assert.equal(explain('propagation', ['/', String(MS.SLAVE | MS.REC)]), 'mount(NULL, "/", NULL, MS_REC|MS_SLAVE, NULL)');
  });

  test('capability masks render as CAP_ names; an empty mask is "none"', () => {
    assert.equal(explain('cap_bounding', [String(capMask(['CAP_KILL', 'CAP_CHOWN']))]), 'prctl(PR_CAPBSET_DROP) keeping CAP_CHOWN,CAP_KILL');
    assert.equal(explain('cap_set', [String(capMask(['CAP_NET_RAW'])), String(capMask(['CAP_NET_RAW', 'CAP_SYS_ADMIN'])), '0']),
      'capset(effective=CAP_NET_RAW, permitted=CAP_NET_RAW,CAP_SYS_ADMIN, inheritable=none)');
    assert.equal(explain('cap_ambient', [String(capMask(['CAP_CHECKPOINT_RESTORE']))]), 'prctl(PR_CAP_AMBIENT_RAISE, CAP_CHECKPOINT_RESTORE)');
  });

  test('capability 0 (CAP_CHOWN) alone is named, not "none"', () => {
    assert.equal(explain('cap_bounding', ['1']), 'prctl(PR_CAPBSET_DROP) keeping CAP_CHOWN');
  });

  test('rlimit numbers render as RLIMIT_ names; RLIMIT_CPU (0) too; an unknown number stays a number', () => {
    assert.equal(explain('rlimit', ['7', '1024', '18446744073709551615']), 'setrlimit(RLIMIT_NOFILE, soft=1024, hard=18446744073709551615)');
    assert.equal(explain('rlimit', ['0', '1', '2']), 'setrlimit(RLIMIT_CPU, soft=1, hard=2)');
    assert.equal(explain('rlimit', ['99', '1', '2']), 'setrlimit(99, soft=1, hard=2)');
  });

  test('mkdev renders the node type and octal mode', () => {
    assert.equal(explain('mkdev', ['/dev/null', String(S_IF.CHR | 0o666), '259', '0', '0']), 'mknod("/dev/null", S_IFCHR|0666, 259)');
    assert.equal(explain('mkdev', ['/dev/sda', String(S_IF.BLK | 0o600), '2048', '0', '0']), 'mknod("/dev/sda", S_IFBLK|0600, 2048)');
  });

  test('user renders groups, gid, uid and an octal umask', () => {
    assert.equal(explain('user', ['1000', '100', String(0o022), '2', '5', '20']), 'setgroups([5,20]) setresgid(100) setresuid(1000) umask(022)');
  });

  test('seccomp_rule renders the action in hex and the condition count when there are conditions', () => {
    assert.equal(explain('seccomp_rule', [String(0x50026), 'clone3', '0']), 'seccomp rule: clone3 -> action 0x50026');
    assert.equal(explain('seccomp_rule', [String(0x7fff0000), 'personality', '1', '0', '4', '8', '0']),
      'seccomp rule: personality -> action 0x7fff0000 (1 arg conditions)');
  });

  test('an unexplained step shows its args space-joined', () => {
    assert.equal(explain('cgroup', ['mkdir /berth/c1 in 1 hierarchies (v2)']), 'mkdir /berth/c1 in 1 hierarchies (v2)');
    assert.equal(explain('preserve_fds', ['2']), '2');
  });

  test('the steps between clone and execve that issue 8 added say their syscalls', () => {
    assert.equal(explain('session_keyring', ['_ses.c1']), 'keyctl(KEYCTL_JOIN_SESSION_KEYRING, "_ses.c1") + KEY_USR_SEARCH');
    assert.equal(explain('setsid', []), 'setsid(): a session of its own');
    assert.equal(explain('close_fds', []), 'close_range(3 + preserved fds, ~0, CLOSE_RANGE_CLOEXEC)');
    assert.match(explain('seccomp_load', []), /only execve follows/);
  });

  test('the seccomp load says whose program it is: cached (its size and key) or compiled now (the size traced by seccomp_export)', () => {
    const key = 'ab'.repeat(32);
    assert.equal(explain('seccomp_load', ['cached', key, '960']),
      `seccomp(SECCOMP_SET_MODE_FILTER) of the cached program compiled by libseccomp from the profile (960 insns, key ${key}): the last step, only execve follows`);
    assert.equal(explain('seccomp_load', ['compiled', key], 960),
      `seccomp(SECCOMP_SET_MODE_FILTER) of the program libseccomp compiled from the profile (960 insns, now cached as ${key}): the last step, only execve follows`);
    assert.match(explain('seccomp_export', [key], 960), /^libseccomp compiles the filter built by the seccomp records \(960 BPF insns\)/);
    assert.equal(explain('seccomp_program', [key, '960']), `the cached BPF program libseccomp compiled from this profile (960 insns, key ${key}): no rules to build`);
  });

  test('readTrace fills detail with explain()', () => {
    const clone = readTrace(sample()).find((s) => s.step === 'clone')!;
    assert.equal(clone.detail, 'clone(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD)');
  });
});

describe('formatTrace', () => {
  test('the header is AT(ms) TOOK(ms) STAGE STEP WHAT', () => {
    const out = formatTrace(readTrace(sample()));
    const head = out.split('\n')[0]!;
    assert.deepEqual(head.trim().split(/\s+/), ['AT(ms)', 'TOOK(ms)', 'STAGE', 'STEP', 'WHAT']);
    assert.ok(head.startsWith('AT(ms)'));
  });

  test('one row per step plus the header, ending with a newline', () => {
    const steps = readTrace(sample());
    const out = formatTrace(steps);
    assert.ok(out.endsWith('\n'));
    assert.equal(out.split('\n').length - 1, steps.length + 1);
  });

  test('AT is relative to the first step (+0.000) and TOOK is the duration in ms with 3 decimals', () => {
    const lines = formatTrace(readTrace(sample())).split('\n');
    assert.match(lines[1]!, /^\+0\.000\s+0\.200\s+cgroups\s+cgroup\s+mkdir \/berth\/c1/);
    const clone = lines.find((l) => /^\S+\s+\S+\s+\S+\s+clone\s/.test(l))!;
    assert.match(clone, /^\+1\.200\s+0\.200\s+clone\s+clone\s+clone\(CLONE_NEWNS/);
  });

  test('columns are aligned: STEP starts at the same offset on every line', () => {
    const lines = formatTrace(readTrace(sample())).trimEnd().split('\n');
    const col = lines[0]!.indexOf('STEP');
    for (const l of lines.slice(1)) assert.notEqual(l[col], ' ', `STEP column at ${col}: ${l}`);
    for (const l of lines.slice(1)) assert.equal(l[col - 1], ' ', l);
  });

  test('a step that ended before it started (clock skew) shows 0.000, not a negative duration', () => {
    const out = formatTrace([{ step: 'x', stage: 'other', start: 10, end: 9, result: 0, args: [], detail: '' }]);
    assert.match(out.split('\n')[1]!, /^\+0\.000\s+0\.000\s/);
  });

  test('no steps: "no trace recorded"', () => {
    assert.equal(formatTrace([]), 'no trace recorded\n');
  });
});

describe('TraceRecorder', () => {
  test('writes lines that readTrace reads back (step, times, result 0, args)', () => {
    const p = join(dir, 'rec.log');
    const rec = new TraceRecorder(p);
    const t0 = rec.now();
    rec.step('cgroup', t0, 'mkdir /berth/c1 in 1 hierarchies (v2)');
    rec.step('plan', t0, '/b/config.json', 42);
    rec.flush();
    const steps = readTrace(p);
    assert.deepEqual(steps.map((s) => [s.step, s.stage, s.result, s.args]), [
      ['cgroup', 'cgroups', 0, ['mkdir /berth/c1 in 1 hierarchies (v2)']],
      ['plan', 'prepare', 0, ['/b/config.json', '42']],
    ]);
    for (const s of steps) {
      assert.ok(s.end >= s.start, 'end after start');
      assert.ok(Math.abs(s.start - Date.now()) < 60_000, 'start is wall-clock ms, like the helper\'s CLOCK_REALTIME');
    }
  });

  test('now() is nanoseconds since the epoch (same clock as berth-init\'s lines)', () => {
    const ns = new TraceRecorder(join(dir, 'x.log')).now();
    const ms = Number(ns / 1_000_000n);
    assert.ok(Math.abs(ms - Date.now()) < 1000, `${ms} vs ${Date.now()}`);
  });

  test('tabs and newlines in args become spaces (one line per step, one field per arg)', () => {
    const p = join(dir, 'clean.log');
    const rec = new TraceRecorder(p);
    rec.step('hooks', rec.now(), 'a\tb\nc', 'd');
    rec.flush();
    assert.equal(readFileSync(p, 'utf8').split('\n').filter(Boolean).length, 1);
    assert.deepEqual(readTrace(p)[0]!.args, ['a b c', 'd']);
  });

  test('nothing is written before flush, and a flush with no steps writes nothing', () => {
    const p = join(dir, 'lazy.log');
    const rec = new TraceRecorder(p);
    rec.flush();
    assert.ok(!existsSync(p), 'empty flush creates no file');
    rec.step('spawn', rec.now(), 'x');
    assert.ok(!existsSync(p), 'buffered until flush');
    rec.flush();
    assert.equal(readTrace(p).length, 1);
  });

  test('flush appends (to the helper\'s lines), and a second flush does not repeat the first batch', () => {
    const p = join(dir, 'append.log');
    writeFileSync(p, `clone\t${at(1)}\t${at(2)}\t0\t0\t0\n`);
    const rec = new TraceRecorder(p);
    rec.step('cgroup', rec.now(), 'a');
    rec.flush();
    rec.step('userns', rec.now(), 'b');
    rec.flush();
    assert.deepEqual(readTrace(p).map((s) => s.step), ['clone', 'cgroup', 'userns']);
  });

  test('cost: recording 100 steps + flush takes well under 1 ms per container (median of 200 batches)', () => {
    const times: number[] = [];
    for (let b = 0; b < 200; b++) {
      const p = join(dir, `cost-${b % 8}.log`);
      const t = performance.now();
      const rec = new TraceRecorder(p);
      for (let i = 0; i < 100; i++) {
        const t0 = rec.now();
        rec.step('mount', t0, 'proc', '/proc', 'proc', 14, '', 0, 'dir');
      }
      rec.flush();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const median = times[100]!;
    assert.ok(median < 1, `median batch took ${median.toFixed(3)} ms`);
    // the batches were all written and read back
    assert.equal(readTrace(join(dir, 'cost-0.log')).length, 25 * 100);
  });
});
