// berth-oci driven by the engines that drive runc: containerd 1.6's runc shim
// (`ctr run --runc-binary berth-oci`) and podman 4.3 with conmon (`podman --runtime berth-oci`).
//
// Each peer runs with all of its state under a fresh /var/tmp/berth-peers-XXXXXX: a private
// containerd (test/peers/containerd.sh: own --root/--state/socket, no CRI plugin) and podman
// with its own containers.conf, storage root and runroot (test/peers/podman.sh). berth-oci is
// reached through a logging wrapper (test/peers/berth-oci-logged.sh) that records every call the
// peer makes and its exit code in DIR/oci-calls.log; a failing test prints the calls and the
// peer's log lines that concern its container. Containers run from a busybox directory
// (`ctr run --rootfs`, `podman run --rootfs`): no image and no network are needed.
//
// Control run: BERTH_PEERS_RUNTIME=runc (or crun, or a path) runs the same tests against
// another runtime, to tell a berth-oci bug from a wrong test or a trait of this machine.
// Keep a failing run's directories for a look with BERTH_PEERS_KEEP=1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERTH_OCI, busyboxRootfs, runCommand, type CommandResult } from '../fixtures/busybox.ts';
import { alive, cgroupMounts } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const PEERS = fileURLToPath(new URL('../peers/', import.meta.url));
const TARGET = process.env.BERTH_PEERS_RUNTIME || BERTH_OCI;
const KEEP = process.env.BERTH_PEERS_KEEP === '1';
const CMD_TIMEOUT_MS = 60_000;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOSTNAME_FILE = 'berth-peers-rootfs\n';

// --- running commands ----------------------------------------------------------------------

type Result = CommandResult;

/** Runs a command in its own process group; kills the group after timeoutMs. Resolves once it
 * exited and its pipes drained, or 500 ms after it exited if something it started (a detached
 * container, conmon) still holds them. */
function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return runCommand(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? CMD_TIMEOUT_MS, graceMs: 500 });
}

function show(r: Result): string {
  return `exit ${r.code ?? r.signal}\nstdout: ${JSON.stringify(r.stdout)}\nstderr: ${r.stderr.trim() || '(empty)'}`;
}

