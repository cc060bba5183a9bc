// GET /containers/{id}/explain against a private berthd (dist/berthd.js), with a busybox image
// pushed to Debian's docker-registry on 127.0.0.1 and run by Debian's docker CLI: the values it
// answers are the kernel's (checked here against the host's own view: the mount table, the
// cgroup files, /proc/PID/status), and a container that has exited still explains itself from
// the trace kept at start. Nothing is left behind.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import type { Explanation, LayerInfo } from '../../src/engine/containers/explain-types.ts';
import { BerthdHarness } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { alive } from '../fixtures/host.ts';
import { tarDir } from '../fixtures/registry.ts';

const BERTH = fileURLToPath(new URL('../../dist/berth.js', import.meta.url));

const bd = new BerthdHarness({
  prefix: 'h9n',
  tmpName: 'h9n-explain-',
  // two layers, so the order of the lowerdirs is checked: the top one adds a file
  extraLayers: async (dir) => {
    const top = join(dir, 'top');
    mkdirSync(join(top, 'etc'), { recursive: true });
    writeFileSync(join(top, 'etc', 'h9n-layer'), 'top\n');
    const tar = await tarDir(top);
    rmSync(top, { recursive: true, force: true });
    return [tar];
  },
});
const docker = bd.dockerOk;
const get = (path: string): Promise<{ status: number; body: string }> => bd.http('GET', path);
let IMG = '';

