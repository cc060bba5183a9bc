// berth explain's text (src/cli/explain-format.ts) from a fixed answer, and the readers explain
// uses on the kernel's text (overlay options in both forms the kernel shows, capability masks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatExplanation } from '../../src/cli/explain-format.ts';
import { capNames, overlayDirs, parseMountInfo, statusCaps } from '../../src/engine/containers/explain-proc.ts';
import type { Explanation } from '../../src/engine/containers/explain-types.ts';

const ID = 'ab'.repeat(32);
const L0 = '/d/snapshot/snapshots/1111/fs';
const L1 = '/d/snapshot/snapshots/2222/fs';
const nolimits = { memoryBytes: null, memorySwapBytes: null, cpuQuotaUs: null, cpuPeriodUs: null, cpuShares: null, pids: null, cpusetCpus: null, cpusetMems: null };

function sample(over: Partial<Explanation> = {}): Explanation {
  return {
    id: ID, name: 'web', status: 'running', pid: 4242, exitCode: null, created: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:01Z',
    finishedAt: '0001-01-01T00:00:00Z', live: true,
    startup: {
      create: [{ name: 'image', ms: 1.5 }, { name: 'overlay', ms: 20 }], start: [{ name: 'runtimeCreate', ms: 40 }], createMs: 21.5, startMs: 40,
      startToExecMs: 38.25, createToExecMs: 80,
    },
    steps: {
      image: {
        step: 1, title: 'Pull image layers', tookMs: 3.25, requested: 'busybox', name: 'docker.io/library/busybox:latest', id: `sha256:${'c'.repeat(64)}`,
        manifestDigest: `sha256:${'d'.repeat(64)}`,
        layers: [
          { index: 0, digest: `sha256:${'e'.repeat(64)}`, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', compressedSize: 1048576, diffId: `sha256:${'1'.repeat(64)}`, chainId: `sha256:${'1'.repeat(64)}`, dir: L0, size: 2097152, present: true },
          { index: 1, digest: `sha256:${'f'.repeat(64)}`, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', compressedSize: 138, diffId: `sha256:${'3'.repeat(64)}`, chainId: `sha256:${'2'.repeat(64)}`, dir: L1, size: 4, present: true },
        ],
      },
      directory: { step: 2, title: 'Create container directory', tookMs: 1, dir: `/d/containers/${ID}`, bundle: `/d/containers/${ID}/bundle`, configJson: `/d/containers/${ID}/bundle/config.json`, logPath: `/d/containers/${ID}/${ID}-json.log`, runDir: '/run/berth/containers/abab', runtimeStateDir: `/run/berth/runtime/${ID}`, etcFiles: {} },
      namespaces: {
        step: 3, title: 'clone() with namespaces', tookMs: 2.5, clone: 'clone(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET|SIGCHLD)', source: '/proc/4242/ns',
        namespaces: [
          { type: 'pid', mode: 'new', inode: 4026532384, hostInode: 4026531836 },
          { type: 'net', mode: 'joined', joined: 'container:db', inode: 4026532999, hostInode: 4026531833 },
          { type: 'user', mode: 'host', inode: 4026531837, hostInode: 4026531837 },
        ],
      },
      cgroups: {
        step: 4, title: 'Set up cgroups', tookMs: 7, layout: 'v2', cgroupsPath: `/berth/${ID}`,
        paths: [{ hierarchy: 'unified', dir: `/sys/fs/cgroup/berth/${ID}` }],
        readBack: { ...nolimits, memoryBytes: 67108864, pids: 50, cpuQuotaUs: 50000, cpuPeriodUs: 100000, cpusetCpus: '0-1' },
        files: [{ path: `/sys/fs/cgroup/berth/${ID}/memory.max`, value: '67108864' }], configured: { ...nolimits, memoryBytes: 67108864 },
      },
      overlay: {
        step: 5, title: 'Mount overlay filesystem', tookMs: 20, mountpoint: `/d/containers/${ID}/bundle/rootfs`, mounted: true, lowerdirs: [L0, L1],
        upperdir: `/d/containers/${ID}/bundle/.berth/upper`, workdir: `/d/containers/${ID}/bundle/.berth/work`, options: 'rw', matchesImage: true,
      },
      rootfs: {
        step: 6, title: 'pivot_root(): switch to the container filesystem', tookMs: 11, switchedBy: 'pivot_root', readonly: false,
        mounts: [{ destination: '/', type: 'overlay', source: 'overlay', options: 'rw' }, { destination: '/proc', type: 'proc', source: 'proc', options: 'rw' }],
        userMounts: [{ type: 'bind', source: '/srv/data', destination: '/data', rw: false }], maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'],
      },
      network: {
        step: 7, title: 'Configure network', tookMs: 0.12, mode: 'bridge', requested: 'default', hostname: 'ababababab', netns: 'joined',
        sandbox: '/run/berth/netns/abab', interfaces: [{ name: 'lo', rxBytes: 0, txBytes: 0 }, { name: 'eth0', rxBytes: 2048, txBytes: 1024 }],
        endpoints: [{ network: 'bridge', bridge: 'berth0', hostVeth: 'vb0123456789abc', containerIf: 'eth0', mac: '02:42:ac:11:00:02', ipv4: '172.17.0.2/16', gateway: '172.17.0.1', ipv6: '', dns: null }],
        routes: [{ destination: '0.0.0.0/0', gateway: '172.17.0.1', device: 'eth0' }, { destination: '172.17.0.0/16', gateway: '0.0.0.0', device: 'eth0' }],
        ports: [{ proto: 'tcp', host: '*:8080', target: '172.17.0.2:80', table: 'inet berth' }],
        timings: { sandbox: 2.5, endpoints: 5.1, ports: 17.2 },
      },
      security: {
        step: 8, title: 'Apply security (capabilities, seccomp)', tookMs: 7.3, source: '/proc/PID/status', privileged: false,
        capabilities: { effective: ['CAP_CHOWN', 'CAP_KILL'], permitted: ['CAP_CHOWN', 'CAP_KILL'], inheritable: [], bounding: ['CAP_CHOWN', 'CAP_KILL'], ambient: [] },
        droppedFromDefault: ['CAP_NET_RAW'], addedToDefault: [],
        seccomp: {
          mode: 2, filters: 1, profile: { defaultAction: 'SCMP_ACT_ERRNO(1)', rules: 11, syscalls: 354, architectures: ['SCMP_ARCH_X86_64'] },
          notable: [{ syscall: 'mount', action: 'SCMP_ACT_ERRNO(1)' }, { syscall: 'read', action: 'SCMP_ACT_ALLOW' }, { syscall: 'personality', action: 'SCMP_ACT_ALLOW if args match, else SCMP_ACT_ERRNO(1)' }],
        },
        noNewPrivs: false, user: { uid: [0, 0, 0, 0], gid: [0, 0, 0, 0], groups: [0] },
      },
      exec: { step: 9, title: 'execve(): run the application', tookMs: 0.1, path: 'sleep', args: ['1000'], execve: 'execve("/bin/sleep")', execAt: '2026-01-01T00:00:01.000Z', cmdline: ['sleep', '1000'], cwd: '/', env: 2 },
    },
    monitor: { pid: 4240, alive: true, rssKiB: 724, logPath: `/d/containers/${ID}/${ID}-json.log`, attachSocket: '/run/berth/containers/abab/attach.sock', ctlSocket: '/run/berth/containers/abab/ctl.sock', exitPath: `/d/containers/${ID}/exit.json` },
    trace: [
      { seedStep: 3, step: 'clone', stage: 'clone', atMs: 0, tookMs: 2.2, result: 0, detail: 'clone(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET|SIGCHLD)' },
      { seedStep: 8, step: 'seccomp_rule', stage: 'security', atMs: 1, tookMs: 1, result: 0, detail: 'seccomp rule: read -> action 0x7fff0000' },
      { seedStep: 8, step: 'seccomp_rule', stage: 'security', atMs: 2, tookMs: 1, result: 0, detail: 'seccomp rule: write -> action 0x7fff0000' },
      { seedStep: 6, step: 'pivot_root', stage: 'pivot_root', atMs: 3, tookMs: 0.3, result: 0, detail: 'pivot_root(".", ".") + umount2(old root, MNT_DETACH)' },
      { seedStep: 9, step: 'exec', stage: 'exec', atMs: 5, tookMs: 0, result: 0, detail: 'execve("/bin/sleep")' },
    ],
    ...over,
  };
}

describe('berth explain: the text', () => {
  it('prints the 9 steps in order, each with its time', () => {
    const text = formatExplanation(sample());
    const titles = text.split('\n').filter((l) => /^\d\. /.test(l));
    assert.deepEqual(titles.map((t) => t.replace(/\s+\S+ ms$/, '')), [
      '1. Pull image layers', '2. Create container directory', '3. clone() with namespaces', '4. Set up cgroups (cgroup v2)', '5. Mount overlay filesystem',
      '6. pivot_root(): switch to the container filesystem', '7. Configure network', '8. Apply security (capabilities, seccomp)', '9. execve(): run the application',
    ]);
    assert.match(titles[0]!, /\s3\.25 ms$/);
    assert.match(titles[4]!, /\s20\.0 ms$/);
    assert.ok(text.startsWith('Container web (abababababab): running, pid 4242\n'));
    assert.match(text, /^start request -> execve 38\.3 ms; create request -> execve 80\.0 ms$/m);
  });

  it('gives the seed\'s mount command with this container\'s dirs, lowers top first as overlayfs wants them', () => {
    const text = formatExplanation(sample());
    assert.ok(text.includes(`   mount      -t overlay overlay -o lowerdir=${L1}:${L0},upperdir=/d/containers/${ID}/bundle/.berth/upper,workdir=/d/containers/${ID}/bundle/.berth/work /d/containers/${ID}/bundle/rootfs\n`), text);
    assert.match(text, /^   lowerdirs  0: \/d\/snapshot\/snapshots\/1111\/fs$/m);
    assert.match(text, /^   layer 1    diff_id sha256:333333333333  chain sha256:222222222222  138 B compressed, 4 B unpacked$/m);
  });

  it('names namespaces new, joined and the host\'s, with their inodes', () => {
    const text = formatExplanation(sample());
    assert.match(text, /^   pid        new  pid:\[4026532384\], host pid:\[4026531836\]$/m);
    assert.match(text, /^   net        joined container:db  net:\[4026532999\]/m);
    assert.match(text, /^   user       the host's  user:\[4026531837\]$/m);
  });

  it('shows the limits read back, and says when only the configured ones are left', () => {
    assert.match(formatExplanation(sample()), /^   read back  memory 64 MiB, memory\+swap unlimited, cpu 50000\/100000 us, shares unlimited, pids 50, cpuset 0-1$/m);
    const gone = sample({ live: false, status: 'exited', exitCode: 0, pid: 0 });
    gone.steps.cgroups = { ...gone.steps.cgroups, readBack: null, files: [], paths: [] };
    const text = formatExplanation(gone);
    assert.match(text, /^   configured memory 64 MiB/m);
    assert.match(text, /the cgroup went with the container/);
    assert.ok(text.startsWith('Container web (abababababab): exited, exit code 0\n'));
    assert.match(text, /^Not running: values from the creation trace/m);
  });

  it('security: capabilities against docker\'s, the seccomp mode and the syscalls it blocks', () => {
    const text = formatExplanation(sample());
    assert.match(text, /^   vs docker  dropped CAP_NET_RAW; added none$/m);
    assert.match(text, /^   seccomp    mode 2 \(filter\), 1 filter\(s\) loaded$/m);
    assert.match(text, /^   blocked    mount, personality \(SCMP_ACT_ALLOW if args match, else SCMP_ACT_ERRNO\(1\)\)$/m);
  });

  it('network: the sandbox, the veth pair from the bridge, addresses, routes, DNAT rules and step times', () => {
    const text = formatExplanation(sample());
    assert.match(text, /^   mode       bridge \(asked: default\)$/m);
    assert.match(text, /^   netns      joined \(\/run\/berth\/netns\/abab, made by berthd; the runtime joined it\)$/m);
    assert.match(text, /^   veth bridge berth0 <- vb0123456789abc \(host\) == eth0 \(container\) 02:42:ac:11:00:02$/m);
    assert.match(text, /^   address    172\.17\.0\.2\/16, gateway 172\.17\.0\.1$/m);
    assert.match(text, /^   route      0\.0\.0\.0\/0 via 172\.17\.0\.1 dev eth0$/m);
    assert.match(text, /^   dnat       tcp \*:8080 -> 172\.17\.0\.2:80 \(nft table inet berth\)$/m);
    assert.match(text, /^   took       sandbox 2\.5 ms, endpoints 5\.1 ms, ports 17\.2 ms/m);
  });

  it('puts each trace line under its step, runs of one call folded with a count', () => {
    const text = formatExplanation(sample());
    const sec = text.slice(text.indexOf('8. Apply security'), text.indexOf('9. execve'));
    assert.match(sec, /^ {5}\+ {3}1\.000 {4}2\.000 {2}seccomp_rule {3}x2, first: seccomp rule: read -> action 0x7fff0000$/m);
    const six = text.slice(text.indexOf('6. pivot_root'), text.indexOf('7. Configure'));
    assert.match(six, /pivot_root {5}pivot_root\("\.", "\."\)/);
    assert.match(text, /^   pid        4240 \(running, RSS 724 KiB\)$/m);
  });
});

describe('explain: reading the kernel\'s text', () => {
  it('overlay options: lowerdir+= per layer (fsconfig) and lowerdir=a:b, with escapes; bottom first', () => {
    assert.deepEqual(overlayDirs('rw,lowerdir+=/top,lowerdir+=/mid,lowerdir+=/bottom,upperdir=/u,workdir=/w,uuid=on'), { lowers: ['/bottom', '/mid', '/top'], upper: '/u', work: '/w' });
    assert.deepEqual(overlayDirs('rw,lowerdir=/top:/a\\:b:/c\\,d,upperdir=/u,workdir=/w'), { lowers: ['/c,d', '/a:b', '/top'], upper: '/u', work: '/w' });
    assert.deepEqual(overlayDirs('rw'), { lowers: [], upper: null, work: null });
  });

  it('mountinfo lines with octal escapes', () => {
    const [m] = parseMountInfo('36 35 0:33 / /a\\040b rw,relatime shared:1 - overlay overlay rw,lowerdir+=/x\n');
    assert.deepEqual(m, { mountId: 36, mountPoint: '/a b', mountOptions: 'rw,relatime', fstype: 'overlay', source: 'overlay', superOptions: 'rw,lowerdir+=/x' });
  });

  it('capability masks: /proc status is hex even when all digits are decimal; trace masks as BigInt takes them', () => {
    assert.deepEqual(statusCaps('0000000000000021'), ['CAP_CHOWN', 'CAP_KILL']);
    assert.deepEqual(capNames('33'), ['CAP_CHOWN', 'CAP_KILL']);
    assert.deepEqual(capNames('0x21'), ['CAP_CHOWN', 'CAP_KILL']);
    assert.deepEqual(statusCaps(undefined), []);
  });
});
