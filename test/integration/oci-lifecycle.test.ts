// Integration tests of berth-oci's container lifecycle and command line, on the real
// kernel, as root: create/start/state/kill/delete, run, exec, ps, list, hooks, trace,
// config errors (and that a failed create leaves nothing behind), and the CLI surface.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_OCI_ROOT, makeBundle, oci, ok, show, state, uniqueId, waitStatus, type Bundle, type OciResult, type OciState } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf, processesWithEnv } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const ROOT = DEFAULT_OCI_ROOT;
const CGROUP_FS = '/sys/fs/cgroup';
/** Set in the environment of every berth-oci this file runs: its value is the container id, so
 * that any process berth-oci leaves behind (berth-init, a hook) can be traced back to it. */
const TAG = 'BERTH_LIFECYCLE_TEST_ID';

// --- helpers -----------------------------------------------------------------------------

/** berth-oci with the tag of container `id` in its environment. */
function ociFor(id: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<OciResult> {
  return oci(args, { env: { [TAG]: id }, ...opts });
}

function refused(r: OciResult, what: string, message: RegExp): OciResult {
  assert.notEqual(r.code, 0, `${what} should fail:\n${show(r)}`);
  assert.match(r.stderr, message, `${what}: error message\n${show(r)}`);
  return r;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Live processes started on behalf of container `id` (they carry TAG=id in their environment:
 * berth-oci, berth-init, hooks), as "PID CMDLINE". */
function taggedProcesses(id: string): string[] {
  return processesWithEnv(`${TAG}=${id}`).filter(alive).map((pid) => `${pid} ${cmdline(pid)}`);
}

function mountsMentioning(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
}

/** After a failed create: no state dir, no cgroup dir, no process, no mount. */
async function assertNothingLeft(id: string, bundleDir: string): Promise<void> {
  // the failed runtime may have left a process that is still going away
  const deadline = Date.now() + 2000;
  let procs = taggedProcesses(id);
  while (procs.length && Date.now() < deadline) {
    await sleep(25);
    procs = taggedProcesses(id);
  }
  assert.deepEqual(procs, [], `processes of the failed create of ${id} still running`);
  assert.equal(existsSync(`${ROOT}/${id}`), false, `state dir ${ROOT}/${id} left behind`);
  assert.deepEqual(cgroupDirsOf(id), [], `cgroup dirs of ${id} left behind`);
  assert.deepEqual(mountsMentioning(bundleDir), [], `mounts of bundle ${bundleDir} left behind`);
  const l = ok(await oci(['list', '-q']), 'list -q');
  assert.ok(!l.stdout.split('\n').includes(id), `list still shows ${id}`);
}

async function forceDelete(id: string): Promise<void> {
  const r = await oci(['delete', '--force', id]);
  if (r.code !== 0 && !/does not exist/.test(r.stderr)) throw new Error(`cleanup: delete --force ${id}: ${show(r)}`);
}

/** Per-test resources, released in t.after: containers first (delete --force), then the rest
 * in reverse order (bundles, temp dirs). */
function scope(t: TestContext) {
  const ids: string[] = [];
  const rest: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    let first: unknown;
    for (const id of ids) await forceDelete(id).catch((e) => (first ??= e));
    for (const f of rest.reverse()) await f().catch((e) => (first ??= e));
    if (first) throw first;
  });
  return {
    id(prefix = 'lc'): string {
      const id = uniqueId(prefix);
      ids.push(id);
      return id;
    },
    async bundle(opts: Parameters<typeof makeBundle>[0] = {}): Promise<Bundle> {
      const b = await makeBundle(opts);
      rest.push(() => b.cleanup());
      return b;
    },
    async tmp(prefix = 'berth-lc-'): Promise<string> {
      const d = await fs.mkdtemp(path.join('/var/tmp', prefix));
      await fs.chmod(d, 0o755);
      rest.push(() => fs.rm(d, { recursive: true, force: true }));
      return d;
    },
  };
}

function bindMount(source: string, destination: string) {
  return { destination, type: 'bind', source, options: ['rbind', 'rw'] };
}

// --- create / start / state / delete ------------------------------------------------------

