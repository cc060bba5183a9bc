// Integration tests of berth-oci's create/start path under hostile conditions (issue 8), on the
// real kernel, as root: a deny-by-default seccomp profile, an init that dies between the release
// of the exec fifo and execve, `start` racing short-lived containers, openat2 lookups racing
// renames elsewhere on the system, the session keyring of `exec`, the init's own session.
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, oci, ok, runCommand, show, state, uniqueId, waitStatus, type Bundle, type OciResult } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const ROOT = DEFAULT_OCI_ROOT;

/** What busybox `sh -c 'echo …'` needs (strace of busybox-static), and busybox `true`. berth's
 * own steps (close_range, capset, setresuid, the exec fifo…) are deliberately not in them. */
const SH_SYSCALLS = [
  'arch_prctl', 'brk', 'execve', 'exit_group', 'getpid', 'getppid', 'getrandom', 'getuid', 'mprotect', 'newfstatat',
  'prctl', 'prlimit64', 'readlink', 'rseq', 'rt_sigaction', 'set_robust_list', 'set_tid_address', 'uname', 'write',
];
const TRUE_SYSCALLS = [
  'arch_prctl', 'brk', 'execve', 'exit_group', 'getrandom', 'getuid', 'mprotect', 'prctl', 'prlimit64', 'readlink',
  'rseq', 'set_robust_list', 'set_tid_address',
];

function profile(defaultAction: string, allow: string[]) {
  return { defaultAction, architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: allow, action: 'SCMP_ACT_ALLOW' }] };
}

function refused(r: OciResult, what: string, message: RegExp): void {
  assert.notEqual(r.code, 0, `${what} should fail:\n${show(r)}`);
  assert.match(r.stderr, message, `${what}: error message\n${show(r)}`);
}