function which(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(d || '.', name);
    try {
      if (statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

function skipUnless(bins: string[]): string | false {
  if (process.getuid?.() !== 0) return 'the peer tests need root';
  const missing = bins.filter((b) => !which(b));
  return missing.length ? `not installed: ${missing.join(', ')} (bash scripts/setup.sh installs them)` : false;
}

// --- cgroups ---------------------------------------------------------------------------------------

/** Reads a resource setting of cgroup `cg` (a path from the hierarchies' roots): the v1 file of
 * `controller` where that controller has a v1 hierarchy, else the cgroup2 file. */
function cgroupSetting(cg: string, controller: string, v1File: string, v2File: string): { file: string; value: string } {
  const mounts = cgroupMounts();
  const v1 = mounts.find((m) => m.fstype === 'cgroup' && m.options.includes(controller));
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  const file = v1 ? path.join(v1.mountPoint, cg, v1File) : path.join(v2?.mountPoint ?? '/sys/fs/cgroup', cg, v2File);
  let value: string;
  try {
    value = readFileSync(file, 'utf8').trim();
  } catch (e) {
    value = `(unreadable: ${(e as Error).message})`;
  }
  return { file, value };
}

/** The v1 devices hierarchy's mount point, if this machine has one. */
function devicesV1(): string | undefined {
  return cgroupMounts().find((m) => m.fstype === 'cgroup' && m.options.includes('devices'))?.mountPoint;
}

const NO_DEVICES_V1 = devicesV1() ? false : 'no v1 devices hierarchy here (cgroup2 enforces the device list with BPF, not readable as a file)';

/** linux.resources.devices of both peers' specs: deny all, then allow /dev/null (c 1:3) and the
 * other standard nodes. In v1, devices.list must show that list, not "a *:* rwm". */
function checkDeviceList(cg: string, what: string, diag: () => string): void {
  const file = path.join(devicesV1()!, cg, 'devices.list');
  const list = readFileSync(file, 'utf8');
  assert.doesNotMatch(list, /^a \*:\* rwm$/m, `${what}: ${file} allows every device:\n${list}${diag()}`);
  assert.match(list, /^c 1:3 rwm$/m, `${what}: ${file} lacks /dev/null (c 1:3):\n${list}${diag()}`);
}

/** memory 64 MiB, cpu shares 512 (cgroup2: weight 20, runc's conversion), pids 50 where asked. */
function checkLimits(cg: string, what: string, diag: () => string, pids = true): void {
  const isV1 = (c: string) => cgroupMounts().some((m) => m.fstype === 'cgroup' && m.options.includes(c));
  const mem = cgroupSetting(cg, 'memory', 'memory.limit_in_bytes', 'memory.max');
  assert.equal(mem.value, '67108864', `${what}: memory limit in ${mem.file} is ${mem.value}\n${diag()}`);
  const cpu = cgroupSetting(cg, 'cpu', 'cpu.shares', 'cpu.weight');
  assert.equal(cpu.value, isV1('cpu') ? '512' : '20', `${what}: cpu shares in ${cpu.file} is ${cpu.value}\n${diag()}`);
  if (pids) {
    const p = cgroupSetting(cg, 'pids', 'pids.max', 'pids.max');
    assert.equal(p.value, '50', `${what}: pids limit in ${p.file} is ${p.value}\n${diag()}`);
  }
}

/** The peers' commands (ctr, podman) are slower than berth-oci's: poll them less often. */
const POLL_MS = 100;

// --- the wrapper's call log ----------------------------------------------------------------------

interface Call {
  pid: string;
  args: string;
  rc?: number;
  lines: string[];
}

/** The calls recorded by berth-oci-logged.sh in DIR/oci-calls.log, oldest first. */
function calls(dir: string): Call[] {
  let text = '';
  try {
    text = readFileSync(path.join(dir, 'oci-calls.log'), 'utf8');
  } catch {
    return [];
  }
  const byPid = new Map<string, Call>();
  const out: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [, , pid, rest] = m as unknown as [string, string, string, string];
    if (rest.startsWith('call: ')) {
      const c: Call = { pid, args: rest.slice(6), lines: [line] };
      byPid.set(pid, c);
      out.push(c);
      continue;
    }
    const c = byPid.get(pid);
    if (!c) continue;
    c.lines.push(line);
    const rc = /^rc=(\d+)$/.exec(rest);
    if (rc) c.rc = Number(rc[1]);
  }
  return out;
}

/** The calls whose arguments name container `id` (as its own word). */
function callsFor(dir: string, id: string): Call[] {
  return calls(dir).filter((c) => c.args.split(' ').includes(id));
}

function showCalls(cs: Call[]): string {
  if (!cs.length) return '  (no call recorded)';
  return cs.map((c) => c.lines.map((l) => `  ${l}`).join('\n')).join('\n');
}

/** Readies a peer's fresh DIR: the runtime under test installed behind the logging wrapper
 * (test/peers/install-runtime.sh; `runtime` is what the peer is told to run) and a busybox
 * rootfs at DIR/rootfs. */
async function preparePeerDir(dir: string): Promise<{ runtime: string; rootfs: string }> {
  await fs.chmod(dir, 0o755);
  const inst = await run('bash', [path.join(PEERS, 'install-runtime.sh'), dir, TARGET]);
  assert.equal(inst.code, 0, `install-runtime.sh:\n${show(inst)}`);
  const rootfs = path.join(dir, 'rootfs');
  await busyboxRootfs(rootfs);
  return { runtime: inst.stdout.trim(), rootfs };
}

// =====================================================================================================
// containerd 1.6 + containerd-shim-runc-v2
// =====================================================================================================

describe('containerd 1.6 (ctr, containerd-shim-runc-v2) drives berth-oci', { skip: skipUnless(['containerd', 'ctr', 'containerd-shim-runc-v2']) }, () => {
  let dir = '';
  let runtime = '';
  let rootfs = '';
  let stopped = false;
  const ns = `berth-peers-${process.pid}`;
  const script = path.join(PEERS, 'containerd.sh');

  const sock = () => path.join(dir, 'containerd.sock');
  const ctr = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    run('ctr', ['--address', sock(), '-n', ns, ...args], opts);
  /** `ctr run` flags: berth-oci as the runc binary, state and fifos under DIR, a PATH (ctr gives
   * a --rootfs container no environment at all, and runc needs PATH to find `echo`). */
  const runFlags = () => ['--runc-binary', runtime, '--runc-root', path.join(dir, 'runc'), '--fifo-dir', path.join(dir, 'fifo'), '--env', PATH_ENV];

  /** containerd's log lines about container `id` (the shim's own lines come through it). */
  function daemonLog(id: string): string {
    let text = '';
    try {
      text = readFileSync(path.join(dir, 'containerd.log'), 'utf8');
    } catch {
      return '  (no containerd log)';
    }
    const lines = text.split('\n').filter((l) => (l.includes(`id=${id} `) || l.includes(`id=${id}\n`) || l.endsWith(`id=${id}`) || l.includes(`/${id}/`) || l.includes(` ${id}\\n`) || l.includes(`task ${id} `)) && /level=(warning|error)/.test(l));
    return lines.length ? lines.map((l) => `  ${l}`).join('\n') : '  (no warning or error about it)';
  }

  function diag(id: string): string {
    return `berth-oci calls for ${id}:\n${showCalls(callsFor(dir, id))}\ncontainerd/shim warnings and errors for ${id}:\n${daemonLog(id)}`;
  }

  function expectOk(r: Result, what: string, id: string): Result {
    assert.equal(r.code, 0, `${what} should succeed:\n${show(r)}\n${diag(id)}`);
    return r;
  }

  async function taskStatus(id: string): Promise<string | undefined> {
    const r = await ctr(['tasks', 'ls']);
    for (const line of r.stdout.split('\n').slice(1)) {
      const [name, , status] = line.trim().split(/\s+/);
      if (name === id) return status;
    }
    return undefined;
  }

  async function taskPid(id: string): Promise<number> {
    const r = await ctr(['tasks', 'ls']);
    for (const line of r.stdout.split('\n').slice(1)) {
      const [name, pid] = line.trim().split(/\s+/);
      if (name === id) return Number(pid);
    }
    assert.fail(`task ${id} not listed by ctr tasks ls:\n${show(r)}\n${diag(id)}`);
  }

  /** Best effort: SIGKILL the task, delete it and its container. */
  async function remove(id: string): Promise<void> {
    await ctr(['tasks', 'resume', id]).catch(() => undefined);
    await ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', id]).catch(() => undefined);
    await waitFor(`task ${id} to stop`, async () => ((await taskStatus(id)) ?? 'STOPPED') === 'STOPPED', 10_000, undefined, POLL_MS).catch(() => undefined);
    await ctr(['tasks', 'delete', '-f', id]).catch(() => undefined);
    await ctr(['containers', 'rm', id]).catch(() => undefined);
  }

  async function runDetached(id: string, args: string[]): Promise<number> {
    expectOk(await ctr(['run', '-d', ...runFlags(), '--rootfs', rootfs, id, ...args]), `ctr run -d ${id}`, id);
    await waitFor(`task ${id} RUNNING`, async () => (await taskStatus(id)) === 'RUNNING', 10_000, () => diag(id), POLL_MS);
    return taskPid(id);
  }

  async function stop(): Promise<Result> {
    stopped = true;
    return run('bash', [script, 'stop', dir], { timeoutMs: 120_000, env: KEEP ? { KEEP: '1' } : {} });
  }

  before(async () => {
    dir = await fs.mkdtemp('/var/tmp/berth-peers-');
    ({ runtime, rootfs } = await preparePeerDir(dir));
    await fs.writeFile(path.join(rootfs, 'etc/hostname'), HOSTNAME_FILE);
    const r = await run('bash', [script, 'start', dir], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `containerd.sh start:\n${show(r)}`);
  });

  after(async () => {
    if (dir && !stopped) {
      const r = await stop();
      if (r.code !== 0) process.stderr.write(`oci-peers: containerd.sh stop ${dir} failed:\n${show(r)}\n`);
    }
  });

  test('ctr run --rm: the container prints hello', async () => {
    const id = 'hello';
    const r = await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, id, 'echo', 'hello']);
    expectOk(r, 'ctr run --rm echo hello', id);
    assert.equal(r.stdout, 'hello\n', `stdout of echo hello\n${show(r)}\n${diag(id)}`);
    assert.ok(!existsSync(path.join(dir, 'runc', ns, id)), `berth-oci state of ${id} removed after --rm\n${diag(id)}`);
  });

  test('ctr run --rm: exit codes propagate (exit 3, exit 130)', async () => {
    // (A signal death is checked in the kill --all test: sh -c 'kill -9 $$' is no test of it,
    // since the shell is the pid namespace's init, which ignores signals it has no handler for.)
    const a = await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, 'exit3', 'sh', '-c', 'exit 3']);
    assert.equal(a.code, 3, `ctr run sh -c 'exit 3'\n${show(a)}\n${diag('exit3')}`);
    const b = await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, 'exit130', 'sh', '-c', 'exit 130']);
    assert.equal(b.code, 130, `ctr run sh -c 'exit 130'\n${show(b)}\n${diag('exit130')}`);
  });

  test('ctr run --rm: stdin reaches the container', async () => {
    // `head -n 1`, not `cat`: ctr 1.6 itself can lose the end of its stdin when the input is
    // all there at once (its CloseIO callback is set only after NewTask returns: seen with
    // runc too), so the test does not depend on EOF.
    const id = 'stdin';
    const r = await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, id, 'head', '-n', '1'], { input: 'piped into ctr run\nsecond line\n' });
    expectOk(r, 'ctr run head -n 1 <input', id);
    assert.equal(r.stdout, 'piped into ctr run\n', `${show(r)}\n${diag(id)}`);
  });

  test('ctr run -d + ctr task exec: output, exit code and stdin of exec processes', async () => {
    const id = 'exec';
    try {
      await runDetached(id, ['sleep', '1000']);
      const exec = (execId: string, args: string[], input?: string) =>
        ctr(['tasks', 'exec', '--fifo-dir', path.join(dir, 'fifo'), '--exec-id', execId, id, ...args], input === undefined ? {} : { input });

      const host = await exec('e1', ['cat', '/etc/hostname']);
      expectOk(host, 'ctr task exec cat /etc/hostname', id);
      assert.equal(host.stdout, HOSTNAME_FILE, `exec sees the container's rootfs\n${show(host)}`);

      const init = await exec('e2', ['cat', '/proc/1/cmdline']);
      expectOk(init, 'ctr task exec cat /proc/1/cmdline', id);
      assert.equal(init.stdout, 'sleep\0' + '1000\0', `exec joins the container's pid namespace\n${show(init)}`);

      const five = await exec('e3', ['sh', '-c', 'exit 5']);
      assert.equal(five.code, 5, `ctr task exec sh -c 'exit 5'\n${show(five)}\n${diag(id)}`);

      const user = await ctr(['tasks', 'exec', '--fifo-dir', path.join(dir, 'fifo'), '--exec-id', 'e5', '--user', '1000', '--cwd', '/tmp', id, 'sh', '-c', 'id -u; id -g; pwd']);
      expectOk(user, 'ctr task exec --user 1000 --cwd /tmp', id);
      assert.equal(user.stdout, '1000\n1000\n/tmp\n', `exec's process.json user and cwd\n${show(user)}\n${diag(id)}`);

      const cat = await exec('e4', ['head', '-n', '1'], 'piped into ctr task exec\nsecond line\n');
      expectOk(cat, 'ctr task exec head -n 1 <input', id);
      assert.equal(cat.stdout, 'piped into ctr task exec\n', show(cat));

      assert.equal(await taskStatus(id), 'RUNNING', `the task still runs after the execs\n${diag(id)}`);
    } finally {
      await remove(id);
    }
  });

  test('ctr task ps lists the init and an exec process', async () => {
    const id = 'ps';
    try {
      const pid = await runDetached(id, ['sleep', '1000']);
      expectOk(await ctr(['tasks', 'exec', '-d', '--fifo-dir', path.join(dir, 'fifo'), '--exec-id', 'bg', id, 'sleep', '999']), 'ctr task exec -d sleep 999', id);
      const pids = await waitFor('two processes in ctr task ps', async () => {
        const r = expectOk(await ctr(['tasks', 'ps', id]), 'ctr task ps', id);
        const ps = r.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
        return ps.length >= 2 ? ps : undefined;
      }, 10_000, () => diag(id), POLL_MS);
      assert.ok(pids.includes(pid), `ctr task ps lists the init ${pid}: ${pids.join(' ')}\n${diag(id)}`);
      const other = pids.find((p) => p !== pid)!;
      const cmdline = readFileSync(`/proc/${other}/cmdline`, 'utf8');
      assert.equal(cmdline, 'sleep\0' + '999\0', `the other process is the exec'd sleep 999`);
    } finally {
      await remove(id);
    }
  });

  test('ctr task kill (SIGTERM) stops the task; ctr task delete removes its state and cgroup', async () => {
    const id = 'kill';
    try {
      await runDetached(id, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
      const cgroup = `/${ns}/${id}`;
      const cgroupDirs = () => readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, cgroup)).filter((d) => existsSync(d));
      assert.ok(cgroupDirs().length > 0, `berth-oci put the task in cgroup ${cgroup} (ctr's default cgroupsPath)\n${diag(id)}`);

      expectOk(await ctr(['tasks', 'kill', id]), 'ctr task kill', id);
      await waitFor(`task ${id} STOPPED after SIGTERM`, async () => (await taskStatus(id)) === 'STOPPED', 10_000, () => diag(id), POLL_MS);

      const del = expectOk(await ctr(['tasks', 'delete', id]), 'ctr task delete', id);
      assert.doesNotMatch(del.stderr, /non-zero exit code/, `the trap exited 0\n${show(del)}`);
      assert.equal(await taskStatus(id), undefined, 'no task after ctr task delete');
      assert.ok(!existsSync(path.join(dir, 'runc', ns, id)), `berth-oci's state dir of ${id} is gone\n${diag(id)}`);
      assert.deepEqual(cgroupDirs(), [], `the task's cgroup ${cgroup} is removed in every hierarchy\n${diag(id)}`);
      expectOk(await ctr(['containers', 'rm', id]), 'ctr container rm', id);
    } finally {
      await remove(id);
    }
  });

  test('ctr task kill --all reaches every process of the task', async () => {
    const id = 'killall';
    try {
      const pid = await runDetached(id, ['sleep', '1000']);
      expectOk(await ctr(['tasks', 'exec', '-d', '--fifo-dir', path.join(dir, 'fifo'), '--exec-id', 'bg', id, 'sleep', '999']), 'ctr task exec -d', id);
      const all = await waitFor('the exec process', async () => {
        const r = await ctr(['tasks', 'ps', id]);
        const ps = r.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
        return ps.length >= 2 ? ps : undefined;
      }, 10_000, () => diag(id), POLL_MS);
      expectOk(await ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', id]), 'ctr task kill -a -s SIGKILL', id);
      await waitFor(`task ${id} STOPPED`, async () => (await taskStatus(id)) === 'STOPPED', 10_000, () => diag(id), POLL_MS);
      const del = expectOk(await ctr(['tasks', 'delete', id]), 'ctr task delete', id);
      assert.match(del.stderr, /exit code 137/, `the init died of SIGKILL: exit status 137\n${show(del)}\n${diag(id)}`);
      await waitFor('every process of the task gone', async () => all.every((p) => !alive(p)), 10_000, () => `left: ${all.filter(alive).join(' ')} (init ${pid})\n${diag(id)}`, POLL_MS);
      assert.ok(callsFor(dir, id).some((c) => /\bkill --all\b/.test(c.args) || /\bkill -a\b/.test(c.args)), `the shim called kill --all\n${diag(id)}`);
    } finally {
      await remove(id);
    }
  });

  test('ctr run --memory-limit --cpu-shares: the limits are set on the task\'s cgroup', async () => {
    const id = 'limits';
    try {
      expectOk(await ctr(['run', '-d', ...runFlags(), '--memory-limit', String(64 << 20), '--cpu-shares', '512', '--rootfs', rootfs, id, 'sleep', '1000']), 'ctr run -d --memory-limit --cpu-shares', id);
      await waitFor(`task ${id} RUNNING`, async () => (await taskStatus(id)) === 'RUNNING', 10_000, () => diag(id), POLL_MS);
      checkLimits(`/${ns}/${id}`, 'ctr run --memory-limit 67108864 --cpu-shares 512', () => diag(id), false);
    } finally {
      await remove(id);
    }
  });

  test('ctr run: the spec\'s device list is enforced (v1 devices.list)', { skip: NO_DEVICES_V1 }, async () => {
    const id = 'devices';
    try {
      await runDetached(id, ['sleep', '1000']);
      checkDeviceList(`/${ns}/${id}`, 'ctr run', () => diag(id));
    } finally {
      await remove(id);
    }
  });

  test('ctr task pause / resume (runc 1.1 has pause and resume)', async () => {
    const id = 'pause';
    try {
      await runDetached(id, ['sleep', '1000']);
      const p = await ctr(['tasks', 'pause', id]);
      expectOk(p, 'ctr task pause', id);
      assert.equal(await taskStatus(id), 'PAUSED', `status after pause\n${diag(id)}`);
      expectOk(await ctr(['tasks', 'resume', id]), 'ctr task resume', id);
      assert.equal(await taskStatus(id), 'RUNNING', `status after resume\n${diag(id)}`);
    } finally {
      await remove(id);
    }
  });

  test('a failed create: ctr reports berth-oci\'s error and nothing is left', async () => {
    const id = 'notfound';
    try {
      const r = await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, id, '/nonexistent']);
      assert.notEqual(r.code, 0, `ctr run /nonexistent must fail\n${show(r)}`);
      assert.match(r.stderr, /OCI runtime create failed/, `${show(r)}\n${diag(id)}`);
      assert.match(r.stderr, /nonexistent/, `the error names the missing file (berth-oci's --log json message)\n${show(r)}\n${diag(id)}`);
      assert.ok(!existsSync(path.join(dir, 'runc', ns, id)), `no berth-oci state left for ${id}\n${diag(id)}`);
    } finally {
      await remove(id);
    }
  });

  test('shim clean-up: delete --force of an already deleted container succeeds (runc 1.1 exits 0)', async () => {
    // After `ctr run --rm`, containerd's clean-up runs `containerd-shim-runc-v2 delete`, which
    // runs `<runtime> delete --force ID` whether or not the container still exists. runc 1.1
    // exits 0 for a container that does not exist when --force is given; an error here makes
    // the shim log "failed to remove runc container" on every container's clean-up.
    const id = 'cleanup';
    expectOk(await ctr(['run', '--rm', ...runFlags(), '--rootfs', rootfs, id, 'true']), 'ctr run --rm true', id);
    const forced = await waitFor('the shim clean-up\'s delete --force', async () => {
      const cs = callsFor(dir, id).filter((c) => /\bdelete --force\b/.test(c.args) && c.rc !== undefined);
      return cs.length ? cs : undefined;
    }, 10_000, () => diag(id), POLL_MS);
    for (const c of forced) {
      assert.equal(c.rc, 0, `\`berth-oci ${c.args}\` for a container already deleted must exit 0, as runc 1.1's does\n${diag(id)}`);
    }
    await sleep(200);
    assert.doesNotMatch(daemonLog(id), /failed to remove runc container/, `containerd log\n${diag(id)}`);
  });

  test('ctr run -t: the process gets a terminal (console socket)', { skip: which('script') ? false : 'script (util-linux) not installed' }, async () => {
    const id = 'tty';
    try {
      const cmd = ['ctr', '--address', sock(), '-n', ns, 'run', '--rm', '-t', ...runFlags(), '--rootfs', rootfs, id, 'sh', '-c', 'tty; exit 6'];
      const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = await run('script', ['-qec', quoted, '/dev/null']);
      assert.equal(r.code, 6, `exit code through the terminal\n${show(r)}\n${diag(id)}`);
      assert.match(r.stdout, /\/dev\/pts\/\d+/, `tty prints a pty\n${show(r)}\n${diag(id)}`);
      assert.ok(callsFor(dir, id).some((c) => c.args.includes('--console-socket')), `create got --console-socket\n${diag(id)}`);
    } finally {
      await remove(id);
    }
  });

  test('teardown: containerd, its shims, mounts, cgroups and the test dir go away', async () => {
    const r = await stop();
    assert.equal(r.code, 0, `containerd.sh stop\n${show(r)}`);
    if (!KEEP) assert.ok(!existsSync(dir), `${dir} removed`);
    const left = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, ns)).filter((d) => existsSync(d));
    assert.deepEqual(left, [], 'no cgroup of the test namespace is left');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
    assert.deepEqual(mounts, [], `no mount under ${dir} is left`);
  });
});

