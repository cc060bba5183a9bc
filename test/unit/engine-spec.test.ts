import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { buildSpec, mergeImageConfig, type BuildSpecInput } from '../../src/engine/spec/create.ts';
import { DOCKER_DEFAULT_CAPS } from '../../src/engine/spec/defaults.ts';
import { parseBind, mergeTmpfsOptions } from '../../src/engine/spec/mounts.ts';
import { tweakCapabilities, parseSecurityOpts } from '../../src/engine/spec/security.ts';
import { defaultProfile, resolveProfile } from '../../src/engine/spec/seccomp-default.ts';
import { ramInBytes, fromHumanSize, parseUlimit } from '../../src/engine/spec/units.ts';
import { InvalidParameterError } from '../../src/engine/errors.ts';
import { CAPABILITIES } from '../../src/runtime/caps.ts';

const ALL_CAPS = [...CAPABILITIES.keys()];

const ID = 'ab12cd34ef56'.padEnd(64, '0');
let rootfs: string;

before(async () => {
  rootfs = await fs.mkdtemp(path.join(os.tmpdir(), 'h9-spec-'));
  await fs.mkdir(path.join(rootfs, 'etc'));
  await fs.writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n');
  await fs.writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nweb:x:1000:\nstaff:x:50:web\naudio:x:29:\n');
  await fs.symlink('/etc', path.join(rootfs, 'link-out')); // an image symlink that must stay inside
});
after(async () => {
  await fs.rm(rootfs, { recursive: true, force: true });
});

function input(over: Partial<BuildSpecInput> = {}): BuildSpecInput {
  return {
    id: ID,
    image: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin', 'IMG=1'] },
    config: {},
    hostConfig: {},
    rootfs,
    host: { cgroupV2: true, ncpu: 2, kernel: '6.1.0', arch: 'amd64', capabilities: ALL_CAPS },
    ...over,
  };
}

const rejects = (p: Promise<unknown>, msg: string | RegExp) =>
  assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof InvalidParameterError, `${e.name}: ${e.message}`);
    if (typeof msg === 'string') assert.equal(e.message, msg);
    else assert.match(e.message, msg);
    return true;
  });