/** Per-test resources, released in t.after: containers first, then the rest in reverse order. */
function scope(t: TestContext) {
  const ids: string[] = [];
  const rest: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    let first: unknown;
    for (const id of ids) {
      const r = await oci(['delete', '--force', id]);
      if (r.code !== 0 && !/does not exist/.test(r.stderr)) first ??= new Error(`cleanup: delete --force ${id}: ${show(r)}`);
    }
    for (const f of rest.reverse()) await f().catch((e) => (first ??= e));
    if (first) throw first;
  });
  return {
    /** a fresh id with this prefix, deleted after the test; or `id` itself when it is one already */
    id(prefix: string): string {
      const id = prefix.endsWith('-') ? uniqueId(prefix) : prefix;
      ids.push(id);
      return id;
    },
    async bundle(opts: Parameters<typeof makeBundle>[0] = {}): Promise<Bundle> {
      const b = await makeBundle(opts);
      rest.push(() => b.cleanup());
      return b;
    },
    defer(f: () => Promise<unknown>): void {
      rest.push(f);
    },
  };
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, …]. */
function statFields(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

// --- 1. the seccomp filter is the last step before execve ----------------------------------------

describe('a deny-by-default seccomp profile', () => {
  for (const nnp of [true, false]) {
    test(`ERRNO by default, only what busybox sh needs allowed (noNewPrivileges ${nnp}): the container runs and prints`, async (t) => {
      const s = scope(t);
      const b = await s.bundle({
        args: ['/bin/sh', '-c', 'echo hello-$((6*7))'],
        mutate: (c) => {
          c.process.noNewPrivileges = nnp;
          c.linux.seccomp = profile('SCMP_ACT_ERRNO', SH_SYSCALLS);
        },
      });
      const r = await oci(['run', '--bundle', b.dir, s.id('hs1-sh-')]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, 'hello-42\n');
    });

    test(`KILL_PROCESS by default, only what busybox true needs (no write, no close_range; noNewPrivileges ${nnp}): nothing of berth-init runs under the filter`, async (t) => {
      const s = scope(t);
      const b = await s.bundle({
        args: ['/bin/true'],
        mutate: (c) => {
          c.process.noNewPrivileges = nnp;
          c.linux.seccomp = profile('SCMP_ACT_KILL_PROCESS', TRUE_SYSCALLS);
        },
      });
      const id = s.id('hs1-true-');
      ok(await oci(['create', '--bundle', b.dir, id]), 'create');
      ok(await oci(['start', id]), 'start');
      const r = await oci(['run', '--bundle', b.dir, s.id('hs1-true-')]);
      assert.equal(r.code, 0, `killed by the filter (159 = SIGSYS) before or instead of execve?\n${show(r)}`);
      // the trace was written before the load: it has the load and the exec
      const trace = ok(await oci(['trace', '--format', 'json', id]), 'trace').stdout;
      const steps = (JSON.parse(trace) as Array<{ step: string }>).map((x) => x.step);
      assert.deepEqual(steps.filter((x) => ['release', 'seccomp_load', 'exec'].includes(x)), ['release', 'seccomp_load', 'exec']);
    });
  }
});

// --- 2. an init that dies between the release and execve fails start and run -------------------

describe('start and run fail when the init dies before execve', () => {
  /** A bundle whose program is executable but no valid binary (no #!): execve fails with ENOEXEC. */
  async function badExecBundle(s: ReturnType<typeof scope>, mutate?: (c: any) => void): Promise<Bundle> {
    const b = await s.bundle({ args: ['/bad'], mutate });
    await fs.writeFile(path.join(b.rootfs, 'bad'), 'not a program\x00\x01\x02', { mode: 0o755 });
    return b;
  }

  test('execve fails with ENOEXEC: start exits non-zero with the helper\'s message; the container is stopped', async (t) => {
    const s = scope(t);
    const b = await badExecBundle(s);
    const id = s.id('hs2-noexec-');
    ok(await oci(['create', '--bundle', b.dir, id]), 'create');
    refused(await oci(['start', id]), 'start', /cannot start container .*execve\("\/bad"\): Exec format error/);
    assert.equal((await state(id)).status, 'stopped');
  });

  test('execve fails with ENOEXEC: run exits non-zero with the message and removes the container', async (t) => {
    const s = scope(t);
    const b = await badExecBundle(s);
    const id = s.id('hs2-run-');
    refused(await oci(['run', '--bundle', b.dir, id]), 'run', /cannot start container .*execve\("\/bad"\): Exec format error/);
    assert.equal(existsSync(`${ROOT}/${id}`), false, 'state dir removed');
    assert.deepEqual(cgroupDirsOf(id), []);
  });

  test('a profile that denies execve (ERRNO): start fails with "Operation not permitted"', async (t) => {
    const s = scope(t);
    const b = await s.bundle({
      args: ['/bin/true'],
      mutate: (c) => { c.linux.seccomp = profile('SCMP_ACT_ERRNO', TRUE_SYSCALLS.filter((x) => x !== 'execve')); },
    });
    const id = s.id('hs2-deny-');
    ok(await oci(['create', '--bundle', b.dir, id]), 'create');
    refused(await oci(['start', id]), 'start', /cannot start container .*execve\("\/bin\/true"\): Operation not permitted/);
  });

  test('ENOEXEC under a filter that kills any write: the report still reaches start', async (t) => {
    const s = scope(t);
    const b = await badExecBundle(s, (c) => { c.linux.seccomp = profile('SCMP_ACT_KILL_PROCESS', TRUE_SYSCALLS); });
    const id = s.id('hs2-kill-');
    ok(await oci(['create', '--bundle', b.dir, id]), 'create');
    refused(await oci(['start', id]), 'start', /cannot start container .*execve\("\/bad"\): Exec format error/);
  });
});

// --- 3. start's verdict is exact under load ------------------------------------------------------

describe('start under parallel load', () => {
  test('50 parallel create/start/delete of `true`, 200 runs: no spurious start failure', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['/bin/true'] });
    const RUNS = 200;
    const PARALLEL = 50;
    const failures: string[] = [];
    let next = 0;
    const t0 = Date.now();
    const worker = async () => {
      while (next < RUNS) {
        next++;
        // not in the scope's list: each run deletes its own, and only a failed delete is left to it
        const id = uniqueId('hs3-par-');
        const c = await oci(['create', '--bundle', b.dir, id], { timeoutMs: 60_000 });
        if (c.code !== 0) {
          failures.push(`create ${id}: ${show(c)}`);
          continue;
        }
        const st = await oci(['start', id], { timeoutMs: 60_000 });
        if (st.code !== 0) failures.push(`start ${id}: ${show(st)}`);
        const d = await oci(['delete', '--force', id], { timeoutMs: 60_000 });
        if (d.code !== 0) {
          failures.push(`delete ${id}: ${show(d)}`);
          s.id(id);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    t.diagnostic(`${RUNS} runs in ${Date.now() - t0} ms`);
    assert.deepEqual(failures, []);
  });

  test('start paused between its fifo read and its liveness check while the init releases, execs and exits: success, the program ran once', async (t) => {
    // strace delays start's open of /proc/PID/stat (its liveness check) by 30 ms: the pause a
    // loaded machine may give it between reading nothing from the fifo and looking at the init
    const s = scope(t);
    const out = await fs.mkdtemp('/var/tmp/berth-hs3-race-');
    await fs.chmod(out, 0o755);
    s.defer(() => fs.rm(out, { recursive: true, force: true }));
    const b = await s.bundle({
      args: ['/bin/sh', '-c', 'echo ran >> /out/runs'],
      mutate: (c) => {
        c.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] });
        // the init waits here after start opened the fifo, so start is polling when it releases
        c.hooks = { startContainer: [{ path: '/bin/sleep', args: ['sleep', '0.05'] }] };
      },
    });
    const RUNS = 8;
    const failures: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const id = s.id('hs3-race-');
      ok(await oci(['create', '--bundle', b.dir, id]), 'create');
      const { pid } = await state(id);
      const r = await runCommand('strace', [
        '-qq', '-o', '/dev/null', '-P', `/proc/${pid}/stat`, '-e', 'trace=openat', '-e', 'inject=openat:delay_enter=30000',
        process.execPath, BERTH_OCI, '--root', ROOT, 'start', id,
      ]);
      if (r.code !== 0) failures.push(show(r));
      await waitStatus(id, 'stopped');
    }
    assert.deepEqual(failures, []);
    assert.equal(await fs.readFile(path.join(out, 'runs'), 'utf8'), 'ran\n'.repeat(RUNS), 'each container ran its program once');
  });
});

