// berth-oci isolation, checked from INSIDE the container: namespaces, the root
// filesystem, the process environment and the security settings of config.json,
// as a user of `berth-oci run` sees them. Runs as root on the real kernel.
//
// Every test runs its container(s) in the foreground (`run`, whose stdout and
// exit code are the container's) unless it needs a container that outlives one
// command, and ends by checking that nothing is left behind: no state dir, no
// cgroup, no process in the container's cgroup, no berth-oci/berth-init process
// started for the bundle, no mount under the bundle.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, statSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BERTH_OCI,
  DEFAULT_OCI_ROOT,
  makeBundle,
  oci,
  uniqueId,
  type Bundle,
  type OciResult,
} from '../fixtures/busybox.ts';
import { cgroupDirsOf, processesWithEnv } from '../fixtures/host.ts';

// --- helpers --------------------------------------------------------------------------

const sh = (script: string): string[] => ['/bin/sh', '-c', script];

function show(r: OciResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}

/** Host pids whose /proc/PID/cgroup mentions `needle`. */
function pidsInCgroup(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cg = readFileSync(`/proc/${e}/cgroup`, 'utf8');
      if (cg.split('\n').some((l) => l.endsWith(needle) || l.includes(`${needle}/`))) out.push(Number(e));
    } catch { /* exited */ }
  }
  return out;
}

interface MountInfo {
  id: string;
  parent: string;
  root: string;
  mountPoint: string;
  opts: string[];
  optional: string[];
  fstype: string;
  source: string;
  superOpts: string[];
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    out.push({
      id: pre[0]!, parent: pre[1]!, root: unescapeMount(pre[3]!), mountPoint: unescapeMount(pre[4]!),
      opts: (pre[5] ?? '').split(','), optional: pre.slice(6),
      fstype: post[0]!, source: post[1]!, superOpts: (post[2] ?? '').split(','),
    });
  }
  return out;
}

/** The last mount at `mp` (the one on top), or undefined. */
function mountAt(mounts: MountInfo[], mp: string): MountInfo | undefined {
  return mounts.filter((m) => m.mountPoint === mp).at(-1);
}

/** Where `p` (a host path) lies inside its filesystem: what mountinfo shows as "root" for a bind of it. */
function fsRelative(p: string): string {
  const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  let best: MountInfo | undefined;
  for (const m of mounts) {
    if (p === m.mountPoint || p.startsWith(m.mountPoint === '/' ? '/' : m.mountPoint + '/')) {
      if (!best || m.mountPoint.length >= best.mountPoint.length) best = m;
    }
  }
  assert.ok(best, `no host mount holds ${p}`);
  const rest = best.mountPoint === '/' ? p : p.slice(best.mountPoint.length);
  return path.posix.join(best.root, rest);
}

function capHex(mask: bigint): string {
  return mask.toString(16).padStart(16, '0');
}

function statusField(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
  return m?.[1]?.trim();
}

const CAP = { CHOWN: 0, DAC_OVERRIDE: 1, KILL: 5, NET_BIND_SERVICE: 10, SYS_ADMIN: 21 } as const;
const bit = (n: number) => 1n << BigInt(n);

/** Adds a writable tmpfs at /tmp (the default root is read-only). */
function tmpfsTmp(spec: any): void {
  spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
}

/** Sets the namespaces list to the given types (new namespaces, no paths). */
function namespaces(spec: any, types: string[]): void {
  spec.linux.namespaces = types.map((type) => ({ type }));
}

const ALL_NS = ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'];

interface Ctx {
  b: Bundle;
  /** a fresh container id, checked for leftovers at the end */
  id(prefix?: string): string;
  /** `berth-oci run [extra...] --bundle <dir> <id>` in the foreground */
  run(extra?: string[], id?: string): Promise<OciResult>;
  /** berth-oci with the bundle's process tag in its environment (withBundle finds leftovers by it) */
  oci(args: string[]): Promise<OciResult>;
  /** the environment entry every berth-oci (and so every berth-init) of this bundle carries */
  tag: string;
  /** called before the bundle is removed (e.g. to unmount what the test mounted on the host) */
  defer(fn: () => Promise<void> | void): void;
}

const TAG_VAR = 'BERTH_ISO_TEST_BUNDLE';

/** Leftovers of container `id`, as human-readable strings (empty: clean). */
function leftovers(id: string): string[] {
  const found: string[] = [];
  if (existsSync(path.join(DEFAULT_OCI_ROOT, id))) found.push(`state dir ${path.join(DEFAULT_OCI_ROOT, id)}`);
  for (const dir of cgroupDirsOf(id)) found.push(`cgroup ${dir}`);
  for (const pid of pidsInCgroup(`/berth/${id}`)) found.push(`process ${pid} in cgroup /berth/${id}`);
  return found;
}

/**
 * Makes a bundle in a directory known to `mutate` (so that host dirs can live beside the
 * rootfs), runs `fn`, then checks and removes everything: containers, cgroups, mounts, dirs.
 */