describe('docker defaults', () => {
  test('the 14 default capabilities, in bounding, effective and permitted', async () => {
    assert.deepEqual([...DOCKER_DEFAULT_CAPS].sort(), [
      'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
      'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
    ]);
    const { spec } = await buildSpec(input());
    for (const set of ['bounding', 'effective', 'permitted'] as const) assert.deepEqual(spec.process!.capabilities![set], DOCKER_DEFAULT_CAPS);
  });

  test('mounts, masked and read-only paths, namespaces, device rules, hostname', async () => {
    const { spec, stopSignal } = await buildSpec(input());
    assert.deepEqual(spec.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
    assert.ok(spec.mounts!.find((m) => m.destination === '/dev/shm')!.options!.includes('size=67108864'));
    assert.ok(spec.mounts!.find((m) => m.destination === '/sys')!.options!.includes('ro'));
    assert.ok(spec.linux!.maskedPaths!.includes('/proc/kcore') && spec.linux!.maskedPaths!.includes('/sys/firmware'));
    assert.ok(spec.linux!.readonlyPaths!.includes('/proc/sys'));
    assert.deepEqual(spec.linux!.namespaces!.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    assert.deepEqual(spec.linux!.resources!.devices![0], { allow: false, access: 'rwm' });
    assert.equal(spec.hostname, ID.slice(0, 12));
    assert.equal(spec.process!.rlimits, undefined);
    assert.equal(stopSignal, 'SIGTERM');
    assert.ok(spec.linux!.seccomp);
  });

  test('cgroup v1 hosts keep the host cgroup namespace, as docker does', async () => {
    const { spec } = await buildSpec(input({ host: { cgroupV2: false, ncpu: 2, capabilities: ALL_CAPS } }));
    assert.ok(!spec.linux!.namespaces!.some((n) => n.type === 'cgroup'));
  });

  test('env: PATH, HOSTNAME, TERM with -t, image env merged under -e', async () => {
    const { spec } = await buildSpec(input({ config: { Tty: true, Env: ['IMG=2', 'X=y'] } }));
    assert.deepEqual(spec.process!.env, ['PATH=/usr/bin:/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'TERM=xterm', 'IMG=2', 'X=y']);
    assert.equal(spec.process!.terminal, true);
  });
});

describe('entrypoint and cmd', () => {
  test('image entrypoint + cmd; args replace cmd', () => {
    assert.deepEqual(mergeImageConfig({}, { Entrypoint: ['/ep'], Cmd: ['a'] }).Cmd, ['a']);
    const c = mergeImageConfig({ Cmd: ['b'] }, { Entrypoint: ['/ep'], Cmd: ['a'] });
    assert.deepEqual([c.Entrypoint, c.Cmd], [['/ep'], ['b']]);
  });
  test('--entrypoint resets the image cmd', async () => {
    const { spec, path: p, args } = await buildSpec(input({ image: { Cmd: ['img-cmd'] }, config: { Entrypoint: ['/bin/echo'] } }));
    assert.deepEqual(spec.process!.args, ['/bin/echo']);
    assert.deepEqual([p, args], ['/bin/echo', []]);
  });
  test('--entrypoint "" clears it; no command is docker\'s error', async () => {
    const c = mergeImageConfig({ Entrypoint: [''], Cmd: ['ls'] }, { Entrypoint: ['/ep'], Cmd: ['x'] });
    assert.deepEqual([c.Entrypoint, c.Cmd], [null, ['ls']]);
    await rejects(buildSpec(input({ image: {}, config: {} })), 'No command specified');
    await rejects(buildSpec(input({ image: { Cmd: ['x'] }, config: { Entrypoint: [''] } })), 'No command specified');
  });
});

describe('user', () => {
  test('names, numbers and groups resolve against the rootfs', async () => {
    assert.deepEqual((await buildSpec(input({ config: { User: 'web' } }))).spec.process!.user, { uid: 1000, gid: 1000, additionalGids: [1000, 50] });
    assert.deepEqual((await buildSpec(input({ config: { User: '1234:audio' } }))).spec.process!.user, { uid: 1234, gid: 29, additionalGids: [29] });
    assert.deepEqual((await buildSpec(input({ image: { Cmd: ['sh'], User: '1000' } }))).spec.process!.user, { uid: 1000, gid: 1000, additionalGids: [1000, 50] });
  });
  test('unknown names: docker\'s messages', async () => {
    await rejects(buildSpec(input({ config: { User: 'nobody' } })), 'unable to find user nobody: no matching entries in passwd file');
    await rejects(buildSpec(input({ config: { User: 'web:nogroup' } })), 'unable to find group nogroup: no matching entries in group file');
  });
  test('workdir is created inside the rootfs, through image symlinks scoped to it', async () => {
    await buildSpec(input({ config: { WorkingDir: '/link-out/h9-made' } }));
    await fs.access(path.join(rootfs, 'etc/h9-made'));
    await assert.rejects(fs.access('/etc/h9-made'));
  });
});

describe('capabilities and security options', () => {
  test('cap-add/cap-drop with and without CAP_, ALL', () => {
    assert.deepEqual(tweakCapabilities(['net_admin'], ['CAP_CHOWN', 'mknod'], false, ALL_CAPS),
      [...DOCKER_DEFAULT_CAPS.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_MKNOD'), 'CAP_NET_ADMIN']);
    assert.deepEqual(tweakCapabilities(['KILL'], ['ALL'], false, ALL_CAPS), ['CAP_KILL']);
    assert.equal(tweakCapabilities(['ALL'], ['SYS_ADMIN'], false, ALL_CAPS).length, 40);
    assert.equal(tweakCapabilities([], [], true, ALL_CAPS).length, 41);
  });
  test('unknown capability', async () => {
    await rejects(buildSpec(input({ hostConfig: { CapAdd: ['FOO'] } })), 'unknown capability: "CAP_FOO"');
  });
  test('security-opt', () => {
    assert.deepEqual(parseSecurityOpts(['no-new-privileges', 'seccomp=unconfined']), { noNewPrivileges: true, seccomp: 'unconfined' });
    assert.throws(() => parseSecurityOpts(['bogus']), /invalid --security-opt 1: "bogus"/);
    assert.throws(() => parseSecurityOpts(['foo=bar']), /invalid --security-opt 2: "foo=bar"/);
  });
  test('privileged: all caps, no seccomp, no masked paths, /sys rw, all devices', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { Privileged: true } }));
    assert.equal(spec.process!.capabilities!.bounding!.length, 41);
    assert.equal(spec.linux!.seccomp, undefined);
    assert.equal(spec.linux!.maskedPaths, undefined);
    assert.ok(!spec.mounts!.find((m) => m.destination === '/sys')!.options!.includes('ro'));
    assert.deepEqual(spec.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(spec.linux!.devices!.some((d) => d.path === '/dev/null'));
  });
});

describe('default seccomp profile', () => {
  const names = (sc: ReturnType<typeof resolveProfile>) => new Set(sc.syscalls!.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
  test('default EPERM; mount/reboot/keyctl/bpf/unshare not allowed; clone3 ENOSYS', () => {
    const sc = resolveProfile(defaultProfile(), { caps: DOCKER_DEFAULT_CAPS, arch: 'amd64', kernel: '6.1.0' });
    assert.equal(sc.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(sc.defaultErrnoRet, 1);
    assert.deepEqual(sc.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const allowed = names(sc);
    for (const n of ['mount', 'umount2', 'reboot', 'kexec_load', 'keyctl', 'add_key', 'request_key', 'bpf', 'unshare', 'setns', 'init_module', 'clock_settime']) {
      assert.ok(!allowed.has(n), `${n} must not be allowed`);
    }
    for (const n of ['read', 'execve', 'chroot', 'ptrace', 'arch_prctl']) assert.ok(allowed.has(n), `${n} must be allowed`);
    assert.deepEqual(sc.syscalls!.find((s) => s.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    const clone = sc.syscalls!.find((s) => s.names.includes('clone'))!;
    assert.equal(clone.args![0]!.op, 'SCMP_CMP_MASKED_EQ');
    assert.equal(clone.args![0]!.value, 0x7e020000);
  });
  test('ptrace only from kernel 4.8; capabilities lift their syscalls', () => {
    assert.ok(!names(resolveProfile(defaultProfile(), { caps: DOCKER_DEFAULT_CAPS, arch: 'amd64', kernel: '4.4.0' })).has('ptrace'));
    const admin = resolveProfile(defaultProfile(), { caps: [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_TIME'], arch: 'amd64', kernel: '6.1' });
    const allowed = names(admin);
    for (const n of ['mount', 'unshare', 'clone', 'clone3', 'clock_settime']) assert.ok(allowed.has(n), n);
    assert.ok(!admin.syscalls!.some((s) => s.action === 'SCMP_ACT_ERRNO'));
  });
  test('seccomp=unconfined drops the filter', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { SecurityOpt: ['seccomp=unconfined', 'no-new-privileges'] } }));
    assert.equal(spec.linux!.seccomp, undefined);
    assert.equal(spec.process!.noNewPrivileges, true);
  });
  test('seccomp=<profile JSON> in docker\'s format', async () => {
    const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }, { name: 'mkdir', action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } }] });
    const { spec } = await buildSpec(input({ hostConfig: { SecurityOpt: [`seccomp=${profile}`] } }));
    assert.deepEqual(spec.linux!.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] });
    await rejects(buildSpec(input({ hostConfig: { SecurityOpt: ['seccomp={"syscalls":[]}'] } })), /defaultAction/);
  });
});