// =====================================================================================================
// podman 4.3 + conmon
// =====================================================================================================

describe('podman 4.3 (conmon) drives berth-oci', { skip: skipUnless(['podman', 'conmon']) }, () => {
  let dir = '';
  let runtime = '';
  let rootfs = '';
  let cleaned = false;
  const cgroupParent = `/berth-peers-podman-${process.pid}`;
  const script = path.join(PEERS, 'podman.sh');

  const podman = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    run('bash', [script, 'podman', dir, '--runtime', runtime, ...args], opts);
  /** `podman run` flags: a private cgroup parent, the busybox directory as rootfs. */
  const runFlags = () => ['--cgroup-parent', cgroupParent, '--rootfs', rootfs];

  /** The calls for container `id` (podman's 64-hex id), else the last 12 calls. */
  function diag(id: string, extra?: Result): string {
    const full = /^[0-9a-f]{64}$/.test(id);
    const cs = full ? callsFor(dir, id) : calls(dir).slice(-12);
    return `${extra ? `${show(extra)}\n` : ''}berth-oci calls${full ? ` for ${id}` : ' (last 12)'}:\n${showCalls(cs)}`;
  }

  function expectOk(r: Result, what: string, name: string): Result {
    assert.equal(r.code, 0, `${what} should succeed:\n${diag(name, r)}`);
    return r;
  }

  async function inspect(name: string, format: string): Promise<string> {
    const r = expectOk(await podman(['inspect', '--format', format, name]), `podman inspect ${name}`, name);
    return r.stdout.trim();
  }

  async function remove(name: string): Promise<void> {
    await podman(['unpause', name]).catch(() => undefined);
    await podman(['rm', '-f', '-t', '0', name]).catch(() => undefined);
  }

  async function cleanup(): Promise<Result> {
    cleaned = true;
    return run('bash', [script, 'cleanup', dir, cgroupParent], { timeoutMs: 120_000, env: KEEP ? { KEEP: '1' } : {} });
  }

  before(async () => {
    dir = await fs.mkdtemp('/var/tmp/berth-peers-');
    ({ runtime, rootfs } = await preparePeerDir(dir));
    const r = await run('bash', [script, 'setup', dir]);
    assert.equal(r.code, 0, `podman.sh setup:\n${show(r)}`);
  });

  after(async () => {
    if (dir && !cleaned) {
      const r = await cleanup();
      if (r.code !== 0) process.stderr.write(`oci-peers: podman.sh cleanup ${dir} failed:\n${show(r)}\n`);
    }
  });

  test('podman run --rm --rootfs: the container prints hello', async () => {
    const r = await podman(['run', '--rm', ...runFlags(), 'echo', 'hello']);
    expectOk(r, 'podman run --rm echo hello', '');
    assert.equal(r.stdout, 'hello\n', diag('', r));
  });

  test('podman run --rm: exit codes propagate (exit 3, exit 130)', async () => {
    const a = await podman(['run', '--rm', ...runFlags(), 'sh', '-c', 'exit 3']);
    assert.equal(a.code, 3, `podman run sh -c 'exit 3'\n${diag('', a)}`);
    const b = await podman(['run', '--rm', ...runFlags(), 'sh', '-c', 'exit 130']);
    assert.equal(b.code, 130, `podman run sh -c 'exit 130'\n${diag('', b)}`);
  });

  test('podman run --user --workdir -e --hostname --cap-drop: the process is set up as asked', async () => {
    const r = await podman(['run', '--rm', '--user', '1000:1000', '--workdir', '/tmp', '-e', 'FOO=bar', '--hostname', 'peer-host', '--cap-drop', 'all', ...runFlags(),
      'sh', '-c', 'id -u; id -g; pwd; echo $FOO; hostname; grep CapEff /proc/self/status']);
    expectOk(r, 'podman run --user --workdir -e --hostname --cap-drop all', '');
    assert.equal(r.stdout, '1000\n1000\n/tmp\nbar\npeer-host\nCapEff:\t0000000000000000\n', diag('', r));
  });

  test('podman run -i: stdin reaches the container', async () => {
    const r = await podman(['run', '--rm', '-i', ...runFlags(), 'cat'], { input: 'piped into podman run\n' });
    expectOk(r, 'podman run -i cat', '');
    assert.equal(r.stdout, 'piped into podman run\n', diag('', r));
  });

  test('podman run -d + exec + stop + rm', async () => {
    const name = 'lifecycle';
    try {
      const r = await podman(['run', '-d', '--name', name, ...runFlags(), 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
      expectOk(r, 'podman run -d', name);
      const id = r.stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/, diag(name, r));
      assert.equal(await inspect(name, '{{.State.Status}}'), 'running', diag(id));

      const init = await podman(['exec', name, 'cat', '/proc/1/cmdline']);
      expectOk(init, 'podman exec cat /proc/1/cmdline', id);
      assert.match(init.stdout, /^sh\0-c\0trap/, `exec joins the container's pid namespace\n${diag(id, init)}`);

      const four = await podman(['exec', name, 'sh', '-c', 'exit 4']);
      assert.equal(four.code, 4, `podman exec sh -c 'exit 4'\n${diag(id, four)}`);

      const cat = await podman(['exec', '-i', name, 'cat'], { input: 'piped into podman exec\n' });
      expectOk(cat, 'podman exec -i cat', id);
      assert.equal(cat.stdout, 'piped into podman exec\n', diag(id, cat));

      const stopped = await podman(['stop', '-t', '10', name]);
      expectOk(stopped, 'podman stop', id);
      assert.doesNotMatch(stopped.stderr, /resorting to SIGKILL/, `SIGTERM reached the trap\n${diag(id, stopped)}`);
      assert.equal(await inspect(name, '{{.State.Status}}'), 'exited', diag(id));
      assert.equal(await inspect(name, '{{.State.ExitCode}}'), '0', diag(id));

      expectOk(await podman(['rm', name]), 'podman rm', id);
      const del = callsFor(dir, id).filter((c) => /\bdelete\b/.test(c.args));
      assert.ok(del.length > 0 && del.every((c) => c.rc === 0), `podman rm ran berth-oci delete, which succeeded\n${diag(id)}`);
      assert.ok(!existsSync(path.join(dir, 'oci-root', id)), `berth-oci's state of ${id} is gone\n${diag(id)}`);
      const cg = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, cgroupParent, `libpod-${id}`)).filter((d) => existsSync(d));
      assert.deepEqual(cg, [], `the container's cgroup is removed\n${diag(id)}`);
    } finally {
      await remove(name);
    }
  });

  test('podman kill (-s USR1, default SIGKILL) reaches the container; podman wait returns its exit code', async () => {
    const name = 'signal';
    const killed = 'sigkill';
    try {
      const r = await podman(['run', '-d', '--name', name, ...runFlags(), 'sh', '-c', 'trap "exit 9" USR1; while :; do sleep 0.1; done']);
      expectOk(r, 'podman run -d', name);
      const id = r.stdout.trim();
      expectOk(await podman(['kill', '-s', 'USR1', name]), 'podman kill -s USR1', id);
      const w = await podman(['wait', name]);
      expectOk(w, 'podman wait', id);
      assert.equal(w.stdout.trim(), '9', diag(id, w));

      const k = await podman(['run', '-d', '--name', killed, ...runFlags(), 'sleep', '1000']);
      expectOk(k, 'podman run -d', killed);
      const kid = k.stdout.trim();
      expectOk(await podman(['kill', killed]), 'podman kill', kid);
      const w2 = await podman(['wait', killed]);
      expectOk(w2, 'podman wait', kid);
      assert.equal(w2.stdout.trim(), '137', `SIGKILL is exit status 137\n${diag(kid, w2)}`);
    } finally {
      await remove(name);
      await remove(killed);
    }
  });

  test('podman run -t: the process gets a terminal (console socket)', async () => {
    const before = calls(dir).length;
    const r = await podman(['run', '--rm', '-t', ...runFlags(), 'sh', '-c', 'tty; exit 2']);
    assert.equal(r.code, 2, `exit code through the terminal\n${diag('', r)}`);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/, diag('', r));
    assert.ok(calls(dir).slice(before).some((c) => /\bcreate\b.*--console-socket/.test(c.args)), `create got --console-socket\n${diag('', r)}`);
  });

  test('podman exec -t: the exec process gets a terminal', async () => {
    const name = 'exectty';
    try {
      const d = await podman(['run', '-d', '--name', name, ...runFlags(), 'sleep', '1000']);
      expectOk(d, 'podman run -d', name);
      const id = d.stdout.trim();
      const r = await podman(['exec', '-t', name, 'sh', '-c', 'tty; exit 3']);
      assert.equal(r.code, 3, diag(id, r));
      assert.match(r.stdout, /\/dev\/pts\/\d+/, diag(id, r));
      assert.ok(callsFor(dir, id).some((c) => /\bexec\b.*--console-socket/.test(c.args)), `exec got --console-socket\n${diag(id)}`);
    } finally {
      await remove(name);
    }
  });

  test('podman run --memory --cpu-shares --pids-limit: the limits are set on the container\'s cgroup', async () => {
    const name = 'limits';
    try {
      const r = await podman(['run', '-d', '--name', name, '--memory', '64m', '--cpu-shares', '512', '--pids-limit', '50', ...runFlags(), 'sleep', '1000']);
      expectOk(r, 'podman run -d --memory 64m --cpu-shares 512 --pids-limit 50', name);
      const id = r.stdout.trim();
      checkLimits(`${cgroupParent}/libpod-${id}`, 'podman run --memory 64m --cpu-shares 512 --pids-limit 50', () => diag(id));
    } finally {
      await remove(name);
    }
  });

  test('podman run: the spec\'s device list is enforced (v1 devices.list)', { skip: NO_DEVICES_V1 }, async () => {
    const name = 'devices';
    try {
      const r = await podman(['run', '-d', '--name', name, ...runFlags(), 'sleep', '1000']);
      expectOk(r, 'podman run -d', name);
      const id = r.stdout.trim();
      checkDeviceList(`${cgroupParent}/libpod-${id}`, 'podman run', () => diag(id));
    } finally {
      await remove(name);
    }
  });

  test('podman run --read-only: / is read-only, /tmp a writable tmpfs (tmpcopyup mounts)', async () => {
    // podman --read-only adds tmpfs mounts on /tmp, /var/tmp and /run with the "tmpcopyup"
    // option (runc's extension: copy the image's files up into the new tmpfs).
    const before = calls(dir).length;
    const r = await podman(['run', '--rm', '--read-only', ...runFlags(), 'sh', '-c', 'touch /x 2>/dev/null && echo root-writable; touch /tmp/y && echo tmp-writable']);
    const mine = () => `this run's calls:\n${showCalls(calls(dir).slice(before))}`;
    assert.equal(r.code, 0, `podman run --read-only should succeed:\n${show(r)}\n${mine()}`);
    assert.equal(r.stdout, 'tmp-writable\n', `${show(r)}\n${mine()}`);
  });

  test('podman pause / unpause (runc 1.1 has pause and resume)', async () => {
    const name = 'pause';
    try {
      const r = await podman(['run', '-d', '--name', name, ...runFlags(), 'sleep', '1000']);
      expectOk(r, 'podman run -d', name);
      const id = r.stdout.trim();
      expectOk(await podman(['pause', name]), 'podman pause', id);
      assert.equal(await inspect(name, '{{.State.Status}}'), 'paused', diag(id));
      expectOk(await podman(['unpause', name]), 'podman unpause', id);
      assert.equal(await inspect(name, '{{.State.Status}}'), 'running', diag(id));
    } finally {
      await remove(name);
    }
  });

  test('a failed create: exit 127, berth-oci\'s message, and podman\'s clean-up delete --force succeeds', async () => {
    // podman (like containerd's shim) runs `<runtime> delete --force ID` after a failed create;
    // the container never came to exist, and runc 1.1 exits 0 for that when --force is given.
    const before = calls(dir).length;
    const r = await podman(['run', '--rm', ...runFlags(), '/nonexistent']);
    assert.equal(r.code, 127, `a missing command is exit 127 for podman\n${diag('', r)}`);
    assert.match(r.stderr, /nonexistent/, `berth-oci's message reaches the user\n${diag('', r)}`);
    const mine = calls(dir).slice(before);
    const forced = mine.filter((c) => /\bdelete --force\b/.test(c.args));
    for (const c of forced) {
      assert.equal(c.rc, 0, `\`berth-oci ${c.args}\` after the failed create must exit 0, as runc 1.1's does\nthis run's calls:\n${showCalls(mine)}\n${show(r)}`);
    }
    assert.doesNotMatch(r.stderr, /Removing container .* from runtime after creation failed/, `podman's clean-up failed\n${show(r)}\nthis run's calls:\n${showCalls(mine)}`);
  });

  test('teardown: containers, conmon, mounts, cgroups and the test dir go away', async () => {
    const r = await cleanup();
    assert.equal(r.code, 0, `podman.sh cleanup\n${show(r)}`);
    if (!KEEP) assert.ok(!existsSync(dir), `${dir} removed`);
    const left = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, cgroupParent)).filter((d) => existsSync(d));
    assert.deepEqual(left, [], 'no cgroup under the test cgroup parent is left');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
    assert.deepEqual(mounts, [], `no mount under ${dir} is left`);
  });
});