describe('lifecycle', () => {
  test('create blocks the program; start runs it; it stops; delete removes it', async (t) => {
    const s = scope(t);
    const out = await s.tmp('berth-lc-out-');
    const b = await s.bundle({
      args: ['sh', '-c', 'echo started > /out/started; while [ ! -e /out/stop ]; do sleep 0.05; done'],
      mutate: (c) => c.mounts.push(bindMount(out, '/out')),
    });
    const id = s.id();

    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    const created = await state(id);
    assert.equal(created.id, id);
    assert.equal(created.status, 'created');
    assert.ok(created.pid > 0, `created pid ${created.pid}`);
    assert.ok(alive(created.pid), `init ${created.pid} is alive after create`);
    assert.equal(created.bundle, b.dir);
    // the leftover detectors used after failed creates do see a live container
    assert.ok(cgroupDirsOf(id).length > 0, 'the container has cgroup dirs while it exists');
    assert.ok(taggedProcesses(id).some((p) => p.startsWith(`${created.pid} `)), 'the blocked init is found by its tag');

    await sleep(300);
    assert.equal(existsSync(`${out}/started`), false, 'the user program ran before start');
    assert.equal((await state(id)).status, 'created', 'still created before start');

    ok(await ociFor(id, ['start', id]), 'start');
    // the shell creates the file (its redirection) before echo writes to it
    await waitFor('the program to write /out/started', () => existsSync(`${out}/started`) && readFileSync(`${out}/started`, 'utf8') === 'started\n');
    const running = await state(id);
    assert.equal(running.status, 'running');
    assert.equal(running.pid, created.pid, 'start keeps the init pid');

    refused(await ociFor(id, ['start', id]), 'a second start', /running/);

    await fs.writeFile(`${out}/stop`, '');
    await waitStatus(id, 'stopped');

    ok(await ociFor(id, ['delete', id]), 'delete of a stopped container');
    refused(await oci(['state', id]), 'state after delete', /does not exist/);
    assert.equal(existsSync(`${ROOT}/${id}`), false, 'state dir removed');
    assert.deepEqual(cgroupDirsOf(id), [], 'cgroup dirs removed');
  });

  test('delete without --force of a created container kills its init', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['sleep', '1000'] });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    const { pid } = await state(id);
    ok(await ociFor(id, ['delete', id]), 'delete of a created container');
    await waitFor(`init ${pid} to be gone`, () => !alive(pid));
    refused(await oci(['state', id]), 'state after delete', /does not exist/);
    assert.deepEqual(cgroupDirsOf(id), []);
  });

  test('run propagates the exit status and the output, then removes the container', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['sh', '-c', 'echo out-from-container; echo err-from-container >&2; exit 7'] });
    const id = s.id();
    const r = await ociFor(id, ['run', '--bundle', b.dir, id]);
    assert.equal(r.code, 7, `run's exit code is the program's:\n${show(r)}`);
    assert.equal(r.stdout, 'out-from-container\n');
    assert.match(r.stderr, /err-from-container/);
    refused(await oci(['state', id]), 'state after run', /does not exist/);
    assert.deepEqual(cgroupDirsOf(id), []);
  });

  test('run -d returns at once with the container running', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['sleep', '1000'] });
    const id = s.id();
    const t0 = Date.now();
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id], { timeoutMs: 10_000 }), 'run -d');
    assert.ok(Date.now() - t0 < 5000, `run -d took ${Date.now() - t0} ms`);
    const st = await state(id);
    assert.equal(st.status, 'running');
    assert.ok(alive(st.pid));
    assert.match(cmdline(st.pid), /^sleep 1000$/);
  });

  test('start of a config without process fails at start, not at create', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ mutate: (c) => delete c.process });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create without process');
    assert.equal((await state(id)).status, 'created');
    refused(await ociFor(id, ['start', id]), 'start without process', /process/);
    ok(await ociFor(id, ['delete', '--force', id]), 'delete --force');
    assert.deepEqual(cgroupDirsOf(id), []);
  });
});

// --- kill ------------------------------------------------------------------------------