async function withBundle(
  opts: { args?: string[]; mutate?: (spec: any, dir: string) => void; prepare?: (dir: string) => Promise<void> },
  fn: (c: Ctx) => Promise<void>,
): Promise<void> {
  const dir = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-iso-'));
  await opts.prepare?.(dir);
  const b = await makeBundle({ dir, args: opts.args, mutate: (spec) => opts.mutate?.(spec, dir) });
  const ids: string[] = [];
  const deferred: Array<() => Promise<void> | void> = [];
  const tagValue = path.basename(dir);
  const c: Ctx = {
    b,
    tag: `${TAG_VAR}=${tagValue}`,
    oci(args) {
      return oci(args, { env: { [TAG_VAR]: tagValue } });
    },
    id(prefix = 'iso') {
      const id = uniqueId(prefix);
      ids.push(id);
      return id;
    },
    run(extra = [], id = c.id()) {
      return c.oci(['run', ...extra, '--bundle', b.dir, id]);
    },
    defer(f) {
      deferred.push(f);
    },
  };
  let failure: unknown;
  try {
    await fn(c);
  } catch (e) {
    failure = e;
  }
  const problems: string[] = [];
  for (const id of ids) {
    const left = leftovers(id);
    if (left.length) {
      problems.push(`container ${id} left: ${left.join('; ')}`);
      await oci(['delete', '--force', id]).catch(() => undefined);
    }
  }
  for (const f of deferred.reverse()) {
    try {
      await f();
    } catch (e) {
      problems.push(`deferred cleanup: ${(e as Error).message}`);
    }
  }
  // the berth-oci and berth-init processes started for this bundle (a container's program has
  // its config.json environment instead, and is found through its cgroup: see leftovers)
  const helpers = processesWithEnv(c.tag);
  if (helpers.length) {
    problems.push(`berth-init processes left: ${helpers.join(', ')}`);
    for (const pid of helpers) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  try {
    await b.cleanup();
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (failure) throw failure;
  assert.deepEqual(problems, [], 'cleanup after the test');
}

/** Stops and deletes a detached container, reporting failures. */
async function destroy(id: string): Promise<void> {
  await oci(['kill', id, 'KILL']).catch(() => undefined);
  const r = await oci(['delete', '--force', id]);
  assert.equal(r.code, 0, `delete --force ${id}: ${show(r)}`);
}

async function statePid(id: string): Promise<number> {
  const r = await oci(['state', id]);
  assert.equal(r.code, 0, show(r));
  const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
  assert.ok(pid > 0, `state pid of ${id}: ${r.stdout}`);
  return pid;
}

function hostMount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function hostUmount(target: string): void {
  try {
    execFileSync('umount', ['-l', target], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch { /* not mounted */ }
}

// --- suite ----------------------------------------------------------------------------------

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root');
  assert.ok(existsSync(BERTH_OCI), `${BERTH_OCI} missing: npm run build`);
});

describe('namespaces', () => {
  test('pid: the program is pid 1 and /proc lists only the container\'s processes', async () => {
    await withBundle({ args: sh('echo self=$$; ls /proc | grep -E "^[0-9]+$"; echo cmdline=$(tr "\\0" " " < /proc/1/cmdline)') }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      const out = lines(r.stdout);
      assert.equal(out[0], 'self=1', show(r));
      const pids = out.filter((l) => /^\d+$/.test(l)).map(Number);
      assert.ok(pids.includes(1), `pid 1 in /proc: ${pids}`);
      // sh (1), ls and grep: nothing of the host's hundreds of processes
      assert.ok(pids.length <= 3, `only the container's pids in /proc, got ${pids.join(' ')}`);
      assert.ok(pids.every((p) => p < 50), `small pids only: ${pids.join(' ')}`);
      assert.match(out.at(-1) ?? '', /^cmdline=\/bin\/sh -c echo self=/);
    });
  });

  test('uts: hostname and domainname come from config.json; the host\'s stay', async () => {
    const hostName = os.hostname();
    const hostDomain = readFileSync('/proc/sys/kernel/domainname', 'utf8');
    await withBundle(
      {
        args: sh('hostname; cat /proc/sys/kernel/domainname; uname -n'),
        mutate: (s) => {
          s.hostname = 'iso-host';
          s.domainname = 'iso.example';
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), ['iso-host', 'iso.example', 'iso-host']);
        assert.equal(os.hostname(), hostName);
        assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), hostDomain);
      },
    );
  });

  const NS_FILES: Array<[string, string]> = [
    ['pid', 'pid'], ['network', 'net'], ['ipc', 'ipc'], ['uts', 'uts'], ['mount', 'mnt'], ['cgroup', 'cgroup'],
  ];
  for (const [type, file] of NS_FILES) {
    test(`${type}: /proc/self/ns/${file} is a new namespace, and the host's without it`, async () => {
      const host = readlinkSync(`/proc/self/ns/${file}`);
      await withBundle({ args: ['/bin/readlink', `/proc/self/ns/${file}`] }, async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const inside = r.stdout.trim();
        assert.match(inside, new RegExp(`^${file}:\\[\\d+\\]$`));
        assert.notEqual(inside, host, `${type} namespace of the container is the host's`);
      });
      await withBundle(
        {
          args: ['/bin/readlink', `/proc/self/ns/${file}`],
          mutate: (s) => {
            namespaces(s, ALL_NS.filter((t) => t !== type));
            if (type === 'uts') delete s.hostname;
            if (type === 'mount') {
              // what runc refuses (masking) or berth refuses (read-only root) without one
              delete s.linux.maskedPaths;
              delete s.linux.readonlyPaths;
              s.root.readonly = false;
            }
          },
        },
        async (c) => {
          const r = await c.run();
          assert.equal(r.code, 0, show(r));
          assert.equal(r.stdout.trim(), host, `without a ${type} namespace in config.json the container shares the host's`);
        },
      );
    });
  }

  test('network: only lo, and it is UP with 127.0.0.1', async () => {
    await withBundle({ args: sh('ip -o link; echo ---; ip -o -4 addr; echo ---; tail -n +3 /proc/net/dev') }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      const [links = '', addrs = '', dev = ''] = r.stdout.split('---\n');
      const l = lines(links);
      assert.equal(l.length, 1, `one interface only:\n${links}`);
      assert.match(l[0]!, /^1: lo: <[^>]*\bUP\b[^>]*>/, 'lo is UP');
      assert.match(addrs, /\blo\s+inet 127\.0\.0\.1\/8/);
      assert.deepEqual(lines(dev).map((x) => x.trim().split(':')[0]), ['lo']);
    });
  });

  test('mount: the container\'s mounts exist only in its namespace', async () => {
    await withBundle({ args: ['sleep', '100'] }, async (c) => {
      const id = c.id();
      const r = await c.oci(['create', '--bundle', c.b.dir, id]);
      assert.equal(r.code, 0, show(r));
      try {
        const pid = await statePid(id);
        const theirs = parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
        for (const mp of ['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']) {
          assert.ok(mountAt(theirs, mp), `${mp} is mounted in the container:\n${theirs.map((m) => m.mountPoint).join('\n')}`);
        }
        const ours = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
        const leaked = ours.filter((m) => m.mountPoint.startsWith(c.b.dir));
        assert.deepEqual(leaked.map((m) => m.mountPoint), [], 'no container mount is visible on the host');
      } finally {
        await destroy(id);
      }
    });
  });

  test('cgroup: /proc/self/cgroup shows / paths; the cgroup mount\'s root is the container\'s cgroup', async () => {
    const script = [
      'cat /proc/self/cgroup',
      'echo ---',
      'for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs; do [ -f $f ] && cat $f && break; done',
    ].join('; ');
    await withBundle({ args: sh(script) }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      const [cg = '', procs = ''] = r.stdout.split('---\n');
      const cgl = lines(cg);
      assert.ok(cgl.length > 0, show(r));
      for (const l of cgl) assert.match(l, /^\d+:[^:]*:\/$/, `a cgroup namespace rooted at the container's cgroup: ${l}`);
      // only the container's processes (sh and cat, in the container's pid numbering)
      const pids = lines(procs).map(Number);
      assert.ok(pids.includes(1) && pids.length <= 3 && pids.every((p) => p < 50), `cgroup.procs of the mounted cgroup: ${pids.join(' ')}`);
    });
    // without a cgroup namespace the same process sees its real path
    await withBundle({ args: ['cat', '/proc/self/cgroup'], mutate: (s) => namespaces(s, ALL_NS.filter((t) => t !== 'cgroup')) }, async (c) => {
      const id = c.id();
      const r = await c.run([], id);
      assert.equal(r.code, 0, show(r));
      assert.ok(lines(r.stdout).some((l) => l.endsWith(`/berth/${id}`)), `real cgroup path /berth/${id} without a cgroup ns:\n${r.stdout}`);
    });
  });

  test('user: uid/gid mappings (0 → 100000, 65536): root inside, 100000 on the host', async () => {
    await withBundle(
      {
        args: sh([
          'id -u; id -g',
          'cat /proc/self/uid_map /proc/self/gid_map',
          'stat -c %u:%g /bin/busybox /data/owned-by-host-root',
          'touch /data/made-inside && echo touched',
          'touch /data/made-by-1000 && chown 1000:1000 /data/made-by-1000 && echo chowned',
        ].join('; ')),
        prepare: async (dir) => {
          await fs.mkdir(path.join(dir, 'data'));
          await fs.chown(path.join(dir, 'data'), 100000, 100000);
          await fs.writeFile(path.join(dir, 'data/owned-by-host-root'), '');
        },
        mutate: (s, dir) => {
          s.linux.namespaces.push({ type: 'user' });
          s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          s.mounts.push({ destination: '/data', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'rw'] });
          for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_CHOWN');
        },
      },
      async (c) => {
        // the image belongs to the container's root: host uid 100000 (as a user of the mapping would prepare it)
        execFileSync('chown', ['-R', '-h', '100000:100000', c.b.rootfs]);
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const out = lines(r.stdout);
        assert.equal(out[0], '0', 'root inside');
        assert.equal(out[1], '0');
        assert.match(out[2] ?? '', /^\s*0\s+100000\s+65536$/, 'uid_map');
        assert.match(out[3] ?? '', /^\s*0\s+100000\s+65536$/, 'gid_map');
        assert.equal(out[4], '0:0', 'host 100000 is root inside');
        assert.equal(out[5], '65534:65534', 'host root is not mapped: the overflow ids');
        assert.equal(out[6], 'touched', show(r));
        assert.equal(out[7], 'chowned', show(r));
        const st = statSync(path.join(c.b.dir, 'data/made-inside'));
        assert.deepEqual([st.uid, st.gid], [100000, 100000], 'a file made by root inside is 100000 on the host');
        const st2 = statSync(path.join(c.b.dir, 'data/made-by-1000'));
        assert.deepEqual([st2.uid, st2.gid], [101000, 101000], 'uid 1000 inside is 101000 on the host');
      },
    );
  });

  test('time: boottime/monotonic offsets of 86400 s show in /proc/uptime', async () => {
    if (!existsSync('/proc/self/ns/time')) return; // kernel without time namespaces
    const hostNs = readlinkSync('/proc/self/ns/time');
    await withBundle(
      {
        args: sh('cat /proc/uptime; readlink /proc/self/ns/time'),
        mutate: (s) => {
          s.linux.namespaces.push({ type: 'time' });
          s.linux.timeOffsets = { boottime: { secs: 86400, nanosecs: 0 }, monotonic: { secs: 86400, nanosecs: 0 } };
        },
      },
      async (c) => {
        const hostUp = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
        const r = await c.run();
        const hostUpAfter = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
        assert.equal(r.code, 0, show(r));
        const [up = '', ns = ''] = lines(r.stdout);
        const inside = Number(up.split(' ')[0]);
        assert.ok(inside >= hostUp + 86400 && inside <= hostUpAfter + 86400 + 1, `uptime inside ${inside}, host ${hostUp}..${hostUpAfter} (+86400)`);
        assert.notEqual(ns, hostNs, 'a new time namespace');
      },
    );
  });

  test('joining namespaces by path: a sidecar shares the first container\'s net, ipc, uts and pid', async () => {
    await withBundle({ args: ['sleep', '100'], mutate: (s) => (s.hostname = 'first-one') }, async (first) => {
      const id1 = first.id('first');
      const r1 = await first.oci(['run', '-d', '--bundle', first.b.dir, id1]);
      assert.equal(r1.code, 0, show(r1));
      try {
        const pid1 = await statePid(id1);
        const want = (f: string) => readlinkSync(`/proc/${pid1}/ns/${f}`);
        await withBundle(
          {
            args: sh('for n in net ipc uts pid; do readlink /proc/self/ns/$n; done; hostname; tr "\\0" " " < /proc/1/cmdline; echo'),
            mutate: (s) => {
              delete s.hostname; // it would rename the first container
              s.linux.namespaces = [
                { type: 'network', path: `/proc/${pid1}/ns/net` },
                { type: 'ipc', path: `/proc/${pid1}/ns/ipc` },
                { type: 'uts', path: `/proc/${pid1}/ns/uts` },
                { type: 'pid', path: `/proc/${pid1}/ns/pid` },
                { type: 'mount' },
                { type: 'cgroup' },
              ];
            },
          },
          async (second) => {
            const r = await second.run();
            assert.equal(r.code, 0, show(r));
            const out = lines(r.stdout);
            assert.deepEqual(out.slice(0, 4), [want('net'), want('ipc'), want('uts'), want('pid')]);
            assert.notEqual(out[0], readlinkSync('/proc/self/ns/net'));
            assert.equal(out[4], 'first-one', 'the first container\'s hostname');
            assert.equal(out[5]?.trim(), 'sleep 100', 'pid 1 is the first container\'s process');
          },
        );
      } finally {
        await destroy(id1);
      }
    });
  });
});

