// Integration tests of berth-oci's cgroup resources on the real kernel, as root: limits set through
// config.json's linux.resources, observed from inside the container (files in a bind-mounted host
// directory, `exec`) and from outside (the host's cgroup files, `state`, `events`).
//   memory limit + OOM kill (events' oom event, state's oomKilled), pids.limit against a fork
//   bomb, cpu quota throttling, pause/resume of a counter loop, update of the memory limit,
//   the devices allow-list, hugetlb with and without a v1 hugetlb hierarchy (hybrid layout),
//   and no cgroup left behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, oci, ok, show, state, uniqueId, waitStatus, type Bundle, type OciResult } from '../fixtures/busybox.ts';
import { cgroupDirsOf, cgroupMounts, unifiedMount, v1Mount } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const ROOT = DEFAULT_OCI_ROOT;
/** Every container id of this file starts with this (uniqueId('cgt')): the last test looks for cgroups named so. */
const PREFIX = `cgt${process.pid}-`;
const MiB = 1024 * 1024;
const NOT_ROOT = process.getuid?.() !== 0 ? 'needs root' : false;

// --- helpers -----------------------------------------------------------------------------

const sh = (script: string) => ['sh', '-c', script];

function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Container `id`'s directory for `controller` on the host: its v1 hierarchy's, else cgroup2's. */
function hostDir(controller: string, id: string): string {
  const mp = v1Mount(controller) ?? unifiedMount();
  assert.ok(mp, `no cgroup hierarchy with ${controller} on this host`);
  return path.join(mp, 'berth', id);
}

/** "key value" lines of a cgroup file. */
function keyed(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readOr(file).split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

interface Ctx {
  id: string;
  b: Bundle;
  /** host dir bind-mounted at /out in the container */
  out: string;
  /** the create or run -d that made the container */
  made: OciResult;
}

/**
 * A container from a busybox bundle with `resources` merged into linux.resources and a host
 * directory bind-mounted (rw) at /out; `run -d` (or only `create`), then `fn`; then kill, delete
 * and checks that neither its state nor its cgroups are left.
 */
async function withContainer(
  opts: { args: string[]; resources?: Record<string, unknown>; mutate?: (spec: any) => void; createOnly?: boolean },
  fn: (c: Ctx) => Promise<void>,
): Promise<void> {
  const dir = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-cg-'));
  const out = path.join(dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  const b = await makeBundle({
    dir,
    args: opts.args,
    mutate: (s) => {
      s.linux.resources = { ...(s.linux.resources ?? {}), ...(opts.resources ?? {}) };
      s.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] });
      opts.mutate?.(s);
    },
  });
  const id = uniqueId('cgt');
  let failure: unknown;
  try {
    const made = await oci(opts.createOnly ? ['create', '--bundle', b.dir, id] : ['run', '-d', '--bundle', b.dir, id]);
    ok(made, `${opts.createOnly ? 'create' : 'run -d'} ${id}`);
    await fn({ id, b, out, made });
  } catch (e) {
    failure = e;
  }
  await oci(['kill', id, 'KILL']).catch(() => undefined);
  const del = await oci(['delete', '--force', id]).catch((e: Error) => ({ code: -1, signal: null, stdout: '', stderr: e.message }));
  const problems: string[] = [];
  if (del.code !== 0) problems.push(`delete --force: ${show(del)}`);
  if (existsSync(path.join(ROOT, id))) problems.push(`state dir ${path.join(ROOT, id)} left`);
  const dirs = cgroupDirsOf(id);
  if (dirs.length) problems.push(`cgroups left: ${dirs.join(', ')}`);
  try {
    await b.cleanup();
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (failure) throw failure;
  assert.deepEqual(problems, [], `cleanup of ${id}`);
}

/** `events --stats`: runc's stats object of the container. */
async function statsOnce(id: string): Promise<any> {
  const r = ok(await oci(['events', '--stats', id]), `events --stats ${id}`);
  const ev = JSON.parse(r.stdout);
  assert.equal(ev.type, 'stats', r.stdout);
  assert.equal(ev.id, id, r.stdout);
  return ev.data;
}

/** A long-running `berth-oci events` whose JSON lines are collected as they come. */
class EventsProc {
  readonly events: any[] = [];
  stderr = '';
  private buf = '';
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly child;