async function explain(ref: string): Promise<Explanation> {
  const r = await get(`/v1.41/containers/${ref}/explain`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Explanation;
}

describe('berthd: GET /containers/{id}/explain', { timeout: 180_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown());

  it('a running container: layers, overlay, namespaces, cgroup limits, caps, seccomp, network, monitor and trace, as the kernel has them', async () => {
    const id = (await docker(['run', '-d', '--name', 'h9n-explained', '--memory', '64m', '--pids-limit', '50', '--cap-drop', 'NET_RAW', IMG, 'sh', '-c', 'echo hi; exec sleep 1000'])).trim();
    bd.seen.add(id);
    const x = await explain('h9n-explained');
    assert.equal(x.id, id);
    assert.equal(x.name, 'h9n-explained');
    assert.equal(x.status, 'running');
    assert.equal(x.live, true);
    const s = x.steps;
    assert.deepEqual(Object.values(s).map((v) => v.step), [1, 2, 3, 4, 5, 6, 7, 8, 9]);

    // 1: the image's layers and their snapshot dirs
    assert.equal(s.image.requested, IMG);
    assert.match(s.image.id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(s.image.layers.length, 2);
    const [bottom, upper] = s.image.layers as [LayerInfo, LayerInfo];
    assert.match(bottom.diffId, /^sha256:/);
    assert.equal(bottom.chainId, bottom.diffId, 'the bottom layer\'s chain ID is its DiffID');
    assert.notEqual(upper.chainId, upper.diffId);
    assert.ok(statSync(join(bottom.dir, 'bin', 'busybox')).isFile(), `${bottom.dir} is the unpacked bottom layer`);
    assert.equal(readFileSync(join(upper.dir, 'etc', 'h9n-layer'), 'utf8'), 'top\n', `${upper.dir} is the unpacked top layer`);
    assert.ok(bottom.present && upper.present);

    // 2, 5: the container's directory and the overlay as the host's mount table has it
    const cdir = join(bd.dir, 'data', 'containers', id);
    assert.equal(s.directory.dir, cdir);
    assert.ok(s.overlay.mounted);
    assert.equal(s.overlay.mountpoint, join(cdir, 'bundle', 'rootfs'));
    assert.deepEqual(s.overlay.lowerdirs, s.image.layers.map((l) => l.dir), 'the lowerdirs are the image\'s snapshot dirs, bottom first');
    assert.ok(s.overlay.matchesImage);
    assert.equal(s.overlay.upperdir, join(cdir, 'bundle', '.berth', 'upper'));
    assert.equal(s.overlay.workdir, join(cdir, 'bundle', '.berth', 'work'));
    assert.ok(s.overlay.tookMs !== null && s.overlay.tookMs > 0, 'the overlay mount was timed');

    // 3: new pid/ipc/uts/mnt/net namespaces: inodes differ from the host's, and match /proc/PID/ns
    const pid = x.pid;
    assert.ok(alive(pid));
    for (const type of ['pid', 'ipc', 'uts', 'mnt', 'net']) {
      const ns = s.namespaces.namespaces.find((n) => n.type === type);
      assert.ok(ns, `namespace ${type} listed`);
      // the network namespace is the sandbox berthd made, which the runtime joined
      assert.equal(ns.mode, type === 'net' ? 'joined' : 'new', `${type} is ${type === 'net' ? 'joined' : 'new'}`);
      assert.notEqual(ns.inode, ns.hostInode);
      assert.equal(`${type}:[${ns.inode}]`, readlinkSync(`/proc/${pid}/ns/${type}`));
    }
    assert.match(s.namespaces.clone ?? '', /CLONE_NEWPID/);
    // no CLONE_NEWNET: the network namespace is joined (setns), not made by clone
    assert.doesNotMatch(s.namespaces.clone ?? '', /CLONE_NEWNET/);

    // 4: the limits read back from the cgroup files
    assert.ok(s.cgroups.readBack, 'the cgroup files were read');
    assert.equal(s.cgroups.readBack.memoryBytes, 67108864);
    assert.equal(s.cgroups.readBack.pids, 50);
    assert.equal(s.cgroups.configured.memoryBytes, 67108864);
    for (const f of s.cgroups.files) assert.equal(readFileSync(f.path, 'utf8').trim(), f.value, `${f.path} says what explain read`);
    assert.ok(s.cgroups.paths.every((p) => p.dir.includes(id)), JSON.stringify(s.cgroups.paths));
    assert.ok(s.cgroups.paths.length > 0);

    // 6: pivot_root into the overlay, the container's own mount table
    assert.equal(s.rootfs.switchedBy, 'pivot_root');
    assert.ok(s.rootfs.mounts.some((m) => m.destination === '/' && m.type === 'overlay'), JSON.stringify(s.rootfs.mounts));
    assert.ok(s.rootfs.mounts.some((m) => m.destination === '/proc' && m.type === 'proc'));

    // 7: the default bridge: the sandbox, a veth pair from the bridge, the address, the routes
    assert.equal(s.network.mode, 'bridge');
    assert.equal(s.network.requested, 'default', 'the docker CLI asks for the default network');
    assert.equal(s.network.netns, 'joined');
    assert.ok(s.network.sandbox && readlinkSync(`/proc/${pid}/ns/net`) === `net:[${statSync(s.network.sandbox).ino}]`, `the namespace is the sandbox ${s.network.sandbox}`);
    assert.deepEqual(s.network.interfaces?.map((i) => i.name).sort(), ['eth0', 'lo']);
    const ep = s.network.endpoints[0]!;
    assert.equal(ep.network, 'bridge');
    assert.equal(ep.bridge, bd.bridge);
    assert.equal(ep.containerIf, 'eth0');
    assert.equal(ep.ipv4.split('/')[0], (await docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id])).trim());
    assert.ok(readFileSync('/proc/net/dev', 'utf8').includes(`${ep.hostVeth}:`), `the host end ${ep.hostVeth} is on the host`);
    assert.ok(s.network.routes?.some((r) => r.destination === '0.0.0.0/0' && r.gateway === ep.gateway), JSON.stringify(s.network.routes));

    // 8: docker's defaults less NET_RAW, the seccomp filter loaded
    const caps = s.security.capabilities;
    assert.ok(caps);
    assert.ok(!caps.effective.includes('CAP_NET_RAW'), caps.effective.join(','));
    assert.ok(caps.effective.includes('CAP_CHOWN'));
    assert.deepEqual(s.security.droppedFromDefault, ['CAP_NET_RAW']);
    assert.deepEqual(s.security.addedToDefault, []);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Seccomp:\s+2$/m);
    assert.equal(s.security.seccomp.mode, 2);
    assert.ok(s.security.seccomp.profile && s.security.seccomp.profile.rules > 0);
    assert.match(s.security.seccomp.notable.find((n) => n.syscall === 'mount')?.action ?? '', /ERRNO/);
    assert.deepEqual(s.security.user?.uid, [0, 0, 0, 0]);

    // 9: execve of sh, the trace with times
    assert.equal(s.exec.path, 'sh');
    assert.match(s.exec.execve ?? '', /^execve\("\/bin\/sh/);
    assert.deepEqual(s.exec.cmdline, ['sleep', '1000']);
    for (const step of ['clone', 'pivot_root', 'exec']) {
      const e = x.trace.find((t) => t.step === step);
      assert.ok(e, `the trace has ${step}: ${x.trace.map((t) => t.step).join(' ')}`);
      assert.ok(e.atMs >= 0 && e.tookMs >= 0);
    }
    assert.ok(x.trace.every((t, i) => i === 0 || t.atMs >= x.trace[i - 1]!.atMs), 'in time order');
    assert.ok(x.startup.createMs !== null && x.startup.startMs !== null);
    assert.deepEqual(x.startup.create.map((p) => p.name), ['image', 'network', 'directory', 'resolve', 'layers', 'overlay', 'spec']);
    // the network's own steps of the start, which ran beside the runtime's create
    assert.deepEqual(Object.keys(x.steps.network.timings ?? {}), ['sandbox', 'endpoints']);
    assert.ok(x.startup.startToExecMs !== null && x.startup.startToExecMs > 0 && x.startup.startToExecMs < 10_000, String(x.startup.startToExecMs));

    // the monitor
    assert.ok(x.monitor.alive && x.monitor.pid !== null);
    assert.ok(x.monitor.rssKiB !== null && x.monitor.rssKiB > 0);
    assert.equal(x.monitor.logPath, join(cdir, `${id}-json.log`));
  });

  it('berth explain prints the 9 steps with real values; --format json is the API\'s answer', async () => {
    const id = (await docker(['run', '-d', '--name', 'h9n-cli', '--memory', '64m', IMG, 'sleep', '1000'])).trim();
    bd.seen.add(id);
    const berth = (args: string[]) => runCommand(process.execPath, [BERTH, ...args], { env: { BERTH_HOST: `unix://${bd.sock}` }, label: `berth ${args.join(' ')}` });
    const text = await berth(['explain', 'h9n-cli']);
    assert.equal(text.code, 0, show(text));
    const lines = text.stdout.split('\n');
    const titles = lines.filter((l) => /^\d\. /.test(l));
    assert.equal(titles.length, 9, text.stdout);
    assert.match(titles[0]!, /^1\. Pull image layers\s+\d+\.\d+ ms$/);
    assert.match(titles[8]!, /^9\. execve\(\): run the application/);
    const x = await explain(id);
    const lowers = [...x.steps.overlay.lowerdirs].reverse().join(':');
    assert.ok(text.stdout.includes(`-o lowerdir=${lowers},upperdir=${x.steps.overlay.upperdir},workdir=${x.steps.overlay.workdir} `), text.stdout);
    assert.match(text.stdout, /read back\s+memory 64 MiB/);
    assert.match(text.stdout, /clone\(CLONE_NEW/);
    assert.match(text.stdout, /pivot_root\("\.", "\."\)/);
    assert.match(text.stdout, /execve\("\/bin\/sleep"\)/);
    assert.match(text.stdout, /^   now        sleep 1000$/m);
    const json = await berth(['explain', '--format', 'json', id.slice(0, 12)]);
    assert.equal(json.code, 0, show(json));
    const fromCli = JSON.parse(json.stdout) as Explanation;
    assert.equal(fromCli.id, id);
    assert.deepEqual(fromCli.steps.image, x.steps.image);
    assert.deepEqual(fromCli.trace, x.trace);
    const missing = await berth(['explain', 'h9n-no-such']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: No such container: h9n-no-such\n');
  });

  it('an exited container still explains itself: the trace kept at start, values passed to the kernel', async () => {
    const id = (await docker(['run', '-d', '--name', 'h9n-gone', '--cap-drop', 'NET_RAW', IMG, 'true'])).trim();
    bd.seen.add(id);
    await docker(['wait', id]);
    const x = await explain(id.slice(0, 12));
    assert.equal(x.status, 'exited');
    assert.equal(x.exitCode, 0);
    assert.equal(x.live, false);
    assert.ok(x.trace.some((t) => t.step === 'clone') && x.trace.some((t) => t.step === 'pivot_root') && x.trace.some((t) => t.step === 'exec'),
      x.trace.map((t) => t.step).join(' '));
    assert.match(x.steps.exec.execve ?? '', /^execve\("\/bin\/true/);
    assert.match(x.steps.security.source, /^trace/);
    assert.ok(x.steps.security.capabilities && !x.steps.security.capabilities.effective.includes('CAP_NET_RAW'));
    assert.deepEqual(x.steps.security.droppedFromDefault, ['CAP_NET_RAW']);
    assert.deepEqual(x.steps.security.addedToDefault, []);
    assert.equal(x.steps.security.seccomp.mode, 2);
    assert.equal(x.steps.cgroups.readBack, null, 'the cgroup is gone with the container');
    assert.equal(x.steps.namespaces.namespaces.find((n) => n.type === 'pid')?.mode, 'new');
    assert.ok(x.steps.overlay.mounted && x.steps.overlay.matchesImage);
    assert.equal(x.monitor.alive, false);
  });

  it('the second container with a seccomp profile loads the program compiled for the first: the trace says so, the profile summary is the same', async () => {
    const xs: Explanation[] = [];
    for (const n of [1, 2]) {
      const id = (await docker(['run', '-d', '--name', `h9n-h10-seccomp-${n}`, '--cap-drop', 'NET_ADMIN', IMG, 'true'])).trim();
      bd.seen.add(id);
      await docker(['wait', id]);
      xs.push(await explain(id.slice(0, 12)));
    }
    const [first, second] = xs as [Explanation, Explanation];
    const load = (x: Explanation) => x.trace.find((t) => t.step === 'seccomp_load');
    // the first may have found the program already (this daemon ran containers before): compiled or cached
    const key = /(?:key|now cached as) ([0-9a-f]{64})\)/.exec(load(first)?.detail ?? '')?.[1];
    assert.ok(key, JSON.stringify(load(first)));
    assert.match(load(second)?.detail ?? '', new RegExp(`^seccomp\\(SECCOMP_SET_MODE_FILTER\\) of the cached program compiled by libseccomp from the profile \\([1-9]\\d* insns, key ${key}\\)`));
    assert.ok(!second.trace.some((t) => t.step === 'seccomp_rule'), 'no rule records with a cached program');
    assert.ok(second.trace.some((t) => t.step === 'seccomp_program'));
    assert.equal(second.steps.security.seccomp.mode, 2);
    assert.ok((second.steps.security.seccomp.profile?.rules ?? 0) > 0);
    assert.deepEqual(second.steps.security.seccomp.profile, first.steps.security.seccomp.profile);
    assert.deepEqual(second.steps.security.seccomp.notable, first.steps.security.seccomp.notable);
    assert.match(second.steps.security.seccomp.notable.find((n) => n.syscall === 'mount')?.action ?? '', /ERRNO/);
  });

  it('a missing container: 404 with docker\'s message', async () => {
    const r = await get('/v1.41/containers/h9n-no-such/explain');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such container: h9n-no-such' });
  });
});