describe('kill', () => {
  test('kill with the default signal sends SIGTERM', async (t) => {
    const s = scope(t);
    const out = await s.tmp('berth-lc-out-');
    const b = await s.bundle({
      args: ['sh', '-c', 'trap "echo TERM > /out/sig; exit 0" TERM; echo ready > /out/ready; while :; do sleep 0.05; done'],
      mutate: (c) => c.mounts.push(bindMount(out, '/out')),
    });
    const id = s.id();
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
    await waitFor('the trap to be set', () => existsSync(`${out}/ready`));
    ok(await ociFor(id, ['kill', id]), 'kill');
    await waitFor('the TERM trap to run', () => existsSync(`${out}/sig`));
    assert.equal(await fs.readFile(`${out}/sig`, 'utf8'), 'TERM\n');
    await waitStatus(id, 'stopped');
  });

  for (const sig of ['KILL', '9', 'SIGKILL']) {
    test(`kill ID ${sig} stops the container`, async (t) => {
      const s = scope(t);
      const b = await s.bundle({ args: ['sleep', '1000'] });
      const id = s.id();
      ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
      const { pid } = await state(id);
      ok(await ociFor(id, ['kill', id, sig]), `kill ${sig}`);
      await waitStatus(id, 'stopped');
      assert.equal(alive(pid), false);
    });
  }

  test('kill --all signals every process of the container', async (t) => {
    const s = scope(t);
    const out = await s.tmp('berth-lc-out-');
    // no pid namespace: the init's death alone would not take its children with it
    const b = await s.bundle({
      args: ['sh', '-c', 'sleep 1000 & sleep 1000 & echo ready > /out/ready; wait'],
      mutate: (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
        c.mounts.push(bindMount(out, '/out'));
      },
    });
    const id = s.id();
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
    await waitFor('the children to start', () => existsSync(`${out}/ready`));
    const pids = JSON.parse(ok(await ociFor(id, ['ps', '--format', 'json', id]), 'ps').stdout) as number[];
    assert.ok(pids.length >= 3, `init and two sleeps in ps: ${JSON.stringify(pids)}`);
    ok(await ociFor(id, ['kill', '--all', id, 'KILL']), 'kill --all');
    await waitFor(`all of ${JSON.stringify(pids)} to be gone`, () => pids.every((p) => !alive(p)));
    await waitStatus(id, 'stopped');
  });

  test('kill of a stopped container is an error', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['true'] });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    ok(await ociFor(id, ['start', id]), 'start');
    await waitStatus(id, 'stopped');
    refused(await ociFor(id, ['kill', id]), 'kill of a stopped container', /not running|stopped/);
    refused(await ociFor(id, ['kill', id, 'KILL']), 'kill KILL of a stopped container', /not running|stopped/);
  });
});

// --- delete ----------------------------------------------------------------------------

describe('delete', () => {
  test('delete of a running container needs --force; --force leaves no process and no cgroup', async (t) => {
    const s = scope(t);
    const b = await s.bundle({ args: ['sh', '-c', 'sleep 1000 & exec sleep 1001'] });
    const id = s.id();
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
    const { pid } = await state(id);
    const pids = await waitFor('two processes in the container', async () => {
      const p = JSON.parse(ok(await ociFor(id, ['ps', '--format', 'json', id]), 'ps').stdout) as number[];
      return p.length >= 2 ? p : undefined;
    });
    assert.ok(cgroupDirsOf(id).length > 0);

    refused(await ociFor(id, ['delete', id]), 'delete of a running container', /running/);
    assert.equal((await state(id)).status, 'running', 'the refused delete left it running');
    assert.ok(alive(pid));

    ok(await ociFor(id, ['delete', '--force', id]), 'delete --force');
    assert.equal(alive(pid), false, `init ${pid} is gone`);
    for (const p of pids) assert.equal(alive(p), false, `container process ${p} is gone`);
    assert.deepEqual(cgroupDirsOf(id), [], 'no cgroup dir left');
    assert.equal(existsSync(`${ROOT}/${id}`), false, 'no state dir left');
    refused(await oci(['state', id]), 'state after delete --force', /does not exist/);
  });
});

// --- ids -------------------------------------------------------------------------------

describe('container ids', () => {
  test('a duplicate id is refused and the first container is untouched', async (t) => {
    const s = scope(t);
    const b1 = await s.bundle({ args: ['sleep', '1000'] });
    const b2 = await s.bundle({ args: ['sleep', '1000'] });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b1.dir, id]), 'first create');
    const first = await state(id);
    refused(await ociFor(id, ['create', '--bundle', b2.dir, id]), 'second create with the same id', /already exists/);
    const after = await state(id);
    assert.equal(after.status, 'created');
    assert.equal(after.pid, first.pid);
    assert.equal(after.bundle, b1.dir);
    assert.ok(alive(first.pid));
    assert.ok(cgroupDirsOf(id).length > 0, 'the first container kept its cgroup');
    assert.deepEqual(mountsMentioning(b2.dir), []);
  });

  const tag = `${process.pid}x${Date.now().toString(36)}`;
  const bad: Array<[string, string, () => string[]]> = [
    ['../x', `../lc-escape-${tag}`, () => [`${path.dirname(ROOT)}/lc-escape-${tag}`]],
    ['empty', '', () => []],
    ['2000 chars', 'a'.repeat(2000), () => []],
    ['a/b', `lc-dir-${tag}/b`, () => [`${ROOT}/lc-dir-${tag}`]],
  ];
  for (const [label, id, paths] of bad) {
    test(`invalid id ${label} is refused with a clear message`, async (t) => {
      const s = scope(t);
      const b = await s.bundle({ args: ['sleep', '1000'] });
      const r = await ociFor(id || 'empty-id', ['create', '--bundle', b.dir, id]);
      refused(r, `create with id ${JSON.stringify(id.slice(0, 40))}`, /container id/i);
      for (const p of paths()) assert.equal(existsSync(p), false, `${p} was created`);
      assert.deepEqual(taggedProcesses(id || 'empty-id'), []);
      assert.deepEqual(mountsMentioning(b.dir), []);
      if (id) {
        for (const h of readdirSync(CGROUP_FS)) {
          for (const c of [`${CGROUP_FS}/${h}/berth/${id}`, `${CGROUP_FS}/${h}/${id}`, `${CGROUP_FS}/${h}/berth/lc-dir-${tag}`]) {
            assert.equal(existsSync(c), false, `${c} was created`);
          }
        }
      }
    });
  }
});