describe('mounts', () => {
  test('-v binds, ro, volumes by destination, tmpfs, etc files; sorted by depth', async () => {
    const src = path.join(rootfs, 'h9-bind-src');
    const { spec, mountPoints } = await buildSpec(input({
      hostConfig: { Binds: [`${src}:/data/sub:ro`, 'named:/vol', '/anon'], Tmpfs: { '/run': 'size=1m,exec' }, Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 2 * 1024 * 1024, Mode: 0o700 } }] },
      volumes: { '/vol': '/var/lib/x/named', '/anon': '/var/lib/x/anon' },
      etcFiles: { hosts: '/h/hosts', hostname: '/h/hostname', resolvConf: '/h/resolv.conf' },
    }));
    await fs.access(src); // -v makes a missing source
    const own = spec.mounts!.slice(7);
    assert.deepEqual(own.map((m) => m.destination), ['/vol', '/anon', '/t', '/run', '/data/sub', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts']);
    assert.deepEqual(own[4], { destination: '/data/sub', type: 'bind', source: src, options: ['rbind', 'ro', 'rprivate'] });
    assert.deepEqual(own[0], { destination: '/vol', type: 'bind', source: '/var/lib/x/named', options: ['rbind'] });
    assert.deepEqual(own[3]!.options, ['nosuid', 'nodev', 'rprivate', 'size=1m', 'exec']);
    assert.deepEqual(own[2]!.options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=700', 'size=2m']);
    assert.deepEqual(mountPoints.map((m) => [m.type, m.source]), [['bind', src], ['volume', 'named'], ['volume', ''], ['tmpfs', 'tmpfs'], ['tmpfs', 'tmpfs']]);
  });
  test('docker\'s messages for bad specs', async () => {
    assert.throws(() => parseBind('a:b:c:d'), /^InvalidParameterError: invalid volume specification: 'a:b:c:d'$/);
    assert.throws(() => parseBind('/a:/b:xx'), /invalid mode: xx/);
    assert.throws(() => parseBind('/a:rel'), /invalid mount path: 'rel' mount path must be absolute/);
    assert.throws(() => parseBind('bad name!:/x'), /includes invalid characters for a local volume name/);
    assert.throws(() => mergeTmpfsOptions(['bogus']), /Invalid tmpfs option \["bogus"\]/);
    await rejects(buildSpec(input({ hostConfig: { Binds: ['/a:/x', '/b:/x'] } })), 'Duplicate mount point: /x');
    await rejects(buildSpec(input({ hostConfig: { Mounts: [{ Type: 'bind', Source: '/nonexistent-h9', Target: '/x' }] } })),
      'invalid mount config for type "bind": bind source path does not exist: /nonexistent-h9');
  });
  test('read-only rootfs: ro on /sys etc., not on /dev, /proc or user mounts', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { ReadonlyRootfs: true, Tmpfs: { '/tmp': '' } } }));
    assert.equal(spec.root!.readonly, true);
    const opts = (d: string) => spec.mounts!.find((m) => m.destination === d)!.options!;
    assert.ok(opts('/dev/mqueue').every((o) => o !== 'ro'));
    assert.ok(opts('/tmp').every((o) => o !== 'ro'));
    assert.ok(opts('/sys/fs/cgroup').includes('ro'));
  });
});