  constructor(id: string, args: string[]) {
    this.child = spawn(process.execPath, [BERTH_OCI, '--root', ROOT, 'events', ...args, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.trim()) this.events.push(JSON.parse(line));
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  waitFor(what: string, pred: (e: any) => boolean, timeoutMs = 10000): Promise<any> {
    return waitFor(`events: ${what} (got ${this.events.map((e) => e.type).join(', ') || 'nothing'}; stderr ${this.stderr.trim() || '(empty)'})`, () => this.events.find(pred), timeoutMs);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Size of a file, 0 if it does not exist yet. */
function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

// --- tests -------------------------------------------------------------------------------

describe('berth-oci cgroups: resources, pause, update, events', { skip: NOT_ROOT }, () => {
  test('memory: a process allocating above memory.limit is OOM-killed; events reports the OOM, state says oomKilled', async () => {
    // the inner shell holds 64 MiB in a variable; limit 32 MiB and memory+swap the same (no swap)
    const script = `exec >/out/log 2>&1
sh -c 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo survived \${#x}'
echo rc=$? > /out/rc
exec sleep 1000`;
    await withContainer({ args: sh(script), resources: { memory: { limit: 32 * MiB, swap: 32 * MiB } }, createOnly: true }, async (c) => {
      const ev = new EventsProc(c.id, ['--interval', '300ms']);
      try {
        // the first stats line: events is watching (it read the OOM counters before it)
        const first = await ev.waitFor('a first stats event', (e) => e.type === 'stats');
        assert.equal(first.id, c.id);
        assert.equal(first.data.memory.usage.limit, 32 * MiB, `stats: memory.usage.limit\n${JSON.stringify(first.data.memory)}`);
        const mem = hostDir('memory', c.id);
        assert.equal(readOr(`${mem}/memory.limit_in_bytes`).trim(), String(32 * MiB), `${mem}/memory.limit_in_bytes`);
        if (existsSync(`${mem}/memory.memsw.limit_in_bytes`)) {
          assert.equal(readOr(`${mem}/memory.memsw.limit_in_bytes`).trim(), String(32 * MiB), `${mem}/memory.memsw.limit_in_bytes`);
        }
        ok(await oci(['start', c.id]), 'start');

        // inside: the allocating shell was SIGKILLed (128 + 9), the container's init goes on
        const rc = await waitFor('/out/rc', () => readOr(`${c.out}/rc`).trim() || false, 20000);
        assert.equal(rc, 'rc=137', `the allocating shell's status; its output: ${readOr(`${c.out}/log`)}`);
        // outside: the oom event, the counters, the state flag
        const oom = await ev.waitFor('an oom event', (e) => e.type === 'oom');
        assert.deepEqual(oom, { type: 'oom', id: c.id });
        const oc = keyed(`${mem}/memory.oom_control`);
        assert.ok((oc.oom_kill ?? 0) >= 1, `memory.oom_control: ${readOr(`${mem}/memory.oom_control`)}`);
        const st = await state(c.id);
        assert.equal(st.status, 'running', 'the init survives the OOM kill of its child');
        assert.equal(st.oomKilled, true, `state: ${JSON.stringify(st)}`);

        // the container stops: events ends by itself, with status 0
        ok(await oci(['kill', c.id, 'KILL']), 'kill');
        const exit = await Promise.race([ev.exited, sleep(5000).then(() => undefined)]);
        assert.deepEqual(exit, { code: 0, signal: null }, `events after the container stopped; stderr ${ev.stderr}`);
        const stopped = await waitStatus(c.id, 'stopped');
        assert.equal(stopped.oomKilled, true, 'oomKilled stays while the cgroup exists');
        // as runc: events of a stopped container is an error
        const r = await oci(['events', '--stats', c.id]);
        assert.notEqual(r.code, 0, show(r));
        assert.match(r.stderr, /is not running/, show(r));
      } finally {
        ev.kill();
      }
    });
  });

  test('pids.limit stops a fork bomb while the container\'s other processes keep running', async () => {
    const script = `exec >/out/log 2>&1
sleep 1001 &
sh -c 'for i in $(seq 100); do sleep 30 & done; echo loop-finished'
echo rc=$? > /out/rc
exec sleep 1000`;
    await withContainer({ args: sh(script), resources: { pids: { limit: 20 } } }, async (c) => {
      const rc = await waitFor('/out/rc', () => readOr(`${c.out}/rc`).trim() || false);
      const log = readOr(`${c.out}/log`);
      // inside: fork failed (EAGAIN), the loop never finished
      assert.match(log, /can't fork/, `the loop's output: ${log}`);
      assert.doesNotMatch(log, /loop-finished/, log);
      assert.notEqual(rc, 'rc=0', log);
      // outside: the limit, the count, the refusals
      const dir = hostDir('pids', c.id);
      assert.equal(readOr(`${dir}/pids.max`).trim(), '20', `${dir}/pids.max`);
      const current = Number(readOr(`${dir}/pids.current`));
      assert.ok(current > 1 && current <= 20, `pids.current ${current}`);
      if (existsSync(`${dir}/pids.events`)) assert.ok((keyed(`${dir}/pids.events`).max ?? 0) > 0, `pids.events: ${readOr(`${dir}/pids.events`)}`);
      // the process started before the bomb still runs, and so does the init. Its fork happened
      // before the bomb, but under load its execve of sleep may come after the bomb's end: until
      // then it shows its parent's command line, so wait (bounded) for the exec
      const procs = (): string[] => readOr(`${dir}/cgroup.procs`).split('\n').filter(Boolean);
      const cmd = (p: string) => readOr(`/proc/${p}/cmdline`).split('\0').filter(Boolean).join(' ');
      await waitFor('sleep 1001 in the container', () => procs().some((p) => cmd(p) === 'sleep 1001'), 5000, () => procs().map(cmd).join('; '));
      const st = await state(c.id);
      assert.equal(st.status, 'running');
      assert.equal(st.oomKilled, undefined, 'no oomKilled key without an OOM kill');
      const stats = await statsOnce(c.id);
      assert.equal(stats.pids.limit, 20, JSON.stringify(stats.pids));
      assert.ok(stats.pids.current <= 20, JSON.stringify(stats.pids));
    });
  });

  test('a cpu quota (10 ms per 100 ms) throttles a busy loop: the throttling counters grow', async () => {
    await withContainer({ args: sh('while :; do :; done'), resources: { cpu: { quota: 10000, period: 100000 } } }, async (c) => {
      const dir = hostDir('cpu', c.id);
      const v1 = existsSync(`${dir}/cpu.cfs_quota_us`);
      if (v1) {
        assert.equal(readOr(`${dir}/cpu.cfs_quota_us`).trim(), '10000');
        assert.equal(readOr(`${dir}/cpu.cfs_period_us`).trim(), '100000');
        // inside, through the container's own cgroup mount
        const r = ok(await oci(['exec', c.id, 'cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu/cpu.cfs_period_us']), 'exec cat');
        assert.deepEqual(r.stdout.trim().split('\n'), ['10000', '100000']);
      } else {
        assert.equal(readOr(`${dir}/cpu.max`).trim(), '10000 100000');
      }
      const t0 = await statsOnce(c.id);
      const w0 = Date.now();
      const first = await waitFor('nr_throttled > 0', () => {
        const s = keyed(`${dir}/cpu.stat`);
        return (s.nr_throttled ?? 0) > 0 && s;
      }, 5000);
      await sleep(600);
      const later = keyed(`${dir}/cpu.stat`);
      assert.ok(later.nr_throttled! > first.nr_throttled!, `nr_throttled grows: ${first.nr_throttled} then ${later.nr_throttled}`);
      assert.ok((later.throttled_time ?? later.throttled_usec ?? 0) > 0, `throttled time: ${JSON.stringify(later)}`);
      const t1 = await statsOnce(c.id);
      const wall = (Date.now() - w0) * 1e6;
      assert.ok(t1.cpu.throttling.throttledPeriods > 0, `events: ${JSON.stringify(t1.cpu)}`);
      assert.ok(t1.cpu.throttling.throttledTime > 0, `events: ${JSON.stringify(t1.cpu)}`);
      // 10% of one cpu (and some slack for period boundaries)
      const used = t1.cpu.usage.total - t0.cpu.usage.total;
      assert.ok(used < 0.2 * wall, `cpu used ${(used / 1e6).toFixed(1)} ms in ${(wall / 1e6).toFixed(0)} ms`);
    });
  });

  test('pause freezes a counter loop and resume continues it; state says paused', async () => {
    const script = 'i=0; while :; do i=$((i+1)); echo $i >> /out/count; sleep 0.02; done';
    await withContainer({ args: sh(script) }, async (c) => {
      const count = `${c.out}/count`;
      await waitFor('the counter to start', () => size(count) > 0);
      ok(await oci(['pause', c.id]), 'pause');
      assert.equal((await state(c.id)).status, 'paused');
      const fz = hostDir('freezer', c.id);
      if (existsSync(`${fz}/freezer.state`)) assert.equal(readOr(`${fz}/freezer.state`).trim(), 'FROZEN');
      const s1 = size(count);
      await sleep(500);
      const s2 = size(count);
      assert.equal(s2, s1, 'the file does not grow while paused');
      ok(await oci(['resume', c.id]), 'resume');
      assert.equal((await state(c.id)).status, 'running');
      await waitFor('the counter to go on', () => size(count) > s2, 5000);
      const last = readOr(count).trim().split('\n');
      assert.equal(Number(last[last.length - 1]), last.length, 'the count went on from where it stopped');
    });
  });

  test('update of the memory limit of a running container takes effect (--memory, -r resources.json)', async () => {
    await withContainer({ args: ['sleep', '1000'], resources: { memory: { limit: 64 * MiB } } }, async (c) => {
      const dir = hostDir('memory', c.id);
      const v1 = existsSync(`${dir}/memory.limit_in_bytes`);
      const limitFile = v1 ? `${dir}/memory.limit_in_bytes` : `${dir}/memory.max`;
      const inside = v1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';
      assert.equal(readOr(limitFile).trim(), String(64 * MiB), limitFile);

      ok(await oci(['update', '--memory', '100M', c.id]), 'update --memory 100M');
      assert.equal(readOr(limitFile).trim(), String(100 * MiB), `${limitFile} after update --memory`);
      const r = ok(await oci(['exec', c.id, 'cat', inside]), 'exec cat');
      assert.equal(r.stdout.trim(), String(100 * MiB), 'seen from inside');
      assert.equal((await statsOnce(c.id)).memory.usage.limit, 100 * MiB, 'events --stats');

      const res = path.join(c.b.dir, 'resources.json');
      writeFileSync(res, JSON.stringify({ memory: { limit: 48 * MiB } }));
      ok(await oci(['update', '-r', res, c.id]), 'update -r resources.json');
      assert.equal(readOr(limitFile).trim(), String(48 * MiB), `${limitFile} after update -r`);
      assert.equal((await state(c.id)).status, 'running');
    });
  });

  test('the device rules let /dev/null through and deny a device that is not allowed', async () => {
    // runc 1.1 appends its default devices (null, zero, full, tty, random, urandom, ptmx, pts,
    // tun) and "m" on everything to any list, so the denied device is one outside that list:
    // c 10:237 (loop-control). Denied, its open (or its mknod) fails with EPERM.
    const script = [
      'head -c1 /dev/null; echo null-read=$?',
      'echo x > /dev/null; echo null-write=$?',
      'mknod /dev/null2 c 1 3 && head -c1 /dev/null2; echo null-mknod=$?',
      '{ mknod /dev/lc c 10 237 && head -c1 /dev/lc; }; echo denied=$?',
      'cat /sys/fs/cgroup/devices/devices.list 2>&1 || true',
    ].join('\n');
    const dir = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-cg-'));
    const b = await makeBundle({
      dir,
      args: sh(script),
      mutate: (s) => {
        s.linux.resources.devices = [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        ];
        for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_MKNOD');
      },
    });
    const id = uniqueId('cgt');
    try {
      const r = await oci(['run', '--bundle', b.dir, id]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /^null-read=0$/m, show(r));
      assert.match(r.stdout, /^null-write=0$/m, show(r));
      assert.match(r.stdout, /^null-mknod=0$/m, `mknod of c 1:3 works (CAP_MKNOD is there):\n${show(r)}`);
      assert.match(r.stdout, /^denied=[1-9]\d*$/m, show(r));
      assert.match(r.stderr, /lc: Operation not permitted/, show(r));
      if (v1Mount('devices')) {
        assert.doesNotMatch(r.stdout, /^a \*:\* rwm$/m, `devices.list inside:\n${r.stdout}`);
        assert.match(r.stdout, /^c 1:3 rwm$/m, `devices.list inside:\n${r.stdout}`);
      }
    } finally {
      await oci(['delete', '--force', id]).catch(() => undefined);
      await b.cleanup();
    }
    assert.deepEqual(cgroupDirsOf(id), [], 'no cgroup left');
  });

  test('hybrid layout: hugetlb on a v1 hierarchy when one is mounted, else cgroup2 or a warning', async (t) => {
    const HUGE = '/sys/fs/cgroup/hugetlb';
    if (!existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB')) {
      t.skip('no 2 MiB huge pages on this kernel');
      return;
    }
    const layout = () => cgroupMounts().map((m) => `${m.mountPoint} ${m.fstype} ${m.options.join(',')}`).sort();
    const before = layout();
    // /proc/cgroups: hugetlb's hierarchy id (0: cgroup2) and how many cgroups it has, the ones
    // removed but not yet freed by the kernel included
    const hugetlbLine = () => {
      const f = readOr('/proc/cgroups').split('\n').find((l) => l.startsWith('hugetlb\t'))?.split('\t') ?? [];
      return { hierarchy: Number(f[1] ?? -1), cgroups: Number(f[2] ?? 0) };
    };
    const hierarchyBefore = hugetlbLine().hierarchy;
    const resources = { hugepageLimits: [{ pageSize: '2MB', limit: 4 * MiB }] };

    // 1. with a v1 hugetlb hierarchy: mounted for the test unless there is one
    let mounted = false;
    let made = false;
    if (!v1Mount('hugetlb')) {
      if (!existsSync(HUGE)) {
        mkdirSync(HUGE);
        made = true;
      }
      execFileSync('mount', ['-t', 'cgroup', '-o', 'hugetlb', 'cgroup', HUGE]);
      mounted = true;
    }
    let leftChildren: string[] = [];
    try {
      const mp = v1Mount('hugetlb')!;
      await withContainer({ args: ['sleep', '1000'], resources }, async (c) => {
        const file = path.join(mp, 'berth', c.id, 'hugetlb.2MB.limit_in_bytes');
        assert.equal(readOr(file).trim(), String(4 * MiB), `${file} (run -d stderr: ${c.made.stderr.trim() || '(empty)'})`);
        const stats = await statsOnce(c.id);
        assert.ok(stats.hugetlb['2MB'], `events --stats hugetlb: ${JSON.stringify(stats.hugetlb)}`);
      });
    } finally {
      if (mounted) {
        // A v1 hierarchy unmounted with cgroups in it lives on, hidden, and keeps hugetlb away from
        // cgroup2 until it is mounted and unmounted again: unmount only once the cgroups in it
        // (other tests' included) are gone, from the directory tree and then from the kernel
        // (rmdir'ed cgroups are freed asynchronously, and until then they count as children).
        const children = () => readdirSync(HUGE, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
        const deadline = Date.now() + 30000;
        while ((children().length || hugetlbLine().cgroups > 1) && Date.now() < deadline) await sleep(50);
        leftChildren = children();
        if (!leftChildren.length && hugetlbLine().cgroups > 1) leftChildren = [`(${hugetlbLine().cgroups - 1} removed cgroups not yet freed)`];
        execFileSync('umount', [HUGE]);
      }
      if (made) rmdirSync(HUGE);
    }
    assert.deepEqual(leftChildren, [], `cgroups still in the v1 hugetlb hierarchy when it was unmounted`);
    assert.deepEqual(layout(), before, 'the cgroup mounts are as they were');
    if (hierarchyBefore === 0) {
      // and the kernel gave hugetlb back to cgroup2 (the hierarchy dies asynchronously)
      await waitFor('hugetlb to be a cgroup2 controller again (/proc/cgroups hierarchy 0)', () => hugetlbLine().hierarchy === 0, 5000);
    }
    if (!mounted) {
      t.diagnostic('a v1 hugetlb hierarchy was mounted before the test: the case without one is not run');
      return;
    }

    // 2. without: hugetlb is a cgroup2 controller (once the hidden v1 hierarchy is gone)
    const onV2 = readOr(path.join(unifiedMount() ?? '/nonexistent', 'cgroup.controllers')).split(/\s+/).includes('hugetlb');
    t.diagnostic(`without a v1 hugetlb hierarchy, hugetlb ${onV2 ? 'is' : 'is not'} a cgroup2 controller here`);
    await withContainer({ args: ['sleep', '1000'], resources }, async (c) => {
      assert.equal((await state(c.id)).status, 'running', 'the container runs');
      const file = path.join(unifiedMount() ?? '/nonexistent', 'berth', c.id, 'hugetlb.2MB.max');
      const applied = readOr(file).trim() === String(4 * MiB);
      const warned = /huge ?(tlb|page)/i.test(c.made.stderr);
      assert.ok(applied || warned, `hugetlb limit neither applied (${file}: ${readOr(file, 'missing').trim()}) nor warned about:\n${show(c.made)}`);
      t.diagnostic(applied ? `applied on cgroup2: ${file}` : `warning: ${c.made.stderr.trim()}`);
    });
  });

  test('no cgroup is left behind by this file\'s containers', () => {
    // find's status is not checked: cgroups of other processes may vanish while it walks
    const found = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-name', `${PREFIX}*`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(found, '', `cgroups left:\n${found}`);
  });
});