describe('root filesystem', () => {
  test('root.readonly: writing to / fails with "Read-only file system"; readonly false allows it', async () => {
    await withBundle({ args: sh('touch /x 2>&1; echo rc=$?') }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /rc=1$/m);
      assert.ok(!existsSync(path.join(c.b.rootfs, 'x')));
    });
    await withBundle({ args: sh('touch /x 2>&1; echo rc=$?'), mutate: (s) => (s.root.readonly = false) }, async (c) => {
      const r = await c.run();
      assert.equal(r.stdout, 'rc=0\n', show(r));
      assert.ok(existsSync(path.join(c.b.rootfs, 'x')), 'the file is in the bundle\'s rootfs');
    });
  });

  for (const noPivot of [false, true]) {
    test(`${noPivot ? '--no-pivot (chroot)' : 'pivot_root'}: / is the rootfs and no host directory is reachable`, async () => {
      await withBundle({ args: sh('cat /proc/self/mountinfo; echo ---; ls -A /; echo ---; cd /../../..; ls -A; echo ---; test -e /work -o -e /var/tmp/berth-test-cache && echo HOST-VISIBLE; true') }, async (c) => {
        const r = await c.run(noPivot ? ['--no-pivot'] : []);
        assert.equal(r.code, 0, show(r));
        const [mi = '', ls = '', up = '', vis = ''] = r.stdout.split('---\n');
        const mounts = parseMountinfo(mi);
        const roots = mounts.filter((m) => m.mountPoint === '/');
        assert.equal(roots.length, 1, `one mount at /:\n${mi}`);
        assert.equal(roots[0]!.root, fsRelative(c.b.rootfs), 'the mount at / is the bundle\'s rootfs');
        const want = readdirSync(c.b.rootfs).sort();
        assert.deepEqual(lines(ls).sort(), want, 'ls / lists the rootfs');
        assert.deepEqual(lines(up).sort(), want, '/.. is / itself');
        assert.equal(vis, '', 'host directories are not reachable');
        // nothing of the host's mount table: every mount is / or under a configured destination
        const allowed = ['/proc', '/dev', '/sys'];
        const foreign = mounts.filter((m) => m.mountPoint !== '/' && !allowed.some((a) => m.mountPoint === a || m.mountPoint.startsWith(a + '/')));
        assert.deepEqual(foreign.map((m) => m.mountPoint), [], 'mounts outside the configured ones');
      });
    });
  }

  test('tmpfs with size, mode and nosuid/nodev/noexec', async () => {
    await withBundle(
      {
        args: sh('cat /proc/self/mountinfo; echo ---; stat -c %a /scratch; cp /bin/busybox /scratch/bb && /scratch/bb true 2>&1; echo rc=$?'),
        mutate: (s) => s.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=2m', 'mode=1770'] }),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const [mi = '', rest = ''] = r.stdout.split('---\n');
        const m = mountAt(parseMountinfo(mi), '/scratch');
        assert.ok(m, `/scratch mounted:\n${mi}`);
        assert.equal(m.fstype, 'tmpfs');
        for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) assert.ok(m.opts.includes(o), `${o} in ${m.opts}`);
        assert.ok(m.superOpts.includes('size=2048k'), `size=2048k in ${m.superOpts}`);
        assert.ok(m.superOpts.includes('mode=1770'), `mode=1770 in ${m.superOpts}`);
        const out = lines(rest);
        assert.equal(out[0], '1770');
        assert.match(rest, /Permission denied/, 'noexec: running a binary from it fails');
        assert.match(rest, /rc=126/);
      },
    );
  });

  test('bind mounts: a host dir (rw), a single file, a read-only dir, nosuid/nodev/noexec', async () => {
    await withBundle(
      {
        args: sh([
          'cat /data/from-host; echo inside > /data/from-container',
          'cat /etc/extra.conf',
          'cat /ro/file; echo nope > /ro/file 2>&1; echo ro-rc=$?; touch /ro/new 2>&1; echo ro-touch=$?',
          'cp /bin/busybox /flags/bb && /flags/bb true 2>&1; echo flags-rc=$?',
          'echo ---; cat /proc/self/mountinfo',
        ].join('; ')),
        prepare: async (dir) => {
          await fs.mkdir(path.join(dir, 'data'));
          await fs.writeFile(path.join(dir, 'data/from-host'), 'host data\n');
          await fs.writeFile(path.join(dir, 'extra.conf'), 'single file\n');
          await fs.mkdir(path.join(dir, 'ro'));
          await fs.writeFile(path.join(dir, 'ro/file'), 'ro data\n');
          await fs.mkdir(path.join(dir, 'flags'));
        },
        mutate: (s, dir) => {
          s.mounts.push(
            { destination: '/data', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'rw'] },
            { destination: '/etc/extra.conf', type: 'bind', source: path.join(dir, 'extra.conf'), options: ['bind', 'ro'] },
            { destination: '/ro', type: 'bind', source: path.join(dir, 'ro'), options: ['bind', 'ro'] },
            { destination: '/flags', type: 'bind', source: path.join(dir, 'flags'), options: ['bind', 'nosuid', 'nodev', 'noexec'] },
          );
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const [out = '', mi = ''] = r.stdout.split('---\n');
        assert.match(out, /^host data$/m, 'host file visible inside');
        assert.equal(readFileSync(path.join(c.b.dir, 'data/from-container'), 'utf8'), 'inside\n', 'file written inside appears on the host');
        assert.match(out, /^single file$/m, 'single-file bind');
        assert.match(out, /^ro data$/m);
        assert.match(out, /Read-only file system/);
        assert.match(out, /^ro-rc=1$/m);
        assert.match(out, /^ro-touch=1$/m);
        assert.equal(readFileSync(path.join(c.b.dir, 'ro/file'), 'utf8'), 'ro data\n');
        assert.ok(!existsSync(path.join(c.b.dir, 'ro/new')));
        assert.match(out, /^flags-rc=126$/m, 'noexec bind: exec fails');
        const mounts = parseMountinfo(mi);
        const ro = mountAt(mounts, '/ro');
        assert.ok(ro?.opts.includes('ro'), `/ro is read-only: ${ro?.opts}`);
        const file = mountAt(mounts, '/etc/extra.conf');
        assert.ok(file?.opts.includes('ro'), `/etc/extra.conf is read-only: ${file?.opts}`);
        const flags = mountAt(mounts, '/flags');
        for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) assert.ok(flags?.opts.includes(o), `/flags has ${o}: ${flags?.opts}`);
        const data = mountAt(mounts, '/data');
        assert.ok(data?.opts.includes('rw'), `/data is rw: ${data?.opts}`);
        assert.equal(data?.root, fsRelative(path.join(c.b.dir, 'data')));
      },
    );
  });

  test('rbind carries the submounts of the source, bind does not', async () => {
    await withBundle(
      {
        args: sh('ls -A /r/sub; echo ---; ls -A /b/sub'),
        prepare: async (dir) => {
          await fs.mkdir(path.join(dir, 'src/sub'), { recursive: true });
          await fs.writeFile(path.join(dir, 'src/sub/under-the-mount'), '');
        },
        mutate: (s, dir) => {
          s.mounts.push(
            { destination: '/r', type: 'bind', source: path.join(dir, 'src'), options: ['rbind'] },
            { destination: '/b', type: 'bind', source: path.join(dir, 'src'), options: ['bind'] },
          );
        },
      },
      async (c) => {
        const sub = path.join(c.b.dir, 'src/sub');
        hostMount(['-t', 'tmpfs', 'berth-iso-sub', sub]);
        c.defer(() => hostUmount(sub));
        await fs.writeFile(path.join(sub, 'on-the-submount'), '');
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const [rb = '', b = ''] = r.stdout.split('---\n');
        assert.deepEqual(lines(rb), ['on-the-submount'], 'rbind: the submount is there');
        assert.deepEqual(lines(b), ['under-the-mount'], 'bind: only the directory itself');
      },
    );
  });

  test('the default mounts: devpts (newinstance), mqueue, /dev/shm, sysfs ro, cgroup ro', async () => {
    const hostPtsDev = statSync('/dev/pts').dev;
    await withBundle(
      {
        args: sh([
          'cat /proc/self/mountinfo', 'echo ---',
          'ls -A /dev/pts | xargs; stat -c %d /dev/pts', 'echo ---',
          'mkdir /sys/x 2>&1; echo sys-rc=$?', 'mkdir /sys/fs/cgroup/x 2>&1; echo cg-rc=$?',
          'for d in /sys/fs/cgroup/*/; do mkdir $d/x 2>&1 | grep -q "Read-only file system" || echo "not read-only: $d"; done',
          'touch /dev/shm/ok && echo shm-ok; stat -c shm-mode=%a /dev/shm',
        ].join('; ')),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const [mi = '', pts = '', rest = ''] = r.stdout.split('---\n');
        const mounts = parseMountinfo(mi);
        const has = (m: MountInfo | undefined, o: string) => !!m && (m.opts.includes(o) || m.superOpts.includes(o));
        const want = (mp: string, fstype: string, opts: string[]) => {
          const m = mountAt(mounts, mp);
          assert.ok(m, `${mp} mounted:\n${mi}`);
          assert.equal(m.fstype, fstype, `${mp} type`);
          for (const o of opts) assert.ok(has(m, o), `${mp}: ${o} in ${[...m.opts, ...m.superOpts]}`);
        };
        want('/dev', 'tmpfs', ['nosuid', 'mode=755', 'size=65536k']);
        want('/dev/pts', 'devpts', ['nosuid', 'noexec', 'mode=620', 'ptmxmode=666', 'gid=5']);
        // tmpfs's default mode is 1777, which mountinfo does not print: see stat below
        want('/dev/shm', 'tmpfs', ['nosuid', 'noexec', 'nodev', 'size=65536k']);
        want('/dev/mqueue', 'mqueue', ['nosuid', 'noexec', 'nodev']);
        want('/sys', 'sysfs', ['ro', 'nosuid', 'noexec', 'nodev']);
        const cg = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup' || m.mountPoint.startsWith('/sys/fs/cgroup/'));
        assert.ok(cg.some((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2'), `cgroup mounted under /sys/fs/cgroup:\n${mi}`);
        for (const m of cg) assert.ok(m.opts.includes('ro'), `${m.mountPoint} is read-only: ${m.opts}`);
        // a new devpts instance: only ptmx, and not the host's devpts
        const [ptsLs, ptsDev] = lines(pts);
        assert.equal(ptsLs, 'ptmx', 'a fresh devpts holds only ptmx');
        assert.notEqual(Number(ptsDev), hostPtsDev, 'not the host\'s devpts');
        assert.match(rest, /^sys-rc=1$/m);
        assert.match(rest, /^cg-rc=1$/m);
        assert.doesNotMatch(rest, /not read-only/);
        assert.match(rest, /Read-only file system/);
        assert.match(rest, /^shm-ok$/m);
        assert.match(rest, /^shm-mode=1777$/m);
      },
    );
  });

  test('a missing mount destination is created inside the rootfs', async () => {
    await withBundle(
      {
        args: sh('grep " /new/deep/dir " /proc/self/mountinfo | wc -l; ls -ld /new/deep/dir | cut -c1'),
        mutate: (s) => s.mounts.push({ destination: '/new/deep/dir', type: 'tmpfs', source: 'tmpfs', options: [] }),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), ['1', 'd']);
        assert.ok(statSync(path.join(c.b.rootfs, 'new/deep/dir')).isDirectory(), 'created in the bundle\'s rootfs');
      },
    );
  });

  // A symlink in the image pointing at a host directory, relative with enough ".." to climb out
  // of the rootfs or absolute. Mount points, device nodes and the cwd made through it must land in
  // rootfs/<target>, never in the host's <target>. "dangling": the target does not exist in the
  // rootfs (runc creates it there, SecureJoin + MkdirAll); "present": it does.
  for (const kind of ['dotdot', 'absolute'] as const) {
    for (const inRootfs of ['present', 'dangling'] as const) {
      const link = kind === 'dotdot' ? '/etc -> /../../../../tmp/berth-escape-X' : '/etc -> /var/tmp/berth-escape-X (absolute)';
      test(`hostile rootfs, ${link}, target ${inRootfs} in the rootfs: mounts, devices and cwd land inside the rootfs`, async () => {
        const escape = kind === 'dotdot'
          ? `/tmp/berth-escape-${randomBytes(4).toString('hex')}`
          : await fs.mkdtemp('/var/tmp/berth-escape-');
        await fs.mkdir(escape, { recursive: true });
        await fs.writeFile(path.join(escape, 'marker'), 'host\n');
        const made = ['conf', 'cwd', 'data', 'evil-null', 'file.conf'];
        try {
          await withBundle(
            {
              args: sh([
                'readlink /etc', 'pwd -P',
                'ls -A /etc/ | sort | xargs',
                'cat /etc/file.conf /etc/data/in-data',
                `awk '{print $5}' /proc/self/mountinfo | grep -c berth-escape`,
                'stat -c "%F %t:%T" /etc/evil-null',
              ].join('; ')),
              prepare: async (dir) => {
                await fs.mkdir(path.join(dir, 'data'));
                await fs.writeFile(path.join(dir, 'data/in-data'), 'data\n');
                await fs.writeFile(path.join(dir, 'file.conf'), 'file\n');
              },
              mutate: (s, dir) => {
                s.mounts.push(
                  { destination: '/etc/conf', type: 'tmpfs', source: 'tmpfs', options: [] },
                  { destination: '/etc/data', type: 'bind', source: path.join(dir, 'data'), options: ['bind'] },
                  { destination: '/etc/file.conf', type: 'bind', source: path.join(dir, 'file.conf'), options: ['bind'] },
                );
                s.linux.devices = [{ path: '/etc/evil-null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }];
                s.process.cwd = '/etc/cwd';
              },
            },
            async (c) => {
              const etc = path.join(c.b.rootfs, 'etc');
              await fs.rm(etc, { recursive: true });
              const linkText = kind === 'dotdot' ? `/../../../..${escape}` : escape;
              await fs.symlink(linkText, etc);
              if (inRootfs === 'present') await fs.mkdir(path.join(c.b.rootfs, escape), { recursive: true });
              const r = await c.run();
              assert.deepEqual(readdirSync(escape), ['marker'], `host dir ${escape} must stay untouched`);
              assert.equal(r.code, 0, show(r));
              assert.deepEqual(lines(r.stdout), [
                linkText,
                `${escape}/cwd`,
                made.join(' '), // and not the host's marker
                'file',
                'data',
                '3',
                'character special file 1:3',
              ]);
              assert.deepEqual(readdirSync(path.join(c.b.rootfs, escape)).sort(), made);
            },
          );
        } finally {
          const left = readdirSync(escape).sort();
          await fs.rm(escape, { recursive: true, force: true });
          assert.deepEqual(left, ['marker'], `host dir ${escape} was written to`);
        }
      });
    }
  }

  const PROPAGATION: Array<[string, (optional: string[]) => boolean, string]> = [
    ['private', (o) => o.length === 0, 'no optional fields'],
    ['slave', (o) => o.some((f) => f.startsWith('master:')) && !o.some((f) => f.startsWith('shared:')), 'master:N only'],
    ['shared', (o) => o.some((f) => f.startsWith('shared:')), 'shared:N'],
    ['unbindable', (o) => o.includes('unbindable'), 'unbindable'],
  ];
  for (const [prop, ok, what] of PROPAGATION) {
    test(`rootfsPropagation ${prop}: / shows ${what} in mountinfo (rootfs a shared mount on the host)`, async () => {
      await withBundle({ args: ['cat', '/proc/self/mountinfo'], mutate: (s) => (s.linux.rootfsPropagation = prop) }, async (c) => {
        hostMount(['--bind', c.b.rootfs, c.b.rootfs]);
        c.defer(() => hostUmount(c.b.rootfs));
        hostMount(['--make-shared', c.b.rootfs]);
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const root = mountAt(parseMountinfo(r.stdout), '/');
        assert.ok(root, r.stdout);
        assert.ok(ok(root.optional), `rootfsPropagation ${prop}: optional fields of / are [${root.optional.join(' ')}], want ${what}`);
      });
    });
  }

  for (const prop of ['slave', 'private']) {
    test(`rootfsPropagation ${prop}: a host mount under the rootfs ${prop === 'slave' ? 'reaches' : 'does not reach'} the running container`, async () => {
      await withBundle({ args: ['sleep', '100'], mutate: (s) => (s.linux.rootfsPropagation = prop) }, async (c) => {
        await fs.mkdir(path.join(c.b.rootfs, 'late'));
        hostMount(['--bind', c.b.rootfs, c.b.rootfs]);
        c.defer(() => hostUmount(c.b.rootfs));
        hostMount(['--make-shared', c.b.rootfs]);
        const id = c.id();
        const r = await c.oci(['run', '-d', '--bundle', c.b.dir, id]);
        assert.equal(r.code, 0, show(r));
        try {
          const pid = await statePid(id);
          const late = path.join(c.b.rootfs, 'late');
          hostMount(['-t', 'tmpfs', 'berth-iso-late', late]);
          c.defer(() => hostUmount(late));
          const seen = parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).some((m) => m.mountPoint === '/late');
          assert.equal(seen, prop === 'slave', `host mount at rootfs/late ${seen ? 'propagated' : 'did not propagate'} into the container`);
        } finally {
          await destroy(id);
        }
      });
    });
  }

  test('maskedPaths: masked files read empty, masked dirs are empty and read-only', async () => {
    const kcore = existsSync('/proc/kcore');
    await withBundle(
      {
        args: sh([
          'wc -c < /etc/passwd', 'ls -A /home | wc -l', 'wc -c < /proc/timer_list', 'ls -A /sys/firmware | wc -l',
          'stat -c %t:%T /etc/passwd', 'touch /home/x 2>&1; echo rc=$?',
          kcore ? 'wc -c < /proc/kcore' : 'echo 0',
        ].join('; ')),
        mutate: (s) => {
          s.linux.maskedPaths.push('/etc/passwd', '/home', '/does/not/exist');
        },
      },
      async (c) => {
        assert.ok(readFileSync(path.join(c.b.rootfs, 'etc/passwd'), 'utf8').length > 0);
        assert.ok(readdirSync(path.join(c.b.rootfs, 'home')).length > 0);
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const out = lines(r.stdout);
        assert.equal(out[0], '0', 'masked /etc/passwd reads empty');
        assert.equal(out[1], '0', 'masked /home is empty');
        assert.equal(out[2], '0', 'masked /proc/timer_list reads empty');
        assert.equal(out[3], '0', 'masked /sys/firmware is empty');
        assert.equal(out[4], '1:3', 'a masked file is /dev/null');
        assert.match(r.stdout, /Read-only file system/);
        assert.match(r.stdout, /^rc=1$/m);
        assert.equal(out.at(-1), '0', '/proc/kcore masked');
      },
    );
  });

  test('readonlyPaths: /proc/sys and a rootfs dir are read-only even with CAP_SYS_ADMIN', async () => {
    const script = 'echo changed > /proc/sys/kernel/hostname 2>&1; echo rc=$?; hostname; touch /home/x 2>&1; echo home=$?; touch /tmp/y; echo tmp=$?';
    const withAdmin = (s: any) => {
      for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_SYS_ADMIN');
      s.root.readonly = false;
    };
    await withBundle({ args: sh(script), mutate: (s) => { withAdmin(s); s.linux.readonlyPaths.push('/home'); } }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /^rc=1$/m);
      assert.match(r.stdout, /^berth-test$/m, 'hostname unchanged');
      assert.match(r.stdout, /^home=1$/m, '/home is read-only');
      assert.match(r.stdout, /^tmp=0$/m, 'the rest of the root is writable');
    });
    // control: the same write succeeds without the readonly paths
    await withBundle({ args: sh(script), mutate: (s) => { withAdmin(s); s.linux.readonlyPaths = []; } }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /^rc=0$/m, show(r));
      assert.match(r.stdout, /^changed$/m);
      assert.match(r.stdout, /^home=0$/m);
    });
  });

  test('default devices: char devices with the right numbers and mode, usable', async () => {
    await withBundle(
      {
        args: sh([
          'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a %u:%g" /dev/$d; done',
          'echo x > /dev/null && echo null-ok',
          'head -c 4 /dev/zero | od -An -tx1 | tr -s " "',
          'head -c 16 /dev/urandom | wc -c',
        ].join('; ')),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), [
          '/dev/null character special file 1:3 666 0:0',
          '/dev/zero character special file 1:5 666 0:0',
          '/dev/full character special file 1:7 666 0:0',
          '/dev/random character special file 1:8 666 0:0',
          '/dev/urandom character special file 1:9 666 0:0',
          '/dev/tty character special file 5:0 666 0:0',
          'null-ok',
          ' 00 00 00 00',
          '16',
        ]);
      },
    );
  });

  test('/dev symlinks: fd, stdin, stdout, stderr, ptmx', async () => {
    await withBundle({ args: sh('for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; ls /dev/fd/ | xargs') }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      const out = lines(r.stdout);
      assert.deepEqual(out.slice(0, 5), [
        'fd -> /proc/self/fd', 'stdin -> /proc/self/fd/0', 'stdout -> /proc/self/fd/1', 'stderr -> /proc/self/fd/2', 'ptmx -> pts/ptmx',
      ]);
      assert.match(out[5] ?? '', /^0 1 2\b/, '/dev/fd lists the fds');
    });
  });

  test('linux.devices: nodes with the given type, numbers, mode and owner', async () => {
    await withBundle(
      {
        args: sh('stat -c "%n %F %t:%T %a %u:%g" /dev/fuse /dev/sub/dir/loop9 /dev/mypipe'),
        mutate: (s) => {
          s.linux.devices = [
            { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o640, uid: 1000, gid: 5 },
            { path: '/dev/sub/dir/loop9', type: 'b', major: 7, minor: 9, fileMode: 0o600, uid: 0, gid: 0 },
            { path: '/dev/mypipe', type: 'p', fileMode: 0o620, uid: 1000, gid: 1000 },
          ];
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), [
          '/dev/fuse character special file a:e5 640 1000:5',
          '/dev/sub/dir/loop9 block special file 7:9 600 0:0',
          '/dev/mypipe fifo 0:0 620 1000:1000',
        ]);
      },
    );
  });

  test('sysctl: net.ipv4.ip_forward and kernel.msgmax are set in the container\'s namespaces only', async () => {
    const hostFwd = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const hostMsg = readFileSync('/proc/sys/kernel/msgmax', 'utf8');
    const want = { fwd: hostFwd.trim() === '1' ? '0' : '1', msg: hostMsg.trim() === '4096' ? '4097' : '4096' };
    await withBundle(
      {
        args: sh('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax'),
        mutate: (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': want.fwd, 'kernel.msgmax': want.msg }),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), [want.fwd, want.msg]);
        assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostFwd, 'host ip_forward unchanged');
        assert.equal(readFileSync('/proc/sys/kernel/msgmax', 'utf8'), hostMsg, 'host msgmax unchanged');
      },
    );
  });

  test('oomScoreAdj', async () => {
    await withBundle({ args: ['cat', '/proc/self/oom_score_adj'], mutate: (s) => (s.process.oomScoreAdj = 123) }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout.trim(), '123');
    });
  });
});