// --- config errors: a failed create leaves nothing ----------------------------------------

describe('create with a bad config leaves nothing behind', () => {
  test('JSON syntax error: the message has the line and column', async (t) => {
    const s = scope(t);
    const b = await s.bundle();
    const text = JSON.stringify(b.config, null, 2).replace('"terminal": false', '"terminal": fals');
    const line = text.split('\n').findIndex((l) => l.includes('"terminal": fals')) + 1;
    assert.ok(line > 1);
    await fs.writeFile(`${b.dir}/config.json`, text);
    const id = s.id();
    const r = refused(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create', /line \d+, column \d+/);
    assert.match(r.stderr, new RegExp(`line ${line}, column \\d+`), `the error is on line ${line}`);
    await assertNothingLeft(id, b.dir);
  });

  const cases: Array<[string, (c: any) => void, (b: Bundle) => RegExp]> = [
    ['a wrong type: the message has the JSON path', (c) => (c.process.args = 'sh'), () => /\$\.process\.args/],
    ['an unknown capability: the message names it', (c) => c.process.capabilities.bounding.push('CAP_BERTH_BOGUS'), () => /CAP_BERTH_BOGUS/],
    ['an unknown namespace type: the message names it', (c) => c.linux.namespaces.push({ type: 'bogusns' }), () => /bogusns/],
    ['a missing rootfs: the message names its path', (c) => (c.root.path = 'no-such-rootfs'), (b) => new RegExp(`${b.dir}/no-such-rootfs`)],
    ['a missing bind mount source: the message names it', (c) => c.mounts.push(bindMount('/var/tmp/berth-lc-no-such-dir', '/x')), () => /berth-lc-no-such-dir/],
    ['a program that does not exist: the message names it', (c) => (c.process.args = ['/no/such/program']), () => /\/no\/such\/program/],
    [
      'a seccomp profile with an unknown syscall: the message names the syscall',
      (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid', 'berth_no_such_syscall'], action: 'SCMP_ACT_ERRNO' }] }),
      () => /berth_no_such_syscall/,
    ],
  ];
  for (const [label, mutate, message] of cases) {
    test(label, async (t) => {
      const s = scope(t);
      const b = await s.bundle({ args: ['sleep', '1000'], mutate });
      const id = s.id();
      refused(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create', message(b));
      await assertNothingLeft(id, b.dir);
    });
  }
});

// --- hooks -----------------------------------------------------------------------------

/** A hook script: appends "<name> <hostname> <state JSON from stdin>" to <log>; with a third
 * argument, first sleeps that long; with HOOK_PROC=1 also logs the cmdline of the state's pid
 * (as seen from where the hook runs). */
const HOOK_SH = `#!/bin/busybox sh
s=$(/bin/busybox cat)
[ -n "$3" ] && /bin/busybox sleep "$3"
extra=""
if [ "$HOOK_PROC" = 1 ]; then
  pid=$(echo "$s" | /bin/busybox sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')
  extra=" $(/bin/busybox tr '\\0' ' ' < /proc/$pid/cmdline)"
fi
echo "$1 $(/bin/busybox hostname) $s$extra" >> "$2"
`;

interface HookEntry {
  name: string;
  host: string;
  state: { id: string; pid: number; status: string; bundle: string } | undefined;
  extra: string;
}

function readHookLog(file: string): HookEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [name = '', host = '', ...rest] = l.split(' ');
    const text = rest.join(' ');
    const end = text.lastIndexOf('}');
    let st: HookEntry['state'];
    try {
      st = end >= 0 ? JSON.parse(text.slice(0, end + 1)) : undefined;
    } catch {
      st = undefined;
    }
    return { name, host, state: st, extra: text.slice(end + 1).trim() };
  });
}