describe('resources, devices, namespaces, init', () => {
  test('memory, swap default 2x, cpus, shares, cpuset, pids, ulimits', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { Memory: 512 * 1024 * 1024, NanoCpus: 1.5e9, CpuShares: 512, CpusetCpus: '0-1', PidsLimit: 100, Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] } }));
    const r = spec.linux!.resources!;
    assert.deepEqual(r.memory, { limit: 536870912, swap: 1073741824 });
    assert.deepEqual(r.cpu, { shares: 512, cpus: '0-1', period: 100000, quota: 150000 });
    assert.deepEqual(r.pids, { limit: 100 });
    assert.deepEqual(spec.process!.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }]);
    const unlimitedSwap = await buildSpec(input({ hostConfig: { Memory: 64 << 20, MemorySwap: -1 } }));
    assert.deepEqual(unlimitedSwap.spec.linux!.resources!.memory, { limit: 64 << 20 });
  });
  test('docker\'s resource errors', async () => {
    await rejects(buildSpec(input({ hostConfig: { Memory: 1024 } })), 'Minimum memory limit allowed is 6MB');
    await rejects(buildSpec(input({ hostConfig: { Memory: 64 << 20, MemorySwap: 32 << 20 } })), 'Minimum memoryswap limit should be larger than memory limit, see usage');
    await rejects(buildSpec(input({ hostConfig: { MemorySwap: 64 << 20 } })), 'You should always set the Memory limit when using Memoryswap limit, see usage');
    await rejects(buildSpec(input({ hostConfig: { NanoCpus: 3e9 } })), 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  });
  test('--device: the node and its cgroup rule, docker\'s errors', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/h9null', CgroupPermissions: 'rw' }] } }));
    assert.deepEqual(spec.linux!.devices, [{ type: 'c', path: '/dev/h9null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual(spec.linux!.resources!.devices!.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
    await rejects(buildSpec(input({ hostConfig: { Devices: [{ PathOnHost: '/dev/nope-h9', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }] } })), /error gathering device information while adding custom device "\/dev\/nope-h9"/);
    await rejects(buildSpec(input({ hostConfig: { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/x', CgroupPermissions: 'rwx' }] } })), 'invalid device mode: rwx');
  });
  test('network/pid/ipc modes', async () => {
    const types = async (hc: BuildSpecInput['hostConfig'], join?: BuildSpecInput['joinNamespaces']) =>
      (await buildSpec(input({ hostConfig: hc, joinNamespaces: join }))).spec.linux!.namespaces!;
    assert.ok(!(await types({ NetworkMode: 'host', PidMode: 'host', IpcMode: 'host' })).some((n) => ['network', 'pid', 'ipc'].includes(n.type)));
    assert.deepEqual((await types({ NetworkMode: 'container:web' }, { network: '/proc/42/ns/net' })).find((n) => n.type === 'network'), { type: 'network', path: '/proc/42/ns/net' });
    assert.ok((await types({ NetworkMode: 'none' })).some((n) => n.type === 'network' && !n.path));
    const noShm = await buildSpec(input({ hostConfig: { IpcMode: 'none' } }));
    assert.ok(!noShm.spec.mounts!.some((m) => m.destination === '/dev/shm'));
  });
  test('--init: tini at /sbin/docker-init, read-only, before the command with --', async () => {
    const { spec } = await buildSpec(input({ hostConfig: { Init: true } }));
    assert.deepEqual(spec.process!.args, ['/sbin/docker-init', '--', 'sh']);
    assert.deepEqual(spec.mounts!.at(-1), { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
    const hostPid = await buildSpec(input({ hostConfig: { Init: true, PidMode: 'host' } }));
    assert.deepEqual(hostPid.spec.process!.args, ['sh']);
  });
  test('stop signal from the image or the container, checked', async () => {
    assert.equal((await buildSpec(input({ image: { Cmd: ['sh'], StopSignal: 'SIGQUIT' } }))).stopSignal, 'SIGQUIT');
    await rejects(buildSpec(input({ config: { StopSignal: 'SIGFOO' } })), 'Invalid signal: SIGFOO');
  });
});

describe('sizes and ulimits', () => {
  test('docker\'s size strings', () => {
    assert.equal(ramInBytes('512m'), 512 * 1024 * 1024);
    assert.equal(ramInBytes('1g'), 1 << 30);
    assert.equal(ramInBytes('1.5GB'), 1.5 * (1 << 30));
    assert.equal(ramInBytes('100'), 100);
    assert.equal(fromHumanSize('10m'), 10_000_000);
    assert.throws(() => ramInBytes('12q'), (e: Error) => e instanceof InvalidParameterError && e.message === "invalid size: '12q'");
    assert.throws(() => ramInBytes(''), /invalid size: ''/);
  });
  test('ulimits', () => {
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
    assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
    assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit type: bogus/);
    assert.throws(() => parseUlimit('nofile=2:1'), /ulimit soft limit must be less than or equal to hard limit: 2 > 1/);
  });
});