// --- 4. openat2 lookups through ".." racing renames ---------------------------------------------

describe('rootfs lookups racing renames on the host', () => {
  test('mounts through symlinks with ".." components while another process renames without pause: no EAGAIN', async (t) => {
    const s = scope(t);
    const N = 30;
    const b = await s.bundle({
      mutate: (c) => {
        for (let k = 0; k < N; k++) c.mounts.push({ destination: `/l${k}/m`, type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] });
      },
    });
    // /lK -> ../../…/tmp/dK: openat2(RESOLVE_IN_ROOT) walks each ".." (clamped at the root)
    for (let k = 0; k < N; k++) {
      await fs.mkdir(path.join(b.rootfs, `tmp/d${k}/m`), { recursive: true });
      await fs.symlink('../'.repeat(10) + `tmp/d${k}`, path.join(b.rootfs, `l${k}`));
    }
    const dir = await fs.mkdtemp('/var/tmp/berth-hs4-storm-');
    s.defer(() => fs.rm(dir, { recursive: true, force: true }));
    const storm = spawn('perl', ['-e', 'chdir $ARGV[0] or die; open F, ">a"; close F; while (1) { rename "a", "b"; rename "b", "a" }', dir], { stdio: 'ignore' });
    const stopped = new Promise((r) => storm.once('exit', r));
    s.defer(async () => {
      storm.kill('SIGKILL');
      await stopped;
    });
    await waitFor('the rename loop to run', () => existsSync(path.join(dir, 'a')) || existsSync(path.join(dir, 'b')));
    const failures: string[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await oci(['run', '--bundle', b.dir, s.id('hs4-eagain-')]);
      if (r.code !== 0) failures.push(show(r));
    }
    assert.equal(storm.exitCode, null, 'the rename loop ran throughout');
    assert.deepEqual(failures, []);
  });
});

// --- 9. exec joins the container's session keyring ------------------------------------------------