describe('process', () => {
  test('args, env and cwd are passed exactly; nothing of the runtime\'s environment leaks', async () => {
    const env = ['PATH=/usr/bin:/bin', 'FOO=bar baz=qux', 'EMPTY=', 'TERM=xterm'];
    await withBundle(
      {
        args: ['/bin/sh', '-c', 'echo "0=$0"; for a in "$@"; do echo "[$a]"; done; echo "FOO=$FOO"; echo "EMPTY=${EMPTY-unset}"; pwd', 'argv0', 'a b', '$HOME', '*', ''],
        mutate: (s) => {
          s.process.env = env;
          s.process.cwd = '/home/berth';
        },
      },
      async (c) => {
        const r = await c.run([], c.id());
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), ['0=argv0', '[a b]', '[$HOME]', '[*]', '[]', 'FOO=bar baz=qux', 'EMPTY=', '/home/berth']);
      },
    );
    await withBundle({ args: ['/usr/bin/env'], mutate: (s) => (s.process.env = env) }, async (c) => {
      const r = await c.run([], c.id());
      assert.equal(r.code, 0, show(r));
      assert.deepEqual(lines(r.stdout), env, 'the environment is exactly process.env');
    });
  });

  test('a missing cwd is created; args[0] is looked up in the container\'s PATH', async () => {
    await withBundle({ args: ['pwd'], mutate: (s) => (s.process.cwd = '/var/lib/app/work') }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, '/var/lib/app/work\n');
    });
    await withBundle({ args: ['echo', 'found'], mutate: (s) => (s.process.env = ['PATH=/nowhere']) }, async (c) => {
      const r = await c.run();
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /executable file not found in \$PATH/);
      assert.equal(r.stdout, '');
    });
  });

  test('user: uid, gid and additionalGids', async () => {
    await withBundle(
      {
        args: sh('id -u; id -g; grep -E "^(Uid|Gid|Groups):" /proc/self/status'),
        mutate: (s) => (s.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 65534] }),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const out = r.stdout;
        assert.deepEqual(lines(out).slice(0, 2), ['1000', '1000']);
        assert.equal(statusField(out, 'Uid'), '1000\t1000\t1000\t1000');
        assert.equal(statusField(out, 'Gid'), '1000\t1000\t1000\t1000');
        assert.deepEqual((statusField(out, 'Groups') ?? '').split(/\s+/).map(Number).sort((a, b) => a - b), [5, 65534]);
      },
    );
  });

  test('umask: the configured one, 0022 by default', async () => {
    await withBundle(
      { args: sh('umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d'), mutate: (s) => { tmpfsTmp(s); s.process.user.umask = 0o027; } },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(lines(r.stdout), ['0027', '640', '750']);
      },
    );
    await withBundle({ args: sh('umask') }, async (c) => {
      const r = await c.run();
      assert.equal(r.stdout.trim(), '0022', show(r));
    });
  });

  test('rlimits: NOFILE soft 512 hard 1024', async () => {
    await withBundle(
      {
        args: sh('ulimit -n; ulimit -Hn; grep "Max open files" /proc/self/limits; grep "Max core file size" /proc/self/limits'),
        mutate: (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }]),
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const out = lines(r.stdout);
        assert.deepEqual(out.slice(0, 2), ['512', '1024']);
        assert.match(out[2] ?? '', /^Max open files\s+512\s+1024\s+files/);
        assert.match(out[3] ?? '', /^Max core file size\s+0\s+0\s+bytes/);
      },
    );
  });

  test('rlimits: a hard limit above what the machine allows fails clearly', async () => {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
    const want = Number.isFinite(hard) ? hard + 20000 : 40000;
    await withBundle({ args: sh('ulimit -Hn'), mutate: (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: want, hard: want }]) }, async (c) => {
      const id = c.id();
      const r = await c.run([], id);
      if (r.code === 0) {
        // a machine that can raise hard limits (CAP_SYS_RESOURCE): then it must have been raised
        assert.equal(r.stdout.trim(), String(want), show(r));
        return;
      }
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /rlimit/i, `the error names the rlimit step: ${r.stderr}`);
      assert.ok(r.stderr.includes(String(want)), `the error shows the value asked for: ${r.stderr}`);
      assert.match(r.stderr, /Operation not permitted/, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const list = await oci(['list', '-q']);
      assert.ok(!lines(list.stdout).includes(id), 'no container left behind');
    });
  });

  test('exit status: the container\'s exit code; 128+N when killed by signal N', async () => {
    await withBundle({ args: sh('exit "$CODE"') }, async (c) => {
      for (const code of [0, 1, 3, 42, 255]) {
        c.b.config.process.env = [...c.b.config.process.env.filter((e: string) => !e.startsWith('CODE=')), `CODE=${code}`];
        await fs.writeFile(path.join(c.b.dir, 'config.json'), JSON.stringify(c.b.config));
        const r = await c.run();
        assert.equal(r.code, code, show(r));
      }
    });
    // without a pid namespace the program is not a pid-1 init and dies of SIGTERM
    await withBundle({ args: sh('kill -TERM $$; sleep 5'), mutate: (s) => namespaces(s, ALL_NS.filter((t) => t !== 'pid')) }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 128 + 15, show(r));
    });
  });

  test('terminal: --console-socket receives the pty master; the container sees a tty', async () => {
    await withBundle(
      {
        args: sh('tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; stty size; stat -c %t:%T /dev/console; read line; echo "got:$line"'),
        mutate: (s) => {
          s.process.terminal = true;
          s.process.consoleSize = { height: 33, width: 101 };
        },
      },
      async (c) => {
        const script = path.join(c.b.dir, 'console.py');
        await fs.writeFile(script, CONSOLE_RECEIVER);
        const sock = path.join(c.b.dir, 'console.sock');
        const py = spawn('python3', [script, sock, 'hello-from-master\n'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let pyOut = '';
        let pyErr = '';
        py.stdout.setEncoding('utf8').on('data', (d: string) => (pyOut += d));
        py.stderr.setEncoding('utf8').on('data', (d: string) => (pyErr += d));
        const pyDone = new Promise<number | null>((res) => py.on('close', (code) => res(code)));
        try {
          for (let i = 0; i < 200 && !pyOut.includes('ready\n'); i++) await new Promise((res) => setTimeout(res, 25));
          assert.ok(pyOut.includes('ready\n'), `console receiver did not start: ${pyErr}`);
          const r = await c.run(['--console-socket', sock]);
          assert.equal(r.code, 0, show(r));
          assert.equal(r.stdout, '', 'the output goes to the pty, not to run\'s stdout');
          const code = await Promise.race([pyDone, new Promise<string>((res) => setTimeout(() => res('timeout'), 5000))]);
          assert.equal(code, 0, `console receiver: ${code}\n${pyErr}\n${pyOut}`);
          const got = pyOut.replace(/\r/g, '');
          assert.match(got, /^NAME:\/dev\/ptmx$/m);
          assert.match(got, /^\/dev\/pts\/0$/m);
          assert.match(got, /^stdin-tty$/m);
          assert.match(got, /^stdout-tty$/m);
          assert.match(got, /^33 101$/m, 'consoleSize');
          assert.match(got, /^88:0$/m, '/dev/console is the pty (136:0)');
          assert.match(got, /^got:hello-from-master$/m, 'input written to the master reaches the container');
        } finally {
          py.kill('SIGKILL');
        }
      },
    );
  });
});