describe('hooks', () => {
  async function hookSetup(t: TestContext, opts: { startDelay?: string; args?: string[] } = {}) {
    const s = scope(t);
    const dir = await s.tmp('berth-lc-hooks-');
    const script = `${dir}/hook.sh`;
    const log = `${dir}/log`;
    await fs.writeFile(script, HOOK_SH, { mode: 0o755 });
    const hook = (name: string, extraArgs: string[] = [], env: string[] = []) => ({ path: script, args: ['hook.sh', name, log, ...extraArgs], env });
    const b = await s.bundle({
      args: opts.args ?? ['sleep', '1000'],
      mutate: (c) => {
        c.mounts.push(bindMount(dir, '/hooklog'));
        c.hooks = {
          prestart: [hook('prestart')],
          createRuntime: [hook('createRuntime')],
          createContainer: [hook('createContainer')],
          // after pivot_root: the script must be in the rootfs, the log in the bind-mounted dir
          startContainer: [{ path: '/lc-hook.sh', args: ['lc-hook.sh', 'startContainer', '/hooklog/log', ...(opts.startDelay ? [opts.startDelay] : [])] }],
          poststart: [hook('poststart', [], ['HOOK_PROC=1'])],
          poststop: [hook('poststop')],
        };
      },
    });
    await fs.writeFile(`${b.rootfs}/lc-hook.sh`, HOOK_SH, { mode: 0o755 });
    return { s, b, log, dir, script };
  }

  test('each hook runs at its moment, in its namespaces, with the state JSON on stdin', async (t) => {
    const { s, b, log } = await hookSetup(t);
    const id = s.id();
    const host = os.hostname();

    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    const { pid } = await state(id);
    let names = readHookLog(log).map((e) => e.name);
    assert.deepEqual(names, ['prestart', 'createRuntime', 'createContainer'], 'hooks run by create');

    ok(await ociFor(id, ['start', id]), 'start');
    // poststart must have run before start returned
    names = readHookLog(log).map((e) => e.name);
    assert.ok(names.includes('poststart'), `poststart ran before start returned: ${names.join(', ')}`);
    await waitFor('the startContainer hook', () => readHookLog(log).some((e) => e.name === 'startContainer'));
    assert.ok(!readHookLog(log).some((e) => e.name === 'poststop'), 'no poststop before delete');

    ok(await ociFor(id, ['kill', id, 'KILL']), 'kill');
    await waitStatus(id, 'stopped');
    ok(await ociFor(id, ['delete', id]), 'delete');

    const entries = readHookLog(log);
    names = entries.map((e) => e.name);
    assert.deepEqual([...names].sort(), ['createContainer', 'createRuntime', 'poststart', 'poststop', 'prestart', 'startContainer'], 'each hook ran once');
    const at = (n: string) => names.indexOf(n);
    assert.ok(at('prestart') < at('createRuntime') && at('createRuntime') < at('createContainer'), `order: ${names.join(', ')}`);
    assert.ok(at('createContainer') < at('startContainer') && at('createContainer') < at('poststart'), `order: ${names.join(', ')}`);
    assert.equal(at('poststop'), names.length - 1, `poststop is last: ${names.join(', ')}`);

    for (const e of entries) {
      assert.ok(e.state, `${e.name} got a state JSON on stdin`);
      assert.equal(e.state.id, id, `${e.name}: state.id`);
      assert.equal(e.state.bundle, b.dir, `${e.name}: state.bundle`);
      if (e.name !== 'poststop') assert.equal(e.state.pid, pid, `${e.name}: state.pid`);
    }
    const st = (n: string) => entries.find((e) => e.name === n)!.state!.status;
    for (const n of ['prestart', 'createRuntime', 'createContainer', 'startContainer']) assert.match(st(n), /^(creating|created)$/, `${n}: state.status`);
    assert.equal(st('poststart'), 'running');
    assert.equal(st('poststop'), 'stopped');

    // where they ran: createContainer/startContainer in the container's UTS namespace
    const hostOf = (n: string) => entries.find((e) => e.name === n)!.host;
    for (const n of ['prestart', 'createRuntime', 'poststart', 'poststop']) assert.equal(hostOf(n), host, `${n} runs in the runtime's namespaces`);
    for (const n of ['createContainer', 'startContainer']) assert.equal(hostOf(n), 'berth-test', `${n} runs in the container's namespaces`);
  });

  test('poststart runs after the startContainer hooks and the exec of the user program', async (t) => {
    // runtime-spec: startContainer hooks run before the user program is executed, poststart
    // hooks after it is executed and before `start` returns. A startContainer hook that takes
    // a moment must not be overtaken by poststart.
    const { s, b, log } = await hookSetup(t, { startDelay: '0.4' });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    ok(await ociFor(id, ['start', id]), 'start');
    await waitFor('the startContainer hook', () => readHookLog(log).some((e) => e.name === 'startContainer'));
    const entries = readHookLog(log);
    const names = entries.map((e) => e.name);
    assert.deepEqual(
      {
        order: names.filter((n) => n === 'startContainer' || n === 'poststart'),
        initCmdlineSeenByPoststart: entries.find((e) => e.name === 'poststart')?.extra,
      },
      { order: ['startContainer', 'poststart'], initCmdlineSeenByPoststart: 'sleep 1000' },
      `poststart must follow the startContainer hook and the exec of the user program (log: ${names.join(', ')})`,
    );
  });

  test('a hook that outlives its timeout fails create and leaves nothing', async (t) => {
    const s = scope(t);
    const dir = await s.tmp('berth-lc-hooks-');
    await fs.writeFile(`${dir}/slow.sh`, '#!/bin/busybox sh\nexec /bin/busybox sleep 5\n', { mode: 0o755 });
    for (const kind of ['prestart', 'createContainer']) {
      const b = await s.bundle({ args: ['sleep', '1000'], mutate: (c) => (c.hooks = { [kind]: [{ path: `${dir}/slow.sh`, timeout: 1 }] }) });
      const id = s.id();
      const t0 = Date.now();
      refused(await ociFor(id, ['create', '--bundle', b.dir, id]), `create with a slow ${kind} hook`, /timed out/);
      const took = Date.now() - t0;
      assert.ok(took < 4500, `${kind}: create gave up after ${took} ms (timeout 1 s, hook sleeps 5 s)`);
      await assertNothingLeft(id, b.dir);
    }
  });

  test('a failing poststop hook does not stop the next one, and delete succeeds', async (t) => {
    const s = scope(t);
    const dir = await s.tmp('berth-lc-hooks-');
    const log = `${dir}/log`;
    await fs.writeFile(`${dir}/hook.sh`, HOOK_SH, { mode: 0o755 });
    await fs.writeFile(`${dir}/fail.sh`, '#!/bin/busybox sh\n/bin/busybox cat >/dev/null\nexit 3\n', { mode: 0o755 });
    const b = await s.bundle({
      args: ['sleep', '1000'],
      mutate: (c) => (c.hooks = { poststop: [{ path: `${dir}/fail.sh` }, { path: `${dir}/hook.sh`, args: ['hook.sh', 'poststop2', log] }] }),
    });
    const id = s.id();
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
    ok(await ociFor(id, ['kill', id, 'KILL']), 'kill');
    await waitStatus(id, 'stopped');
    ok(await ociFor(id, ['delete', id]), 'delete with a failing poststop hook');
    const entries = readHookLog(log);
    assert.deepEqual(entries.map((e) => e.name), ['poststop2'], 'the second poststop hook ran');
    assert.equal(entries[0]!.state?.id, id);
    refused(await oci(['state', id]), 'state after delete', /does not exist/);
    assert.deepEqual(cgroupDirsOf(id), []);
  });
});

