// GET /containers/{id}/explain against a private berthd (dist/berthd.js), with a busybox image
// pushed to Debian's docker-registry on 127.0.0.1 and run by Debian's docker CLI: the values it
// answers are the kernel's (checked here against the host's own view: the mount table, the
// cgroup files, /proc/PID/status), and a container that has exited still explains itself from
// the trace kept at start. Nothing is left behind.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import type { Explanation, LayerInfo } from '../../src/engine/containers/explain-types.ts';
import { busyboxRootfs, runCommand, show } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry, tarDir } from '../fixtures/registry.ts';
import { waitFor } from '../fixtures/wait.ts';

const BERTHD = fileURLToPath(new URL('../../dist/berthd.js', import.meta.url));
const DOCKER = '/usr/bin/docker';
const BERTH = fileURLToPath(new URL('../../dist/berth.js', import.meta.url));

const reg = new LocalRegistry();
let T = '';
let EXEC = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';
let IMG = '';
const seen = new Set<string>();

async function docker(args: string[]): Promise<string> {
  const r = await runCommand(DOCKER, args, { env: { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(T, 'docker-config') }, label: `docker ${args.join(' ')}`, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${daemonLog.slice(-3000)}`);
  return r.stdout;
}

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method: 'GET', path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function explain(ref: string): Promise<Explanation> {
  const r = await get(`/v1.41/containers/${ref}/explain`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Explanation;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function processesNaming(id: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(id) && alive(Number(name))) out.push(Number(name));
    } catch { /* exited */ }
  }
  return out;
}

describe('berthd: GET /containers/{id}/explain', { timeout: 180_000 }, () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    T = mkdtempSync(join(tmpdir(), 'h9n-explain-'));
    EXEC = mkdtempSync('/run/h9n-');
    await reg.start();
    const rootfs = join(T, 'rootfs');
    await busyboxRootfs(rootfs);
    // two layers, so the order of the lowerdirs is checked: the top one adds a file
    const top = join(T, 'top');
    mkdirSync(join(top, 'etc'), { recursive: true });
    writeFileSync(join(top, 'etc', 'h9n-layer'), 'top\n');
    const img = buildImage({ tars: [await tarDir(rootfs), await tarDir(top)], config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/sbin:/usr/bin'] } });
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(top, { recursive: true, force: true });
    await pushImage(reg, 'h9n/busybox', 'latest', img);
    IMG = `${reg.domain}/h9n/busybox`;
    sock = join(T, 'berthd.sock');
    writeFileSync(join(T, 'daemon.json'), '{}\n');
    daemon = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', join(T, 'data'), '--exec-root', EXEC, '--config-file', join(T, 'daemon.json')],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    daemon.stderr!.setEncoding('utf8').on('data', (d: string) => { daemonLog = (daemonLog + d).slice(-20_000); });
    await waitFor('berthd to answer /_ping', async () => {
      if (daemon!.exitCode !== null) assert.fail(`berthd exited ${daemon!.exitCode}: ${daemonLog}`);
      try {
        return (await get('/_ping')).status === 200;
      } catch {
        return false;
      }
    }, 15_000, () => daemonLog, 50);
    await docker(['pull', IMG]);
  });

  after(async () => {
    try {
      if (daemon && daemon.exitCode === null) {
        for (const id of seen) await runCommand(DOCKER, ['rm', '-f', id], { env: { DOCKER_HOST: `unix://${sock}` }, label: 'docker rm -f' }).catch(() => undefined);
        const exited = new Promise((r) => daemon!.once('exit', r));
        daemon.kill('SIGTERM');
        await exited;
      }
      assert.deepEqual(mountsUnder(T), [], 'mounts left under the data root');
      for (const id of seen) {
        assert.deepEqual(cgroupDirsOf(id), [], `cgroups of ${id} left behind`);
        assert.deepEqual(processesNaming(id), [], `processes of ${id} left behind`);
      }
    } finally {
      for (const p of mountsUnder(T).reverse()) await runCommand('umount', ['-l', p]).catch(() => undefined);
      await reg.stop();
      if (T) rmSync(T, { recursive: true, force: true });
      if (EXEC) rmSync(EXEC, { recursive: true, force: true });
    }
  });

  it('a running container: layers, overlay, namespaces, cgroup limits, caps, seccomp, network, monitor and trace, as the kernel has them', async () => {
    const id = (await docker(['run', '-d', '--name', 'h9n-explained', '--memory', '64m', '--pids-limit', '50', '--cap-drop', 'NET_RAW', IMG, 'sh', '-c', 'echo hi; exec sleep 1000'])).trim();
    seen.add(id);
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
    const cdir = join(T, 'data', 'containers', id);
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
      assert.equal(ns.mode, 'new', `${type} is new`);
      assert.notEqual(ns.inode, ns.hostInode);
      assert.equal(`${type}:[${ns.inode}]`, readlinkSync(`/proc/${pid}/ns/${type}`));
    }
    assert.match(s.namespaces.clone ?? '', /CLONE_NEWPID/);
    assert.match(s.namespaces.clone ?? '', /CLONE_NEWNET/);

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

    // 7: network none: its own namespace with loopback only
    assert.equal(s.network.mode, 'none');
    assert.equal(s.network.requested, 'default', 'the docker CLI asks for the default network: none until bridge lands');
    assert.equal(s.network.netns, 'new');
    assert.deepEqual(s.network.interfaces?.map((i) => i.name), ['lo']);

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
    assert.deepEqual(x.startup.create.map((p) => p.name), ['image', 'directory', 'resolve', 'layers', 'overlay', 'spec']);
    assert.ok(x.startup.startToExecMs !== null && x.startup.startToExecMs > 0 && x.startup.startToExecMs < 10_000, String(x.startup.startToExecMs));

    // the monitor
    assert.ok(x.monitor.alive && x.monitor.pid !== null);
    assert.ok(x.monitor.rssKiB !== null && x.monitor.rssKiB > 0);
    assert.equal(x.monitor.logPath, join(cdir, `${id}-json.log`));
  });

  it('berth explain prints the 9 steps with real values; --format json is the API\'s answer', async () => {
    const id = (await docker(['run', '-d', '--name', 'h9n-cli', '--memory', '64m', IMG, 'sleep', '1000'])).trim();
    seen.add(id);
    const berth = (args: string[]) => runCommand(process.execPath, [BERTH, ...args], { env: { BERTH_HOST: `unix://${sock}` }, label: `berth ${args.join(' ')}` });
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
    seen.add(id);
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

  it('a missing container: 404 with docker\'s message', async () => {
    const r = await get('/v1.41/containers/h9n-no-such/explain');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such container: h9n-no-such' });
  });
});