describe('session keyring of exec', () => {
  /** argv that runs berth-oci under a fresh session keyring NAME that only its possessors can
   * see (perm 0x3f000000): as the caller's keys would be, were they private. */
  function underPrivateKeyring(name: string, args: string[]): [string, string[]] {
    const script = [
      'my $k = syscall(250, 1, $ARGV[0]);', // keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)
      'die "join: $!" if $k < 0;',
      'syscall(250, 5, $k, 0x3f000000) == 0 or die "setperm: $!";', // KEYCTL_SETPERM: possessor only
      'shift @ARGV; exec @ARGV or die "exec: $!";',
    ].join(' ');
    return ['perl', ['-e', script, name, process.execPath, BERTH_OCI, '--root', ROOT, ...args]];
  }

  /** serial of the keyring named `name` in a /proc/keys listing, or undefined */
  function serialOf(listing: string, name: string): string | undefined {
    // "0701c285 I------     1 perm 3f1b0000     0     0 keyring   _ses.ID: empty"
    return listing.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[8] === `${name}:`)?.[0];
  }

  test('an exec\'d process does not possess the caller\'s session keyring; it joins the init\'s _ses.<id>', async (t) => {
    const s = scope(t);
    const b = await s.bundle({
      args: ['/bin/sh', '-c', 'cat /proc/keys > /dev/shm/init-keys; exec sleep 60'],
      mutate: (c) => { c.linux.maskedPaths = c.linux.maskedPaths.filter((p: string) => p !== '/proc/keys'); },
    });
    const id = s.id('hs9-keys-');
    const host = `9-host-${uniqueId('k')}`;
    const under = (args: string[]) => {
      const [cmd, argv] = underPrivateKeyring(host, args);
      return runCommand(cmd, argv);
    };
    ok(await under(['run', '-d', '--bundle', b.dir, id]), 'run -d');
    const initKeys = await waitFor('the init to list its keys', async () => {
      const r = await oci(['exec', id, 'cat', '/dev/shm/init-keys']);
      return r.code === 0 && r.stdout.length > 0 && r.stdout;
    });
    const ses = serialOf(initKeys, `_ses.${id}`);
    assert.ok(ses, `the init's /proc/keys has _ses.${id}:\n${initKeys}`);
    assert.ok(!initKeys.includes(host), `the init does not possess the caller's keyring:\n${initKeys}`);

    const asRoot = ok(await under(['exec', id, 'cat', '/proc/keys']), 'exec cat /proc/keys').stdout;
    assert.ok(!asRoot.includes(host), `exec does not possess the caller's keyring ${host}:\n${asRoot}`);
    assert.equal(serialOf(asRoot, `_ses.${id}`), ses, `exec sees the init's keyring:\n${asRoot}`);
    // uid 1000 can see a keyring of root's only by possessing it: the one it possesses is the init's
    const asUser = ok(await under(['exec', '--user', '1000:1000', id, 'cat', '/proc/keys']), 'exec --user 1000').stdout;
    assert.ok(!asUser.includes(host), asUser);
    assert.equal(serialOf(asUser, `_ses.${id}`), ses, `exec --user 1000 possesses the init's session keyring:\n${asUser}`);
  });
});

// --- 11. the init has a session of its own -------------------------------------------------------

describe('session of the init', () => {
  test('the init leads a new session; a SIGKILL to the caller\'s process group does not reach it', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['/bin/sleep', '60'] });
    const id = s.id('hs11-sid-');
    // the caller: berth-oci run -d in a process group (and session) of its own, as a shell job
    const caller = spawn(process.execPath, [BERTH_OCI, '--root', ROOT, 'run', '-d', '--bundle', b.dir, id], { detached: true, stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => caller.once('exit', (c) => r(c)));
    assert.equal(code, 0, 'run -d');
    const pgid = caller.pid!;
    const { pid } = await waitStatus(id, 'running');
    const [, , pgrp, session] = statFields(pid);
    assert.equal(Number(session), pid, 'the init leads its own session');
    assert.equal(Number(pgrp), pid, 'and its own process group');
    assert.notEqual(Number(session), pgid, "not the caller's session");
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ESRCH', 'nothing is left in the caller\'s group');
    }
    await sleep(100);
    assert.ok(alive(pid), 'the init survived the kill of the caller\'s process group');
    assert.equal((await state(id)).status, 'running');
  });

  test('an exec\'d process leads a session of its own too (as with runc)', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['/bin/sleep', '60'] });
    const id = s.id('hs11-exec-');
    ok(await oci(['run', '-d', '--bundle', b.dir, id]), 'run -d');
    // in the container's pid namespace: the sh that reads its own stat is the session leader
    const r = ok(await oci(['exec', id, 'sh', '-c', 'read -r l < /proc/self/stat; echo "$$ $l"']), 'exec');
    const [self, ...rest] = r.stdout.trim().split(' ');
    const line = rest.join(' ');
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
    assert.equal(fields[3], self, `session of the exec'd sh (${line})`);
  });
});

after(async () => {
  // nothing of this file's containers may be left in the state root
  const mine = new RegExp(`^hs\\d+-[a-z]+-${process.pid}-`);
  const left = existsSync(ROOT) ? (await fs.readdir(ROOT)).filter((n) => mine.test(n)) : [];
  assert.deepEqual(left, [], 'containers left behind');
});