// --- list, ps, exec on a running container --------------------------------------------------

describe('a running container: list, ps, exec', () => {
  let b: Bundle | undefined;
  let id = '';
  let pid = 0;
  let work = '';

  before(async () => {
    b = await makeBundle({ args: ['sleep', '1000'] });
    id = uniqueId('lc');
    work = await fs.mkdtemp('/var/tmp/berth-lc-exec-');
    ok(await ociFor(id, ['run', '-d', '--bundle', b.dir, id]), 'run -d');
    pid = (await state(id)).pid;
  });

  after(async () => {
    if (id) await forceDelete(id);
    await b?.cleanup();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('list: the table header and a row for the container', async () => {
    const r = ok(await oci(['list']), 'list');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    const row = lines.find((l) => l.split(/\s+/)[0] === id);
    assert.ok(row, `a row for ${id}:\n${r.stdout}`);
    const cols = row.split(/\s+/);
    assert.equal(cols[1], String(pid));
    assert.equal(cols[2], 'running');
    assert.equal(cols[3], b!.dir);
    assert.ok(!Number.isNaN(Date.parse(cols[4]!)), `CREATED is a date: ${cols[4]}`);
  });

  test('list --format json and list -q', async () => {
    const all = JSON.parse(ok(await oci(['list', '--format', 'json']), 'list --format json').stdout) as OciState[];
    const mine = all.find((c) => c.id === id);
    assert.ok(mine, `${id} in list --format json`);
    assert.equal(mine.pid, pid);
    assert.equal(mine.status, 'running');
    assert.equal(mine.bundle, b!.dir);
    const q = ok(await oci(['list', '-q']), 'list -q').stdout.split('\n');
    assert.ok(q.includes(id), `list -q shows ${id}`);
    assert.ok(q.every((l) => !/\s/.test(l)), 'list -q prints bare ids');
  });

  test('ps --format json lists the init pid; ps has its line', async () => {
    const pids = JSON.parse(ok(await oci(['ps', '--format', 'json', id]), 'ps --format json').stdout) as number[];
    assert.ok(pids.includes(pid), `${pid} in ${JSON.stringify(pids)}`);
    const table = ok(await oci(['ps', id]), 'ps').stdout.trimEnd().split('\n');
    const head = table[0]!.trim().split(/\s+/);
    const col = head.indexOf('PID');
    assert.ok(col >= 0, `a PID column in ${table[0]}`);
    const line = table.slice(1).find((l) => l.trim().split(/\s+/)[col] === String(pid));
    assert.ok(line, `a line for ${pid}:\n${table.join('\n')}`);
    assert.match(line, /sleep 1000/);
  });

  test('exec in the foreground returns the exit code and the output', async () => {
    const r = await ociFor(id, ['exec', id, 'sh', '-c', 'echo hi; exit 3']);
    assert.equal(r.code, 3, show(r));
    assert.equal(r.stdout, 'hi\n');
  });

  test('exec --detach --pid-file', async () => {
    const pidFile = `${work}/exec.pid`;
    const t0 = Date.now();
    ok(await ociFor(id, ['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '999']), 'exec --detach');
    assert.ok(Date.now() - t0 < 5000, 'exec --detach returns at once');
    const p = Number((await fs.readFile(pidFile, 'utf8')).trim());
    assert.ok(p > 0 && p !== pid, `pid file holds a new pid: ${p}`);
    assert.ok(alive(p), `exec'd process ${p} is running`);
    assert.equal(cmdline(p), 'sleep 999');
    const pids = JSON.parse(ok(await oci(['ps', '--format', 'json', id]), 'ps').stdout) as number[];
    assert.ok(pids.includes(p), `the exec'd process is in the container: ${JSON.stringify(pids)}`);
    process.kill(p, 'SIGKILL');
  });

  test('exec --process file.json', async () => {
    const file = `${work}/process.json`;
    await fs.writeFile(file, JSON.stringify({
      terminal: false, user: { uid: 0, gid: 0 }, cwd: '/tmp',
      args: ['sh', '-c', 'echo "from-json $FOO $(pwd)"; exit 4'], env: ['PATH=/bin:/usr/bin', 'FOO=bar'],
    }));
    const r = await ociFor(id, ['exec', '--process', file, id]);
    assert.equal(r.code, 4, show(r));
    assert.equal(r.stdout, 'from-json bar /tmp\n');
  });

  test('exec --env, --cwd, --user', async () => {
    let r = ok(await ociFor(id, ['exec', '--env', 'A=B', id, 'sh', '-c', 'echo "A=$A"']), 'exec --env');
    assert.equal(r.stdout, 'A=B\n');
    r = ok(await ociFor(id, ['exec', '--cwd', '/tmp', id, 'pwd']), 'exec --cwd');
    assert.equal(r.stdout, '/tmp\n');
    r = ok(await ociFor(id, ['exec', '--user', '1000:1000', id, 'sh', '-c', 'id -u; id -g']), 'exec --user');
    assert.equal(r.stdout, '1000\n1000\n');
  });
});

// --- trace ------------------------------------------------------------------------------

describe('trace', () => {
  test('trace shows the steps of building the container, as a table and as JSON', async (t) => {
    const s = scope(t);
    const b = await s.bundle({
      args: ['sleep', '1000'],
      mutate: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['acct'], action: 'SCMP_ACT_ERRNO' }] }),
    });
    const id = s.id();
    ok(await ociFor(id, ['create', '--bundle', b.dir, id]), 'create');
    ok(await ociFor(id, ['start', id]), 'start');

    type Step = { step: string; start: number; end: number };
    const steps = await waitFor('the exec step in the trace', async () => {
      const j = JSON.parse(ok(await oci(['trace', '--format', 'json', id]), 'trace --format json').stdout) as Step[];
      return j.some((x) => x.step === 'exec') ? j : undefined;
    });
    assert.ok(steps.length >= 10, `${steps.length} steps`);
    for (const x of steps) {
      assert.equal(typeof x.start, 'number', `${x.step}.start`);
      assert.equal(typeof x.end, 'number', `${x.step}.end`);
      assert.ok(Number.isFinite(x.start) && Number.isFinite(x.end) && x.end >= x.start, `${x.step}: ${x.start}..${x.end}`);
    }
    const first = (n: string) => steps.findIndex((x) => x.step === n);
    for (const n of ['clone', 'mount', 'pivot_root', 'cap_set', 'seccomp_load', 'exec']) assert.ok(first(n) >= 0, `step ${n} in the trace`);
    assert.ok(first('clone') < first('pivot_root') && first('pivot_root') < first('exec'), 'clone, pivot_root, exec in order');

    const table = ok(await oci(['trace', id]), 'trace').stdout.trimEnd().split('\n');
    assert.match(table[0]!, /STEP/);
    const names = new Set(table.slice(1).map((l) => l.trim().split(/\s{2,}/)[3]));
    for (const n of ['clone', 'mount', 'pivot_root', 'cap_set', 'seccomp_load', 'exec']) assert.ok(names.has(n), `${n} in the table:\n${table.join('\n')}`);
  });
});

// --- the command line -----------------------------------------------------------------------

describe('command line', () => {
  test('features prints JSON with linux.namespaces', async () => {
    const f = JSON.parse(ok(await oci(['features']), 'features').stdout);
    assert.ok(Array.isArray(f.linux?.namespaces));
    for (const n of ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup']) assert.ok(f.linux.namespaces.includes(n), `namespace ${n}`);
  });

  test('spec writes a config.json that parses and refuses to overwrite one', async (t) => {
    const s = scope(t);
    const dir = await s.tmp('berth-lc-spec-');
    ok(await oci(['spec', '--bundle', dir]), 'spec');
    const text = await fs.readFile(`${dir}/config.json`, 'utf8');
    const c = JSON.parse(text);
    assert.equal(typeof c.ociVersion, 'string');
    assert.ok(Array.isArray(c.process?.args) && c.process.args.length > 0);
    assert.equal(c.root?.path, 'rootfs');
    assert.ok(!c.linux.namespaces.some((n: { type: string }) => n.type === 'user'), 'no user namespace without --rootless');
    refused(await oci(['spec', '--bundle', dir]), 'spec over an existing config.json', /exists/);
    assert.equal(await fs.readFile(`${dir}/config.json`, 'utf8'), text, 'the existing config.json is untouched');

    const dir2 = await s.tmp('berth-lc-spec-');
    ok(await oci(['spec', '--rootless', '--bundle', dir2]), 'spec --rootless');
    const r = JSON.parse(await fs.readFile(`${dir2}/config.json`, 'utf8'));
    assert.ok(r.linux.namespaces.some((n: { type: string }) => n.type === 'user'), 'spec --rootless has a user namespace');
    assert.ok(r.linux.uidMappings?.length > 0 && r.linux.gidMappings?.length > 0, 'and id mappings');
  });

  test('an unknown flag is refused', async () => {
    refused(await oci(['create', '--no-such-flag', 'x']), 'create --no-such-flag', /flag provided but not defined/);
    refused(await oci(['--no-such-global', 'list']), '--no-such-global list', /flag provided but not defined/);
  });

  test('--systemd-cgroup is refused as not supported', async () => {
    refused(await oci(['--systemd-cgroup', 'list']), '--systemd-cgroup list', /not supported/);
  });

  test('--log F --log-format json writes the error to F', async (t) => {
    const s = scope(t);
    const dir = await s.tmp('berth-lc-log-');
    const logFile = `${dir}/berth.log`;
    const missing = uniqueId('lc-missing');
    refused(await oci(['--log', logFile, '--log-format', 'json', 'state', missing]), 'state of a missing container', /does not exist/);
    const lines = (await fs.readFile(logFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const err = lines.find((l) => l.level === 'error');
    assert.ok(err, `an error line in ${logFile}: ${JSON.stringify(lines)}`);
    assert.match(String(err.msg), new RegExp(missing));
  });
});