// Receives the pty master over the console socket (SCM_RIGHTS), writes argv[2] to it,
// and prints everything the container writes until the last slave fd is closed.
const CONSOLE_RECEIVER = String.raw`
import os, socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(20)
print("ready", flush=True)
conn, _ = srv.accept()
msg, fds, flags, addr = socket.recv_fds(conn, 4096, 1)
if len(fds) != 1:
    sys.stderr.write("no fd received\n")
    sys.exit(2)
master = fds[0]
print("NAME:" + msg.decode(), flush=True)
if len(sys.argv) > 2:
    os.write(master, sys.argv[2].encode())
out = b""
while True:
    try:
        d = os.read(master, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
sys.stdout.flush()
`;

describe('security', () => {
  test('capabilities as root: the five sets are the configured masks', async () => {
    const X = bit(CAP.CHOWN) | bit(CAP.KILL) | bit(CAP.NET_BIND_SERVICE);
    const Y = bit(CAP.NET_BIND_SERVICE);
    await withBundle(
      {
        args: sh('touch /tmp/f; grep -E "^Cap" /proc/self/status; cat /home/berth/secret 2>&1; chown 1000 /tmp/f && echo chown-ok'),
        mutate: (s) => {
          tmpfsTmp(s);
          s.process.capabilities = {
            bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            effective: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            inheritable: ['CAP_NET_BIND_SERVICE'],
            ambient: ['CAP_NET_BIND_SERVICE'],
          };
        },
      },
      async (c) => {
        const secret = path.join(c.b.rootfs, 'home/berth/secret');
        await fs.writeFile(secret, 'secret\n', { mode: 0o600 });
        await fs.chown(secret, 1000, 1000);
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const s = r.stdout;
        assert.equal(statusField(s, 'CapBnd'), capHex(X), 'CapBnd');
        assert.equal(statusField(s, 'CapPrm'), capHex(X), 'CapPrm');
        assert.equal(statusField(s, 'CapEff'), capHex(X), 'CapEff');
        assert.equal(statusField(s, 'CapInh'), capHex(Y), 'CapInh');
        assert.equal(statusField(s, 'CapAmb'), capHex(Y), 'CapAmb');
        assert.match(s, /Permission denied/, 'no CAP_DAC_OVERRIDE: another user\'s 0600 file is unreadable');
        assert.match(s, /^chown-ok$/m, 'CAP_CHOWN works');
      },
    );
  });

  test('capabilities as a non-root user: ambient caps survive exec, the bounding set is exact', async () => {
    await withBundle(
      {
        args: sh('grep -E "^Cap" /proc/self/status'),
        mutate: (s) => {
          s.process.user = { uid: 1000, gid: 1000 };
          s.process.capabilities = {
            bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
            inheritable: ['CAP_NET_BIND_SERVICE'],
            ambient: ['CAP_NET_BIND_SERVICE'],
          };
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const s = r.stdout;
        const nbs = capHex(bit(CAP.NET_BIND_SERVICE));
        assert.equal(statusField(s, 'CapBnd'), capHex(bit(CAP.CHOWN) | bit(CAP.KILL) | bit(CAP.NET_BIND_SERVICE)), 'CapBnd');
        assert.equal(statusField(s, 'CapInh'), nbs, 'CapInh');
        assert.equal(statusField(s, 'CapAmb'), nbs, 'CapAmb');
        // after execve a non-root process keeps only its ambient capabilities
        assert.equal(statusField(s, 'CapPrm'), nbs, 'CapPrm');
        assert.equal(statusField(s, 'CapEff'), nbs, 'CapEff');
      },
    );
  });

  test('noNewPrivileges: NoNewPrivs 1 when true, 0 when false', async () => {
    for (const nnp of [true, false]) {
      await withBundle({ args: ['grep', '^NoNewPrivs:', '/proc/self/status'], mutate: (s) => (s.process.noNewPrivileges = nnp) }, async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.equal(statusField(r.stdout, 'NoNewPrivs'), nnp ? '1' : '0');
      });
    }
  });

  const seccomp = (syscalls: unknown[], defaultAction = 'SCMP_ACT_ALLOW') => ({
    defaultAction,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  });

  for (const nnp of [true, false]) {
    test(`seccomp ERRNO (EPERM) on mkdir, noNewPrivileges ${nnp}: "Operation not permitted", Seccomp: 2`, async () => {
      await withBundle(
        {
          args: sh('grep -E "^Seccomp(_filters)?:" /proc/self/status; mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/f && echo touch-ok'),
          mutate: (s) => {
            tmpfsTmp(s);
            s.process.noNewPrivileges = nnp;
            s.linux.seccomp = seccomp([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
          },
        },
        async (c) => {
          const r = await c.run();
          assert.equal(r.code, 0, show(r));
          assert.equal(statusField(r.stdout, 'Seccomp'), '2', 'filter mode');
          assert.match(r.stdout, /mkdir: can't create directory '\/tmp\/x': Operation not permitted/);
          assert.match(r.stdout, /^rc=1$/m);
          assert.match(r.stdout, /^touch-ok$/m, 'other syscalls are allowed');
        },
      );
    });
  }

  test('seccomp ERRNO 38: "Function not implemented"', async () => {
    await withBundle(
      {
        args: sh('mkdir /tmp/x 2>&1; echo rc=$?'),
        mutate: (s) => {
          tmpfsTmp(s);
          s.linux.seccomp = seccomp([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /Function not implemented/);
        assert.match(r.stdout, /^rc=1$/m);
      },
    );
  });

  test('seccomp argument conditions: chmod 777 (EQ) and setuid bits (MASKED_EQ) are refused, chmod 755 is not', async () => {
    await withBundle(
      {
        args: sh('touch /tmp/f; chmod 777 /tmp/f 2>&1; echo eq=$?; chmod 4755 /tmp/f 2>&1; echo masked=$?; chmod 755 /tmp/f; echo ok=$?; stat -c %a /tmp/f'),
        mutate: (s) => {
          tmpfsTmp(s);
          s.linux.seccomp = seccomp([
            { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0o777, op: 'SCMP_CMP_EQ' }] },
            { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 2, value: 0o777, op: 'SCMP_CMP_EQ' }] },
            { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
            { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 2, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
          ]);
        },
      },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 0, show(r));
        const out = r.stdout;
        assert.match(out, /Operation not permitted/);
        assert.match(out, /^eq=1$/m);
        assert.match(out, /Permission denied/);
        assert.match(out, /^masked=1$/m);
        assert.match(out, /^ok=0$/m);
        assert.match(out, /^755$/m);
      },
    );
  });

  test('seccomp SCMP_ACT_KILL: the process dies of SIGSYS (exit 159)', async () => {
    const rules = [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL' }];
    await withBundle({ args: ['/bin/mkdir', '/tmp/x'], mutate: (s) => { tmpfsTmp(s); s.linux.seccomp = seccomp(rules); } }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 128 + 31, show(r));
      assert.equal(r.stdout, '');
    });
    await withBundle({ args: sh('echo before; mkdir /tmp/x; echo "after=$?"'), mutate: (s) => { tmpfsTmp(s); s.linux.seccomp = seccomp(rules); } }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      assert.deepEqual(lines(r.stdout), ['before', 'after=159'], 'only the mkdir child was killed');
    });
    await withBundle(
      { args: ['/bin/mkdir', '/tmp/x'], mutate: (s) => { tmpfsTmp(s); s.linux.seccomp = seccomp([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }]); } },
      async (c) => {
        const r = await c.run();
        assert.equal(r.code, 128 + 31, show(r));
      },
    );
  });

  test('no fd of the runtime leaks into the container', async () => {
    await withBundle({ args: ['/bin/ls', '/proc/self/fd'] }, async (c) => {
      const r = await c.run();
      assert.equal(r.code, 0, show(r));
      // 0, 1, 2 and the directory ls itself opened
      assert.deepEqual(lines(r.stdout), ['0', '1', '2', '3']);
    });
  });

  test('--preserve-fds 1: fd 3 reaches the container, nothing else', async () => {
    // ls reports its own fds: 0-3 and the one it opened to read /proc/self/fd (a shell listing
    // itself is unreliable: it holds pipe and saved-redirection fds of its own for a while)
    await withBundle({ args: sh('cat <&3; exec ls -l /proc/self/fd/') }, async (c) => {
      const file = path.join(c.b.dir, 'passed');
      await fs.writeFile(file, 'through fd 3\n');
      const fd = openSync(file, 'r');
      try {
        const id = c.id();
        const r = await runWithFds(['run', '--preserve-fds', '1', '--bundle', c.b.dir, id], [fd], c.tag);
        assert.equal(r.code, 0, show(r));
        const out = lines(r.stdout);
        assert.equal(out[0], 'through fd 3');
        const fds = new Map(out.slice(1).map((l) => l.match(/ (\d+) -> (.*)$/)).filter((m): m is RegExpMatchArray => !!m).map((m) => [Number(m[1]), m[2]!]));
        for (const n of [0, 1, 2, 3]) assert.ok(fds.has(n), `fd ${n} missing: ${show(r)}`);
        assert.match(fds.get(3)!, /passed$/, 'fd 3 is the preserved file');
        for (const [n, target] of fds) {
          if (n > 3) assert.match(target, /^\/proc\/\d+\/fd$/, `fd ${n} -> ${target} leaked into the container`);
        }
      } finally {
        closeSync(fd);
      }
    });
  });

  test('CVE-2019-5736: before start the init runs from a sealed memfd that cannot be written', async () => {
    await withBundle({ args: ['sleep', '100'] }, async (c) => {
      const id = c.id();
      const r = await c.oci(['create', '--bundle', c.b.dir, id]);
      assert.equal(r.code, 0, show(r));
      try {
        const pid = await statePid(id);
        const exe = readlinkSync(`/proc/${pid}/exe`);
        assert.match(exe, /^\/memfd:berth-init/, `the created init's exe: ${exe}`);
        let wrote = false;
        try {
          const fd = openSync(`/proc/${pid}/exe`, 'r+');
          try {
            writeSync(fd, 'x', 0);
            wrote = true;
          } finally {
            closeSync(fd);
          }
        } catch (e) {
          assert.match((e as NodeJS.ErrnoException).code ?? '', /ETXTBSY|EPERM|EACCES/);
        }
        assert.equal(wrote, false, 'the helper binary must not be writable');
        const s = await c.oci(['start', id]);
        assert.equal(s.code, 0, show(s));
        let after = exe;
        for (let i = 0; i < 100 && after.startsWith('/memfd:'); i++) {
          await new Promise((res) => setTimeout(res, 10));
          after = readlinkSync(`/proc/${pid}/exe`);
        }
        assert.match(after, /\/bin\/busybox$/, 'after start the init is the container\'s program');
      } finally {
        await destroy(id);
      }
    });
  });
});

/** Runs berth-oci with `fds` passed as its fds 3, 4, ... */
function runWithFds(args: string[], fds: number[], tag: string): Promise<OciResult> {
  const [k = '', v = ''] = tag.split('=');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BERTH_OCI, '--root', DEFAULT_OCI_ROOT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', ...fds],
      env: { ...process.env, [k]: v },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

after(() => {
  // nothing of this file's containers may remain in the test runtime's root
  const left = existsSync(DEFAULT_OCI_ROOT)
    ? readdirSync(DEFAULT_OCI_ROOT).filter((e) => e.startsWith(`iso${process.pid}-`) || e.startsWith(`first${process.pid}-`))
    : [];
  assert.deepEqual(left, [], 'containers left in the state root');
});
